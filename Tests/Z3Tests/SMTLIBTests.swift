import Testing
import Z3

@Suite struct SMTLIBTests {
  @Test func queryTextRoundTripsThroughTheParser() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 32)
    let solver = Solver(z3)
    solver.assert((x & 0xFF) == 0x7F)
    solver.assert(x.unsignedGreaterThan(x.constant(0x1000)))
    let text = solver.smtlib2
    #expect(text.contains("(declare-fun x () (_ BitVec 32))"))
    #expect(text.hasSuffix("(check-sat)\n"))

    // The same query read back in a fresh context gives the same verdict.
    let other = try Z3Context()
    let parsed = try other.parseSMTLIB2(text)
    #expect(parsed.count == 2)
    let again = Solver(other)
    parsed.forEach(again.assert)
    #expect(try again.check().isSat)
    again.assert(try other.parseSMTLIB2("(declare-fun x () (_ BitVec 32)) (assert (= x #x00000000))")[0])
    #expect(try again.check().isUnsat)
  }

  @Test func parseErrorsAreThrownWithTheirPlace() throws {
    let z3 = try Z3Context()
    let error = #expect(throws: Z3Error.self) {
      try z3.parseSMTLIB2("(declare-const a Int)\n(assert (= a b))")
    }
    #expect(error?.message.contains("line 2") == true)
    #expect(error?.message.contains("unknown constant b") == true)
    // The context is usable after the error.
    #expect(try z3.parseSMTLIB2("(assert true)").count == 1)
  }

  @Test func interpreterKeepsStateAndReportsErrorsInline() throws {
    let z3 = try Z3Context()
    let out = try z3.evaluateSMTLIB2(
      "(declare-const x (_ BitVec 8))(push 1)(assert (= x #x05))(check-sat)(get-value (x))(pop 1)")
    #expect(out == "sat\n((x #x05))\n")
    let bad = try z3.evaluateSMTLIB2("(assert (bvadd x y))")
    #expect(bad.hasPrefix("(error "))
    #expect(try z3.evaluateSMTLIB2("(check-sat)") == "sat\n")
  }
}
