import Testing
import Z3

@Suite struct SolverTests {
  @Test func falseIdentityIsRefutedWithACounterexample() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 32)
    // Claim (false): x + 1 > x, unsigned, for all x. Counterexample: x = 0xFFFFFFFF.
    let solver = Solver(z3)
    solver.assert(!(x + 1).unsignedGreaterThan(x))
    guard case .sat(let model) = try solver.check() else {
      Issue.record("a false identity was not refuted")
      return
    }
    let cx = try model.evaluate(x)
    #expect(cx == 0xFFFF_FFFF)
    // The counterexample really breaks the claim, checked in Swift arithmetic.
    #expect(!(UInt32(cx) &+ 1 > UInt32(cx)))
    #expect(model.assignments.map(\.name) == ["x"])
  }

  @Test func unsatCoreNamesTheConflictingAssertions() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 8)
    let solver = Solver(z3)
    solver.assert(x.unsignedGreaterThan(x.constant(10)), named: "big")
    solver.assert(x.unsignedLessThan(x.constant(200)), named: "bounded")
    solver.assert(x.unsignedLessThan(x.constant(5)), named: "small")
    guard case .unsat(let core) = try solver.check() else {
      Issue.record("expected unsat")
      return
    }
    #expect(Set(core.names) == ["big", "small"])
  }

  @Test func assumptionsAppearInTheCore() throws {
    let z3 = try Z3Context()
    let p = z3.boolConstant("p")
    let q = z3.boolConstant("q")
    let solver = Solver(z3)
    solver.assert(p.implies(!q))
    #expect(try solver.check(assumptions: [p]).isSat)
    guard case .unsat(let core) = try solver.check(assumptions: [p, q]) else {
      Issue.record("expected unsat")
      return
    }
    #expect(Set(core.names) == ["p", "q"])
  }

  @Test func pushAndPopScopeAssertions() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 32)
    let solver = Solver(z3)
    solver.assert(x == 3)
    solver.push()
    solver.assert(x == 4)
    #expect(try solver.check().isUnsat)
    #expect(solver.scopes == 1)
    try solver.pop()
    #expect(try solver.check().isSat)
    #expect(throws: Z3Error.self) { try solver.pop() }
  }

  @Test func timeoutGivesUnknown() throws {
    let z3 = try Z3Context()
    // Nonlinear 64-bit factoring of a large semiprime is hard; 1 ms is far too little.
    let a = z3.bitVectorConstant("a", width: 64)
    let b = z3.bitVectorConstant("b", width: 64)
    let solver = Solver(z3)
    let n: UInt64 = 0xC6A4_A793_5BD1_E995  // odd, composite-or-not unknown to Z3 up front
    solver.assert(a.zeroExtend(to: 128) * b.zeroExtend(to: 128) == z3.bitVector(n, width: 128))
    solver.assert(a.unsignedGreaterThan(a.constant(1)) && b.unsignedGreaterThan(b.constant(1)))
    let result = try solver.check(limits: QueryLimits(timeoutMilliseconds: 1))
    guard case .unknown(let reason) = result else {
      Issue.record("expected unknown, got \(result)")
      return
    }
    #expect(reason.contains("timeout") || reason.contains("canceled"))
  }

  /// A 64 × 64-bit factoring of a large odd number into nontrivial factors: far more work than
  /// an rlimit of 1000 allows. Returns the first factor.
  @discardableResult
  static func assertFactoring(_ solver: Solver) -> BitVector {
    let z3 = solver.context
    let a = z3.bitVectorConstant("a", width: 64)
    let b = z3.bitVectorConstant("b", width: 64)
    solver.assert(
      a.zeroExtend(to: 128) * b.zeroExtend(to: 128) == z3.bitVector(0xC6A4_A793_5BD1_E995, width: 128))
    solver.assert(a.unsignedGreaterThan(a.constant(1)) && b.unsignedGreaterThan(b.constant(1)))
    return a
  }

  @Test func resourceLimitGivesUnknownDeterministically() throws {
    let z3 = try Z3Context()
    let solver = Solver(z3)
    let a = Self.assertFactoring(solver)
    let result = try solver.check(limits: QueryLimits(resourceLimit: 1000))
    guard case .unknown = result else {
      Issue.record("expected unknown, got \(result)")
      return
    }
    // The limit is per query: a later easy check on the same solver still answers.
    let easy = Solver(z3)
    easy.assert(a == 1)
    #expect(try easy.check(limits: QueryLimits(resourceLimit: 100_000)).isSat)
  }

  @Test func modelsEvaluateBooleans() throws {
    let z3 = try Z3Context()
    let p = z3.boolConstant("p")
    let x = z3.bitVectorConstant("x", width: 4)
    let solver = Solver(z3)
    solver.assert(p == (x == 9))
    solver.assert(x.unsignedGreaterThan(x.constant(8)) && x.unsignedLessThan(x.constant(10)))
    guard case .sat(let m) = try solver.check() else {
      Issue.record("expected sat")
      return
    }
    #expect(try m.evaluate(p))
    #expect(try m.evaluate(x) == 9)
    #expect(try m.evaluate(x + 1) == 10)
  }

  /// The SMT core alone (tactic `smt`): the same answers and models as the general solver, the
  /// same per-query resource limit, and an error for a tactic Z3 does not know.
  @Test func tacticSolverAnswersUnderTheSameLimits() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 32)
    let sat = try Solver(z3, tactic: "smt")
    sat.assert(!(x + 1).unsignedGreaterThan(x))
    guard case .sat(let model) = try sat.check(limits: QueryLimits(resourceLimit: 1_000_000)) else {
      Issue.record("x + 1 > x was not refuted by the SMT core")
      return
    }
    #expect(try model.evaluate(x) == 0xFFFF_FFFF)
    let unsat = try Solver(z3, tactic: "smt")
    unsat.assert(x.unsignedGreaterThan(x.constant(10)) && x.unsignedLessThan(x.constant(5)))
    #expect(try unsat.check().isUnsat)

    let hard = try Solver(z3, tactic: "smt")
    Self.assertFactoring(hard)
    let result = try hard.check(limits: QueryLimits(resourceLimit: 1000))
    guard case .unknown = result else {
      Issue.record("expected unknown under rlimit 1000, got \(result)")
      return
    }
    #expect(throws: Z3Error.self) { try Solver(z3, tactic: "no-such-tactic") }
  }
}
