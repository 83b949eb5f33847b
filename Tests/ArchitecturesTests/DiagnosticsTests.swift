import Architectures
import Testing

@Suite struct DiagnosticsTests {
  @Test func collectsEveryProblemAndOrdersThemByPlace() {
    var c = ProblemCollector()
    c.report(ModelLocation(file: "xen.yaml", line: 12), "unknown component 'dom1'")
    c.report(ModelLocation(file: "esx.yaml", line: 3), "missing source")
    c.report(ModelLocation(file: "xen.yaml", line: 2), "schema 9 is not supported")
    #expect(throws: ModelProblems.self) { try c.check() }
    do {
      try c.check()
    } catch {
      #expect(
        error.description == """
          esx.yaml:3: error: missing source
          xen.yaml:2: error: schema 9 is not supported
          xen.yaml:12: error: unknown component 'dom1'
          """)
    }
  }

  @Test func noProblemsMeansNoError() throws {
    try ProblemCollector().check()
    #expect(ModelLocation(file: "built-in ESX").description == "built-in ESX")
  }
}
