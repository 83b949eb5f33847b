/// IN, OUT and CPUID (SDM Vol. 2A "IN", "CPUID", Vol. 2B "OUT"; Vol. 1 §19.5 "Protected-mode I/O").
extension Semantics {
  // E4/E5 ib, EC/ED: IN; E6/E7 ib, EE/EF: OUT. The port is imm8 (zero-extended) or DX.
  @inlinable @inline(__always)
  static func inputOutput<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    if i.mnemonic == .input {
      let port = d.and(try c.read(i.op1), d.constant(0xFFFF))
      try checkIOPermission(&c, port, i.op0.size)
      try c.write(i.op0, try c.readPort(port, i.op0.size))
    } else {
      let port = d.and(try c.read(i.op0), d.constant(0xFFFF))
      try checkIOPermission(&c, port, i.op1.size)
      try c.writePort(port, i.op1.size, try c.read(i.op1))
    }
  }

  /// At CPL ≤ IOPL every port is allowed; above it the TSS's I/O permission bitmap decides
  /// (SDM Vol. 1 §19.5.2): its offset is the word at TSS + 66H; every bit for the bytes
  /// accessed must be 0 and lie within TR's limit, else #GP(0). A 16-bit TSS has no bitmap.
  @inlinable
  static func checkIOPermission<C: ExecutionContext>(_ c: inout C, _ port: C.Value, _ size: OperandSize)
    throws(Interrupt)
  {
    guard c.cpl > c.iopl else { return }
    let d = c.domain
    let tr = c.systemSegment(.tr)
    // Type 9 or B (available or busy 32-bit TSS), S = 0: bits 0, 2, 3 and 4 of the attributes.
    let tss32 = d.equal(d.and(tr.attributes, d.constant(0x1D)), d.constant(0x09))
    try c.raise(generalProtection, when: d.or(d.not(tss32), d.unsignedLess(tr.limit, d.constant(0x67))))
    let mapBase = try c.readSystem(d.add(tr.base, d.constant(0x66)), .word)
    let byte = d.add(mapBase, d.shiftRight(port, d.constant(3)))
    // Two bytes are read, so that an access crossing a byte of the map is covered.
    try c.raise(generalProtection, when: d.unsignedLess(tr.limit, d.add(byte, d.constant(1))))
    let bits = try c.readSystem(d.add(tr.base, byte), .word)
    let mask = d.shiftLeft(d.constant((1 << size.bytes) - 1), d.and(port, d.constant(7)))
    try c.raise(generalProtection, when: d.notEqual(d.and(bits, mask), d.constant(0)))
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
