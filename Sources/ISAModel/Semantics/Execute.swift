/// The single entry point: one instruction's semantics. It only dispatches; each form's
/// semantics is its own inlinable function, specialised by the engine for concrete values and
/// by the Verifier for Z3 terms (DESIGN.md, "What a prototype measured").
extension Semantics {
  @inlinable
  public static func execute<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    // Checks the SDM states for the instruction as a whole come first (attributes, not code).
    // In VMX non-root operation the exit decision is made around them (SDM Vol. 3C §25.1.1).
    let nonRoot = c.vmx
    if let nonRoot { try VMX.instructionExit(&c, i, nonRoot, .beforePrivilegeChecks) }
    if c.checksCPL0(i.mnemonic) { try c.raise(Fault(.gp, errorCode: 0), when: d.truth(c.cpl != 0)) }
    if let nonRoot { try VMX.instructionExit(&c, i, nonRoot, .afterPrivilegeChecks) }
    switch i.mnemonic {
    case .add: try add(&c, i)
    case .or: try or(&c, i)
    case .adc: try adc(&c, i)
    case .sbb: try sbb(&c, i)
    case .and: try and(&c, i)
    case .sub: try sub(&c, i)
    case .xor: try xor(&c, i)
    case .cmp: try cmp(&c, i)
    case .test: try test(&c, i)
    case .inc: try incDec(&c, i, .inc)
    case .dec: try incDec(&c, i, .dec)
    case .neg: try neg(&c, i)
    case .not: try not(&c, i)
    case .mul: try multiplyAccumulator(&c, i, signed: false)
    case .imul:
      if i.op1.isAbsent {
        try multiplyAccumulator(&c, i, signed: true)
      } else {
        try multiplyTruncating(&c, i)
      }
    case .div: try divide(&c, i, signed: false)
    case .idiv: try divide(&c, i, signed: true)
    case .rol: try rotate(&c, i, .rol)
    case .ror: try rotate(&c, i, .ror)
    case .rcl: try rotateThroughCarry(&c, i, .rcl)
    case .rcr: try rotateThroughCarry(&c, i, .rcr)
    case .shl: try shift(&c, i, .shl)
    case .shr: try shift(&c, i, .shr)
    case .sar: try shift(&c, i, .sar)
    case .shld: try doubleShift(&c, i, .shld)
    case .shrd: try doubleShift(&c, i, .shrd)
    case .bt, .bts, .btr, .btc: try bitTest(&c, i)
    case .bsf: try bitScan(&c, i, reverse: false)
    case .bsr: try bitScan(&c, i, reverse: true)
    case .mov: try mov(&c, i)
    case .movzx: try moveExtend(&c, i, signed: false)
    case .movsx: try moveExtend(&c, i, signed: true)
    case .lea: try lea(&c, i)
    case .xchg: try xchg(&c, i)
    case .xadd: try xadd(&c, i)
    case .cmpxchg: try cmpxchg(&c, i)
    case .bswap: try bswap(&c, i)
    case .cmovcc: try cmov(&c, i, i.condition ?? .o)
    case .setcc: try setcc(&c, i, i.condition ?? .o)
    case .push: try push(&c, i)
    case .pop: try pop(&c, i)
    case .pusha: try pusha(&c, i)
    case .popa: try popa(&c, i)
    case .lahf: try lahf(&c, i)
    case .sahf: try sahf(&c, i)
    case .cbw: try convert(&c, i, wide: false)
    case .cwd: try convert(&c, i, wide: true)
    case .enter: try enter(&c, i)
    case .leave: try leave(&c, i)
    case .nop: break
    case .jmp: try jmp(&c, i)
    case .jcc: try jcc(&c, i, i.condition ?? .o)
    case .call: try call(&c, i)
    case .ret: try ret(&c, i)
    case .loop, .loope, .loopne: try loop(&c, i)
    case .jecxz: try jecxz(&c, i)
    case .movs, .stos, .lods, .cmps, .scas, .ins, .outs: try string(&c, i)
    // F8 CLC, F9 STC, F5 CMC, FC CLD, FD STD.
    case .clc: c.setFlag(.cf, d.truth(false))
    case .stc: c.setFlag(.cf, d.truth(true))
    case .cmc: c.setFlag(.cf, d.not(c.flag(.cf)))
    case .cld: c.setFlag(.df, d.truth(false))
    case .std: c.setFlag(.df, d.truth(true))
    case .input, .output: try inputOutput(&c, i)
    case .cpuid: try cpuid(&c, i)
    // F4: HLT (SDM Vol. 2A, HLT; its CPL 0 requirement is `Mnemonic.requiresCPL0`).
    case .hlt: c.halt()
    // 0F 0B: UD2 — raises #UD by definition.
    case .ud2: try c.raise(Fault(.ud), when: d.truth(true))
    case .movControl: try moveControl(&c, i)
    case .movDebug: try moveDebug(&c, i)
    case .lgdt: try loadTableRegister(&c, i, interrupt: false)
    case .lidt: try loadTableRegister(&c, i, interrupt: true)
    case .sgdt: try storeTableRegister(&c, i, interrupt: false)
    case .sidt: try storeTableRegister(&c, i, interrupt: true)
    case .smsw: try storeMachineStatus(&c, i)
    case .lmsw: try loadMachineStatus(&c, i)
    // 0F 06: CLTS — CR0.TS ← 0.
    // In VMX non-root operation a host-owned TS is left alone (SDM Vol. 3C §25.3).
    case .clts:
      if nonRoot.map({ $0.controls.cr0GuestHostMask & CR0.ts != 0 }) != true {
        try c.setSystemRegister(.cr0, d.and(c.systemRegister(.cr0), d.constant(~CR0.ts)))
      }
    // 0F 08: INVD, 0F 09: WBINVD — no caches are modelled, so nothing to invalidate or write back.
    case .invd, .wbinvd: break
    case .invlpg: try invalidatePage(&c, i)
    case .rdmsr: try readMSR(&c, i)
    case .wrmsr: try writeMSR(&c, i)
    case .rdtsc: try readTimeStampCounter(&c, i)
    case .rdpmc: try readPerformanceCounter(&c, i)
    case .cli: try setInterruptFlag(&c, i, false)
    case .sti: try setInterruptFlag(&c, i, true)
    case .sldt: try storeSystemSegment(&c, i, .ldtr)
    case .str: try storeSystemSegment(&c, i, .tr)
    case .lldt: try loadSystemSegment(&c, i, .ldtr)
    case .ltr: try loadSystemSegment(&c, i, .tr)
    case .lar: try loadSegmentQuery(&c, i, limit: false)
    case .lsl: try loadSegmentQuery(&c, i, limit: true)
    case .verr: try verify(&c, i, write: false)
    case .verw: try verify(&c, i, write: true)
    case .arpl: try adjustRPL(&c, i)
    case .int, .int3, .into: try softwareInterrupt(&c, i)
    case .iret: try interruptReturn(&c, i)
    case .sysenter, .sysexit: try fastSystemCall(&c, i)
    case .jmpFar, .callFar: try farTransfer(&c, i)
    case .retf: try farReturn(&c, i)
    case .pushf: try pushFlags(&c, i)
    case .popf: try popFlags(&c, i)
    case .vmcall, .vmlaunch, .vmresume, .vmxoff, .vmxon, .vmclear, .vmptrld, .vmptrst, .vmread, .vmwrite,
      .invept, .invvpid:
      try vmx(&c, i)
    }
  }
}
