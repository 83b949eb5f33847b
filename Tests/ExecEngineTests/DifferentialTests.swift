import ISATestSupport
import Testing

/// The engine against unicorn, instruction by instruction (docs/testing.md). The case count can
/// be raised with VIRTLAB_DIFF_CASES; a failing case prints its seed, which reproduces it.
@Suite struct DifferentialTests {
  @Test func randomInstructionsAgreeWithUnicorn() throws {
    let runner = try DifferentialRunner()
    let cases = 20_000
    var failures: [String] = []
    for k in 0..<cases {
      let seed = 0xD1FF_0000_0000 &+ UInt64(k)
      failures += try runner.run(seed: seed)
    }
    for f in failures.prefix(40) { Issue.record("\(f)") }
    #expect(failures.isEmpty, "\(failures.count) of \(cases) cases differ")
  }
}
