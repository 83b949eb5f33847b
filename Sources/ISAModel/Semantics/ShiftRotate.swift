/// SAL/SHL SHR SAR ROL ROR RCL RCR SHLD SHRD (SDM Vol. 2B, "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR",
/// "SHLD", "SHRD"). The count is masked to 5 bits; a masked count of 0 leaves the flags alone.
extension Semantics {
  // C0/C1/D0–D3 /4 /6: SHL; /5: SHR; /7: SAR.
  @inlinable @inline(__always)
  public static func shift<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I, _ op: FlagOp)
    throws(Interrupt)
  {
    let d = c.domain
    let size = i.op0.size
    let a = try c.read(i.op0)
    let count = d.and(try c.read(i.op1), d.constant(0x1F))
    let r: C.Value
    switch op {
    case .shl: r = d.masked(d.shiftLeft(a, count), size)
    case .shr: r = d.shiftRight(d.masked(a, size), count)
    default: r = d.masked(d.shiftRightArithmetic(d.signExtend(a, from: size), count), size)
    }
    try c.write(i.op0, r)
    try c.when(d.notEqual(count, d.constant(0))) { (c: inout C) throws(Interrupt) in
      c.setFlags(FlagRecord(op, size, a: a, b: count, result: r, carry: d.constant(0)))
    }
  }

  // C0/C1/D0–D3 /0: ROL; /1: ROR. Rotation by count mod size; CF and OF only.
  @inlinable @inline(__always)
  public static func rotate<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I, _ op: FlagOp)
    throws(Interrupt)
  {
    let d = c.domain
    let size = i.op0.size
    let a = d.masked(try c.read(i.op0), size)
    let count = d.and(try c.read(i.op1), d.constant(0x1F))
    let n = d.and(count, d.constant(size.bits &- 1))
    let back = d.sub(d.constant(size.bits), n)
    let r =
      op == .rol
      ? d.masked(d.or(d.shiftLeft(a, n), d.shiftRight(a, back)), size)
      : d.masked(d.or(d.shiftRight(a, n), d.shiftLeft(a, back)), size)
    try c.write(i.op0, r)
    try c.when(d.notEqual(count, d.constant(0))) { (c: inout C) throws(Interrupt) in
      c.setFlags(FlagRecord(op, size, a: a, b: count, result: r, carry: d.constant(0)))
    }
  }

  // C0/C1/D0–D3 /2: RCL; /3: RCR. Rotation through CF of size + 1 bits.
  @inlinable @inline(__always)
  static func rotateThroughCarry<C: ExecutionContext>(_ c: inout C, _ i: Instruction, _ op: FlagOp)
    throws(Interrupt)
  {
    let d = c.domain
    let size = i.op0.size
    let a = d.masked(try c.read(i.op0), size)
    let count = d.and(try c.read(i.op1), d.constant(0x1F))
    // n = count mod (size + 1): 9 and 17 for bytes and words; counts are below 33 for dwords.
    var n = count
    if size != .dword {
      let period = size.bits &+ 1
      for k in stride(from: 3, through: 1, by: -1) {
        let m = d.constant(period &* UInt32(k))
        n = d.select(d.unsignedLess(n, m), n, d.sub(n, m))
      }
    }
    let cf = d.value(c.flag(.cf))
    let bits = d.constant(size.bits)
    let r: C.Value
    let newCF: C.Truth
    if op == .rcl {
      r = d.masked(
        d.or(
          d.or(d.shiftLeft(a, n), d.shiftLeft(cf, d.sub(n, d.constant(1)))),
          d.shiftRight(a, d.sub(d.add(bits, d.constant(1)), n))), size)
      newCF = d.bit(d.shiftRight(a, d.sub(bits, n)), 0)
    } else {
      r = d.masked(
        d.or(
          d.or(d.shiftRight(a, n), d.shiftLeft(cf, d.sub(bits, n))),
          d.shiftLeft(a, d.sub(d.add(bits, d.constant(1)), n))), size)
      newCF = d.bit(d.shiftRight(a, d.sub(n, d.constant(1))), 0)
    }
    let carryOut = d.select(d.equal(n, d.constant(0)), c.flag(.cf), newCF)
    try c.write(i.op0, r)
    try c.when(d.notEqual(count, d.constant(0))) { (c: inout C) throws(Interrupt) in
      c.setFlags(FlagRecord(op, size, a: a, b: count, result: r, carry: d.value(carryOut)))
    }
  }

  // 0F A4/A5: SHLD; 0F AC/AD: SHRD — double-precision shifts. A count above the operand size
  // (16-bit operands only) leaves the result undefined.
  @inlinable @inline(__always)
  static func doubleShift<C: ExecutionContext>(_ c: inout C, _ i: Instruction, _ op: FlagOp) throws(Interrupt)
  {
    let d = c.domain
    let size = i.op0.size
    let a = d.masked(try c.read(i.op0), size)
    let fill = d.masked(try c.read(i.op1), size)
    let count = d.and(try c.read(i.op2), d.constant(0x1F))
    let back = d.sub(d.constant(size.bits), count)
    let shifted =
      op == .shld
      ? d.masked(d.or(d.shiftLeft(a, count), d.shiftRight(fill, back)), size)
      : d.masked(d.or(d.shiftRight(a, count), d.shiftLeft(fill, back)), size)
    let r = d.select(
      d.unsignedLess(d.constant(size.bits), count),
      d.undefined(Undefined("SHLD/SHRD result"), concrete: shifted),
      shifted)
    try c.write(i.op0, r)
    try c.when(d.notEqual(count, d.constant(0))) { (c: inout C) throws(Interrupt) in
      c.setFlags(FlagRecord(op, size, a: a, b: count, result: r, carry: d.constant(0)))
    }
  }
}
