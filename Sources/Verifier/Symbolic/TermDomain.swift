/// The semantic domain over Z3 terms (DESIGN.md decision 1): the same instruction definitions the
/// engine runs on `UInt32`, evaluated on 32-bit bit-vector terms. Undefined values become named
/// constants, numbered in the order a step asks for them, so two runs of one instruction over
/// two states share them (a behaviour-sensitivity query must not see MUL's undefined flags as a
/// difference: issue 5).
import ISAModel
import Z3

public final class TermDomain: SemanticDomain {
  public typealias Value = BitVector
  public typealias Truth = BoolExpr

  public let context: Z3Context
  /// How many undefined values this step has asked for; named `undefined.<what>.<n>`.
  var undefinedCount = 0
  /// The names of the undefined values made so far.
  public private(set) var undefinedNames: [String] = []
  /// Values the semantics read as Swift values after the step had changed them (the CPL after
  /// a CS load): each makes the step's result untrustworthy, so it is reported, never ignored.
  public internal(set) var staleReads: [String] = []
  /// The step read the CPL or the IOPL as a Swift value: its terms then depend on the
  /// assumption, and a query over another CPL or IOPL needs its own evaluation.
  /// Instructions whose CPL 0 check is left out: a mutation, for tests that show a verdict
  /// rests on the check.
  public var droppedCPL0Checks: Set<Mnemonic> = []
  public internal(set) var readsCPL = false
  public internal(set) var readsIOPL = false

  /// Undefined values take the engine's documented choice instead of being fresh: for checking
  /// this domain against the engine value for value.
  public let undefinedAsChosen: Bool

  public init(_ context: Z3Context, undefinedAsChosen: Bool = false) {
    self.context = context
    self.undefinedAsChosen = undefinedAsChosen
  }

  /// Starts a new step: the next undefined value is number 0 again.
  public func restartUndefinedValues() {
    undefinedCount = 0
    undefinedNames = []
    staleReads = []
    readsCPL = false
    readsIOPL = false
  }

  public func constant(_ v: UInt32) -> BitVector { context.bitVector(UInt64(v), width: 32) }
  public func truth(_ b: Bool) -> BoolExpr { context.bool(b) }

  public func add(_ a: BitVector, _ b: BitVector) -> BitVector { a + b }
  public func sub(_ a: BitVector, _ b: BitVector) -> BitVector { a - b }
  public func mul(_ a: BitVector, _ b: BitVector) -> BitVector { a * b }
  public func mulHighUnsigned(_ a: BitVector, _ b: BitVector) -> BitVector {
    (a.zeroExtend(to: 64) * b.zeroExtend(to: 64)).extract(high: 63, low: 32)
  }
  public func mulHighSigned(_ a: BitVector, _ b: BitVector) -> BitVector {
    (a.signExtend(to: 64) * b.signExtend(to: 64)).extract(high: 63, low: 32)
  }
  public func and(_ a: BitVector, _ b: BitVector) -> BitVector { a & b }
  public func or(_ a: BitVector, _ b: BitVector) -> BitVector { a | b }
  public func xor(_ a: BitVector, _ b: BitVector) -> BitVector { a ^ b }
  public func not(_ a: BitVector) -> BitVector { ~a }
  // SMT-LIB's shifts give 0 (or sign copies) for counts ≥ the width, as the protocol asks.
  public func shiftLeft(_ a: BitVector, _ count: BitVector) -> BitVector { a.shiftLeft(by: count) }
  public func shiftRight(_ a: BitVector, _ count: BitVector) -> BitVector { a.logicalShiftRight(by: count) }
  public func shiftRightArithmetic(_ a: BitVector, _ count: BitVector) -> BitVector {
    a.arithmeticShiftRight(by: count)
  }

  public func equal(_ a: BitVector, _ b: BitVector) -> BoolExpr { a == b }
  public func unsignedLess(_ a: BitVector, _ b: BitVector) -> BoolExpr { a.unsignedLessThan(b) }
  public func signedLess(_ a: BitVector, _ b: BitVector) -> BoolExpr { a.signedLessThan(b) }

  public func select(_ c: BoolExpr, _ a: BitVector, _ b: BitVector) -> BitVector { c.ite(a, b) }
  public func select(_ c: BoolExpr, _ a: BoolExpr, _ b: BoolExpr) -> BoolExpr { c.ite(a, b) }
  public func and(_ a: BoolExpr, _ b: BoolExpr) -> BoolExpr { a && b }
  public func or(_ a: BoolExpr, _ b: BoolExpr) -> BoolExpr { a || b }
  public func xor(_ a: BoolExpr, _ b: BoolExpr) -> BoolExpr { a.xor(b) }
  public func not(_ a: BoolExpr) -> BoolExpr { !a }
  public func value(_ t: BoolExpr) -> BitVector { t.ite(constant(1), constant(0)) }

  public func parityEven(_ a: BitVector) -> BoolExpr {
    var bits = a.extract(high: 0, low: 0)
    for k in 1..<8 { bits = bits ^ a.extract(high: k, low: k) }
    return bits == bits.constant(0)
  }

  public func trailingZeros(_ a: BitVector) -> BitVector {
    var n = constant(32)
    for k in stride(from: 31, through: 0, by: -1) { n = a.bit(k).ite(constant(UInt32(k)), n) }
    return n
  }

  public func leadingZeros(_ a: BitVector) -> BitVector {
    var n = constant(32)
    for k in 0..<32 { n = a.bit(k).ite(constant(UInt32(31 - k)), n) }
    return n
  }

  public func byteSwap(_ a: BitVector) -> BitVector {
    a.extract(high: 7, low: 0).concat(a.extract(high: 15, low: 8)).concat(a.extract(high: 23, low: 16))
      .concat(a.extract(high: 31, low: 24))
  }

  /// DIV/IDIV at `size`: the `2 × size`-bit dividend `high:low` over the divisor, in a bit-vector
  /// twice as wide; SMT-LIB's bvsdiv and bvsrem truncate toward zero as IDIV does (SDM Vol. 2A).
  public func divide(high: BitVector, low: BitVector, by divisor: BitVector, size: OperandSize, signed: Bool)
    -> (quotient: BitVector, remainder: BitVector, fault: BoolExpr)
  {
    let n = Int(size.bits)
    let dividend = high.extract(high: n - 1, low: 0).concat(low.extract(high: n - 1, low: 0))
    let d = divisor.extract(high: n - 1, low: 0)
    let wide = signed ? d.signExtend(to: 2 * n) : d.zeroExtend(to: 2 * n)
    let zero = d == d.constant(0)
    let q = signed ? dividend.signedDivide(by: wide) : dividend.unsignedDivide(by: wide)
    let r = signed ? dividend.signedRemainder(by: wide) : dividend.unsignedRemainder(by: wide)
    let fits: BoolExpr
    if signed {
      // The quotient fits when extending its low n bits gives it back.
      fits = q.extract(high: n - 1, low: 0).signExtend(to: 2 * n) == q
    } else {
      fits = q.extract(high: 2 * n - 1, low: n) == q.extract(high: 2 * n - 1, low: n).constant(0)
    }
    func widen(_ v: BitVector) -> BitVector { n == 32 ? v : v.zeroExtend(to: 32) }
    return (
      widen(q.extract(high: n - 1, low: 0)), widen(r.extract(high: n - 1, low: 0)), zero || !fits
    )
  }

  public func undefined(_ what: Undefined, concrete: BitVector) -> BitVector {
    undefinedAsChosen ? concrete : context.bitVectorConstant(nextUndefinedName(what), width: 32)
  }

  public func undefined(_ what: Undefined, concrete: BoolExpr) -> BoolExpr {
    undefinedAsChosen ? concrete : context.boolConstant(nextUndefinedName(what))
  }

  func nextUndefinedName(_ what: Undefined) -> String {
    let name = "undefined.\(what.name).\(undefinedCount)"
    undefinedCount += 1
    undefinedNames.append(name)
    return name
  }
}
