/// JMP Jcc CALL RET LOOP/LOOPE/LOOPNE JECXZ (SDM Vol. 2A/2B, near transfers only; far ones are
/// model gaps until the protection model). With a 16-bit operand size EIP is truncated to 16 bits.
extension Semantics {
  @inlinable @inline(__always)
  static func target<C: ExecutionContext>(_ c: C, _ i: Instruction, relative: C.Value) -> C.Value {
    c.domain.masked(c.domain.add(c.eip, relative), i.operandSize)
  }

  // EB, E9: JMP rel; FF /4: JMP r/m.
  @inlinable @inline(__always)
  static func jmp<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    if case .immediate(let rel) = i.op0 {
      c.eip = target(c, i, relative: c.domain.constant(rel))
    } else {
      c.eip = c.domain.masked(try c.read(i.op0), i.operandSize)
    }
  }

  // 70+cc, 0F 80+cc: Jcc.
  @inlinable @inline(__always)
  static func jcc<C: ExecutionContext>(_ c: inout C, _ i: Instruction, _ cc: Condition) throws(Interrupt) {
    guard case .immediate(let rel) = i.op0 else { return }
    c.eip = c.domain.select(c.condition(cc), target(c, i, relative: c.domain.constant(rel)), c.eip)
  }

  // E8: CALL rel; FF /2: CALL r/m. The target is read before the return address is pushed.
  @inlinable @inline(__always)
  static func call<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let to: C.Value
    if case .immediate(let rel) = i.op0 {
      to = target(c, i, relative: c.domain.constant(rel))
    } else {
      to = c.domain.masked(try c.read(i.op0), i.operandSize)
    }
    try c.push(c.domain.masked(c.eip, i.operandSize), i.operandSize)
    c.eip = to
  }

  // C3: RET; C2 iw: RET imm16 (releases imm16 bytes of arguments).
  @inlinable @inline(__always)
  static func ret<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let to = try c.pop(i.operandSize)
    if case .immediate(let release) = i.op0 {
      c.setGPR(.esp, d.add(c.gpr(.esp), d.constant(release)))
    }
    c.eip = to
  }

  // E2: LOOP, E1: LOOPE, E0: LOOPNE — decrement (E)CX (by address size), jump while non-zero
  // (and ZF as the variant wants). No flags change.
  @inlinable @inline(__always)
  static func loop<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    guard case .immediate(let rel) = i.op0 else { return }
    let counter = i.addressSize.registerSize
    let count = d.masked(d.sub(c.register(.ecx, counter), d.constant(1)), counter)
    c.setRegister(.ecx, counter, count)
    var taken = d.notEqual(count, d.constant(0))
    if i.mnemonic == .loope { taken = d.and(taken, c.flag(.zf)) }
    if i.mnemonic == .loopne { taken = d.and(taken, d.not(c.flag(.zf))) }
    c.eip = d.select(taken, target(c, i, relative: d.constant(rel)), c.eip)
  }

  // E3: JECXZ (JCXZ with a 16-bit address size).
  @inlinable @inline(__always)
  static func jecxz<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    guard case .immediate(let rel) = i.op0 else { return }
    let zero = d.isZero(c.register(.ecx, i.addressSize.registerSize))
    c.eip = d.select(zero, target(c, i, relative: d.constant(rel)), c.eip)
  }
}
