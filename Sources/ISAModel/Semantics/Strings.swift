/// MOVS STOS LODS CMPS SCAS with REP/REPE/REPNE (SDM Vol. 2B, "REP/REPE/REPZ/REPNE/REPNZ").
/// One element per step: with a repeat prefix EIP stays on the instruction until the count
/// runs out (or the CMPS/SCAS condition ends it), so each step is loop-free and the engine or
/// the Verifier drives the repetition; interrupts are taken between elements.
extension Semantics {
  @inlinable @inline(__always)
  static func string<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let counter = i.addressSize.registerSize
    let repeated = i.repeatPrefix != .none
    let count = c.register(.ecx, counter)
    let active = repeated ? d.notEqual(count, d.constant(0)) : d.truth(true)
    try c.when(active) { (c: inout C) throws(Interrupt) in
      try element(&c, i)
      if repeated {
        let left = d.masked(d.sub(count, d.constant(1)), counter)
        c.setRegister(.ecx, counter, left)
        var again = d.notEqual(left, d.constant(0))
        if i.mnemonic == .cmps || i.mnemonic == .scas {
          // REPE/REPZ (F3) goes on while equal, REPNE/REPNZ (F2) while not.
          again = d.and(again, i.repeatPrefix == .rep ? c.flag(.zf) : d.not(c.flag(.zf)))
        }
        c.eip = d.select(again, c.currentInstruction, c.eip)
      }
    }
  }

  /// One element: the move, store, load or comparison, then ESI/EDI step by ±size per DF.
  @inlinable @inline(__always)
  static func element<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    // The element size: the memory operand's (OUTS has the port first).
    let size = i.mnemonic == .outs ? i.op1.size : i.op0.size
    let index = i.addressSize.registerSize
    let delta = d.select(c.flag(.df), d.constant(0 &- size.bytes), d.constant(size.bytes))
    func advance(_ c: inout C, _ r: GPR) {
      c.setRegister(r, index, d.masked(d.add(c.register(r, index), delta), index))
    }
    switch i.mnemonic {
    case .movs:
      try c.write(i.op0, try c.read(i.op1))
      advance(&c, .esi)
      advance(&c, .edi)
    case .stos:
      try c.write(i.op0, try c.read(i.op1))
      advance(&c, .edi)
    case .lods:
      try c.write(i.op0, try c.read(i.op1))
      advance(&c, .esi)
    // INS: ES:(E)DI ← port DX; OUTS: port DX ← DS:(E)SI — each checked against IOPL and the
    // TSS bitmap like IN and OUT.
    case .ins:
      let port = d.and(c.gpr(.edx), d.constant(0xFFFF))
      try checkIOPermission(&c, port, size)
      try c.write(i.op0, try c.readPort(port, size))
      advance(&c, .edi)
    case .outs:
      let port = d.and(c.gpr(.edx), d.constant(0xFFFF))
      try checkIOPermission(&c, port, size)
      try c.writePort(port, size, try c.read(i.op1))
      advance(&c, .esi)
    case .cmps, .scas:
      let a = try c.read(i.op0)
      let b = try c.read(i.op1)
      c.setFlags(
        FlagRecord(.sub, size, a: a, b: b, result: d.masked(d.sub(a, b), size), carry: d.constant(0)))
      if i.mnemonic == .cmps { advance(&c, .esi) }
      advance(&c, .edi)
    default:
      break
    }
  }
}
