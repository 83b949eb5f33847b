import ExecEngine
import Foundation
import ISAModel
import ISATestSupport
import Testing

/// Random bytes as a guest kernel's code, run natively and under trap-and-emulate in lockstep:
/// the monitor must never crash or hang on them, and wherever the two runs part, it must be at a
/// ring-1 culprit of the Verifier's catalogue (or at an instruction whose fault the culprit
/// before it caused). Seeded; a failing case prints its seed.
@Suite struct MonitorRandomCodeTests {
  @Test func runsPartOnlyAtCulprits() throws {
    let culprits = Set(try MonitorAgreementTests.culprits().keys)
    var failures: [String] = []
    var parted = 0
    for seed in UInt64(1)...60 {
      var rng = SplitMix64(seed: 0x7E57_0000_0000 + seed)
      let code = (0..<256).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      let d = try Equivalence.lockstep(code, budget: 200) { b, c throws(LoadError) in
        try TrapAndEmulate(guest: b, c)
      }
      guard let d else { continue }
      parted += 1
      if let i = d.instruction, culprits.contains(MonitorAgreementTests.key(i)) { continue }
      failures.append("seed \(0x7E57_0000_0000 + seed): \(d)")
    }
    let report = failures.prefix(8).joined(separator: "\n")
    #expect(failures.isEmpty, "\(failures.count) of \(parted) divergences are not at a culprit:\n\(report)")
  }
}
