import ISATestSupport
import Testing

/// The system instructions against unicorn at CPL 0, with random control, debug and table
/// registers (docs/testing.md). A failing case prints its seed: `virtlab-difftest --system show SEED`.
@Suite struct SystemDifferentialTests {
  @Test func systemInstructionsAgreeWithUnicornAtCPL0() throws {
    let runner = try DifferentialRunner(scope: .system)
    let cases = 4_000
    var failures: [String] = []
    for k in 0..<cases {
      failures += try runner.run(seed: 0x5757_0000_0000 &+ UInt64(k))
    }
    for f in failures.prefix(40) { Issue.record("\(f)") }
    #expect(failures.isEmpty, "\(failures.count) of \(cases) cases differ")
  }
}
