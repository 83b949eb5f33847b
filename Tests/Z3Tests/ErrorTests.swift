import CZ3
import Testing

@testable import Z3

@Suite struct ErrorTests {
  /// A Z3 error during term construction (here a sort error forced below the typed API) is kept
  /// and thrown by the next check, not printed, ignored or fatal.
  @Test func constructionErrorIsThrownByTheNextCheck() throws {
    let z3 = try Z3Context()
    let t = z3.bool(true)
    let raw = z3.term(z3.bitVectorSort(8)) { Z3_mk_bvadd(z3.raw, t.ast.raw, t.ast.raw) }
    let bogus = BitVector(z3, raw, width: 8)
    #expect(z3.pendingError != nil)
    let solver = Solver(z3)
    solver.assert(bogus == 1)
    let error = #expect(throws: Z3Error.self) { try solver.check() }
    #expect(error?.message.contains("sort") == true)
    // Thrown once; the context goes on working.
    #expect(z3.pendingError == nil)
    let fresh = Solver(z3)
    fresh.assert(z3.bitVectorConstant("y", width: 8) == 2)
    #expect(try fresh.check().isSat)
  }

  @Test func rotatesTakeAnyCount() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 32)
    let s = Solver(z3)
    s.assert(x.rotateLeft(by: -8) != x.rotateRight(by: 8))
    s.assert(x.rotateLeft(by: 40) != x.rotateLeft(by: 8))
    #expect(try s.check().isSat == false)
  }
}
