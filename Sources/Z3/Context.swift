/// A Swift wrapper over the Z3 C API (libz3, z3_api.h): contexts, typed terms, solvers and
/// models, with Z3 errors surfaced as thrown Swift errors.
import CZ3

/// An error reported by Z3 (its error code and message) or by the wrapper's own checks.
public struct Z3Error: Error, CustomStringConvertible, Sendable, Equatable {
  /// Z3's `Z3_error_code`, as its raw value; `nil` for an error the wrapper raised itself.
  public let code: UInt32?
  public let message: String

  public init(code: UInt32?, message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "Z3 error: \(message)" }
}

/// Owns one `Z3_context` created with reference-counted ASTs (`Z3_mk_context_rc`).
///
/// Z3's default error handler prints and exits the process, so it is removed right after
/// creation; every call is followed by a look at `Z3_get_error_code`. Term construction does not
/// throw: an error there is kept as the context's pending error (and the term replaced by a fresh
/// constant of the intended sort) and is thrown by the next `check`, model evaluation or parse.
/// A context is not thread-safe (nor is Z3's), so it is not `Sendable`.
public final class Z3Context {
  let raw: Z3_context
  /// The first error recorded during term construction and not yet thrown.
  public private(set) var pendingError: Z3Error?
  /// How many wrapper objects (terms, sorts, solvers, models) hold a reference now: a leak check.
  public internal(set) var liveObjects = 0
  /// Simplifications made so far, by the id of the term simplified; Z3 keeps none between
  /// calls, and a symbolic step asks again and again about terms it shares with the steps
  /// before. Both ASTs hold a reference, so an id is not reused while it is here; they are
  /// released with the context.
  var simplifications: [UInt32: Z3_ast] = [:]

  /// Creates a context. `model` production is on, so every solver can return models.
  public init() throws {
    guard let cfg = Z3_mk_config() else {
      throw Z3Error(code: nil, message: "Z3_mk_config failed")
    }
    defer { Z3_del_config(cfg) }
    Z3_set_param_value(cfg, "model", "true")
    guard let ctx = Z3_mk_context_rc(cfg) else {
      throw Z3Error(code: nil, message: "Z3_mk_context_rc failed")
    }
    Z3_set_error_handler(ctx, nil)
    raw = ctx
  }

  deinit { Z3_del_context(raw) }

  /// The linked library's version, e.g. "4.8.12.0".
  public static var version: String {
    var major: UInt32 = 0
    var minor: UInt32 = 0
    var build: UInt32 = 0
    var revision: UInt32 = 0
    Z3_get_version(&major, &minor, &build, &revision)
    return "\(major).\(minor).\(build).\(revision)"
  }

  /// Z3's own description of itself (`Z3_get_full_version`).
  public static var fullVersion: String { String(cString: Z3_get_full_version()) }

  // MARK: Error plumbing

  /// Clears the error code before a call whose outcome is checked afterwards.
  /// (Some entry points, such as `Z3_eval_smtlib2_string`, do not reset it themselves.)
  func clearErrorCode() { Z3_set_error(raw, Z3_OK) }

  /// The error of the last call, if any, and clears it.
  func takeError() -> Z3Error? {
    let code = Z3_get_error_code(raw)
    guard code != Z3_OK else { return nil }
    let message = String(cString: Z3_get_error_msg(raw, code))
    Z3_set_error(raw, Z3_OK)
    return Z3Error(code: code.rawValue, message: message)
  }

  /// Throws the pending construction error, or the error of the last call.
  func throwIfFailed() throws {
    if let error = pendingError {
      pendingError = nil
      throw error
    }
    if let error = takeError() { throw error }
  }

  /// Throws and clears the pending construction error, if any.
  public func throwPendingError() throws {
    try throwIfFailed()
  }

  /// Runs a term constructor; on a Z3 error records it and returns a fresh constant of `sort`
  /// so that building can go on until the next throwing call.
  func term(_ sort: @autoclosure () -> Z3_sort, _ make: () -> Z3_ast?) -> Z3_ast {
    clearErrorCode()
    let ast = make()
    if let ast, Z3_get_error_code(raw) == Z3_OK { return ast }
    let error = takeError() ?? Z3Error(code: nil, message: "Z3 returned no term")
    if pendingError == nil { pendingError = error }
    return Z3_mk_fresh_const(raw, "z3_error", sort())!
  }

  func symbol(_ name: String) -> Z3_symbol { Z3_mk_string_symbol(raw, name) }
  var boolSort: Z3_sort { Z3_mk_bool_sort(raw) }
  func bitVectorSort(_ width: Int) -> Z3_sort { Z3_mk_bv_sort(raw, UInt32(width)) }
}
