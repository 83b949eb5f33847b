/// EFLAGS and the one definition of each status flag (SDM Vol. 1 §3.4.3 and Appendix A;
/// each instruction's "Flags Affected" in Vol. 2).
///
/// An instruction that sets status flags produces a `FlagRecord`: the operation, operand size,
/// inputs and result. `FlagSemantics` computes each flag from a record, once, for every domain.
/// When the flags are computed — eagerly after each instruction, lazily when a later instruction
/// reads one, or never — is the store's choice, not the semantics'.

/// One EFLAGS bit, by its position (SDM Vol. 1 Figure 3-8).
public enum Flag: UInt32, CaseIterable, Hashable, Sendable, Codable {
  case cf = 0
  case pf = 2
  case af = 4
  case zf = 6
  case sf = 7
  case tf = 8
  case `if` = 9
  case df = 10
  case of = 11
  case nt = 14
  case rf = 16
  case vm = 17
  case ac = 18
  case vif = 19
  case vip = 20
  case id = 21

  @inlinable public var mask: UInt32 { 1 &<< rawValue }
  public var name: String { String(describing: self).uppercased() }
}

/// Sets of EFLAGS bits as masks.
public enum FlagMask {
  /// The six status flags OF SF ZF AF PF CF.
  public static let status: UInt32 = 0x8D5
  /// Status flags but CF (INC and DEC leave CF alone).
  public static let statusButCF: UInt32 = 0x8D4
  /// OF and CF (rotates).
  public static let overflowCarry: UInt32 = 0x801
  /// IOPL, bits 12–13.
  public static let iopl: UInt32 = 0x3000
  /// Bit 1 always reads as 1 (SDM Vol. 1 §3.4.3).
  public static let reservedOne: UInt32 = 0x2
}

/// Which computation produced a record's flags.
public enum FlagOp: UInt8, Hashable, Sendable, Codable {
  case add, adc, sub, sbb, logic, inc, dec
  case shl, shr, sar, rol, ror, rcl, rcr, shld, shrd
  /// MUL/IMUL: `b` is 1 when the result did not fit the destination (CF = OF = 1).
  case multiply
  /// BSF/BSR: ZF = source is zero (`a` is the source).
  case bitScan
  /// BT/BTS/BTR/BTC: CF = the selected bit (`b` is 0 or 1).
  case bitTest

  /// The EFLAGS bits a record of this kind writes (defined or undefined); the others keep
  /// their value (SDM Vol. 2, "Flags Affected").
  @inlinable public var writes: UInt32 {
    switch self {
    case .inc, .dec: FlagMask.statusButCF
    case .rol, .ror, .rcl, .rcr: FlagMask.overflowCarry
    case .bitTest: FlagMask.status & ~Flag.zf.mask
    default: FlagMask.status
    }
  }
}

/// The inputs of a flag computation. `a` and `b` are the operands (for shifts and rotates,
/// `b` is the masked count), `result` the result, `carry` the carry-in of ADC/SBB/RCL/RCR, 0
/// or 1. Values hold the operand in their low `size` bits.
public struct FlagRecord<Value> {
  public var op: FlagOp
  public var size: OperandSize
  public var a: Value
  public var b: Value
  public var result: Value
  public var carry: Value

  @inlinable @inline(__always)
  public init(_ op: FlagOp, _ size: OperandSize, a: Value, b: Value, result: Value, carry: Value) {
    self.op = op
    self.size = size
    self.a = a
    self.b = b
    self.result = result
    self.carry = carry
  }
}

extension FlagRecord: Sendable where Value: Sendable {}
extension FlagRecord: Equatable where Value: Equatable {}

/// The definition of each status flag from a record, generic over the domain.
///
/// Concrete choices for undefined flags, which the differential tests mask: AF is 0 after
/// logic, shift, multiply and bit operations; OF after a multi-bit shift or rotate is computed
/// by the count-1 rule; SF/ZF/PF after MUL follow the low result; flags after BT follow the
/// bit's record as for logic with result 0. (Recorded in docs/divergences.md.)
public enum FlagSemantics {
  @inlinable @inline(__always)
  public static func flag<D: SemanticDomain>(_ f: Flag, _ r: FlagRecord<D.Value>, _ d: D) -> D.Truth {
    switch f {
    case .cf: cf(r, d)
    case .pf: pf(r, d)
    case .af: af(r, d)
    case .zf: zf(r, d)
    case .sf: sf(r, d)
    case .of: of(r, d)
    default: d.truth(false)
    }
  }

  /// The record's flags as EFLAGS bits (only the bits in `r.op.writes` are meaningful).
  @inlinable
  public static func bits(_ r: FlagRecord<UInt32>) -> UInt32 {
    let d = Concrete()
    var v: UInt32 = 0
    if cf(r, d).isSet { v |= Flag.cf.mask }
    if pf(r, d).isSet { v |= Flag.pf.mask }
    if af(r, d).isSet { v |= Flag.af.mask }
    if zf(r, d).isSet { v |= Flag.zf.mask }
    if sf(r, d).isSet { v |= Flag.sf.mask }
    if of(r, d).isSet { v |= Flag.of.mask }
    return v & r.op.writes
  }

  /// Only the flags in `mask` of the record, as EFLAGS bits: what a lazy store needs when a
  /// later record overwrites the others.
  @inlinable
  public static func bits(_ r: FlagRecord<UInt32>, in mask: UInt32) -> UInt32 {
    let d = Concrete()
    var v: UInt32 = 0
    if mask & Flag.cf.mask != 0 && cf(r, d).isSet { v |= Flag.cf.mask }
    if mask & Flag.pf.mask != 0 && pf(r, d).isSet { v |= Flag.pf.mask }
    if mask & Flag.af.mask != 0 && af(r, d).isSet { v |= Flag.af.mask }
    if mask & Flag.zf.mask != 0 && zf(r, d).isSet { v |= Flag.zf.mask }
    if mask & Flag.sf.mask != 0 && sf(r, d).isSet { v |= Flag.sf.mask }
    if mask & Flag.of.mask != 0 && of(r, d).isSet { v |= Flag.of.mask }
    return v & r.op.writes & mask
  }

  @inlinable @inline(__always)
  public static func cf<D: SemanticDomain>(_ r: FlagRecord<D.Value>, _ d: D) -> D.Truth {
    let size = r.size
    switch r.op {
    case .add:
      return d.unsignedLess(d.masked(r.result, size), d.masked(r.a, size))
    case .adc:
      // carry out = result < a, or result == a with a carry in.
      let res = d.masked(r.result, size)
      let a = d.masked(r.a, size)
      return d.or(d.unsignedLess(res, a), d.and(d.equal(res, a), d.notEqual(r.carry, d.constant(0))))
    case .sub:
      return d.unsignedLess(d.masked(r.a, size), d.masked(r.b, size))
    case .sbb:
      let a = d.masked(r.a, size)
      let b = d.masked(r.b, size)
      return d.or(d.unsignedLess(a, b), d.and(d.equal(a, b), d.notEqual(r.carry, d.constant(0))))
    case .logic:
      return d.truth(false)
    case .bitScan:
      return d.undefined(Undefined("CF"), concrete: d.truth(false))
    case .inc, .dec:
      return d.truth(false)  // not written (see FlagOp.writes)
    case .shl:
      // The last bit shifted out: bit (size - count) of a. Count ≥ size leaves it undefined.
      let out = d.bit(d.shiftRight(d.masked(r.a, size), d.sub(d.constant(size.bits), r.b)), 0)
      return d.select(countReachesSize(r, d), d.undefined(Undefined("CF"), concrete: out), out)
    case .shr, .sar:
      let a = r.op == .sar ? d.signExtend(r.a, from: size) : d.masked(r.a, size)
      let out = d.bit(
        r.op == .sar
          ? d.shiftRightArithmetic(a, d.sub(r.b, d.constant(1))) : d.shiftRight(a, d.sub(r.b, d.constant(1))),
        0)
      return d.select(
        d.and(d.truth(r.op == .shr), countReachesSize(r, d)), d.undefined(Undefined("CF"), concrete: out), out
      )
    case .rol:
      return d.bit(r.result, 0)
    case .ror:
      return d.sign(r.result, size)
    case .rcl, .rcr:
      // The record's carry field holds the new CF (the bit rotated into it).
      return d.notEqual(r.carry, d.constant(0))
    case .shld:
      let out = d.bit(d.shiftRight(d.masked(r.a, size), d.sub(d.constant(size.bits), r.b)), 0)
      return d.select(countExceedsSize(r, d), d.undefined(Undefined("CF"), concrete: out), out)
    case .shrd:
      let out = d.bit(d.shiftRight(d.masked(r.a, size), d.sub(r.b, d.constant(1))), 0)
      return d.select(countExceedsSize(r, d), d.undefined(Undefined("CF"), concrete: out), out)
    case .multiply:
      return d.notEqual(r.b, d.constant(0))
    case .bitTest:
      return d.notEqual(r.b, d.constant(0))
    }
  }

  @inlinable @inline(__always)
  public static func zf<D: SemanticDomain>(_ r: FlagRecord<D.Value>, _ d: D) -> D.Truth {
    switch r.op {
    case .bitScan:
      return d.isZero(d.masked(r.a, r.size))
    case .multiply:
      return d.undefined(Undefined("ZF"), concrete: d.isZero(d.masked(r.result, r.size)))
    case .bitTest:
      return d.undefined(Undefined("ZF"), concrete: d.truth(false))
    case .shld, .shrd:
      // Flags after a count larger than the size are undefined.
      let z = d.isZero(d.masked(r.result, r.size))
      return d.select(countExceedsSize(r, d), d.undefined(Undefined("ZF"), concrete: z), z)
    default:
      return d.isZero(d.masked(r.result, r.size))
    }
  }

  @inlinable @inline(__always)
  public static func sf<D: SemanticDomain>(_ r: FlagRecord<D.Value>, _ d: D) -> D.Truth {
    switch r.op {
    case .multiply:
      return d.undefined(Undefined("SF"), concrete: d.sign(r.result, r.size))
    case .bitScan, .bitTest:
      return d.undefined(Undefined("SF"), concrete: d.truth(false))
    case .shld, .shrd:
      let s = d.sign(r.result, r.size)
      return d.select(countExceedsSize(r, d), d.undefined(Undefined("SF"), concrete: s), s)
    default:
      return d.sign(r.result, r.size)
    }
  }

  @inlinable @inline(__always)
  public static func pf<D: SemanticDomain>(_ r: FlagRecord<D.Value>, _ d: D) -> D.Truth {
    switch r.op {
    case .multiply:
      return d.undefined(Undefined("PF"), concrete: d.parityEven(r.result))
    case .bitScan, .bitTest:
      return d.undefined(Undefined("PF"), concrete: d.truth(false))
    case .shld, .shrd:
      let p = d.parityEven(r.result)
      return d.select(countExceedsSize(r, d), d.undefined(Undefined("PF"), concrete: p), p)
    default:
      return d.parityEven(r.result)
    }
  }

  @inlinable @inline(__always)
  public static func af<D: SemanticDomain>(_ r: FlagRecord<D.Value>, _ d: D) -> D.Truth {
    switch r.op {
    case .add, .adc, .sub, .sbb, .inc, .dec:
      // Carry out of bit 3: bit 4 of a ^ b ^ result.
      return d.bit(d.xor(d.xor(r.a, r.b), r.result), 4)
    default:
      return d.undefined(Undefined("AF"), concrete: d.truth(false))
    }
  }

  @inlinable @inline(__always)
  public static func of<D: SemanticDomain>(_ r: FlagRecord<D.Value>, _ d: D) -> D.Truth {
    let size = r.size
    switch r.op {
    case .add, .adc:
      // Operands of equal sign and a result of the other sign.
      return d.sign(d.and(d.not(d.xor(r.a, r.b)), d.xor(r.a, r.result)), size)
    case .sub, .sbb:
      return d.sign(d.and(d.xor(r.a, r.b), d.xor(r.a, r.result)), size)
    case .inc:
      return d.equal(d.masked(r.result, size), d.constant(size.signBit))
    case .dec:
      return d.equal(d.masked(r.a, size), d.constant(size.signBit))
    case .logic:
      return d.truth(false)
    case .shl, .shld:
      // Defined for a count of 1: MSB(result) xor CF; otherwise undefined.
      let v = d.xor(d.sign(r.result, size), cf(r, d))
      return d.select(d.equal(r.b, d.constant(1)), v, d.undefined(Undefined("OF"), concrete: v))
    case .shr:
      let v = d.sign(r.a, size)
      return d.select(d.equal(r.b, d.constant(1)), v, d.undefined(Undefined("OF"), concrete: v))
    case .shrd:
      let v = d.xor(d.sign(r.result, size), d.sign(r.a, size))
      return d.select(d.equal(r.b, d.constant(1)), v, d.undefined(Undefined("OF"), concrete: v))
    case .sar:
      return d.select(
        d.equal(r.b, d.constant(1)), d.truth(false), d.undefined(Undefined("OF"), concrete: d.truth(false)))
    case .rol, .rcl:
      // MSB(result) xor CF, defined for a count of 1.
      let v = d.xor(d.sign(r.result, size), cf(r, d))
      return d.select(d.equal(r.b, d.constant(1)), v, d.undefined(Undefined("OF"), concrete: v))
    case .ror:
      // XOR of the two most significant bits of the result.
      let v = d.xor(d.sign(r.result, size), d.sign(d.shiftLeft(r.result, d.constant(1)), size))
      return d.select(d.equal(r.b, d.constant(1)), v, d.undefined(Undefined("OF"), concrete: v))
    case .rcr:
      // MSB(original) xor CF-in, defined for a count of 1 (computed before the rotate).
      let v = d.xor(d.sign(r.result, size), d.sign(d.shiftLeft(r.result, d.constant(1)), size))
      return d.select(d.equal(r.b, d.constant(1)), v, d.undefined(Undefined("OF"), concrete: v))
    case .multiply:
      return d.notEqual(r.b, d.constant(0))
    case .bitScan, .bitTest:
      return d.undefined(Undefined("OF"), concrete: d.truth(false))
    }
  }
}

extension FlagSemantics {
  /// The count is at least the operand size (SHL/SHR's CF is then undefined).
  @inlinable @inline(__always)
  static func countReachesSize<D: SemanticDomain>(_ r: FlagRecord<D.Value>, _ d: D) -> D.Truth {
    d.unsignedLess(d.constant(r.size.bits &- 1), r.b)
  }

  /// The count is larger than the operand size (SHLD/SHRD's result and flags are then undefined).
  @inlinable @inline(__always)
  static func countExceedsSize<D: SemanticDomain>(_ r: FlagRecord<D.Value>, _ d: D) -> D.Truth {
    d.unsignedLess(d.constant(r.size.bits), r.b)
  }
}
