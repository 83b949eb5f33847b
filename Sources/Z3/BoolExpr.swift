import CZ3

/// A Z3 term of sort Bool.
public struct BoolExpr: Z3Term {
  public let ast: ASTReference
  public var context: Z3Context { ast.handle.context }

  init(_ context: Z3Context, _ raw: Z3_ast) {
    ast = ASTReference(handle: ASTHandle(context, raw))
  }

  func make(_ body: (Z3_context) -> Z3_ast?) -> BoolExpr {
    BoolExpr(context, context.term(context.boolSort) { body(context.raw) })
  }

  public static prefix func ! (operand: BoolExpr) -> BoolExpr {
    operand.make { Z3_mk_not($0, operand.ast.raw) }
  }

  public static func && (lhs: BoolExpr, rhs: BoolExpr) -> BoolExpr {
    BoolExpr.all([lhs, rhs])
  }

  public static func || (lhs: BoolExpr, rhs: BoolExpr) -> BoolExpr {
    BoolExpr.any([lhs, rhs])
  }

  public static func == (lhs: BoolExpr, rhs: BoolExpr) -> BoolExpr {
    sameContext(lhs.context, rhs.context, "==")
    return lhs.make { Z3_mk_eq($0, lhs.ast.raw, rhs.ast.raw) }
  }

  public static func != (lhs: BoolExpr, rhs: BoolExpr) -> BoolExpr { !(lhs == rhs) }

  /// `self → other`.
  public func implies(_ other: BoolExpr) -> BoolExpr {
    sameContext(context, other.context, "implies")
    return make { Z3_mk_implies($0, ast.raw, other.ast.raw) }
  }

  public func xor(_ other: BoolExpr) -> BoolExpr {
    sameContext(context, other.context, "xor")
    return make { Z3_mk_xor($0, ast.raw, other.ast.raw) }
  }

  /// `if self then a else b`, for bit-vectors.
  public func ite(_ a: BitVector, _ b: BitVector) -> BitVector {
    precondition(a.width == b.width, "bit-vector width mismatch in ite: \(a.width) vs \(b.width)")
    sameContext(a.context, b.context, "ite")
    sameContext(context, a.context, "ite")
    return a.make(width: a.width) { Z3_mk_ite($0, ast.raw, a.ast.raw, b.ast.raw) }
  }

  /// `if self then a else b`, for booleans.
  public func ite(_ a: BoolExpr, _ b: BoolExpr) -> BoolExpr {
    sameContext(a.context, b.context, "ite")
    sameContext(context, a.context, "ite")
    return make { Z3_mk_ite($0, ast.raw, a.ast.raw, b.ast.raw) }
  }

  /// `if self then a else b`, for arrays.
  public func ite(_ a: ArrayExpr, _ b: ArrayExpr) -> ArrayExpr {
    precondition(
      a.indexWidth == b.indexWidth && a.valueWidth == b.valueWidth,
      "array sort mismatch in ite")
    sameContext(a.context, b.context, "ite")
    sameContext(context, a.context, "ite")
    return a.make { Z3_mk_ite($0, ast.raw, a.ast.raw, b.ast.raw) }
  }

  /// The conjunction of `terms` (true when empty).
  public static func all(_ terms: [BoolExpr]) -> BoolExpr {
    precondition(!terms.isEmpty, "BoolExpr.all needs a term (use context.true for none)")
    return combine(terms, Z3_mk_and)
  }

  /// The disjunction of `terms`.
  public static func any(_ terms: [BoolExpr]) -> BoolExpr {
    precondition(!terms.isEmpty, "BoolExpr.any needs a term (use context.false for none)")
    return combine(terms, Z3_mk_or)
  }

  private static func combine(
    _ terms: [BoolExpr],
    _ op: (Z3_context?, UInt32, UnsafePointer<Z3_ast?>?) -> Z3_ast?
  ) -> BoolExpr {
    let first = terms[0]
    for t in terms { sameContext(first.context, t.context, "and/or") }
    let raws: [Z3_ast?] = terms.map { $0.ast.raw }
    return withExtendedLifetime(terms) {
      raws.withUnsafeBufferPointer { buf in
        first.make { op($0, UInt32(buf.count), buf.baseAddress) }
      }
    }
  }

  /// Z3's simplification of this term.
  public func simplified() -> BoolExpr { BoolExpr(context, simplifiedAST()) }

  /// The value when the term is the literal `true` or `false`.
  public var literalValue: Bool? {
    switch Z3_get_bool_value(context.raw, ast.raw) {
    case Z3_L_TRUE: return true
    case Z3_L_FALSE: return false
    default: return nil
    }
  }
}

extension Z3Context {
  /// The constant `true` or `false`.
  public func bool(_ value: Bool) -> BoolExpr {
    BoolExpr(self, term(boolSort) { value ? Z3_mk_true(raw) : Z3_mk_false(raw) })
  }

  public var `true`: BoolExpr { bool(true) }
  public var `false`: BoolExpr { bool(false) }

  /// A named Boolean constant (a free variable in queries).
  public func boolConstant(_ name: String) -> BoolExpr {
    BoolExpr(self, term(boolSort) { Z3_mk_const(raw, symbol(name), boolSort) })
  }

  /// A Boolean constant with a name no other term has.
  public func freshBool(_ prefix: String = "b") -> BoolExpr {
    BoolExpr(self, term(boolSort) { Z3_mk_fresh_const(raw, prefix, boolSort) })
  }
}
