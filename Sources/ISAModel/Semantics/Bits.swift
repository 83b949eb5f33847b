/// BT BTS BTR BTC BSF BSR (SDM Vol. 2A).
extension Semantics {
  // 0F A3/AB/B3/BB, 0F BA /4–7: BT, BTS, BTR, BTC. With a register offset and a memory
  // operand the offset is signed and may reach outside the operand (SDM "Bit(BitBase,
  // BitOffset)"); an immediate offset is taken modulo the operand size.
  @inlinable @inline(__always)
  static func bitTest<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let size = i.op0.size
    let offset = try c.read(i.op1)
    let bitIndex = d.and(offset, d.constant(size.bits &- 1))
    let value: C.Value
    var address: C.Value?
    if case .memory(let m) = i.op0, case .register = i.op1 {
      // The operand-sized unit that holds the bit: offset SAR log2(size) units away.
      let signedOffset = size == .word ? d.signExtend(offset, from: .word) : offset
      let units = d.shiftRightArithmetic(signedOffset, d.constant(size == .dword ? 5 : 4))
      let ea = d.add(c.effectiveAddress(m), d.shiftLeft(units, d.constant(size == .dword ? 2 : 1)))
      let wrapped = m.addressSize == .a16 ? d.and(ea, d.constant(0xFFFF)) : ea
      address = wrapped
      value = try c.read(m.segment, wrapped, size)
    } else {
      value = try c.read(i.op0)
    }
    let mask = d.shiftLeft(d.constant(1), bitIndex)
    let bit = d.notEqual(d.and(value, mask), d.constant(0))
    let updated: C.Value?
    switch i.mnemonic {
    case .bts: updated = d.or(value, mask)
    case .btr: updated = d.and(value, d.not(mask))
    case .btc: updated = d.xor(value, mask)
    default: updated = nil
    }
    if let updated {
      if let address, case .memory(let m) = i.op0 {
        try c.write(m.segment, address, size, updated)
      } else {
        try c.write(i.op0, updated)
      }
    }
    c.setFlags(
      FlagRecord(.bitTest, size, a: value, b: d.value(bit), result: d.constant(0), carry: d.constant(0)))
  }

  // 0F BC: BSF; 0F BD: BSR. A zero source sets ZF and leaves the destination undefined
  // (concretely unchanged, as Intel processors do).
  @inlinable @inline(__always)
  static func bitScan<C: ExecutionContext>(_ c: inout C, _ i: Instruction, reverse: Bool) throws(Interrupt) {
    let d = c.domain
    let size = i.op0.size
    let src = d.masked(try c.read(i.op1), size)
    let old = try c.read(i.op0)
    let index = reverse ? d.sub(d.constant(31), d.leadingZeros(src)) : d.trailingZeros(src)
    let r = d.select(d.isZero(src), d.undefined(Undefined("BSF/BSR destination"), concrete: old), index)
    try c.write(i.op0, r)
    c.setFlags(FlagRecord(.bitScan, size, a: src, b: d.constant(0), result: r, carry: d.constant(0)))
  }
}
