import CZ3

/// A Z3 array from bit-vectors to bit-vectors: the model of a memory (address → byte).
public struct ArrayExpr: Z3Term {
  public let ast: ASTReference
  public let indexWidth: Int
  public let valueWidth: Int
  public var context: Z3Context { ast.handle.context }

  init(_ context: Z3Context, _ raw: Z3_ast, indexWidth: Int, valueWidth: Int) {
    ast = ASTReference(handle: ASTHandle(context, raw))
    self.indexWidth = indexWidth
    self.valueWidth = valueWidth
  }

  var sort: Z3_sort {
    context.arraySort(indexWidth: indexWidth, valueWidth: valueWidth)
  }

  func make(_ body: (Z3_context) -> Z3_ast?) -> ArrayExpr {
    ArrayExpr(
      context, context.term(sort) { body(context.raw) }, indexWidth: indexWidth, valueWidth: valueWidth)
  }

  /// The element at `index`.
  public func select(_ index: BitVector) -> BitVector {
    sameContext(context, index.context, "select")
    precondition(index.width == indexWidth, "array index width \(indexWidth), got \(index.width)")
    return BitVector(
      context,
      context.term(context.bitVectorSort(valueWidth)) { Z3_mk_select(context.raw, ast.raw, index.ast.raw) },
      width: valueWidth)
  }

  /// The array with `value` at `index`.
  public func store(_ index: BitVector, _ value: BitVector) -> ArrayExpr {
    sameContext(context, index.context, "store")
    sameContext(context, value.context, "store")
    precondition(index.width == indexWidth, "array index width \(indexWidth), got \(index.width)")
    precondition(value.width == valueWidth, "array value width \(valueWidth), got \(value.width)")
    return make { Z3_mk_store($0, ast.raw, index.ast.raw, value.ast.raw) }
  }

  public static func == (a: ArrayExpr, b: ArrayExpr) -> BoolExpr {
    sameContext(a.context, b.context, "=")
    precondition(a.indexWidth == b.indexWidth && a.valueWidth == b.valueWidth, "array sort mismatch in =")
    return BoolExpr(
      a.context, a.context.term(a.context.boolSort) { Z3_mk_eq(a.context.raw, a.ast.raw, b.ast.raw) })
  }
}

extension Z3Context {
  func arraySort(indexWidth: Int, valueWidth: Int) -> Z3_sort {
    Z3_mk_array_sort(raw, bitVectorSort(indexWidth), bitVectorSort(valueWidth))
  }

  /// A named array constant (a free memory).
  public func arrayConstant(_ name: String, indexWidth: Int, valueWidth: Int) -> ArrayExpr {
    precondition(indexWidth > 0 && valueWidth > 0, "array widths must be positive")
    let sort = arraySort(indexWidth: indexWidth, valueWidth: valueWidth)
    return ArrayExpr(
      self, term(sort) { Z3_mk_const(raw, symbol(name), sort) }, indexWidth: indexWidth,
      valueWidth: valueWidth)
  }

  /// The array holding `value` at every index.
  public func constantArray(indexWidth: Int, value: BitVector) -> ArrayExpr {
    precondition(indexWidth > 0, "array index width must be positive")
    sameContext(self, value.context, "const array")
    let sort = arraySort(indexWidth: indexWidth, valueWidth: value.width)
    return ArrayExpr(
      self, term(sort) { Z3_mk_const_array(raw, bitVectorSort(indexWidth), value.ast.raw) },
      indexWidth: indexWidth, valueWidth: value.width)
  }
}
