import ExecEngine
import ISAModel
import ISATestSupport
import Testing
import Z3

@testable import Verifier

/// The Verifier's symbolic evaluation is the engine's semantics on Z3 terms: from a concrete
/// state (numerals), every instruction must end exactly as the engine's step does — the same
/// fault and error code, or the same registers, flags, segments, system registers, memory.
/// Undefined values take the engine's documented choice here (`undefinedAsChosen`).
@Suite struct SymbolicAgreementTests {
  /// Port reads give unconstrained values symbolically; the engine's devices answer.
  static let skipped: Set<Mnemonic> = [.input, .ins]

  @Test(arguments: [DifferentialRunner.Scope.user, .system])
  func symbolicStepsAgreeWithTheEngine(scope: DifferentialRunner.Scope) throws {
    let runner = try DifferentialRunner(scope: scope)
    let z3 = try Z3Context()
    let domain = TermDomain(z3, undefinedAsChosen: true)
    var compared = 0
    for seed in UInt64(0)..<400 {
      let k = try runner.makeCase(seed: seed)
      if Self.skipped.contains(k.instruction.mnemonic) { continue }
      let m = Machine(memorySize: 2 << 20)
      m.exceptionRouting = .stop
      let before = try DifferentialRunner.load(k, into: m)
      let image = m.memory.bytes(at: PhysicalAddress(0), count: m.memory.size)
      let outcome = m.run(budget: 1)
      let after = m.state
      let length = try Encoder.encode(k.instruction).count
      let initial = SymbolicState(
        before, memory: { a in Int(a) < image.count ? image[Int(a)] : 0xFF }, in: z3)
      let step = SymbolicStep(
        k.instruction, length: length, from: initial,
        assumptions: StepAssumptions(cpl: before.cpl, iopl: UInt8((before.eflags >> 12) & 3)), domain: domain)
      let differences = Self.differences(step, outcome.reason, after, image: image, machine: m)
      #expect(differences.isEmpty, "seed \(seed) (\(scope)): \(k.instruction): \(differences)")
      compared += 1
    }
    #expect(compared > 300)
  }

  static func literal(_ t: BitVector) -> UInt64? { t.simplified().literalValue }
  static func literal(_ t: BoolExpr) -> Bool? { t.simplified().literalValue }

  static func differences(
    _ step: SymbolicStep, _ reason: StopReason, _ after: CPUState, image: [UInt8], machine: Machine
  ) -> [String] {
    var out: [String] = []
    let fault = step.faults.first { literal($0.condition) == true }
    let gap = step.gaps.first { literal($0.condition) == true }
    let retires = literal(step.retires)
    switch reason {
    case .fault(let f):
      guard let fault else { return ["engine \(f), symbolic none (retires \(String(describing: retires)))"] }
      if fault.vector != f.vector { out.append("vector \(fault.vector) vs engine \(f.vector)") }
      let code = fault.errorCode.flatMap { literal($0) }.map { UInt32($0) }
      if f.vector.hasErrorCode && code != f.errorCode {
        out.append("error code \(String(describing: code)) vs engine \(String(describing: f.errorCode))")
      }
      return out
    case .modelGap(let what):
      if gap?.what != what { out.append("gap \(String(describing: gap?.what)) vs engine \(what)") }
      return out
    default:
      if let fault { return ["symbolic \(fault.vector), engine \(reason)"] }
      if let gap { return ["symbolic gap \(gap.what), engine \(reason)"] }
      if retires != true { return ["symbolic retires \(String(describing: retires))"] }
    }
    let s = step.final
    func word(_ name: String, _ t: BitVector, _ v: UInt32) {
      guard let x = literal(t) else { return out.append("\(name) not a literal") }
      if UInt32(x) != v { out.append("\(name) \(hex(UInt32(x))) vs engine \(hex(v))") }
    }
    for r in GPR.allCases { word(r.name(.dword), s.gprs[Int(r.rawValue)], after[r]) }
    word("eip", s.eip, after.eip)
    for (i, f) in Flag.allCases.enumerated() {
      let mine = literal(s.flags[i])
      if mine != (after.eflags & f.mask != 0) { out.append("\(f.name) \(String(describing: mine))") }
    }
    word("iopl", s.iopl, (after.eflags >> 12) & 3)
    for seg in SegmentRegister.allCases {
      let c = s.segments[Int(seg.rawValue)]
      let e = after[seg]
      word("\(seg.name).selector", c.selector, UInt32(e.selector))
      word("\(seg.name).base", c.base, e.base)
      word("\(seg.name).limit", c.limit, e.limit)
      word("\(seg.name).attributes", c.attributes, UInt32(e.attributes))
    }
    for (k, e) in [after.ldtr, after.tr].enumerated() {
      let c = s.systemSegments[k]
      word("system segment \(k).selector", c.selector, UInt32(e.selector))
      word("system segment \(k).base", c.base, e.base)
      word("system segment \(k).limit", c.limit, e.limit)
      word("system segment \(k).attributes", c.attributes, UInt32(e.attributes))
    }
    for (k, r) in SystemRegister.allCases.enumerated() { word(r.name, s.systemRegisters[k], after[r]) }
    for (k, m) in ModelSpecificRegister.all.enumerated() where m.kind == .storage {
      let v = after.msrs[m.index] ?? 0
      word("\(m.name).low", s.msrs[k].low, UInt32(truncatingIfNeeded: v))
      word("\(m.name).high", s.msrs[k].high, UInt32(truncatingIfNeeded: v >> 32))
    }
    // The engine's clock has advanced past the retired instruction; the symbolic step has no time.
    let tsc = after.tsc &- 1
    word("tsc.low", s.timeStampCounter.low, UInt32(truncatingIfNeeded: tsc))
    word("tsc.high", s.timeStampCounter.high, UInt32(truncatingIfNeeded: tsc >> 32))
    if literal(s.halted) != after.halted { out.append("halted") }
    if literal(s.interruptsInhibited) != (after.interruptsInhibitedUntil > after.clock) {
      out.append("interrupt shadow")
    }
    // Memory: every byte the symbolic step wrote holds the same value in the engine, and every
    // byte the engine changed was written symbolically.
    var written: [UInt32: UInt8] = [:]
    for w in s.memory.writes where literal(w.condition) == true {
      guard let a = literal(w.address), let b = literal(w.byte) else {
        out.append("a memory write not literal")
        continue
      }
      written[UInt32(a)] = UInt8(b)
    }
    for (a, b) in written where Int(a) < image.count {
      let e = machine.memory.bytes(at: PhysicalAddress(a), count: 1)[0]
      if e != b { out.append("memory \(hex(a)) \(b) vs engine \(e)") }
    }
    let now = machine.memory.bytes(at: PhysicalAddress(0), count: image.count)
    for a in now.indices where now[a] != image[a] && written[UInt32(a)] == nil {
      out.append("engine wrote memory \(hex(UInt32(a))), the symbolic step did not")
      break
    }
    return out
  }

  static func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16, uppercase: true) }
}
