/// What a monitor sees, as typed events (DESIGN.md decision 7: events, not costs), and their
/// counts. Every monitor reports through the same types; Architectures will route them to the
/// components that handle them (the hypervisor, Dom0, a parent partition).
import ISAModel

/// One thing a monitor saw or did, at a point of the guest's virtual clock.
public enum MonitorEvent: Hashable, Sendable {
  /// Control reached the monitor: silicon delivered `vector` through the real IDT (an
  /// exception with its error code, or an external interrupt) while the guest ran at `eip`.
  case entry(vector: UInt8, errorCode: UInt32?, eip: UInt32)
  /// The monitor executed a guest instruction on the virtual CPU (a privileged instruction, a
  /// software interrupt, a write to a traced page).
  case emulated(Mnemonic, eip: UInt32, reason: EmulationReason)
  /// An exception the guest itself takes, delivered through its IDT.
  case reflected(Fault, eip: UInt32)
  /// A page fault the monitor resolved itself (a shadow entry built) or passed to the guest.
  case hiddenPageFault(linear: UInt32)
  case truePageFault(linear: UInt32)
  /// A shadow operation.
  case shadow(ShadowOperation)
  /// An external interrupt delivered to the guest through its IDT, or held until its IF is set.
  case virtualInterrupt(vector: UInt8)
  case interruptHeld(vector: UInt8)
  /// A port access the monitor performed for the guest (the device it reached answers).
  case deviceAccess(port: UInt16, write: Bool, size: OperandSize)
}

/// Why the monitor emulated an instruction.
public enum EmulationReason: String, Hashable, Sendable, Codable {
  /// It faulted at the deprivileged ring (a privileged or IOPL-sensitive instruction).
  case privileged
  /// INT n, INT3, INTO: software interrupts all reach the monitor (its real gates have DPL 0).
  case softwareInterrupt = "software-interrupt"
  /// It wrote a page the monitor traces (guest page tables, descriptor tables).
  case tracedWrite = "traced-write"
}

/// Shadow page-table operations.
public enum ShadowOperation: String, Hashable, Sendable, Codable, CaseIterable {
  /// A shadow page directory built for a guest address space (a CR3 the cache did not hold).
  case build = "build"
  /// A CR3 switch to an address space whose shadow was cached.
  case cacheHit = "cache-hit"
  /// A shadow page table built for one guest page-directory entry.
  case tableBuild = "table-build"
  /// Shadow entries filled from the guest's tables.
  case fill = "fill"
  /// Shadow entries dropped because the guest changed the entry they came from (a traced write,
  /// INVLPG).
  case invalidate = "invalidate"
  /// A whole shadow address space dropped (cache eviction, CR4 paging bits, pool exhausted).
  case flush = "flush"
  /// A guest frame write-protected because it became a page table or descriptor table.
  case protect = "protect"
}

/// Event counts of one run under a monitor, by stable name (the keys of `--stats`, JSON and the
/// price tables of CPU profiles). Kept as plain counters: recording is on the monitor's hot path.
public struct MonitorStatistics: Hashable, Sendable, Codable {
  private var entries: UInt64 = 0
  private var traps = [UInt64](repeating: 0, count: 32)
  private var external: UInt64 = 0
  private var emulated = [UInt64](repeating: 0, count: 3)
  private var instructions = [UInt64](repeating: 0, count: 256)
  private var reflected = [UInt64](repeating: 0, count: 32)
  private var hidden: UInt64 = 0
  private var truePageFaults: UInt64 = 0
  private var shadow = [UInt64](repeating: 0, count: ShadowOperation.allCases.count)
  private var delivered: UInt64 = 0
  private var held: UInt64 = 0
  private var deviceReads: UInt64 = 0
  private var deviceWrites: UInt64 = 0

  public init() {}

  private static let reasons: [EmulationReason] = [.privileged, .softwareInterrupt, .tracedWrite]

  /// Counts `e` under its names: `entries`, `traps.#GP`, `emulated.instruction.MNEMONIC`, ….
  public mutating func record(_ e: MonitorEvent) {
    switch e {
    case .entry(let vector, _, _):
      entries &+= 1
      if vector < 32 { traps[Int(vector)] &+= 1 } else { external &+= 1 }
    case .emulated(let m, _, let reason):
      emulated[Self.reasons.firstIndex(of: reason)!] &+= 1
      instructions[Int(m.rawValue)] &+= 1
    case .reflected(let f, _): reflected[Int(f.vector.rawValue)] &+= 1
    case .hiddenPageFault: hidden &+= 1
    case .truePageFault: truePageFaults &+= 1
    case .shadow(let op): shadow[ShadowOperation.allCases.firstIndex(of: op)!] &+= 1
    case .virtualInterrupt: delivered &+= 1
    case .interruptHeld: held &+= 1
    case .deviceAccess(_, let write, _):
      if write { deviceWrites &+= 1 } else { deviceReads &+= 1 }
    }
  }

  /// The counters that are not zero, sorted by name.
  public var named: [(name: String, value: UInt64)] {
    var out: [(String, UInt64)] = [
      ("entries", entries), ("interrupts.external", external), ("pagefaults.hidden", hidden),
      ("pagefaults.true", truePageFaults), ("interrupts.virtual.delivered", delivered),
      ("interrupts.virtual.held", held), ("devices.reads", deviceReads), ("devices.writes", deviceWrites),
    ]
    func vector(_ v: Int) -> String { Exception(rawValue: UInt8(v)).map { "\($0)" } ?? "\(v)" }
    for v in 0..<32 {
      out.append(("traps." + vector(v), traps[v]))
      out.append(("reflected." + vector(v), reflected[v]))
    }
    for (k, r) in Self.reasons.enumerated() { out.append(("emulated.\(r.rawValue)", emulated[k])) }
    for m in Mnemonic.allCases { out.append(("emulated.instruction.\(m)", instructions[Int(m.rawValue)])) }
    for (k, op) in ShadowOperation.allCases.enumerated() { out.append(("shadow.\(op.rawValue)", shadow[k])) }
    return out.filter { $0.1 > 0 }.sorted { $0.0 < $1.0 }.map { (name: $0.0, value: $0.1) }
  }

  /// A counter by name (0 if it never counted).
  public subscript(name: String) -> UInt64 { named.first { $0.name == name }?.value ?? 0 }
}
