import CZ3

/// Limits for one `check`. A wall-clock timeout depends on the machine's load; a resource
/// limit (`rlimit`, Z3's deterministic count of work) gives the same verdict everywhere, so
/// results that must be reproducible use it.
public struct QueryLimits: Sendable, Equatable {
  /// Wall-clock limit in milliseconds; `nil` for none.
  public var timeoutMilliseconds: UInt32?
  /// Z3's deterministic resource limit; `nil` for none.
  public var resourceLimit: UInt32?

  public init(timeoutMilliseconds: UInt32? = nil, resourceLimit: UInt32? = nil) {
    self.timeoutMilliseconds = timeoutMilliseconds
    self.resourceLimit = resourceLimit
  }

  public static let none = QueryLimits()
}

/// The outcome of a satisfiability check.
public enum CheckResult {
  /// Satisfiable, with a model of the assertions.
  case sat(Model)
  /// Unsatisfiable; the core lists tracked assertions and assumptions that suffice.
  case unsat(core: UnsatCore)
  /// Z3 gave up: a limit was hit or the logic is beyond it (`reason` is Z3's own word).
  case unknown(reason: String)

  public var isSat: Bool { if case .sat = self { true } else { false } }
  public var isUnsat: Bool { if case .unsat = self { true } else { false } }
}

/// An unsatisfiable core: the literals of tracked assertions or assumptions Z3 used.
public struct UnsatCore {
  public let literals: [BoolExpr]
  /// The names of the literals that are named constants (tracked assertion names).
  public var names: [String] {
    literals.compactMap { lit in
      let ctx = lit.context.raw
      guard Z3_is_app(ctx, lit.ast.raw) else { return nil }
      let app = Z3_to_app(ctx, lit.ast.raw)
      guard Z3_get_app_num_args(ctx, app) == 0 else { return nil }
      let decl = Z3_get_app_decl(ctx, app)
      return String(cString: Z3_get_symbol_string(ctx, Z3_get_decl_name(ctx, decl)))
    }
  }
}

/// A Z3 solver: assertions, scopes and checks.
public final class Solver {
  public let context: Z3Context
  let raw: Z3_solver
  /// Tracked assertions' literals, kept alive for as long as the solver is.
  private var trackers: [BoolExpr] = []

  public init(_ context: Z3Context) {
    self.context = context
    context.clearErrorCode()
    raw = Z3_mk_solver(context.raw)
    Z3_solver_inc_ref(context.raw, raw)
    context.liveObjects += 1
  }

  /// A solver that runs one Z3 tactic (`smt` is Z3's SMT core alone) instead of the general
  /// solver, whose strategy Z3 picks from the logic. Limits apply as to any solver. Throws for a
  /// name Z3 does not know.
  public init(_ context: Z3Context, tactic name: String) throws {
    self.context = context
    context.clearErrorCode()
    guard let tactic = Z3_mk_tactic(context.raw, name) else {
      throw context.takeError() ?? Z3Error(code: nil, message: "no tactic \(name)")
    }
    Z3_tactic_inc_ref(context.raw, tactic)
    defer { Z3_tactic_dec_ref(context.raw, tactic) }
    raw = Z3_mk_solver_from_tactic(context.raw, tactic)
    Z3_solver_inc_ref(context.raw, raw)
    context.liveObjects += 1
  }

  deinit {
    trackers.removeAll()
    Z3_solver_dec_ref(context.raw, raw)
    context.liveObjects -= 1
  }

  /// Adds an assertion.
  public func assert(_ fact: BoolExpr) {
    sameContext(context, fact.context, "assert")
    Z3_solver_assert(context.raw, raw, fact.ast.raw)
  }

  /// Adds an assertion tracked by `name`, so that it can appear in an unsat core.
  public func assert(_ fact: BoolExpr, named name: String) {
    sameContext(context, fact.context, "assert")
    let tracker = context.boolConstant(name)
    trackers.append(tracker)
    Z3_solver_assert_and_track(context.raw, raw, fact.ast.raw, tracker.ast.raw)
  }

  /// Opens a scope.
  public func push() { Z3_solver_push(context.raw, raw) }

  /// Closes `count` scopes, dropping their assertions.
  public func pop(_ count: Int = 1) throws {
    let depth = Int(Z3_solver_get_num_scopes(context.raw, raw))
    guard count <= depth else {
      throw Z3Error(code: nil, message: "pop \(count) with only \(depth) scope(s) open")
    }
    Z3_solver_pop(context.raw, raw, UInt32(count))
  }

  /// How many scopes are open.
  public var scopes: Int { Int(Z3_solver_get_num_scopes(context.raw, raw)) }

  /// Checks the assertions (and `assumptions`) under `limits`.
  public func check(assumptions: [BoolExpr] = [], limits: QueryLimits = .none) throws -> CheckResult {
    try context.throwIfFailed()
    applyLimits(limits)
    try context.throwIfFailed()
    let outcome: Z3_lbool
    if assumptions.isEmpty {
      outcome = Z3_solver_check(context.raw, raw)
    } else {
      for a in assumptions { sameContext(context, a.context, "check") }
      let raws: [Z3_ast?] = assumptions.map { $0.ast.raw }
      outcome = withExtendedLifetime(assumptions) {
        raws.withUnsafeBufferPointer {
          Z3_solver_check_assumptions(context.raw, raw, UInt32($0.count), $0.baseAddress)
        }
      }
    }
    // A check that Z3 abandons (a timeout, say) returns undef with the error code clear;
    // an exception inside it sets the code.
    if let error = context.takeError() { throw error }
    switch outcome {
    case Z3_L_TRUE:
      guard let model = Z3_solver_get_model(context.raw, raw) else {
        throw context.takeError() ?? Z3Error(code: nil, message: "sat without a model")
      }
      return .sat(Model(context, model))
    case Z3_L_FALSE:
      return .unsat(core: UnsatCore(literals: vector(Z3_solver_get_unsat_core(context.raw, raw))))
    default:
      return .unknown(reason: String(cString: Z3_solver_get_reason_unknown(context.raw, raw)))
    }
  }

  /// The assertions as an SMT-LIB2 script (declarations and asserts), ending in `(check-sat)`.
  public var smtlib2: String {
    String(cString: Z3_solver_to_string(context.raw, raw)) + "(check-sat)\n"
  }

  /// The current assertions.
  public var assertions: [BoolExpr] { vector(Z3_solver_get_assertions(context.raw, raw)) }

  private func applyLimits(_ limits: QueryLimits) {
    let params = Z3_mk_params(context.raw)
    Z3_params_inc_ref(context.raw, params)
    defer { Z3_params_dec_ref(context.raw, params) }
    Z3_params_set_uint(
      context.raw, params, context.symbol("timeout"), limits.timeoutMilliseconds ?? UInt32.max)
    Z3_params_set_uint(context.raw, params, context.symbol("rlimit"), limits.resourceLimit ?? 0)
    Z3_solver_set_params(context.raw, raw, params)
  }

  private func vector(_ v: Z3_ast_vector?) -> [BoolExpr] {
    context.boolVector(v)
  }
}

extension Z3Context {
  /// Copies a Z3 AST vector of Boolean terms into counted references.
  func boolVector(_ v: Z3_ast_vector?) -> [BoolExpr] {
    guard let v else { return [] }
    Z3_ast_vector_inc_ref(raw, v)
    defer { Z3_ast_vector_dec_ref(raw, v) }
    return (0..<Z3_ast_vector_size(raw, v)).map { BoolExpr(self, Z3_ast_vector_get(raw, v, $0)) }
  }
}
