/// The architectural state of one CPU as a value (DESIGN.md decision 5): snapshot it, compare
/// it, diff it, encode it. Memory is apart (`PhysicalMemory.snapshot()`).
import ISAModel

func hex64(_ v: UInt64) -> String {
  "0x" + String(v, radix: 16, uppercase: true)
}

/// A segment register with its hidden descriptor cache (SDM Vol. 3A §3.4.3).
public struct SegmentState: Hashable, Sendable, Codable {
  public var selector: UInt16
  public var base: UInt32
  public var limit: UInt32
  /// The descriptor's access byte and flags (type, S, DPL, P; AVL, D/B, G), as in bits 8–23 of
  /// its high dword.
  public var attributes: UInt16

  public init(selector: UInt16, base: UInt32, limit: UInt32, attributes: UInt16) {
    self.selector = selector
    self.base = base
    self.limit = limit
    self.attributes = attributes
  }

  init(_ c: SegmentCache<UInt32>) {
    self.init(
      selector: UInt16(truncatingIfNeeded: c.selector), base: c.base, limit: c.limit,
      attributes: UInt16(truncatingIfNeeded: c.attributes))
  }

  var cache: SegmentCache<UInt32> {
    SegmentCache(selector: UInt32(selector), base: base, limit: limit, attributes: UInt32(attributes))
  }

  /// A flat 4 GiB segment.
  public static func flat(selector: UInt16, code: Bool) -> SegmentState {
    // Present, DPL 0, S = 1; code: execute/read (0xA), data: read/write (0x2); D/B = 1, G = 1.
    SegmentState(selector: selector, base: 0, limit: 0xFFFF_FFFF, attributes: code ? 0xC09A : 0xC092)
  }
}

/// The local APIC's registers (SDM Vol. 3A Chapter 10) as a value; the timer is kept as the
/// clock tick it was last loaded at (nil: stopped).
public struct APICState: Hashable, Sendable, Codable {
  public var id: UInt32 = 0
  public var tpr: UInt32 = 0
  public var svr: UInt32 = 0xFF
  public var ldr: UInt32 = 0
  public var dfr: UInt32 = 0xFFFF_FFFF
  public var esr: UInt32 = 0
  public var icr: [UInt32] = [0, 0]
  public var lvt: [UInt32] = Array(repeating: 0x1_0000, count: 6)
  public var isr: [UInt32] = Array(repeating: 0, count: 8)
  public var irr: [UInt32] = Array(repeating: 0, count: 8)
  public var initialCount: UInt32 = 0
  public var divideConfiguration: UInt32 = 0
  public var timerStart: UInt64?
  public init() {}
}

/// A descriptor-table register (GDTR, IDTR; SDM Vol. 3A §2.4).
public struct TableRegister: Hashable, Sendable, Codable {
  public var base: UInt32
  public var limit: UInt16
  public init(base: UInt32, limit: UInt16) {
    self.base = base
    self.limit = limit
  }
}

public struct CPUState: Hashable, Sendable, Codable {
  /// EAX … EDI, in ModRM order.
  public var gprs: [UInt32]
  public var eip: UInt32
  /// EFLAGS with every flag computed (bit 1 reads as 1).
  public var eflags: UInt32
  /// ES CS SS DS FS GS.
  public var segments: [SegmentState]
  /// LDTR and TR with their descriptor caches (attributes 0: unusable).
  public var ldtr: SegmentState
  public var tr: SegmentState
  public var gdtr: TableRegister
  public var idtr: TableRegister
  public var cr0: UInt32
  public var cr2: UInt32
  public var cr3: UInt32
  public var cr4: UInt32
  /// DR0, DR1, DR2, DR3, DR6, DR7 (DR4 and DR5 are aliases; SDM Vol. 3A §17.2).
  public var debugRegisters: [UInt32]
  /// The stored MSRs by index (`ModelSpecificRegister.all`; the TSC is `tsc`).
  public var msrs: [UInt32: UInt64]
  /// The time-stamp counter.
  public var tsc: UInt64
  /// The virtual clock (instructions retired plus halted time skipped), and the clock value
  /// before which an interrupt shadow (STI, MOV SS, POP SS) holds interrupts off.
  public var clock: UInt64
  public var interruptsInhibitedUntil: UInt64
  /// The local APIC.
  public var apic: APICState
  public var halted: Bool

  public init() {
    gprs = Array(repeating: 0, count: 8)
    eip = 0
    eflags = FlagMask.reservedOne
    // Flat protected-mode segments, as the loader leaves them (docs/loading.md).
    segments = SegmentRegister.allCases.map { .flat(selector: $0 == .cs ? 0x08 : 0x10, code: $0 == .cs) }
    ldtr = SegmentState(selector: 0, base: 0, limit: 0, attributes: 0)
    // A busy 32-bit TSS at 0, limit 0x67, until a guest's LTR.
    tr = SegmentState(selector: 0, base: 0, limit: 0x67, attributes: 0x8B)
    gdtr = TableRegister(base: 0, limit: 0xFFFF)
    idtr = TableRegister(base: 0, limit: 0x3FF)
    // Protected mode (PE) with ET: the model has no real-address mode (docs/loading.md).
    cr0 = CR0.pe | CR0.et
    cr2 = 0
    cr3 = 0
    cr4 = 0
    debugRegisters = [0, 0, 0, 0, DebugRegisterBits.dr6Fixed, DebugRegisterBits.dr7Fixed]
    msrs = [:]
    for m in ModelSpecificRegister.all where m.kind == .storage { msrs[m.index] = m.reset }
    tsc = 0
    clock = 0
    interruptsInhibitedUntil = 0
    apic = APICState()
    halted = false
  }

  /// The value of a system register in this state.
  public subscript(r: SystemRegister) -> UInt32 {
    get {
      switch r {
      case .cr0: cr0
      case .cr2: cr2
      case .cr3: cr3
      case .cr4: cr4
      case .dr0: debugRegisters[0]
      case .dr1: debugRegisters[1]
      case .dr2: debugRegisters[2]
      case .dr3: debugRegisters[3]
      case .dr6: debugRegisters[4]
      case .dr7: debugRegisters[5]
      case .gdtrBase: gdtr.base
      case .gdtrLimit: UInt32(gdtr.limit)
      case .idtrBase: idtr.base
      case .idtrLimit: UInt32(idtr.limit)
      }
    }
    set {
      switch r {
      case .cr0: cr0 = newValue
      case .cr2: cr2 = newValue
      case .cr3: cr3 = newValue
      case .cr4: cr4 = newValue
      case .dr0: debugRegisters[0] = newValue
      case .dr1: debugRegisters[1] = newValue
      case .dr2: debugRegisters[2] = newValue
      case .dr3: debugRegisters[3] = newValue
      case .dr6: debugRegisters[4] = newValue
      case .dr7: debugRegisters[5] = newValue
      case .gdtrBase: gdtr.base = newValue
      case .gdtrLimit: gdtr.limit = UInt16(truncatingIfNeeded: newValue)
      case .idtrBase: idtr.base = newValue
      case .idtrLimit: idtr.limit = UInt16(truncatingIfNeeded: newValue)
      }
    }
  }

  public subscript(r: GPR) -> UInt32 {
    get { gprs[Int(r.rawValue)] }
    set { gprs[Int(r.rawValue)] = newValue }
  }

  public subscript(s: SegmentRegister) -> SegmentState {
    get { segments[Int(s.rawValue)] }
    set { segments[Int(s.rawValue)] = newValue }
  }

  /// CPL is CS.RPL in protected mode (SDM Vol. 3A §5.5).
  public var cpl: UInt8 { UInt8(self[.cs].selector & 3) }

  /// The fields that differ from `other`, as "name: mine → theirs" lines (first-difference reports).
  public func differences(from other: CPUState) -> [String] {
    var out: [String] = []
    for r in GPR.allCases where self[r] != other[r] {
      out.append("\(r.name(.dword)): \(hex32(self[r])) → \(hex32(other[r]))")
    }
    if eip != other.eip { out.append("eip: \(hex32(eip)) → \(hex32(other.eip))") }
    if eflags != other.eflags { out.append("eflags: \(hex32(eflags)) → \(hex32(other.eflags))") }
    for s in SegmentRegister.allCases where self[s] != other[s] {
      out.append("\(s.name): \(self[s]) → \(other[s])")
    }
    for (name, a, b) in [
      ("cr0", cr0, other.cr0), ("cr2", cr2, other.cr2), ("cr3", cr3, other.cr3), ("cr4", cr4, other.cr4),
    ]
    where a != b {
      out.append("\(name): \(hex32(a)) → \(hex32(b))")
    }
    for (k, name) in ["dr0", "dr1", "dr2", "dr3", "dr6", "dr7"].enumerated()
    where debugRegisters[k] != other.debugRegisters[k] {
      out.append("\(name): \(hex32(debugRegisters[k])) → \(hex32(other.debugRegisters[k]))")
    }
    for m in ModelSpecificRegister.all where msrs[m.index] != other.msrs[m.index] {
      out.append(
        "\(m.name): \(msrs[m.index].map { hex64($0) } ?? "-") → \(other.msrs[m.index].map { hex64($0) } ?? "-")"
      )
    }
    if tsc != other.tsc { out.append("tsc: \(tsc) → \(other.tsc)") }
    if clock != other.clock { out.append("clock: \(clock) → \(other.clock)") }
    if interruptsInhibitedUntil != other.interruptsInhibitedUntil {
      out.append("interrupt shadow until: \(interruptsInhibitedUntil) → \(other.interruptsInhibitedUntil)")
    }
    if apic != other.apic { out.append("apic: \(apic) → \(other.apic)") }
    if ldtr != other.ldtr { out.append("ldtr: \(ldtr) → \(other.ldtr)") }
    if tr != other.tr { out.append("tr: \(tr) → \(other.tr)") }
    if gdtr != other.gdtr { out.append("gdtr: \(gdtr) → \(other.gdtr)") }
    if idtr != other.idtr { out.append("idtr: \(idtr) → \(other.idtr)") }
    if halted != other.halted { out.append("halted: \(halted) → \(other.halted)") }
    return out
  }
}
