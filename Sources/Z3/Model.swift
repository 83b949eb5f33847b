import CZ3

/// A satisfying assignment, evaluated back to Swift values.
public final class Model: CustomStringConvertible {
  public let context: Z3Context
  let raw: Z3_model

  init(_ context: Z3Context, _ raw: Z3_model) {
    self.context = context
    self.raw = raw
    Z3_model_inc_ref(context.raw, raw)
    context.liveObjects += 1
  }

  deinit {
    Z3_model_dec_ref(context.raw, raw)
    context.liveObjects -= 1
  }

  private func evaluateAST(_ term: some Z3Term) throws -> Z3_ast {
    sameContext(context, term.context, "model evaluation")
    try context.throwIfFailed()
    var out: Z3_ast?
    guard Z3_model_eval(context.raw, raw, term.ast.raw, true, &out), let out else {
      throw context.takeError() ?? Z3Error(code: nil, message: "cannot evaluate \(term)")
    }
    return out
  }

  /// The value of a bit-vector term of at most 64 bits (unassigned constants count as 0).
  public func evaluate(_ term: BitVector) throws -> UInt64 {
    guard term.width <= 64 else {
      throw Z3Error(code: nil, message: "a \(term.width)-bit value does not fit UInt64; use evaluateWords")
    }
    let value = BitVector(context, try evaluateAST(term), width: term.width)
    guard let n = value.literalValue else {
      throw Z3Error(code: nil, message: "model value of \(term) is not a numeral: \(value)")
    }
    return n
  }

  /// The value of a bit-vector term of any width, as 64-bit words, least significant first.
  public func evaluateWords(_ term: BitVector) throws -> [UInt64] {
    try stride(from: 0, to: term.width, by: 64).map { low in
      try evaluate(term.extract(high: min(low + 63, term.width - 1), low: low))
    }
  }

  /// The value of a Boolean term.
  public func evaluate(_ term: BoolExpr) throws -> Bool {
    let value = BoolExpr(context, try evaluateAST(term))
    guard let b = value.literalValue else {
      throw Z3Error(code: nil, message: "model value of \(term) is not true or false: \(value)")
    }
    return b
  }

  /// The model's constants and their values, as SMT-LIB2 text, sorted by name.
  public var assignments: [(name: String, value: String)] {
    let n = Z3_model_get_num_consts(context.raw, raw)
    return (0..<n).map { i -> (name: String, value: String) in
      let decl = Z3_model_get_const_decl(context.raw, raw, i)
      let name = String(cString: Z3_get_symbol_string(context.raw, Z3_get_decl_name(context.raw, decl)))
      let value = Z3_model_get_const_interp(context.raw, raw, decl)
      let text = value.map { String(cString: Z3_ast_to_string(context.raw, $0)) } ?? "?"
      return (name, text)
    }.sorted { $0.name < $1.name }
  }

  /// The model in Z3's SMT-LIB2-like syntax.
  public var description: String { String(cString: Z3_model_to_string(context.raw, raw)) }
}
