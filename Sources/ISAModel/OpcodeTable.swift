/// The opcode table: every instruction form the model decodes, one entry per opcode line of the
/// Intel SDM Vol. 2 (the `opcode` column is the SDM's own notation), plus the opcodes the model
/// recognises but does not implement (model gaps) and the ones that are invalid (#UD). The
/// decoder and encoder are driven by this table alone (SDM Vol. 2D Appendix A, opcode maps).

/// How an operand is encoded, in the SDM's operand notation (Vol. 2D §A.2).
public enum OperandSpec: Hashable, Sendable {
  /// E: ModRM r/m, a register or memory.
  case e(SizeCode)
  /// M: ModRM r/m, memory only (a register form is #UD).
  case m(SizeCode)
  /// G: ModRM reg.
  case g(SizeCode)
  /// I: an immediate of the size (z: 16 or 32 bits by operand size).
  case i(SizeCode)
  /// Ib sign-extended to the operand size.
  case ibs
  /// J: a relative offset (b: 8 bits, z: 16 or 32), sign-extended.
  case j(SizeCode)
  /// A fixed register (AL, eAX, CL, DX …).
  case fixed(GPR, SizeCode)
  /// Z: the register in the opcode's low three bits (`+r`).
  case z(SizeCode)
  /// O: a memory offset (moffs) of the address size, no ModRM.
  case o(SizeCode)
  /// The constant 1 (shift and rotate by one).
  case one
  /// X: the string source DS:(E)SI (segment overridable).
  case x(SizeCode)
  /// Y: the string destination ES:(E)DI.
  case y(SizeCode)
  /// R: ModRM r/m names a general register whatever the mod bits (MOV to and from CR and DR:
  /// "the 2 bits in the mod field are ignored", SDM Vol. 2B MOV—Move to/from Control Registers).
  case r(SizeCode)
  /// C: ModRM reg names a control register.
  case c
  /// D: ModRM reg names a debug register.
  case d
  /// S: ModRM reg names a segment register.
  case s
  /// Mw/Rv: ModRM r/m, a 16-bit memory operand or a register of the operand size (MOV r/m,
  /// Sreg; SLDT; STR — SDM Vol. 2B: the store to memory is always 16 bits).
  case mwRv
  /// A fixed segment register (PUSH ES, POP DS …).
  case fixedSegment(SegmentRegister)
}

extension OperandSpec {
  /// The operand of a spec that takes nothing from the encoding (a fixed register or segment
  /// register, the constant 1, the string operands), or nil. Decoder and generators share it.
  public func implied(operandSize: OperandSize, addressSize: AddressSize, segment: SegmentRegister?)
    -> Operand?
  {
    switch self {
    case .fixed(let r, let s): .register(r, s.resolve(operandSize))
    case .fixedSegment(let sreg): .segment(sreg)
    case .one: .immediate(1)
    case .x(let s):
      .memory(.stringSource(segment: segment ?? .ds, size: s.resolve(operandSize), addressSize: addressSize))
    case .y(let s): .memory(.stringDestination(size: s.resolve(operandSize), addressSize: addressSize))
    default: nil
    }
  }
}

/// Operand sizes in the SDM's notation.
public enum SizeCode: Hashable, Sendable {
  case b, w, d
  /// 16 or 32 bits by operand size (the SDM's v and z in 32-bit code).
  case v

  @inlinable public func resolve(_ operandSize: OperandSize) -> OperandSize {
    switch self {
    case .b: .byte
    case .w: .word
    case .d: .dword
    case .v: operandSize
    }
  }
}

/// How the ModRM byte is used.
public enum ModRMUse: Hashable, Sendable {
  case none
  /// `/r`: reg names a register operand.
  case register
  /// `/digit`: reg extends the opcode.
  case digit(UInt8)
}

/// What the opcode's low bits carry.
public enum Embedded: Hashable, Sendable {
  case none
  /// `+r`: a register number.
  case register
  /// `+cc`: a condition code.
  case condition
}

/// One opcode line: encoding and operands. The semantics is the mnemonic's (Semantics).
public struct FormSpec: Sendable, CustomStringConvertible {
  /// The SDM opcode column, e.g. `0F AF /r`.
  public let opcode: String
  public let mnemonic: Mnemonic
  public let operands: [OperandSpec]
  /// The opcode bytes; with `embedded`, the last is the base the low bits are added to.
  public let bytes: [UInt8]
  public let modrm: ModRMUse
  public let embedded: Embedded
  /// A mandatory prefix (66 or F3 before 0F) that is part of the opcode, not a modifier.
  public let mandatoryPrefix: UInt8?

  init(_ opcode: String, _ mnemonic: Mnemonic, _ operands: [OperandSpec]) {
    self.opcode = opcode
    self.mnemonic = mnemonic
    self.operands = operands
    var bytes: [UInt8] = []
    var modrm = ModRMUse.none
    var embedded = Embedded.none
    var tokens = opcode.split(separator: " ")
    if tokens.count > 1, ["66", "F2", "F3"].contains(tokens[0]), tokens[1] == "0F" {
      mandatoryPrefix = UInt8(tokens[0], radix: 16)
      tokens.removeFirst()
    } else {
      mandatoryPrefix = nil
    }
    for token in tokens {
      if token == "/r" {
        modrm = .register
      } else if token.hasPrefix("/"), let d = UInt8(token.dropFirst()) {
        modrm = .digit(d)
      } else if token.hasSuffix("+r") {
        bytes.append(UInt8(token.dropLast(2), radix: 16)!)
        embedded = .register
      } else if token.hasSuffix("+cc") {
        bytes.append(UInt8(token.dropLast(3), radix: 16)!)
        embedded = .condition
      } else if token.count == 2, token.allSatisfy({ $0.isHexDigit && !$0.isLowercase }),
        let b = UInt8(token, radix: 16)
      {
        bytes.append(b)
      }
      // ib, iw, iz, cb, cz: immediates, described by the operands.
    }
    precondition(!bytes.isEmpty, "opcode line without bytes: \(opcode)")
    if operands.contains(where: {
      switch $0 {
      case .e, .m, .g, .r, .c, .d, .s, .mwRv: true
      default: false
      }
    }) {
      precondition(modrm != .none, "\(opcode): E/M/G operands need a ModRM byte")
    }
    self.bytes = bytes
    self.modrm = modrm
    self.embedded = embedded
  }

  /// How this form uses its explicit operands (the mnemonic's, but for IMUL's two- and
  /// three-operand forms, whose first operand is a destination).
  public var operandUse: [OperandUse] {
    if mnemonic == .imul && operands.count == 2 { return [.readWrite, .read] }
    if mnemonic == .imul && operands.count == 3 { return [.write, .read, .read] }
    return mnemonic.operandUse
  }

  /// Whether the r/m operand must be memory.
  public var memoryOnly: Bool {
    operands.contains { if case .m = $0 { true } else { false } }
  }

  public var description: String { "\(opcode) \(mnemonic.name)" }
}

/// A decoder slot: what one opcode byte (after the escape, if any) means.
enum OpcodeSlot: Sendable {
  case invalid
  case prefix
  case escape
  case form(UInt16)
  /// ModRM.reg selects the slot; `memory` and `register` differ where mod = 3 means another thing.
  case group(memory: [OpcodeSlot], register: [OpcodeSlot])
  /// An instruction the model recognises but does not implement.
  case gap(String)
  /// 0F C7 and 0F 01 also depend on mandatory prefixes or the whole ModRM byte.
  case special(Special)

  enum Special: Sendable { case group7, group9 }
}

public enum OpcodeTable {
  /// Every form, in SDM order within each mnemonic. `Form(index:)` indexes this list.
  public static let forms: [FormSpec] = makeForms()

  static let oneByte: [OpcodeSlot] = makeMaps().one
  static let twoByte: [OpcodeSlot] = makeMaps().two
  /// The 0F 38 map: only INVEPT and INVVPID (with 66) exist on the modelled CPU, which has no
  /// SSSE3 or later.
  static let threeByte38: [OpcodeSlot] = makeMaps().three38

  /// The form of a group-7 or group-9 instruction, by opcode line.
  static func special(_ opcode: String) -> OpcodeSlot {
    .form(UInt16(forms.firstIndex { $0.opcode == opcode }!))
  }

  /// The index of the form with this opcode line and mnemonic.
  public static func form(_ opcode: String, _ mnemonic: Mnemonic? = nil) -> Form? {
    forms.firstIndex { $0.opcode == opcode && (mnemonic == nil || $0.mnemonic == mnemonic) }
      .map { Form(index: UInt16($0)) }
  }

  private static func makeForms() -> [FormSpec] {
    var f: [FormSpec] = []
    func add(_ opcode: String, _ m: Mnemonic, _ ops: [OperandSpec]) { f.append(FormSpec(opcode, m, ops)) }

    // ADD OR ADC SBB AND SUB XOR CMP share one layout (SDM Vol. 2D Table A-2, rows 0–3).
    let alu: [Mnemonic] = [.add, .or, .adc, .sbb, .and, .sub, .xor, .cmp]
    for (n, m) in alu.enumerated() {
      let base = UInt8(n * 8)
      add(hex(base) + " /r", m, [.e(.b), .g(.b)])
      add(hex(base + 1) + " /r", m, [.e(.v), .g(.v)])
      add(hex(base + 2) + " /r", m, [.g(.b), .e(.b)])
      add(hex(base + 3) + " /r", m, [.g(.v), .e(.v)])
      add(hex(base + 4) + " ib", m, [.fixed(.eax, .b), .i(.b)])
      add(hex(base + 5) + " iz", m, [.fixed(.eax, .v), .i(.v)])
      add("80 /\(n) ib", m, [.e(.b), .i(.b)])
      add("81 /\(n) iz", m, [.e(.v), .i(.v)])
      add("82 /\(n) ib", m, [.e(.b), .i(.b)])  // 82 is an alias of 80 outside 64-bit mode
      add("83 /\(n) ib", m, [.e(.v), .ibs])
    }
    add("40+r", .inc, [.z(.v)])
    add("48+r", .dec, [.z(.v)])
    add("FE /0", .inc, [.e(.b)])
    add("FF /0", .inc, [.e(.v)])
    add("FE /1", .dec, [.e(.b)])
    add("FF /1", .dec, [.e(.v)])
    add("84 /r", .test, [.e(.b), .g(.b)])
    add("85 /r", .test, [.e(.v), .g(.v)])
    add("A8 ib", .test, [.fixed(.eax, .b), .i(.b)])
    add("A9 iz", .test, [.fixed(.eax, .v), .i(.v)])
    add("F6 /0 ib", .test, [.e(.b), .i(.b)])
    add("F7 /0 iz", .test, [.e(.v), .i(.v)])
    add("F6 /1 ib", .test, [.e(.b), .i(.b)])  // /1 is an undocumented alias of /0
    add("F7 /1 iz", .test, [.e(.v), .i(.v)])
    add("F6 /2", .not, [.e(.b)])
    add("F7 /2", .not, [.e(.v)])
    add("F6 /3", .neg, [.e(.b)])
    add("F7 /3", .neg, [.e(.v)])
    add("F6 /4", .mul, [.e(.b)])
    add("F7 /4", .mul, [.e(.v)])
    add("F6 /5", .imul, [.e(.b)])
    add("F7 /5", .imul, [.e(.v)])
    add("0F AF /r", .imul, [.g(.v), .e(.v)])
    add("6B /r ib", .imul, [.g(.v), .e(.v), .ibs])
    add("69 /r iz", .imul, [.g(.v), .e(.v), .i(.v)])
    add("F6 /6", .div, [.e(.b)])
    add("F7 /6", .div, [.e(.v)])
    add("F6 /7", .idiv, [.e(.b)])
    add("F7 /7", .idiv, [.e(.v)])

    // Group 2: shifts and rotates by 1, CL and imm8. /6 is an undocumented alias of SHL.
    let shifts: [(UInt8, Mnemonic)] = [
      (0, .rol), (1, .ror), (2, .rcl), (3, .rcr), (4, .shl), (5, .shr), (6, .shl), (7, .sar),
    ]
    for (n, m) in shifts {
      add("D0 /\(n)", m, [.e(.b), .one])
      add("D1 /\(n)", m, [.e(.v), .one])
      add("D2 /\(n)", m, [.e(.b), .fixed(.ecx, .b)])
      add("D3 /\(n)", m, [.e(.v), .fixed(.ecx, .b)])
      add("C0 /\(n) ib", m, [.e(.b), .i(.b)])
      add("C1 /\(n) ib", m, [.e(.v), .i(.b)])
    }
    add("0F A4 /r ib", .shld, [.e(.v), .g(.v), .i(.b)])
    add("0F A5 /r", .shld, [.e(.v), .g(.v), .fixed(.ecx, .b)])
    add("0F AC /r ib", .shrd, [.e(.v), .g(.v), .i(.b)])
    add("0F AD /r", .shrd, [.e(.v), .g(.v), .fixed(.ecx, .b)])

    add("0F A3 /r", .bt, [.e(.v), .g(.v)])
    add("0F AB /r", .bts, [.e(.v), .g(.v)])
    add("0F B3 /r", .btr, [.e(.v), .g(.v)])
    add("0F BB /r", .btc, [.e(.v), .g(.v)])
    add("0F BA /4 ib", .bt, [.e(.v), .i(.b)])
    add("0F BA /5 ib", .bts, [.e(.v), .i(.b)])
    add("0F BA /6 ib", .btr, [.e(.v), .i(.b)])
    add("0F BA /7 ib", .btc, [.e(.v), .i(.b)])
    add("0F BC /r", .bsf, [.g(.v), .e(.v)])
    add("0F BD /r", .bsr, [.g(.v), .e(.v)])

    // Data movement.
    add("88 /r", .mov, [.e(.b), .g(.b)])
    add("89 /r", .mov, [.e(.v), .g(.v)])
    add("8A /r", .mov, [.g(.b), .e(.b)])
    add("8B /r", .mov, [.g(.v), .e(.v)])
    add("A0", .mov, [.fixed(.eax, .b), .o(.b)])
    add("A1", .mov, [.fixed(.eax, .v), .o(.v)])
    add("A2", .mov, [.o(.b), .fixed(.eax, .b)])
    add("A3", .mov, [.o(.v), .fixed(.eax, .v)])
    add("B0+r ib", .mov, [.z(.b), .i(.b)])
    add("B8+r iv", .mov, [.z(.v), .i(.v)])
    add("C6 /0 ib", .mov, [.e(.b), .i(.b)])
    add("C7 /0 iz", .mov, [.e(.v), .i(.v)])
    add("0F B6 /r", .movzx, [.g(.v), .e(.b)])
    add("0F B7 /r", .movzx, [.g(.v), .e(.w)])
    add("0F BE /r", .movsx, [.g(.v), .e(.b)])
    add("0F BF /r", .movsx, [.g(.v), .e(.w)])
    add("8D /r", .lea, [.g(.v), .m(.v)])
    add("86 /r", .xchg, [.e(.b), .g(.b)])
    add("87 /r", .xchg, [.e(.v), .g(.v)])
    add("90+r", .xchg, [.fixed(.eax, .v), .z(.v)])
    add("90", .nop, [])  // XCHG eAX, eAX: the one-byte NOP (and F3 90, PAUSE)
    add("0F 1F /0", .nop, [.e(.v)])
    add("0F C0 /r", .xadd, [.e(.b), .g(.b)])
    add("0F C1 /r", .xadd, [.e(.v), .g(.v)])
    add("0F B0 /r", .cmpxchg, [.e(.b), .g(.b)])
    add("0F B1 /r", .cmpxchg, [.e(.v), .g(.v)])
    add("0F C8+r", .bswap, [.z(.v)])
    add("0F 40+cc /r", .cmovcc, [.g(.v), .e(.v)])
    add("0F 90+cc /0", .setcc, [.e(.b)])
    add("50+r", .push, [.z(.v)])
    add("6A ib", .push, [.ibs])
    add("68 iz", .push, [.i(.v)])
    add("FF /6", .push, [.e(.v)])
    add("58+r", .pop, [.z(.v)])
    add("8F /0", .pop, [.e(.v)])
    add("60", .pusha, [])
    add("61", .popa, [])
    add("9F", .lahf, [])
    add("9E", .sahf, [])
    add("98", .cbw, [])
    add("99", .cwd, [])
    add("C8 iw ib", .enter, [.i(.w), .i(.b)])
    add("C9", .leave, [])

    // Control transfer.
    add("EB cb", .jmp, [.j(.b)])
    add("E9 cz", .jmp, [.j(.v)])
    add("FF /4", .jmp, [.e(.v)])
    add("70+cc cb", .jcc, [.j(.b)])
    add("0F 80+cc cz", .jcc, [.j(.v)])
    add("E8 cz", .call, [.j(.v)])
    add("FF /2", .call, [.e(.v)])
    add("C3", .ret, [])
    add("C2 iw", .ret, [.i(.w)])
    add("E2 cb", .loop, [.j(.b)])
    add("E1 cb", .loope, [.j(.b)])
    add("E0 cb", .loopne, [.j(.b)])
    add("E3 cb", .jecxz, [.j(.b)])

    // Strings.
    add("A4", .movs, [.y(.b), .x(.b)])
    add("A5", .movs, [.y(.v), .x(.v)])
    add("AA", .stos, [.y(.b), .fixed(.eax, .b)])
    add("AB", .stos, [.y(.v), .fixed(.eax, .v)])
    add("AC", .lods, [.fixed(.eax, .b), .x(.b)])
    add("AD", .lods, [.fixed(.eax, .v), .x(.v)])
    add("A6", .cmps, [.x(.b), .y(.b)])
    add("A7", .cmps, [.x(.v), .y(.v)])
    add("AE", .scas, [.fixed(.eax, .b), .y(.b)])
    add("AF", .scas, [.fixed(.eax, .v), .y(.v)])

    // Flags.
    add("F8", .clc, [])
    add("F9", .stc, [])
    add("F5", .cmc, [])
    add("FC", .cld, [])
    add("FD", .std, [])

    // System instructions implemented so far.
    add("E4 ib", .input, [.fixed(.eax, .b), .i(.b)])
    add("E5 ib", .input, [.fixed(.eax, .v), .i(.b)])
    add("EC", .input, [.fixed(.eax, .b), .fixed(.edx, .w)])
    add("ED", .input, [.fixed(.eax, .v), .fixed(.edx, .w)])
    add("E6 ib", .output, [.i(.b), .fixed(.eax, .b)])
    add("E7 ib", .output, [.i(.b), .fixed(.eax, .v)])
    add("EE", .output, [.fixed(.edx, .w), .fixed(.eax, .b)])
    add("EF", .output, [.fixed(.edx, .w), .fixed(.eax, .v)])
    add("6C", .ins, [.y(.b), .fixed(.edx, .w)])
    add("6D", .ins, [.y(.v), .fixed(.edx, .w)])
    add("6E", .outs, [.fixed(.edx, .w), .x(.b)])
    add("6F", .outs, [.fixed(.edx, .w), .x(.v)])
    add("F4", .hlt, [])
    add("0F A2", .cpuid, [])
    add("0F 0B", .ud2, [])
    add("0F 20 /r", .movControl, [.r(.d), .c])
    add("0F 22 /r", .movControl, [.c, .r(.d)])
    add("0F 21 /r", .movDebug, [.r(.d), .d])
    add("0F 23 /r", .movDebug, [.d, .r(.d)])
    // Group 7 (0F 01) is reached through `OpcodeSlot.Special.group7`: its meaning depends on the
    // whole ModRM byte. SGDT and friends address a 6-byte pseudo-descriptor (limit, base).
    add("0F 01 /0", .sgdt, [.m(.d)])
    add("0F 01 /1", .sidt, [.m(.d)])
    add("0F 01 /2", .lgdt, [.m(.d)])
    add("0F 01 /3", .lidt, [.m(.d)])
    add("0F 01 /4", .smsw, [.m(.w)])
    add("0F 01 /4 r32", .smsw, [.r(.v)])
    add("0F 01 /6", .lmsw, [.e(.w)])
    add("0F 01 /7", .invlpg, [.m(.b)])
    add("0F 06", .clts, [])
    add("0F 08", .invd, [])
    add("0F 09", .wbinvd, [])
    add("0F 30", .wrmsr, [])
    add("0F 31", .rdtsc, [])
    add("0F 32", .rdmsr, [])
    add("0F 33", .rdpmc, [])
    add("FA", .cli, [])
    add("FB", .sti, [])
    add("9C", .pushf, [])
    add("9D", .popf, [])

    // VMX (SDM Vol. 3C Chapter 31, "VMX Instruction Reference").
    add("0F 01 C1", .vmcall, [])
    add("0F 01 C2", .vmlaunch, [])
    add("0F 01 C3", .vmresume, [])
    add("0F 01 C4", .vmxoff, [])
    add("F3 0F C7 /6", .vmxon, [.m(.d)])
    add("66 0F C7 /6", .vmclear, [.m(.d)])
    add("0F C7 /6", .vmptrld, [.m(.d)])
    add("0F C7 /7", .vmptrst, [.m(.d)])
    add("0F 78 /r", .vmread, [.e(.d), .g(.d)])
    add("0F 79 /r", .vmwrite, [.g(.d), .e(.d)])
    add("66 0F 38 80 /r", .invept, [.g(.d), .m(.d)])
    add("66 0F 38 81 /r", .invvpid, [.g(.d), .m(.d)])

    // Segment registers (SDM Vol. 2B MOV, PUSH, POP) and the system segments (group 6).
    add("8C /r", .mov, [.mwRv, .s])
    add("8E /r", .mov, [.s, .e(.w)])
    for (opcode, sreg) in [
      ("06", SegmentRegister.es), ("0E", .cs), ("16", .ss), ("1E", .ds), ("0F A0", .fs), ("0F A8", .gs),
    ] {
      add(opcode, .push, [.fixedSegment(sreg)])
    }
    for (opcode, sreg) in [
      ("07", SegmentRegister.es), ("17", .ss), ("1F", .ds), ("0F A1", .fs), ("0F A9", .gs),
    ] {
      add(opcode, .pop, [.fixedSegment(sreg)])
    }
    add("0F 00 /0", .sldt, [.mwRv])
    add("0F 00 /1", .str, [.mwRv])
    add("0F 00 /2", .lldt, [.e(.w)])
    add("0F 00 /3", .ltr, [.e(.w)])
    add("0F 00 /4", .verr, [.e(.w)])
    add("0F 00 /5", .verw, [.e(.w)])
    add("0F 02 /r", .lar, [.g(.v), .mwRv])
    add("0F 03 /r", .lsl, [.g(.v), .mwRv])
    add("63 /r", .arpl, [.e(.w), .g(.w)])
    add("CD ib", .int, [.i(.b)])
    add("CC", .int3, [])
    add("CE", .into, [])
    add("CF", .iret, [])
    add("EA cp", .jmpFar, [.i(.v), .i(.w)])
    add("FF /5", .jmpFar, [.m(.v)])
    add("9A cp", .callFar, [.i(.v), .i(.w)])
    add("FF /3", .callFar, [.m(.v)])
    add("CB", .retf, [])
    add("CA iw", .retf, [.i(.w)])
    add("0F 34", .sysenter, [])
    add("0F 35", .sysexit, [])
    return f
  }

  /// Valid instructions the model does not implement yet: decoding one ends the step as a
  /// model gap naming it (never #UD, never a NOP).
  static let oneByteGaps: [UInt8: String] = [
    0x27: "DAA", 0x2F: "DAS", 0x37: "AAA", 0x3F: "AAS",
    0x9B: "FWAIT",
    0xD4: "AAM", 0xD5: "AAD", 0xD6: "SALC (undocumented)", 0xD7: "XLAT",
    0xD8: "x87 escape D8", 0xD9: "x87 escape D9", 0xDA: "x87 escape DA", 0xDB: "x87 escape DB",
    0xDC: "x87 escape DC", 0xDD: "x87 escape DD", 0xDE: "x87 escape DE", 0xDF: "x87 escape DF",
    0xF1: "INT1",
  ]

  /// Valid only with a memory operand; the register form is #UD (SDM: "#UD if source operand
  /// is a register").
  static let oneByteMemoryGaps: [UInt8: String] = [0x62: "BOUND", 0xC4: "LES", 0xC5: "LDS"]

  static let twoByteGaps: [UInt8: String] = [
    0xAA: "RSM"
  ]

  static let twoByteMemoryGaps: [UInt8: String] = [0xB2: "LSS", 0xB4: "LFS", 0xB5: "LGS"]

  private static func makeMaps() -> (one: [OpcodeSlot], two: [OpcodeSlot], three38: [OpcodeSlot]) {
    var one = [OpcodeSlot](repeating: .invalid, count: 256)
    var two = [OpcodeSlot](repeating: .invalid, count: 256)
    var three38 = [OpcodeSlot](repeating: .invalid, count: 256)
    for p: UInt8 in [0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67] {
      one[Int(p)] = .prefix
    }
    one[0x0F] = .escape
    for (b, name) in oneByteGaps { one[Int(b)] = .gap(name) }
    for (b, name) in twoByteGaps { two[Int(b)] = .gap(name) }
    func memoryOnlyGap(_ name: String) -> OpcodeSlot {
      .group(memory: Array(repeating: .gap(name), count: 8), register: Array(repeating: .invalid, count: 8))
    }
    for (b, name) in oneByteMemoryGaps { one[Int(b)] = memoryOnlyGap(name) }
    for (b, name) in twoByteMemoryGaps { two[Int(b)] = memoryOnlyGap(name) }
    // Hint NOPs: 0F 18–0F 1E decode as NOP r/m on this CPU (0F 1F /0 is the documented one).
    two[0x01] = .special(.group7)
    two[0xC7] = .special(.group9)
    two[0x38] = .escape

    for (index, spec) in forms.enumerated() {
      let slot = OpcodeSlot.form(UInt16(index))
      let last = spec.bytes.last!
      let count = spec.embedded == .register ? 8 : spec.embedded == .condition ? 16 : 1
      for k in 0..<count {
        let opcode = Int(last) + k
        func place(_ map: inout [OpcodeSlot]) {
          if case .digit(let d) = spec.modrm {
            var memory: [OpcodeSlot]
            var register: [OpcodeSlot]
            if case .group(let m, let r) = map[opcode] {
              memory = m
              register = r
            } else {
              memory = Array(repeating: .invalid, count: 8)
              register = Array(repeating: .invalid, count: 8)
            }
            memory[Int(d)] = slot
            if !spec.memoryOnly { register[Int(d)] = slot }
            map[opcode] = .group(memory: memory, register: register)
          } else {
            map[opcode] = slot
          }
        }
        // Group 7 and group 9 forms are found by `Decoder.specialSlot`.
        if spec.bytes.count == 1 {
          place(&one)
        } else if spec.bytes.count == 2 && spec.bytes[1] != 0x01 && spec.bytes[1] != 0xC7 {
          place(&two)
        } else if spec.bytes.count == 3 && spec.bytes[1] == 0x38 {
          place(&three38)
        }
      }
    }
    // 0F 90+cc /0: SETcc ignores ModRM.reg on this CPU (any /digit is SETcc).
    for cc in 0..<16 {
      if case .group(let m, let r) = two[0x90 + cc] {
        two[0x90 + cc] = .group(
          memory: Array(repeating: m[0], count: 8), register: Array(repeating: r[0], count: 8))
      }
    }
    // Hint NOPs 0F 18–0F 1E and the rest of 0F 1F: NOP r/m with any reg.
    let nop = forms.firstIndex { $0.opcode == "0F 1F /0" }!
    for b in 0x18...0x1F {
      two[b] = .group(
        memory: Array(repeating: .form(UInt16(nop)), count: 8),
        register: Array(repeating: .form(UInt16(nop)), count: 8))
    }
    // 8F /1–7 and C6/C7 /1–7 stay #UD.
    return (one, two, three38)
  }
}

@inline(__always) func hex(_ b: UInt8) -> String {
  let s = String(b, radix: 16, uppercase: true)
  return s.count == 1 ? "0" + s : s
}
