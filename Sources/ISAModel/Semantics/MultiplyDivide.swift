/// MUL IMUL DIV IDIV (SDM Vol. 2A/2B).
extension Semantics {
  // F6/F7 /4: MUL; F6/F7 /5: IMUL (one operand). AX ← AL × r/m8; DX:AX ← AX × r/m16;
  // EDX:EAX ← EAX × r/m32. CF = OF = the high half is significant.
  @inlinable @inline(__always)
  static func multiplyAccumulator<C: ExecutionContext>(_ c: inout C, _ i: Instruction, signed: Bool)
    throws(Interrupt)
  {
    let d = c.domain
    let size = i.op0.size
    let src = try c.read(i.op0)
    let acc = c.register(.eax, size)
    let low: C.Value
    let high: C.Value
    let overflow: C.Truth
    switch size {
    case .dword:
      low = d.mul(acc, src)
      high = signed ? d.mulHighSigned(acc, src) : d.mulHighUnsigned(acc, src)
      overflow =
        signed
        ? d.notEqual(high, d.shiftRightArithmetic(low, d.constant(31))) : d.notEqual(high, d.constant(0))
    case .word, .byte:
      // The product fits 32 bits.
      let p = signed ? d.mul(d.signExtend(acc, from: size), d.signExtend(src, from: size)) : d.mul(acc, src)
      low = d.masked(p, size)
      high = d.masked(d.shiftRight(p, d.constant(size.bits)), size)
      overflow =
        signed ? d.notEqual(p, d.signExtend(low, from: size)) : d.notEqual(high, d.constant(0))
    }
    if size == .byte {
      c.setRegister(.eax, .word, d.or(low, d.shiftLeft(high, d.constant(8))))
    } else {
      c.setRegister(.eax, size, low)
      c.setRegister(.edx, size, high)
    }
    c.setFlags(FlagRecord(.multiply, size, a: acc, b: d.value(overflow), result: low, carry: d.constant(0)))
  }

  // 0F AF: IMUL r, r/m; 6B, 69: IMUL r, r/m, imm. The product truncated to the destination;
  // CF = OF = it differs from the full product.
  @inlinable @inline(__always)
  public static func multiplyTruncating<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I)
    throws(Interrupt)
  {
    let d = c.domain
    let size = i.op0.size
    let threeOperand = !i.op2.isAbsent
    let a = try c.read(threeOperand ? i.op1 : i.op0)
    let b = try c.read(threeOperand ? i.op2 : i.op1)
    let r: C.Value
    let overflow: C.Truth
    if size == .dword {
      r = d.mul(a, b)
      overflow = d.notEqual(d.mulHighSigned(a, b), d.shiftRightArithmetic(r, d.constant(31)))
    } else {
      let p = d.mul(d.signExtend(a, from: size), d.signExtend(b, from: size))
      r = d.masked(p, size)
      overflow = d.notEqual(p, d.signExtend(r, from: size))
    }
    try c.write(i.op0, r)
    c.setFlags(FlagRecord(.multiply, size, a: a, b: d.value(overflow), result: r, carry: d.constant(0)))
  }

  // F6/F7 /6: DIV; F6/F7 /7: IDIV. #DE for a zero divisor or a quotient that does not fit.
  // All status flags are undefined.
  @inlinable @inline(__always)
  static func divide<C: ExecutionContext>(_ c: inout C, _ i: Instruction, signed: Bool) throws(Interrupt) {
    let d = c.domain
    let size = i.op0.size
    let divisor = try c.read(i.op0)
    let high: C.Value
    let low: C.Value
    if size == .byte {
      let ax = c.register(.eax, .word)
      high = d.shiftRight(ax, d.constant(8))
      low = d.and(ax, d.constant(0xFF))
    } else {
      high = c.register(.edx, size)
      low = c.register(.eax, size)
    }
    let (q, r, fault) = d.divide(high: high, low: low, by: divisor, size: size, signed: signed)
    try c.raise(Fault(.de), when: fault)
    if size == .byte {
      c.setRegister(.eax, .word, d.or(d.masked(q, .byte), d.shiftLeft(d.masked(r, .byte), d.constant(8))))
    } else {
      c.setRegister(.eax, size, q)
      c.setRegister(.edx, size, r)
    }
    c.undefineStatusFlags(Undefined(signed ? "IDIV flags" : "DIV flags"))
  }
}
