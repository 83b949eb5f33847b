import Testing
import Z3

/// Proves `claim` for every value of its free variables: its negation must be unsat.
private func prove(_ claim: BoolExpr) throws -> CheckResult {
  let solver = Solver(claim.context)
  solver.assert(!claim)
  return try solver.check()
}

@Suite struct IdentityTests {
  @Test func xorWithSelfIsZeroForAll32BitValues() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 32)
    #expect(try prove((x ^ x) == 0).isUnsat)
  }

  @Test func shiftLeftOneIsDoublingForAll32BitValues() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 32)
    #expect(try prove(x.shiftLeft(by: 1) == x + x).isUnsat)
  }

  @Test func rotatesAndExtractsAgree() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 32)
    // rol(x, 8) == x[23:0] ++ x[31:24]
    let byExtract = x.extract(high: 23, low: 0).concat(x.extract(high: 31, low: 24))
    #expect(try prove(x.rotateLeft(by: 8) == byExtract).isUnsat)
    // A rotate by a term agrees with the rotate by a constant.
    #expect(try prove(x.rotateRight(by: x.constant(8)) == x.rotateLeft(by: 24)).isUnsat)
  }

  @Test func signAndZeroExtensionAgreeOnNonNegativeValues() throws {
    let z3 = try Z3Context()
    let b = z3.bitVectorConstant("b", width: 8)
    let claim = b.signedGreaterOrEqual(b.constant(0)).implies(b.signExtend(to: 32) == b.zeroExtend(to: 32))
    #expect(try prove(claim).isUnsat)
  }

  @Test func unsignedAndSignedComparisonsDifferAtTheSignBoundary() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 32)
    let y = x.constant(0x8000_0000)
    // 0x80000000 is unsigned-greater than 1 but signed-less.
    #expect(try prove(y.unsignedGreaterThan(y.constant(1)) && y.signedLessThan(y.constant(1))).isUnsat)
    // Division identity: x == (x / 7) * 7 + x % 7 for all unsigned x.
    let seven = x.constant(7)
    #expect(try prove(x == x.unsignedDivide(by: seven) * seven + x.unsignedRemainder(by: seven)).isUnsat)
    #expect(try prove(x == x.signedDivide(by: seven) * seven + x.signedRemainder(by: seven)).isUnsat)
  }

  @Test func iteSelectsByCondition() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 16)
    let y = z3.bitVectorConstant("y", width: 16)
    // max via ite is at least both
    let m = x.unsignedGreaterThan(y).ite(x, y)
    #expect(try prove(m.unsignedGreaterOrEqual(x) && m.unsignedGreaterOrEqual(y)).isUnsat)
  }

  @Test func arraysModelMemory() throws {
    let z3 = try Z3Context()
    let mem = z3.arrayConstant("mem", indexWidth: 32, valueWidth: 8)
    let a = z3.bitVectorConstant("a", width: 32)
    let b = z3.bitVectorConstant("b", width: 32)
    let v = z3.bitVectorConstant("v", width: 8)
    let written = mem.store(a, v)
    #expect(try prove(written.select(a) == v).isUnsat)
    #expect(try prove((a != b).implies(written.select(b) == mem.select(b))).isUnsat)
    // A constant array reads its value everywhere.
    let ones = z3.constantArray(indexWidth: 32, value: v.constant(0xFF))
    #expect(try prove(ones.select(a) == 0xFF).isUnsat)
  }

  @Test func wideBitVectorsWork() throws {
    let z3 = try Z3Context()
    let x = z3.bitVectorConstant("x", width: 128)
    let s = Solver(z3)
    s.assert(x.extract(high: 127, low: 64) == 0xDEAD_BEEF_0000_0001)
    s.assert(x.extract(high: 63, low: 0) == 0x1234)
    guard case .sat(let model) = try s.check() else {
      Issue.record("expected sat")
      return
    }
    #expect(try model.evaluateWords(x) == [0x1234, 0xDEAD_BEEF_0000_0001])
  }
}
