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
/// price tables of CPU profiles).
public struct MonitorStatistics: Hashable, Sendable, Codable {
  public private(set) var counts: [String: UInt64] = [:]

  public init() {}

  public mutating func count(_ name: String, _ n: UInt64 = 1) { counts[name, default: 0] &+= n }

  public subscript(name: String) -> UInt64 { counts[name] ?? 0 }

  /// The counters, sorted by name.
  public var named: [(name: String, value: UInt64)] {
    counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }

  /// Counts `e` under its names: `monitor.entries`, `traps.VECTOR`, `emulated.MNEMONIC`, ….
  public mutating func record(_ e: MonitorEvent) {
    switch e {
    case .entry(let vector, _, _):
      count("entries")
      count(
        vector < 32
          ? "traps.\(Exception(rawValue: vector).map { "\($0)" } ?? "\(vector)")" : "interrupts.external")
    case .emulated(let m, _, let reason):
      count("emulated.\(reason.rawValue)")
      count("emulated.instruction.\(m)")
    case .reflected(let f, _): count("reflected.\(f.vector)")
    case .hiddenPageFault: count("pagefaults.hidden")
    case .truePageFault: count("pagefaults.true")
    case .shadow(let op): count("shadow.\(op.rawValue)")
    case .virtualInterrupt: count("interrupts.virtual.delivered")
    case .interruptHeld: count("interrupts.virtual.held")
    case .deviceAccess(_, let write, _): count(write ? "devices.writes" : "devices.reads")
    }
  }
}
