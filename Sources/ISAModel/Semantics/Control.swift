/// JMP Jcc CALL RET LOOP/LOOPE/LOOPNE JECXZ (SDM Vol. 2A/2B, near transfers; far ones are in
/// Interrupts.swift). With a 16-bit operand size EIP is truncated to 16 bits. A target beyond
/// the CS limit is #GP(0) at the branch, before anything changes (each one's "Operation").
extension Semantics {
  @inlinable @inline(__always)
  static func branch<C: ExecutionContext>(_ c: inout C, to target: C.Value, when taken: C.Truth)
    throws(Interrupt)
  {
    try c.checkBranchTarget(target, when: taken)
    c.eip = c.domain.select(taken, target, c.eip)
  }

  @inlinable @inline(__always)
  static func target<C: ExecutionContext, I: InstructionOperands>(_ c: C, _ i: I, relative: C.Value)
    -> C.Value
  {
    c.domain.masked(c.domain.add(c.eip, relative), i.operandSize)
  }

  // EB, E9: JMP rel; FF /4: JMP r/m.
  @inlinable @inline(__always)
  public static func jmp<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    let to: C.Value
    if case .immediate(let rel) = i.op0 {
      to = target(c, i, relative: c.domain.constant(rel))
    } else {
      to = c.domain.masked(try c.read(i.op0), i.operandSize)
    }
    try branch(&c, to: to, when: c.domain.truth(true))
  }

  // 70+cc, 0F 80+cc: Jcc.
  @inlinable @inline(__always)
  public static func jcc<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I, _ cc: Condition)
    throws(Interrupt)
  {
    guard case .immediate(let rel) = i.op0 else { return }
    try branch(&c, to: target(c, i, relative: c.domain.constant(rel)), when: c.condition(cc))
  }

  // E8: CALL rel; FF /2: CALL r/m. The target is read before the return address is pushed.
  @inlinable @inline(__always)
  public static func call<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    let to: C.Value
    if case .immediate(let rel) = i.op0 {
      to = target(c, i, relative: c.domain.constant(rel))
    } else {
      to = c.domain.masked(try c.read(i.op0), i.operandSize)
    }
    let d = c.domain
    try c.checkBranchTarget(to, when: d.truth(true))
    try c.push(d.masked(c.eip, i.operandSize), i.operandSize)
    c.eip = to
  }

  // C3: RET; C2 iw: RET imm16 (releases imm16 bytes of arguments).
  @inlinable @inline(__always)
  public static func ret<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    let d = c.domain
    let to = try c.read(.ss, c.gpr(.esp), i.operandSize)
    try c.checkBranchTarget(to, when: d.truth(true))
    var release = i.operandSize.bytes
    if case .immediate(let r) = i.op0 { release &+= r }
    c.setGPR(.esp, d.add(c.gpr(.esp), d.constant(release)))
    c.eip = to
  }

  // E2: LOOP, E1: LOOPE, E0: LOOPNE — decrement (E)CX (by address size), jump while non-zero
  // (and ZF as the variant wants). No flags change.
  @inlinable @inline(__always)
  public static func loop<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    let d = c.domain
    guard case .immediate(let rel) = i.op0 else { return }
    let counter = i.addressSize.registerSize
    let count = d.masked(d.sub(c.register(.ecx, counter), d.constant(1)), counter)
    var taken = d.notEqual(count, d.constant(0))
    if i.mnemonic == .loope { taken = d.and(taken, c.flag(.zf)) }
    if i.mnemonic == .loopne { taken = d.and(taken, d.not(c.flag(.zf))) }
    try branch(&c, to: target(c, i, relative: d.constant(rel)), when: taken)
    c.setRegister(.ecx, counter, count)
  }

  // E3: JECXZ (JCXZ with a 16-bit address size).
  @inlinable @inline(__always)
  public static func jecxz<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I)
    throws(Interrupt)
  {
    let d = c.domain
    guard case .immediate(let rel) = i.op0 else { return }
    let zero = d.isZero(c.register(.ecx, i.addressSize.registerSize))
    try branch(&c, to: target(c, i, relative: d.constant(rel)), when: zero)
  }
}
