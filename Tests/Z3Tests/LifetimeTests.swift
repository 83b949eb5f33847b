import Testing

@testable import Z3

@Suite struct LifetimeTests {
  /// Many queries in one context: every term, solver and model is released afterwards,
  /// so the count of live references returns to where it started.
  @Test func manyQueriesLeaveNoLiveReferences() throws {
    let z3 = try Z3Context()
    let baseline = z3.liveObjects
    for i in 0..<500 {
      do {
        let x = z3.bitVectorConstant("x\(i)", width: 32)
        let s = Solver(z3)
        s.assert((x * 3) == UInt64(i))
        s.assert(x.unsignedLessThan(x.constant(1000)), named: "t\(i)")
        if case .sat(let m) = try s.check() {
          _ = try m.evaluate(x)
          _ = m.description
        }
      }
      #expect(z3.liveObjects == baseline, "iteration \(i) left references")
    }
    #expect(z3.liveObjects == 0)
  }

  /// Contexts are freed when their last term goes, and Z3's own allocation does not grow
  /// across rounds of create–query–free.
  @Test func termsKeepTheirContextAlive() throws {
    var x: BitVector?
    do {
      let z3 = try Z3Context()
      x = z3.bitVectorConstant("x", width: 8)
    }
    // The context is gone from scope but alive through x.
    let y = try #require(x) + 1
    #expect(y.description == "(bvadd x #x01)")
    let s = Solver(y.context)
    s.assert(y == 0)
    guard case .sat(let m) = try s.check() else {
      Issue.record("expected sat")
      return
    }
    #expect(try m.evaluate(try #require(x)) == 0xFF)
  }

  @Test func versionIsReported() {
    #expect(Z3Context.version.split(separator: ".").count == 4)
    #expect(
      Z3Context.fullVersion.hasPrefix(
        Z3Context.version.split(separator: ".").prefix(2).joined(separator: ".")))
  }

  /// A simplification is made once per term and remembered: asking again gives the same AST
  /// without a new entry, and the context, with everything it remembers, is still freed.
  @Test func simplificationsAreRememberedAndFreed() throws {
    weak var gone: Z3Context?
    do {
      let z3 = try Z3Context()
      gone = z3
      let x = z3.bitVectorConstant("x", width: 32)
      let sum = (x + 3) - 3
      let first = sum.simplified()
      #expect(first.isSameTerm(as: x))
      let entries = z3.simplifications.count
      #expect(sum.simplified().isSameTerm(as: first))
      #expect(z3.simplifications.count == entries)
      #expect(((x & 0) == 0).simplified().literalValue == true)
      #expect(z3.simplifications.count == entries + 1)
      #expect(z3.liveObjects > 0)
    }
    #expect(gone == nil, "a context that remembers simplifications was not freed")
  }
}
