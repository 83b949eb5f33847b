/// The architectural state of one CPU as a value (DESIGN.md decision 5): snapshot it, compare
/// it, diff it, encode it. Memory is apart (`PhysicalMemory.snapshot()`).
import ISAModel

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

  /// A flat 4 GiB segment.
  public static func flat(selector: UInt16, code: Bool) -> SegmentState {
    // Present, DPL 0, S = 1; code: execute/read (0xA), data: read/write (0x2); D/B = 1, G = 1.
    SegmentState(selector: selector, base: 0, limit: 0xFFFF_FFFF, attributes: code ? 0xC09A : 0xC092)
  }
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
  public var gdtr: TableRegister
  public var idtr: TableRegister
  public var cr0: UInt32
  public var cr2: UInt32
  public var cr3: UInt32
  public var cr4: UInt32
  public var halted: Bool

  public init() {
    gprs = Array(repeating: 0, count: 8)
    eip = 0
    eflags = FlagMask.reservedOne
    segments = SegmentRegister.allCases.map { _ in
      SegmentState(selector: 0, base: 0, limit: 0xFFFF, attributes: 0x93)
    }
    gdtr = TableRegister(base: 0, limit: 0xFFFF)
    idtr = TableRegister(base: 0, limit: 0x3FF)
    cr0 = 0x10
    cr2 = 0
    cr3 = 0
    cr4 = 0
    halted = false
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
    if gdtr != other.gdtr { out.append("gdtr: \(gdtr) → \(other.gdtr)") }
    if idtr != other.idtr { out.append("idtr: \(idtr) → \(other.idtr)") }
    if halted != other.halted { out.append("halted: \(halted) → \(other.halted)") }
    return out
  }
}
