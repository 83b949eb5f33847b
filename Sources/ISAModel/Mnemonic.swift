/// The instructions the model knows, with the metadata the SDM gives each (Vol. 2, "Flags
/// Affected" and "Exceptions"): which status flags it reads, defines and leaves undefined.
/// Which instructions are *sensitive* is not here: the Verifier computes that.
public enum Mnemonic: UInt8, CaseIterable, Hashable, Sendable, Codable {
  // ALU
  case add, or, adc, sbb, and, sub, xor, cmp, test, inc, dec, neg, not
  case mul, imul, div, idiv
  // Shifts, rotates, bits
  case rol, ror, rcl, rcr, shl, shr, sar, shld, shrd
  case bt, bts, btr, btc, bsf, bsr
  // Data movement
  case mov, movzx, movsx, lea, xchg, xadd, cmpxchg, bswap, cmovcc, setcc
  case push, pop, pusha, popa, lahf, sahf, cbw, cwd, enter, leave, nop
  // Control
  case jmp, jcc, call, ret, loop, loope, loopne, jecxz
  // Strings
  case movs, stos, lods, cmps, scas, ins, outs
  // Flags
  case clc, stc, cmc, cld, std
  // System instructions (IN and OUT are `input` and `output`: `in` is a Swift keyword; MOV
  // to and from control and debug registers are `movControl` and `movDebug`)
  case hlt, ud2, input, output, cpuid
  case movControl, movDebug, lgdt, lidt, sgdt, sidt, smsw, lmsw, clts, invd, wbinvd, invlpg
  case rdmsr, wrmsr, rdtsc, rdpmc, cli, sti, pushf, popf
  case sldt, str, lldt, ltr, lar, lsl, verr, verw, arpl
  case int, int3, into, iret, sysenter, sysexit
  // Far transfers (JMP and CALL ptr16:32 and m16:32, RET far)
  case jmpFar, callFar, retf
  // VMX instructions (SDM Vol. 3C Chapter 31; INVEPT and INVVPID are 66 0F 38 80/81)
  case vmcall, vmlaunch, vmresume, vmxoff, vmxon, vmclear, vmptrld, vmptrst, vmread, vmwrite
  case invept, invvpid

  public var name: String {
    switch self {
    case .cmovcc: "cmov"
    case .setcc: "set"
    case .jcc: "j"
    case .input: "in"
    case .output: "out"
    case .movControl, .movDebug: "mov"
    case .jmpFar: "jmp"
    case .callFar: "call"
    default: String(describing: self)
    }
  }

  /// Status flags the instruction reads.
  public var flagsRead: UInt32 {
    switch self {
    case .adc, .sbb, .rcl, .rcr, .cmc: Flag.cf.mask
    case .jcc, .setcc, .cmovcc: FlagMask.status
    case .loope, .loopne: Flag.zf.mask
    case .movs, .stos, .lods, .cmps, .scas, .ins, .outs: Flag.df.mask
    case .lahf: FlagMask.status & ~Flag.of.mask
    case .pushf, .int, .int3: FlagMask.status | Flag.df.mask
    case .into: Flag.of.mask | FlagMask.status | Flag.df.mask
    default: 0
    }
  }

  /// Flags the instruction writes with a defined value (SDM "Flags Affected"). For shifts and
  /// rotates these are written only for a non-zero count.
  public var flagsDefined: UInt32 {
    switch self {
    case .add, .adc, .sub, .sbb, .cmp, .neg, .cmpxchg, .xadd, .cmps, .scas: FlagMask.status
    case .and, .or, .xor, .test: FlagMask.status & ~Flag.af.mask
    case .inc, .dec: FlagMask.statusButCF
    case .mul, .imul: Flag.cf.mask | Flag.of.mask
    case .rol, .ror, .rcl, .rcr: Flag.cf.mask
    case .shl, .shr, .sar, .shld, .shrd: FlagMask.status & ~(Flag.af.mask | Flag.of.mask)
    case .bt, .bts, .btr, .btc: Flag.cf.mask
    case .bsf, .bsr: Flag.zf.mask
    case .sahf: FlagMask.status & ~Flag.of.mask
    case .clc, .stc, .cmc: Flag.cf.mask
    case .cld, .std: Flag.df.mask
    case .popf, .iret: FlagMask.status | Flag.df.mask
    case .lar, .lsl, .verr, .verw, .arpl: Flag.zf.mask
    default: 0
    }
  }

  /// Flags the SDM leaves undefined after the instruction (OF after a multi-bit shift or rotate
  /// is undefined only then; see `FlagSemantics`).
  public var flagsUndefined: UInt32 {
    switch self {
    case .and, .or, .xor, .test: Flag.af.mask
    case .mul, .imul: Flag.sf.mask | Flag.zf.mask | Flag.af.mask | Flag.pf.mask
    case .div, .idiv: FlagMask.status
    case .rol, .ror, .rcl, .rcr: Flag.of.mask
    case .shl, .shr, .sar, .shld, .shrd: Flag.af.mask | Flag.of.mask
    case .bt, .bts, .btr, .btc: Flag.of.mask | Flag.sf.mask | Flag.af.mask | Flag.pf.mask
    case .bsf, .bsr: Flag.cf.mask | Flag.of.mask | Flag.sf.mask | Flag.af.mask | Flag.pf.mask
    case .movControl, .movDebug: FlagMask.status
    default: 0
    }
  }

  /// Whether LOCK is legal (with a memory destination; SDM Vol. 2A, LOCK).
  public var lockable: Bool {
    switch self {
    case .add, .adc, .and, .btc, .btr, .bts, .cmpxchg, .dec, .inc, .neg, .not, .or, .sbb, .sub,
      .xor, .xadd, .xchg:
      true
    default: false
    }
  }

  /// Transfers of control: what ends a straight-line run of instructions.
  public var isControlTransfer: Bool {
    switch self {
    case .jmp, .jcc, .call, .ret, .loop, .loope, .loopne, .jecxz, .int, .int3, .into, .iret, .sysenter,
      .sysexit, .jmpFar, .callFar, .retf:
      true
    default: false
    }
  }

  /// String instructions take REP prefixes and iterate one element per step.
  public var isString: Bool {
    switch self {
    case .movs, .stos, .lods, .cmps, .scas, .ins, .outs: true
    default: false
    }
  }
}

/// How an instruction uses an explicit operand.
public enum OperandUse: Hashable, Sendable {
  case read, write, readWrite
  /// Neither read nor written: LEA's memory operand (only its address is taken), NOP's.
  case address
}

extension Mnemonic {
  /// How the instruction uses its explicit operands, destination first (SDM Vol. 2, each
  /// instruction's "Operation"). Implicit operands (EAX/EDX of MUL and DIV, ESP of PUSH) are not
  /// listed; the tests check these declarations against the semantics.
  public var operandUse: [OperandUse] {
    switch self {
    case .add, .or, .adc, .sbb, .and, .sub, .xor, .rol, .ror, .rcl, .rcr, .shl, .shr, .sar:
      [.readWrite, .read]
    case .cmp, .test, .bt: [.read, .read]
    case .bts, .btr, .btc: [.readWrite, .read]
    case .inc, .dec, .neg, .not, .bswap: [.readWrite]
    case .mul, .imul, .div, .idiv: [.read]  // the one-operand forms; see FormSpec.operandUse
    case .shld, .shrd: [.readWrite, .read, .read]
    case .bsf, .bsr: [.readWrite, .read]  // the destination keeps its value for a zero source
    case .mov, .movzx, .movsx: [.write, .read]
    case .lea: [.write, .address]
    case .xchg, .xadd: [.readWrite, .readWrite]
    case .cmpxchg: [.readWrite, .read]
    case .cmovcc: [.readWrite, .read]
    case .setcc: [.write]
    case .push: [.read]
    case .pop: [.write]
    case .enter: [.read, .read]
    case .nop: [.address]
    case .jmp, .jcc, .call, .loop, .loope, .loopne, .jecxz, .int: [.read]
    case .ret, .retf: [.read]
    case .jmpFar, .callFar: [.read, .read]
    case .movs, .stos, .lods: [.write, .read]
    case .cmps, .scas: [.read, .read]
    case .input, .ins: [.write, .read]
    case .outs: [.read, .read]
    case .output: [.read, .read]
    case .movControl, .movDebug: [.write, .read]
    case .lgdt, .lidt: [.read]
    case .sgdt, .sidt, .smsw, .sldt, .str: [.write]
    case .lldt, .ltr, .verr, .verw: [.read]
    case .lar, .lsl, .arpl: [.readWrite, .read]
    case .lmsw: [.read]
    case .invlpg: [.address]
    case .vmxon, .vmclear, .vmptrld: [.read]
    case .vmptrst: [.write]
    case .vmread: [.write, .read]
    case .vmwrite, .invept, .invvpid: [.read, .read]
    case .pusha, .popa, .lahf, .sahf, .cbw, .cwd, .leave, .clc, .stc, .cmc, .cld, .std, .hlt, .ud2, .cpuid,
      .clts, .invd, .wbinvd, .rdmsr, .wrmsr, .rdtsc, .rdpmc, .cli, .sti, .pushf, .popf, .vmcall, .vmlaunch,
      .vmresume, .vmxoff, .int3, .into, .iret, .sysenter, .sysexit:
      []
    }
  }

  /// The SDM's privilege condition for the instruction ("#GP(0) if the current privilege level
  /// is not 0"), as an attribute that `Semantics.execute` checks before the semantics run —
  /// the same check for the engine and the Verifier, never code inside a handler.
  public var requiresCPL0: Bool {
    switch self {
    case .hlt, .movControl, .movDebug, .lgdt, .lidt, .lmsw, .clts, .invd, .wbinvd, .invlpg, .rdmsr, .wrmsr,
      .lldt, .ltr, .sysexit:
      true
    default: false
    }
  }

  /// The exceptions the instruction itself can raise in this model (memory operands add the
  /// protection and paging faults once those exist; a LOCK where it is not allowed is #UD).
  public var faults: Set<Exception> {
    switch self {
    case .div, .idiv: [.de]
    case .ud2: [.ud]
    case .hlt, .input, .output, .ins, .outs, .lgdt, .lidt, .lmsw, .clts, .invd, .wbinvd, .invlpg, .rdmsr,
      .wrmsr, .rdtsc,
      .rdpmc, .cli, .sti:
      [.gp]
    case .lldt, .ltr: [.gp, .np]
    case .sysenter, .sysexit: [.gp]
    case .jmpFar, .callFar, .retf: [.gp, .np, .ss]
    case .int, .int3, .into, .iret: [.gp, .np, .ss, .ts]
    case .movControl, .movDebug: [.gp, .ud]
    case .vmcall, .vmlaunch, .vmresume, .vmxoff, .vmxon, .vmclear, .vmptrld, .vmptrst, .vmread, .vmwrite,
      .invept, .invvpid:
      [.ud, .gp]
    default: []
    }
  }
}
