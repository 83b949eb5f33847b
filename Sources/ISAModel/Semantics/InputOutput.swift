/// IN and OUT (SDM Vol. 2A "IN", Vol. 2B "OUT"; Vol. 1 §19.5 "Protected-mode I/O").
extension Semantics {
  // E4/E5 ib, EC/ED: IN; E6/E7 ib, EE/EF: OUT. The port is imm8 (zero-extended) or DX.
  // At CPL ≤ IOPL the access is allowed; above it the TSS I/O permission bitmap decides,
  // which this model does not have yet: a model gap, never a silent pass.
  @inlinable @inline(__always)
  static func inputOutput<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    if c.cpl > c.iopl { throw .modelGap("I/O permission bitmap (TSS) for IN/OUT at CPL > IOPL") }
    if i.mnemonic == .input {
      let port = d.and(try c.read(i.op1), d.constant(0xFFFF))
      try c.write(i.op0, try c.readPort(port, i.op0.size))
    } else {
      let port = d.and(try c.read(i.op0), d.constant(0xFFFF))
      try c.writePort(port, i.op1.size, try c.read(i.op1))
    }
  }
}
