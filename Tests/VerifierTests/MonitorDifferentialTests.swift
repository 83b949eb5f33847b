import ExecEngine
import Foundation
import ISAModel
import ISATestSupport
import Testing

/// Random single instructions (the differential generator's cases: every user-level form, edge
/// values in registers and memory) run natively and under trap-and-emulate, from CPL 0 — the
/// guest kernel's ring, deprivileged to ring 1. Every form that is not a ring-1 culprit of the
/// Verifier's catalogue must leave the same state and memory on both (Popek and Goldberg's
/// equivalence for innocuous and privileged instructions); culprits are the probes' business
/// (MonitorAgreementTests). Seeded; a failing case prints its seed.
@Suite struct MonitorDifferentialTests {
  static let cases = 300

  @Test func nonCulpritsRunAsOnTheBareMachine() throws {
    let culprits = Set(try MonitorAgreementTests.culprits().keys)
    let runner = try DifferentialRunner(scope: .user)
    var compared = 0
    var failures: [String] = []
    for seed in UInt64(1)...UInt64(Self.cases * 2) where compared < Self.cases {
      let c = try runner.makeCase(seed: seed)
      guard !culprits.contains(MonitorAgreementTests.key(c.instruction)) else { continue }
      compared += 1
      let native = Machine(memorySize: 2 << 20)
      let state = try DifferentialRunner.load(c, into: native)
      let code = try Encoder.encode(c.instruction) + [0xF4]
      let monitor = try TrapAndEmulate(
        state: state, memorySize: 2 << 20,
        contents: [
          (DifferentialRunner.gdt, DifferentialRunner.gdtBytes), (DifferentialRunner.code, code),
          (DifferentialRunner.data32, c.data32), (DifferentialRunner.data16, c.data16),
        ])
      // The instruction (each element of a REP string) and the HLT after it; an exception goes
      // through the IDT both machines have at 0 (limit 0x3FF), however far that gets.
      let n = native.run(budget: 80)
      let m = monitor.run(budget: 80)
      let differences = Equivalence.compare(native: native, n, monitor: monitor, m)
      if !differences.isEmpty {
        failures.append(
          "seed \(seed): \(Disassembler.text(c.instruction)): "
            + differences.prefix(4).joined(separator: "; "))
      }
    }
    #expect(compared == Self.cases)
    let report = failures.prefix(10).joined(separator: "\n")
    #expect(failures.isEmpty, "\(failures.count) cases differ, first:\n\(report)")
  }
}
