/// IN, OUT and CPUID (SDM Vol. 2A "IN", "CPUID", Vol. 2B "OUT"; Vol. 1 §19.5 "Protected-mode I/O").
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

extension Semantics {
  // 0F A2: CPUID — EAX (the leaf) selects four values of the CPU model; unknown leaves get the
  // highest basic leaf's. A chain of selects, so the Verifier sees the same table.
  @inlinable @inline(__always)
  static func cpuid<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let model = c.cpuModel
    let leaf = c.gpr(.eax)
    let f = model.fallback
    var out = (d.constant(f.eax), d.constant(f.ebx), d.constant(f.ecx), d.constant(f.edx))
    for l in model.leaves {
      let hit = d.equal(leaf, d.constant(l.input))
      out = (
        d.select(hit, d.constant(l.eax), out.0), d.select(hit, d.constant(l.ebx), out.1),
        d.select(hit, d.constant(l.ecx), out.2), d.select(hit, d.constant(l.edx), out.3)
      )
    }
    c.setGPR(.eax, out.0)
    c.setGPR(.ebx, out.1)
    c.setGPR(.ecx, out.2)
    c.setGPR(.edx, out.3)
  }
}
