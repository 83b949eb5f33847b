import CZ3

extension Z3Context {
  /// Parses SMT-LIB2 text (declarations and assertions) and returns its assertions.
  /// A parse or sort error is thrown with Z3's message, which names the line and column.
  public func parseSMTLIB2(_ text: String) throws -> [BoolExpr] {
    try throwIfFailed()
    clearErrorCode()
    let v = Z3_parse_smtlib2_string(raw, text, 0, nil, nil, 0, nil, nil)
    if let error = takeError() { throw error }
    return boolVector(v)
  }

  /// Runs SMT-LIB2 commands in this context's interpreter, as the z3 command would, and
  /// returns what they print. Z3 prints errors in the output as `(error "…")` and goes on;
  /// the interpreter's declarations and assertions persist across calls.
  public func evaluateSMTLIB2(_ commands: String) throws -> String {
    try throwIfFailed()
    clearErrorCode()
    guard let out = Z3_eval_smtlib2_string(raw, commands) else {
      throw takeError() ?? Z3Error(code: nil, message: "Z3_eval_smtlib2_string returned nothing")
    }
    let text = String(cString: out)
    // The error (if any) is also in the text, where callers see its place; do not throw it.
    clearErrorCode()
    return text
  }
}
