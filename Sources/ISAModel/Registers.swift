/// IA-32 registers and operand sizes (Intel SDM Vol. 1 §3.4, "Basic Program Execution Registers").

/// A general-purpose register, numbered as in the ModRM `reg` and `r/m` fields (SDM Vol. 2A
/// Table 2-2). With a byte operand the same numbers name AL CL DL BL AH CH DH BH.
public enum GPR: UInt8, CaseIterable, Hashable, Sendable, Codable {
  case eax = 0
  case ecx, edx, ebx, esp, ebp, esi, edi

  /// The register's name at `size` (`al`, `ax`, `eax`; byte 4–7 are `ah`…`bh`).
  public func name(_ size: OperandSize) -> String {
    switch size {
    case .byte: ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"][Int(rawValue)]
    case .word: ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"][Int(rawValue)]
    case .dword: ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"][Int(rawValue)]
    }
  }
}

/// A segment register, numbered as in the ModRM `reg` field of MOV Sreg (SDM Vol. 2A §3.1.1.3).
public enum SegmentRegister: UInt8, CaseIterable, Hashable, Sendable, Codable {
  case es = 0
  case cs, ss, ds, fs, gs

  public var name: String { ["es", "cs", "ss", "ds", "fs", "gs"][Int(rawValue)] }

  /// The segment-override prefix byte (SDM Vol. 2A §2.1.1, group 2).
  public var overridePrefix: UInt8 { [0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65][Int(rawValue)] }
}

/// The size of an operand: 8, 16 or 32 bits.
public enum OperandSize: UInt8, Hashable, Sendable, Codable, CaseIterable {
  case byte = 1
  case word = 2
  case dword = 4

  @inlinable public var bytes: UInt32 { UInt32(rawValue) }
  @inlinable public var bits: UInt32 { UInt32(rawValue) &* 8 }

  /// All ones in the operand's bits.
  @inlinable public var mask: UInt32 {
    switch self {
    case .byte: 0xFF
    case .word: 0xFFFF
    case .dword: 0xFFFF_FFFF
    }
  }

  /// The operand's most significant bit.
  @inlinable public var signBit: UInt32 {
    switch self {
    case .byte: 0x80
    case .word: 0x8000
    case .dword: 0x8000_0000
    }
  }
}

/// The size of addresses: 16 or 32 bits (the 0x67 prefix flips it, SDM Vol. 1 §3.6).
public enum AddressSize: UInt8, Hashable, Sendable, Codable {
  case a16 = 2
  case a32 = 4

  @inlinable public var mask: UInt32 { self == .a16 ? 0xFFFF : 0xFFFF_FFFF }
  /// The size of a register that counts or indexes at this address size (CX or ECX, SI or ESI).
  @inlinable public var registerSize: OperandSize { self == .a16 ? .word : .dword }
}
