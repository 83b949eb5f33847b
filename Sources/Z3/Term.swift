import CZ3

/// One counted reference to a Z3 AST; it keeps its context alive.
final class ASTHandle {
  let context: Z3Context
  let ast: Z3_ast

  init(_ context: Z3Context, _ ast: Z3_ast) {
    self.context = context
    self.ast = ast
    Z3_inc_ref(context.raw, ast)
    context.liveObjects += 1
  }

  deinit {
    Z3_dec_ref(context.raw, ast)
    context.liveObjects -= 1
  }
}

/// Anything that is a Z3 term.
public protocol Z3Term: CustomStringConvertible {
  var context: Z3Context { get }
  var ast: ASTReference { get }
}

/// The untyped reference underneath a typed term (opaque outside the wrapper).
public struct ASTReference {
  let handle: ASTHandle
  var raw: Z3_ast { handle.ast }
}

extension Z3Term {
  /// The term in SMT-LIB2 syntax.
  public var description: String {
    String(cString: Z3_ast_to_string(context.raw, ast.raw))
  }

  /// Z3's simplification of this term, of the same type.
  func simplifiedAST() -> Z3_ast {
    let id = Z3_get_ast_id(context.raw, ast.raw)
    if let known = context.simplifications[id] { return known }
    let simplified = context.term(Z3_get_sort(context.raw, ast.raw)) { Z3_simplify(context.raw, ast.raw) }
    Z3_inc_ref(context.raw, ast.raw)
    Z3_inc_ref(context.raw, simplified)
    context.simplifications[id] = simplified
    return simplified
  }
}

func sameContext(_ a: Z3Context, _ b: Z3Context, _ op: StaticString) {
  precondition(a === b, "Z3 terms from different contexts combined in \(op)")
}

extension Z3Term {
  /// Z3's id of this AST, unique among the context's live terms: structurally equal terms share
  /// it (a key for memoising work on terms).
  public var termID: UInt32 { Z3_get_ast_id(context.raw, ast.raw) }

  /// The two terms are the same AST (Z3 shares structurally equal terms): equal under every
  /// assignment. Different ASTs may still be equal; only a solver can say.
  public func isSameTerm(as other: some Z3Term) -> Bool {
    sameContext(context, other.context, "term identity")
    return Z3_is_eq_ast(context.raw, ast.raw, other.ast.raw)
  }
}
