import ExecEngine
import Foundation
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
    // Page by page with memcmp: a byte loop over 16 MiB is slow in a debug build.
    let now = machine.memory.bytes(at: PhysicalAddress(0), count: image.count)
    now.withUnsafeBytes { n in
      image.withUnsafeBytes { i in
        for page in stride(from: 0, to: image.count, by: 4096) {
          let length = min(4096, image.count - page)
          guard memcmp(n.baseAddress! + page, i.baseAddress! + page, length) != 0 else { continue }
          for a in page..<(page + length) where n[a] != i[a] && written[UInt32(a)] == nil {
            out.append("engine wrote memory \(hex(UInt32(a))), the symbolic step did not")
            return
          }
        }
      }
    }
    return out
  }

  static func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16, uppercase: true) }
}

/// The same agreement inside the guest kernels of models/guests: paging on, ring 3 and ring 0,
/// INT 0x80 and IRET across rings, #PF, CR3 switches and INVLPG — sampled steps of real runs.
@Suite struct GuestKernelAgreementTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// The symbolic step of `i` from `before` over `image`, against the engine's outcome.
  static func compare(
    _ i: Instruction, _ length: Int, _ before: CPUState, _ reason: StopReason, image: [UInt8],
    machine m: Machine, _ domain: TermDomain
  ) -> [String] {
    // The interrupt shadow a step starts in (after STI, say) ends with that step on the engine's
    // clock; the semantics only ever set it. What the step leaves is its own shadow.
    var start = before
    if start.interruptsInhibitedUntil <= start.clock &+ 1 { start.interruptsInhibitedUntil = 0 }
    let initial = SymbolicState(
      start, memory: { a in Int(a) < image.count ? image[Int(a)] : 0xFF }, in: domain.context)
    let symbolic = SymbolicStep(
      i, length: length, from: initial,
      assumptions: StepAssumptions(cpl: before.cpl, iopl: UInt8((before.eflags >> 12) & 3)), domain: domain)
    return SymbolicAgreementTests.differences(symbolic, reason, m.state, image: image, machine: m)
  }

  @Test(arguments: ["syscall", "pgfault", "forkwait", "callret3", "divzero", "ptemod"])
  func sampledStepsAgree(workload: String) throws {
    let binary = try Nasm.assemble(file: Self.root.appendingPathComponent("models/guests/\(workload).asm"))
    let m = try Loader.machine(flat: binary)
    let z3 = try Z3Context()
    let domain = TermDomain(z3, undefinedAsChosen: true)
    var samples = 0
    var kinds: Set<Mnemonic> = []
    var faults = 0
    var seen: [String: Int] = [:]
    for step in 0..<60_000 {
      let before = m.state
      let window = m.memory.bytes(at: PhysicalAddress(before.eip), count: 16)
      guard case .instruction(let i, let length) = Decoder.decode(window) else { break }
      // The first three of each instruction at each CPL, and every 997th step.
      let key = "\(i.mnemonic)/\(before.cpl)"
      let sample = seen[key, default: 0] < 3 || step % 997 == 0
      seen[key, default: 0] += 1
      if !sample || SymbolicAgreementTests.skipped.contains(i.mnemonic) {
        // Faults are compared too: a faulting step leaves memory as it found it, so the
        // memory after it serves as the image (only then is one copied).
        m.exceptionRouting = .stop
        let out = m.run(budget: 1)
        m.exceptionRouting = .deliver
        if case .fault = out.reason, faults < 10 {
          let image = m.memory.bytes(at: PhysicalAddress(0), count: m.memory.size)
          let differences = Self.compare(i, length, before, out.reason, image: image, machine: m, domain)
          #expect(
            differences.isEmpty, "\(workload) step \(step): \(i) faulting at \(before.eip): \(differences)")
          faults += 1
        }
        if case .fault = out.reason {
          _ = m.run(budget: 1)  // delivered now
          continue
        }
        if out.reason != .budgetExhausted { break }
        continue
      }
      let image = m.memory.bytes(at: PhysicalAddress(0), count: m.memory.size)
      m.exceptionRouting = .stop
      let outcome = m.run(budget: 1)
      m.exceptionRouting = .deliver
      let differences = Self.compare(i, length, before, outcome.reason, image: image, machine: m, domain)
      #expect(
        differences.isEmpty,
        "\(workload) step \(step): \(i) at \(before.eip) CPL \(before.cpl): \(differences)")
      samples += 1
      kinds.insert(i.mnemonic)
      if case .fault = outcome.reason {
        faults += 1
        _ = m.run(budget: 1)  // delivered now
        continue
      }
      if outcome.reason != .budgetExhausted { break }
    }
    #expect(samples >= 30, "\(workload): \(samples) samples")
    print("\(workload): \(samples) samples, \(faults) faults: \(kinds.map { "\($0)" }.sorted())")
    let required: [String: (Set<Mnemonic>, faults: Bool)] = [
      "syscall": ([.int, .iret], false), "pgfault": ([.iret, .invlpg], true),
      "forkwait": ([.movControl], false),
      "ptemod": ([.invlpg], false), "divzero": ([.div], true),
    ]
    if let (mnemonics, wantFaults) = required[workload] {
      #expect(mnemonics.isSubset(of: kinds), "\(workload): sampled \(kinds)")
      #expect(!wantFaults || faults > 0, "\(workload): no fault sampled")
    }
  }
}
