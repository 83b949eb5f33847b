/// ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT (SDM Vol. 2A/2B, each mnemonic's
/// "Operation" section). Operands are read before anything is written, and memory is written
/// before registers and flags, so a fault leaves the machine as it was.
public enum Semantics {}

extension Semantics {
  /// A two-operand ALU instruction: `op0 ← op0 ∘ op1` and the flags of `flagOp`.
  @inlinable @inline(__always)
  static func binary<C: ExecutionContext, I: InstructionOperands>(
    _ c: inout C, _ i: I, _ flagOp: FlagOp, writeBack: Bool,
    _ compute: (C.Domain, C.Value, C.Value, C.Value) -> C.Value
  ) throws(Interrupt) {
    let d = c.domain
    let size = i.op0.size
    let a = try c.read(i.op0)
    let b = d.masked(try c.read(i.op1), size)
    let carry = flagOp == .adc || flagOp == .sbb ? d.value(c.flag(.cf)) : d.constant(0)
    let r = d.masked(compute(d, a, b, carry), size)
    if writeBack { try c.write(i.op0, r) }
    c.setFlags(FlagRecord(flagOp, size, a: a, b: b, result: r, carry: carry))
  }

  // 00–05, 80–83 /0: ADD — Add.
  @inlinable @inline(__always)
  public static func add<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    try binary(&c, i, .add, writeBack: true) { d, a, b, _ in d.add(a, b) }
  }
  // 08–0D, 80–83 /1: OR — Logical Inclusive OR.
  @inlinable @inline(__always)
  public static func or<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt) {
    try binary(&c, i, .logic, writeBack: true) { d, a, b, _ in d.or(a, b) }
  }
  // 10–15, 80–83 /2: ADC — Add with Carry.
  @inlinable @inline(__always)
  public static func adc<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    try binary(&c, i, .adc, writeBack: true) { d, a, b, cf in d.add(d.add(a, b), cf) }
  }
  // 18–1D, 80–83 /3: SBB — Integer Subtraction with Borrow.
  @inlinable @inline(__always)
  public static func sbb<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    try binary(&c, i, .sbb, writeBack: true) { d, a, b, cf in d.sub(d.sub(a, b), cf) }
  }
  // 20–25, 80–83 /4: AND — Logical AND.
  @inlinable @inline(__always)
  public static func and<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    try binary(&c, i, .logic, writeBack: true) { d, a, b, _ in d.and(a, b) }
  }
  // 28–2D, 80–83 /5: SUB — Subtract.
  @inlinable @inline(__always)
  public static func sub<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    try binary(&c, i, .sub, writeBack: true) { d, a, b, _ in d.sub(a, b) }
  }
  // 30–35, 80–83 /6: XOR — Logical Exclusive OR.
  @inlinable @inline(__always)
  public static func xor<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    try binary(&c, i, .logic, writeBack: true) { d, a, b, _ in d.xor(a, b) }
  }
  // 38–3D, 80–83 /7: CMP — Compare Two Operands.
  @inlinable @inline(__always)
  public static func cmp<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    try binary(&c, i, .sub, writeBack: false) { d, a, b, _ in d.sub(a, b) }
  }
  // 84, 85, A8, A9, F6/F7 /0: TEST — Logical Compare.
  @inlinable @inline(__always)
  public static func test<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    try binary(&c, i, .logic, writeBack: false) { d, a, b, _ in d.and(a, b) }
  }

  // 40+r, FE/FF /0: INC; 48+r, FE/FF /1: DEC. CF is not affected.
  @inlinable @inline(__always)
  public static func incDec<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I, _ op: FlagOp)
    throws(Interrupt)
  {
    let d = c.domain
    let size = i.op0.size
    let a = try c.read(i.op0)
    let one = d.constant(1)
    let r = d.masked(op == .inc ? d.add(a, one) : d.sub(a, one), size)
    try c.write(i.op0, r)
    c.setFlags(FlagRecord(op, size, a: a, b: one, result: r, carry: d.constant(0)))
  }

  // F6/F7 /3: NEG — Two's Complement Negation: the flags of 0 − op.
  @inlinable @inline(__always)
  public static func neg<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    let d = c.domain
    let size = i.op0.size
    let a = try c.read(i.op0)
    let r = d.masked(d.sub(d.constant(0), a), size)
    try c.write(i.op0, r)
    c.setFlags(FlagRecord(.sub, size, a: d.constant(0), b: a, result: r, carry: d.constant(0)))
  }

  // F6/F7 /2: NOT — One's Complement Negation. No flags.
  @inlinable @inline(__always)
  public static func not<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    let d = c.domain
    let a = try c.read(i.op0)
    try c.write(i.op0, d.masked(d.not(a), i.op0.size))
  }
}
