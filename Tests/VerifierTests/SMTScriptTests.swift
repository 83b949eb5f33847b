import Testing
import Verifier

@Suite struct SMTScriptTests {
  @Test func splitsTopLevelCommandsWithTheirPlaces() throws {
    let script = try SMTScript(
      """
      ; a comment with ( and "
      (declare-const |odd ) name| (_ BitVec 8))
        (assert (= |odd ) name| #x01)) (check-sat)
      (echo "say ""hi"" )")
      """)
    #expect(script.commands.map(\.name) == ["declare-const", "assert", "check-sat", "echo"])
    #expect(script.commands.map(\.line) == [2, 3, 3, 4])
    #expect(script.commands.map(\.column) == [1, 3, 34, 1])
  }

  @Test(arguments: [
    ("(check-sat", 1, 1, "'(' is never closed"),
    ("(check-sat))", 1, 12, "unexpected ')'"),
    ("(echo \"open)\n", 1, 7, "unterminated string"),
    ("(assert |x)\n", 1, 9, "unterminated quoted symbol"),
    ("\n  check-sat", 2, 3, "text outside a command: 'c'"),
  ])
  func malformedScriptsNameThePlace(text: String, line: Int, column: Int, message: String) {
    #expect(throws: SMTScriptError(line: line, column: column, message: message)) {
      try SMTScript(text)
    }
  }

  @Test func runsCommandsInOneInterpreterAndReportsAnswers() throws {
    let script = try SMTScript(
      """
      (declare-const x (_ BitVec 32))
      (push 1)
      (assert (not (= (bvxor x x) #x00000000)))
      (check-sat)
      (pop 1)
      (assert (= (bvmul x #x00000003) #x00000001))
      (check-sat)
      """)
    let outcomes = try script.run(models: true)
    #expect(outcomes.compactMap(\.answer) == [.unsat, .sat])
    #expect(outcomes.allSatisfy { $0.error == nil })
    // 3 * 0xAAAAAAAB == 1 (mod 2^32): the model is the inverse of 3.
    let model = try #require(outcomes.last?.model)
    #expect(model.contains("#xaaaaaaab"))
  }

  @Test func errorsArePlacedOnTheScriptsLines() throws {
    let script = try SMTScript("(declare-const a Int)\n\n   (assert (= a b))\n(check-sat)")
    let outcomes = try script.run()
    #expect(outcomes[1].error == "line 3 column 17: unknown constant b")
    // Like z3, the interpreter goes on after an error.
    #expect(outcomes[2].answer == .sat)
  }

  @Test func repositionsMultiLineCommands() throws {
    let script = try SMTScript("(check-sat)\n(assert\n  (= q 1))")
    let outcomes = try script.run()
    #expect(outcomes[1].error?.hasPrefix("line 3 column ") == true)
  }
}
