import CZ3

/// A Z3 term of sort `(_ BitVec width)`.
///
/// The width travels with the term, and every operation checks it before Z3 sees the term, so a
/// width mix-up stops at the line that made it (a programming error, like an index out of range)
/// instead of surfacing later as a sort error from Z3.
public struct BitVector: Z3Term {
  public let ast: ASTReference
  public let width: Int
  public var context: Z3Context { ast.handle.context }

  init(_ context: Z3Context, _ raw: Z3_ast, width: Int) {
    ast = ASTReference(handle: ASTHandle(context, raw))
    self.width = width
  }

  func make(width: Int, _ body: (Z3_context) -> Z3_ast?) -> BitVector {
    BitVector(context, context.term(context.bitVectorSort(width)) { body(context.raw) }, width: width)
  }

  func makeBool(_ body: (Z3_context) -> Z3_ast?) -> BoolExpr {
    BoolExpr(context, context.term(context.boolSort) { body(context.raw) })
  }

  private func check(_ other: BitVector, _ op: StaticString) {
    sameContext(context, other.context, op)
    precondition(
      width == other.width, "bit-vector width mismatch in \(op): \(width) vs \(other.width)")
  }

  private func binary(
    _ other: BitVector, _ op: StaticString, _ f: (Z3_context?, Z3_ast?, Z3_ast?) -> Z3_ast?
  ) -> BitVector {
    check(other, op)
    return make(width: width) { f($0, ast.raw, other.ast.raw) }
  }

  private func predicate(
    _ other: BitVector, _ op: StaticString, _ f: (Z3_context?, Z3_ast?, Z3_ast?) -> Z3_ast?
  ) -> BoolExpr {
    check(other, op)
    return makeBool { f($0, ast.raw, other.ast.raw) }
  }

  /// A constant of this term's width (the value is truncated to the width).
  public func constant(_ value: UInt64) -> BitVector { context.bitVector(value, width: width) }

  // MARK: Arithmetic and bitwise

  public static func + (a: BitVector, b: BitVector) -> BitVector { a.binary(b, "bvadd", Z3_mk_bvadd) }
  public static func - (a: BitVector, b: BitVector) -> BitVector { a.binary(b, "bvsub", Z3_mk_bvsub) }
  public static func * (a: BitVector, b: BitVector) -> BitVector { a.binary(b, "bvmul", Z3_mk_bvmul) }
  public static func & (a: BitVector, b: BitVector) -> BitVector { a.binary(b, "bvand", Z3_mk_bvand) }
  public static func | (a: BitVector, b: BitVector) -> BitVector { a.binary(b, "bvor", Z3_mk_bvor) }
  public static func ^ (a: BitVector, b: BitVector) -> BitVector { a.binary(b, "bvxor", Z3_mk_bvxor) }
  public static prefix func ~ (a: BitVector) -> BitVector {
    a.make(width: a.width) { Z3_mk_bvnot($0, a.ast.raw) }
  }
  public static prefix func - (a: BitVector) -> BitVector {
    a.make(width: a.width) { Z3_mk_bvneg($0, a.ast.raw) }
  }

  public static func + (a: BitVector, b: UInt64) -> BitVector { a + a.constant(b) }
  public static func - (a: BitVector, b: UInt64) -> BitVector { a - a.constant(b) }
  public static func * (a: BitVector, b: UInt64) -> BitVector { a * a.constant(b) }
  public static func & (a: BitVector, b: UInt64) -> BitVector { a & a.constant(b) }
  public static func | (a: BitVector, b: UInt64) -> BitVector { a | a.constant(b) }
  public static func ^ (a: BitVector, b: UInt64) -> BitVector { a ^ a.constant(b) }

  /// Unsigned division; Z3 defines x / 0 as all ones (SMT-LIB `bvudiv`).
  public func unsignedDivide(by d: BitVector) -> BitVector { binary(d, "bvudiv", Z3_mk_bvudiv) }
  /// Unsigned remainder; x % 0 is x.
  public func unsignedRemainder(by d: BitVector) -> BitVector { binary(d, "bvurem", Z3_mk_bvurem) }
  /// Signed division, rounding toward zero.
  public func signedDivide(by d: BitVector) -> BitVector { binary(d, "bvsdiv", Z3_mk_bvsdiv) }
  /// Signed remainder, with the sign of the dividend.
  public func signedRemainder(by d: BitVector) -> BitVector { binary(d, "bvsrem", Z3_mk_bvsrem) }

  // MARK: Shifts and rotates

  /// Shifts left by `count` (same width); counts ≥ width give 0.
  public func shiftLeft(by count: BitVector) -> BitVector { binary(count, "bvshl", Z3_mk_bvshl) }
  /// Logical shift right; counts ≥ width give 0.
  public func logicalShiftRight(by count: BitVector) -> BitVector { binary(count, "bvlshr", Z3_mk_bvlshr) }
  /// Arithmetic shift right; counts ≥ width give all copies of the sign bit.
  public func arithmeticShiftRight(by count: BitVector) -> BitVector { binary(count, "bvashr", Z3_mk_bvashr) }
  public func shiftLeft(by count: UInt64) -> BitVector { shiftLeft(by: constant(count)) }
  public func logicalShiftRight(by count: UInt64) -> BitVector { logicalShiftRight(by: constant(count)) }
  public func arithmeticShiftRight(by count: UInt64) -> BitVector {
    arithmeticShiftRight(by: constant(count))
  }

  /// Rotates left by a term (taken modulo the width).
  public func rotateLeft(by count: BitVector) -> BitVector {
    binary(count, "ext_rotate_left", Z3_mk_ext_rotate_left)
  }
  /// Rotates right by a term (taken modulo the width).
  public func rotateRight(by count: BitVector) -> BitVector {
    binary(count, "ext_rotate_right", Z3_mk_ext_rotate_right)
  }
  /// Rotates left by a fixed amount.
  public func rotateLeft(by count: Int) -> BitVector {
    make(width: width) { Z3_mk_rotate_left($0, UInt32(((count % width) + width) % width), ast.raw) }
  }
  /// Rotates right by a fixed amount.
  public func rotateRight(by count: Int) -> BitVector {
    make(width: width) { Z3_mk_rotate_right($0, UInt32(((count % width) + width) % width), ast.raw) }
  }

  // MARK: Width changes

  /// Bits `high` down to `low`, inclusive: a term of width `high - low + 1`.
  public func extract(high: Int, low: Int) -> BitVector {
    precondition(0 <= low && low <= high && high < width, "extract [\(high):\(low)] of a \(width)-bit term")
    return make(width: high - low + 1) { Z3_mk_extract($0, UInt32(high), UInt32(low), ast.raw) }
  }

  /// Bit `index` as a Boolean.
  public func bit(_ index: Int) -> BoolExpr { extract(high: index, low: index) == constant1(1) }

  private func constant1(_ v: UInt64) -> BitVector { context.bitVector(v, width: 1) }

  /// `self` in the high bits, `low` in the low bits.
  public func concat(_ low: BitVector) -> BitVector {
    sameContext(context, low.context, "concat")
    return make(width: width + low.width) { Z3_mk_concat($0, ast.raw, low.ast.raw) }
  }

  /// Zero-extends to `newWidth` bits (which must not be smaller).
  public func zeroExtend(to newWidth: Int) -> BitVector {
    precondition(newWidth >= width, "zero-extend a \(width)-bit term to \(newWidth) bits")
    if newWidth == width { return self }
    return make(width: newWidth) { Z3_mk_zero_ext($0, UInt32(newWidth - width), ast.raw) }
  }

  /// Sign-extends to `newWidth` bits (which must not be smaller).
  public func signExtend(to newWidth: Int) -> BitVector {
    precondition(newWidth >= width, "sign-extend a \(width)-bit term to \(newWidth) bits")
    if newWidth == width { return self }
    return make(width: newWidth) { Z3_mk_sign_ext($0, UInt32(newWidth - width), ast.raw) }
  }

  // MARK: Comparisons

  public static func == (a: BitVector, b: BitVector) -> BoolExpr { a.predicate(b, "=", Z3_mk_eq) }
  public static func != (a: BitVector, b: BitVector) -> BoolExpr { !(a == b) }
  public static func == (a: BitVector, b: UInt64) -> BoolExpr { a == a.constant(b) }
  public static func != (a: BitVector, b: UInt64) -> BoolExpr { !(a == a.constant(b)) }

  public func unsignedLessThan(_ b: BitVector) -> BoolExpr { predicate(b, "bvult", Z3_mk_bvult) }
  public func unsignedLessOrEqual(_ b: BitVector) -> BoolExpr { predicate(b, "bvule", Z3_mk_bvule) }
  public func unsignedGreaterThan(_ b: BitVector) -> BoolExpr { predicate(b, "bvugt", Z3_mk_bvugt) }
  public func unsignedGreaterOrEqual(_ b: BitVector) -> BoolExpr { predicate(b, "bvuge", Z3_mk_bvuge) }
  public func signedLessThan(_ b: BitVector) -> BoolExpr { predicate(b, "bvslt", Z3_mk_bvslt) }
  public func signedLessOrEqual(_ b: BitVector) -> BoolExpr { predicate(b, "bvsle", Z3_mk_bvsle) }
  public func signedGreaterThan(_ b: BitVector) -> BoolExpr { predicate(b, "bvsgt", Z3_mk_bvsgt) }
  public func signedGreaterOrEqual(_ b: BitVector) -> BoolExpr { predicate(b, "bvsge", Z3_mk_bvsge) }

  /// Z3's simplification of this term.
  public func simplified() -> BitVector { BitVector(context, simplifiedAST(), width: width) }

  /// The value when the term is a numeral (after `simplified()`, say); `nil` otherwise or wider than 64 bits.
  public var literalValue: UInt64? {
    var value: UInt64 = 0
    guard Z3_is_numeral_ast(context.raw, ast.raw), width <= 64,
      Z3_get_numeral_uint64(context.raw, ast.raw, &value)
    else { return nil }
    return value
  }
}

extension Z3Context {
  /// The numeral `value` (truncated to `width` bits).
  public func bitVector(_ value: UInt64, width: Int) -> BitVector {
    precondition(width > 0, "bit-vector width must be positive, not \(width)")
    if width <= 64 {
      let masked = width == 64 ? value : value & ((1 << UInt64(width)) - 1)
      return BitVector(
        self, term(bitVectorSort(width)) { Z3_mk_unsigned_int64(raw, masked, bitVectorSort(width)) },
        width: width)
    }
    return BitVector(
      self, term(bitVectorSort(width)) { Z3_mk_numeral(raw, String(value), bitVectorSort(width)) },
      width: width)
  }

  /// A named bit-vector constant (a free variable in queries).
  public func bitVectorConstant(_ name: String, width: Int) -> BitVector {
    precondition(width > 0, "bit-vector width must be positive, not \(width)")
    return BitVector(
      self, term(bitVectorSort(width)) { Z3_mk_const(raw, symbol(name), bitVectorSort(width)) }, width: width)
  }

  /// A bit-vector constant with a name no other term has.
  public func freshBitVector(_ prefix: String = "v", width: Int) -> BitVector {
    precondition(width > 0, "bit-vector width must be positive, not \(width)")
    return BitVector(
      self, term(bitVectorSort(width)) { Z3_mk_fresh_const(raw, prefix, bitVectorSort(width)) }, width: width)
  }
}
