/// The semantic domain: the small set of bit-vector operations every instruction's semantics is
/// written in (DESIGN.md decision 1). The engine instantiates it with `UInt32` (`Concrete`); the
/// Verifier with Z3 terms. Values are 32 bits wide; narrower operands live in the low bits and
/// sized helpers mask. `Truth` is a 1-bit condition, deliberately not `Bool`, so that value-
/// dependent control flow cannot be written with `if` — it must be `select`.
public protocol SemanticDomain {
  associatedtype Value
  associatedtype Truth

  func constant(_ v: UInt32) -> Value
  func truth(_ b: Bool) -> Truth

  func add(_ a: Value, _ b: Value) -> Value
  func sub(_ a: Value, _ b: Value) -> Value
  /// The low 32 bits of the product.
  func mul(_ a: Value, _ b: Value) -> Value
  /// The high 32 bits of the 64-bit unsigned product.
  func mulHighUnsigned(_ a: Value, _ b: Value) -> Value
  /// The high 32 bits of the 64-bit signed product.
  func mulHighSigned(_ a: Value, _ b: Value) -> Value
  func and(_ a: Value, _ b: Value) -> Value
  func or(_ a: Value, _ b: Value) -> Value
  func xor(_ a: Value, _ b: Value) -> Value
  func not(_ a: Value) -> Value
  /// Shifts by `count`; counts of 32 or more give 0.
  func shiftLeft(_ a: Value, _ count: Value) -> Value
  /// Logical shift right; counts of 32 or more give 0.
  func shiftRight(_ a: Value, _ count: Value) -> Value
  /// Arithmetic shift right; counts of 32 or more give copies of bit 31.
  func shiftRightArithmetic(_ a: Value, _ count: Value) -> Value

  func equal(_ a: Value, _ b: Value) -> Truth
  func unsignedLess(_ a: Value, _ b: Value) -> Truth
  func signedLess(_ a: Value, _ b: Value) -> Truth

  func select(_ c: Truth, _ a: Value, _ b: Value) -> Value
  func select(_ c: Truth, _ a: Truth, _ b: Truth) -> Truth
  func and(_ a: Truth, _ b: Truth) -> Truth
  func or(_ a: Truth, _ b: Truth) -> Truth
  func xor(_ a: Truth, _ b: Truth) -> Truth
  func not(_ a: Truth) -> Truth
  /// 1 when `t`, else 0.
  func value(_ t: Truth) -> Value

  /// Even parity of the low 8 bits (the PF rule, SDM Vol. 1 §3.4.3.1).
  func parityEven(_ a: Value) -> Truth
  /// The number of trailing zero bits (32 for 0).
  func trailingZeros(_ a: Value) -> Value
  /// The number of leading zero bits (32 for 0).
  func leadingZeros(_ a: Value) -> Value
  /// Reverses the four bytes.
  func byteSwap(_ a: Value) -> Value

  /// Divides the `2 × size`-bit value `high:low` by `divisor` at `size` (DIV/IDIV). `fault` is
  /// true for a zero divisor or a quotient that does not fit `size` (#DE); then the quotient
  /// and remainder are meaningless.
  func divide(high: Value, low: Value, by divisor: Value, size: OperandSize, signed: Bool)
    -> (quotient: Value, remainder: Value, fault: Truth)

  /// A value the SDM leaves undefined. Concretely it is `concrete`, the documented choice made
  /// at the call site; symbolically a fresh unconstrained value named by `what`.
  func undefined(_ what: Undefined, concrete: Value) -> Value
  /// A flag the SDM leaves undefined (see `undefined(_:concrete:)`).
  func undefined(_ what: Undefined, concrete: Truth) -> Truth
}

/// What an undefined value is: its name in witnesses and in the differential tests' masks.
public struct Undefined: Hashable, Sendable, CustomStringConvertible {
  public let name: String
  public init(_ name: String) { self.name = name }
  public var description: String { name }
}

extension SemanticDomain {
  @inlinable @inline(__always) public func notEqual(_ a: Value, _ b: Value) -> Truth { not(equal(a, b)) }
  @inlinable @inline(__always) public func isZero(_ a: Value) -> Truth { equal(a, constant(0)) }
  @inlinable @inline(__always) public func masked(_ a: Value, _ size: OperandSize) -> Value {
    size == .dword ? a : and(a, constant(size.mask))
  }
  /// Bit `i` (a constant position).
  @inlinable @inline(__always) public func bit(_ a: Value, _ i: UInt32) -> Truth {
    notEqual(and(a, constant(1 &<< i)), constant(0))
  }
  /// The sign bit at `size`.
  @inlinable @inline(__always) public func sign(_ a: Value, _ size: OperandSize) -> Truth {
    notEqual(and(a, constant(size.signBit)), constant(0))
  }
  /// Sign-extends the low `size` bits to 32.
  @inlinable @inline(__always) public func signExtend(_ a: Value, from size: OperandSize) -> Value {
    switch size {
    case .dword: return a
    case .word, .byte:
      let shift = constant(32 &- size.bits)
      return shiftRightArithmetic(shiftLeft(a, shift), shift)
    }
  }
  @inlinable @inline(__always) public func unsignedLessOrEqual(_ a: Value, _ b: Value) -> Truth {
    not(unsignedLess(b, a))
  }
}

/// The engine's domain: plain 32-bit integers.
public struct Concrete: SemanticDomain, Sendable {
  public typealias Value = UInt32
  public typealias Truth = Bit

  @inlinable public init() {}

  @inlinable @inline(__always) public func constant(_ v: UInt32) -> UInt32 { v }
  @inlinable @inline(__always) public func truth(_ b: Bool) -> Bit { Bit(b) }
  @inlinable @inline(__always) public func add(_ a: UInt32, _ b: UInt32) -> UInt32 { a &+ b }
  @inlinable @inline(__always) public func sub(_ a: UInt32, _ b: UInt32) -> UInt32 { a &- b }
  @inlinable @inline(__always) public func mul(_ a: UInt32, _ b: UInt32) -> UInt32 { a &* b }
  @inlinable @inline(__always) public func mulHighUnsigned(_ a: UInt32, _ b: UInt32) -> UInt32 {
    a.multipliedFullWidth(by: b).high
  }
  @inlinable @inline(__always) public func mulHighSigned(_ a: UInt32, _ b: UInt32) -> UInt32 {
    UInt32(bitPattern: Int32(bitPattern: a).multipliedFullWidth(by: Int32(bitPattern: b)).high)
  }
  @inlinable @inline(__always) public func and(_ a: UInt32, _ b: UInt32) -> UInt32 { a & b }
  @inlinable @inline(__always) public func or(_ a: UInt32, _ b: UInt32) -> UInt32 { a | b }
  @inlinable @inline(__always) public func xor(_ a: UInt32, _ b: UInt32) -> UInt32 { a ^ b }
  @inlinable @inline(__always) public func not(_ a: UInt32) -> UInt32 { ~a }
  @inlinable @inline(__always) public func shiftLeft(_ a: UInt32, _ n: UInt32) -> UInt32 {
    n >= 32 ? 0 : a &<< n
  }
  @inlinable @inline(__always) public func shiftRight(_ a: UInt32, _ n: UInt32) -> UInt32 {
    n >= 32 ? 0 : a &>> n
  }
  @inlinable @inline(__always) public func shiftRightArithmetic(_ a: UInt32, _ n: UInt32) -> UInt32 {
    UInt32(bitPattern: Int32(bitPattern: a) &>> (n >= 32 ? 31 : n))
  }
  @inlinable @inline(__always) public func equal(_ a: UInt32, _ b: UInt32) -> Bit { Bit(a == b) }
  @inlinable @inline(__always) public func unsignedLess(_ a: UInt32, _ b: UInt32) -> Bit { Bit(a < b) }
  @inlinable @inline(__always) public func signedLess(_ a: UInt32, _ b: UInt32) -> Bit {
    Bit(Int32(bitPattern: a) < Int32(bitPattern: b))
  }
  @inlinable @inline(__always) public func select(_ c: Bit, _ a: UInt32, _ b: UInt32) -> UInt32 {
    c.isSet ? a : b
  }
  @inlinable @inline(__always) public func select(_ c: Bit, _ a: Bit, _ b: Bit) -> Bit { c.isSet ? a : b }
  @inlinable @inline(__always) public func and(_ a: Bit, _ b: Bit) -> Bit { Bit(a.isSet && b.isSet) }
  @inlinable @inline(__always) public func or(_ a: Bit, _ b: Bit) -> Bit { Bit(a.isSet || b.isSet) }
  @inlinable @inline(__always) public func xor(_ a: Bit, _ b: Bit) -> Bit { Bit(a.isSet != b.isSet) }
  @inlinable @inline(__always) public func not(_ a: Bit) -> Bit { Bit(!a.isSet) }
  @inlinable @inline(__always) public func value(_ t: Bit) -> UInt32 { t.isSet ? 1 : 0 }
  @inlinable @inline(__always) public func parityEven(_ a: UInt32) -> Bit {
    Bit((a & 0xFF).nonzeroBitCount & 1 == 0)
  }
  @inlinable @inline(__always) public func trailingZeros(_ a: UInt32) -> UInt32 {
    UInt32(a.trailingZeroBitCount)
  }
  @inlinable @inline(__always) public func leadingZeros(_ a: UInt32) -> UInt32 {
    UInt32(a.leadingZeroBitCount)
  }
  @inlinable @inline(__always) public func byteSwap(_ a: UInt32) -> UInt32 { a.byteSwapped }

  @inlinable public func divide(
    high: UInt32, low: UInt32, by divisor: UInt32, size: OperandSize, signed: Bool
  ) -> (quotient: UInt32, remainder: UInt32, fault: Bit) {
    guard divisor != 0 else { return (0, 0, Bit(true)) }
    let dividend = UInt64(high) << UInt64(size.bits) | UInt64(low)
    if signed {
      let n = Int64(bitPattern: dividend << (64 - 2 * UInt64(size.bits))) >> (64 - 2 * Int64(size.bits))
      let dshift = 32 - size.bits
      let d = Int64(Int32(bitPattern: divisor << dshift) >> Int32(dshift))
      // Int64.min / -1 cannot occur: n has at most 64 significant bits only at dword size,
      // where n == Int64.min and d == -1 gives a quotient that does not fit 32 bits anyway.
      if n == Int64.min && d == -1 { return (0, 0, Bit(true)) }
      let q = n / d
      let r = n % d
      let limit = Int64(1) << (Int64(size.bits) - 1)
      let fits = q >= -limit && q < limit
      return (
        UInt32(truncatingIfNeeded: q) & size.mask, UInt32(truncatingIfNeeded: r) & size.mask, Bit(!fits)
      )
    }
    let q = dividend / UInt64(divisor)
    let r = dividend % UInt64(divisor)
    return (UInt32(truncatingIfNeeded: q), UInt32(truncatingIfNeeded: r), Bit(q > UInt64(size.mask)))
  }

  @inlinable @inline(__always) public func undefined(_ what: Undefined, concrete: UInt32) -> UInt32 {
    concrete
  }
  @inlinable @inline(__always) public func undefined(_ what: Undefined, concrete: Bit) -> Bit { concrete }
}

/// A concrete truth value: a `Bool` in a type of its own, so semantics cannot branch on it.
public struct Bit: Hashable, Sendable {
  public var isSet: Bool
  @inlinable @inline(__always) public init(_ isSet: Bool) { self.isSet = isSet }
}
