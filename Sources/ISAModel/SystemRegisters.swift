/// The system registers the semantics reads and writes as values: control registers, debug
/// registers, descriptor-table registers (SDM Vol. 3A §2.4 "Memory-Management Registers", §2.5
/// "Control Registers", §17.2 "Debug Registers") and the model-specific registers (Vol. 4).

/// A system register held as a 32-bit value. GDTR and IDTR are two values each (base, limit).
public enum SystemRegister: UInt8, CaseIterable, Hashable, Sendable, Codable {
  case cr0, cr2, cr3, cr4
  case dr0, dr1, dr2, dr3, dr6, dr7
  case gdtrBase, gdtrLimit, idtrBase, idtrLimit

  public var name: String { String(describing: self) }
}

/// CR0 bits (SDM Vol. 3A §2.5, Figure 2-7).
public enum CR0 {
  public static let pe: UInt32 = 1 << 0
  public static let mp: UInt32 = 1 << 1
  public static let em: UInt32 = 1 << 2
  public static let ts: UInt32 = 1 << 3
  /// Extension type: hardwired to 1 since the Pentium (SDM Vol. 3A §2.5).
  public static let et: UInt32 = 1 << 4
  public static let ne: UInt32 = 1 << 5
  public static let wp: UInt32 = 1 << 16
  public static let am: UInt32 = 1 << 18
  public static let nw: UInt32 = 1 << 29
  public static let cd: UInt32 = 1 << 30
  public static let pg: UInt32 = 1 << 31
  /// The bits that exist; MOV to CR0 keeps the others as they read (0).
  public static let defined: UInt32 = pe | mp | em | ts | et | ne | wp | am | nw | cd | pg
}

/// CR4 bits (SDM Vol. 3A §2.5, Figure 2-7).
public enum CR4 {
  public static let vme: UInt32 = 1 << 0
  public static let pvi: UInt32 = 1 << 1
  public static let tsd: UInt32 = 1 << 2
  public static let de: UInt32 = 1 << 3
  public static let pse: UInt32 = 1 << 4
  public static let pae: UInt32 = 1 << 5
  public static let mce: UInt32 = 1 << 6
  public static let pge: UInt32 = 1 << 7
  public static let pce: UInt32 = 1 << 8
  public static let osfxsr: UInt32 = 1 << 9
  public static let osxmmexcpt: UInt32 = 1 << 10
  public static let vmxe: UInt32 = 1 << 13
}

/// DR6 and DR7 bits that read as fixed values (SDM Vol. 3A §17.2.3, §17.2.4).
public enum DebugRegisterBits {
  /// DR6: B0–B3, BD, BS, BT are the writable status bits; the rest read as 1.
  public static let dr6Writable: UInt32 = 0x0000_E00F
  public static let dr6Fixed: UInt32 = 0xFFFF_0FF0
  /// DR7: L0–G3, LE, GE, GD and the R/W and LEN fields; bit 10 reads as 1.
  public static let dr7Writable: UInt32 = 0xFFFF_23FF
  public static let dr7Fixed: UInt32 = 0x0000_0400
  /// DR7.GD: general detect (a MOV DR raises #DB; not modelled, see docs/divergences.md).
  public static let generalDetect: UInt32 = 1 << 13
}

/// A model-specific register the modelled CPU has (SDM Vol. 4, Table 2-2 "IA-32 Architectural
/// MSRs"). RDMSR or WRMSR of any other index raises #GP(0), and so does a WRMSR that sets a
/// reserved bit. To add one, append it to `all` with its reset value and writable bits.
public struct ModelSpecificRegister: Hashable, Sendable, Codable, CustomStringConvertible {
  public enum Kind: Hashable, Sendable, Codable {
    /// A value the CPU stores (the engine keeps it in the register file).
    case storage
    /// IA32_TIME_STAMP_COUNTER: the TSC itself (SDM Vol. 3B §18.17).
    case timeStampCounter
  }

  public let index: UInt32
  public let name: String
  public let kind: Kind
  /// The bits a WRMSR may set; setting a bit that is neither writable nor read-only raises #GP(0).
  public let writable: UInt64
  /// Bits a WRMSR leaves as they are, whatever it writes (IA32_APIC_BASE.BSP).
  public let readOnly: UInt64
  /// The value after reset (bits outside `writable` always read so).
  public let reset: UInt64

  public var description: String { "\(name) (0x\(String(index, radix: 16, uppercase: true)))" }

  public init(index: UInt32, name: String, kind: Kind, writable: UInt64, readOnly: UInt64 = 0, reset: UInt64)
  {
    self.index = index
    self.name = name
    self.kind = kind
    self.writable = writable
    self.readOnly = readOnly
    self.reset = reset
  }

  /// Every MSR of the model, in a fixed order (the engine's storage follows it).
  public static let all: [ModelSpecificRegister] = [
    ModelSpecificRegister(
      index: 0x10, name: "IA32_TIME_STAMP_COUNTER", kind: .timeStampCounter, writable: ~0, reset: 0),
    // Bit 8 BSP (read-only), bit 11 global enable, bits 12–31 the base (32-bit physical
    // addresses in this model); reset: base 0xFEE00000, enabled, BSP (SDM Vol. 3A §10.4.4).
    ModelSpecificRegister(
      index: 0x1B, name: "IA32_APIC_BASE", kind: .storage, writable: 0xFFFF_F800, readOnly: 0x100,
      reset: 0xFEE0_0900),
    ModelSpecificRegister(index: 0x174, name: "IA32_SYSENTER_CS", kind: .storage, writable: 0xFFFF, reset: 0),
    ModelSpecificRegister(
      index: 0x175, name: "IA32_SYSENTER_ESP", kind: .storage, writable: 0xFFFF_FFFF, reset: 0),
    ModelSpecificRegister(
      index: 0x176, name: "IA32_SYSENTER_EIP", kind: .storage, writable: 0xFFFF_FFFF, reset: 0),
    // No long mode, no NX (no PAE) and no SYSCALL in this model: every EFER bit is reserved
    // (docs/divergences.md).
    ModelSpecificRegister(index: 0xC000_0080, name: "IA32_EFER", kind: .storage, writable: 0, reset: 0),
  ]

  /// The MSR at `index`, if the model has one.
  public static func at(_ index: UInt32) -> ModelSpecificRegister? { all.first { $0.index == index } }

  /// The position of this MSR among the stored ones (the engine's storage slot).
  public var storageSlot: Int? {
    guard kind == .storage else { return nil }
    return Self.all.filter { $0.kind == .storage }.firstIndex(of: self)
  }
}
