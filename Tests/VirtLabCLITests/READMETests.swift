import Foundation
import Testing

/// The README's CLI section must be what `virtlab --help` prints.
@Suite struct READMETests {
  @Test func cliSectionMatchesHelp() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
    let marker = try #require(readme.firstRange(of: "<!-- virtlab --help -->\n```\n"))
    let rest = readme[marker.upperBound...]
    let end = try #require(rest.firstRange(of: "\n```"))
    let documented = String(rest[..<end.lowerBound])
    let help = try VirtLabProcess.run(["--help"])
    #expect(documented == help.out.trimmingCharacters(in: .newlines))
  }
}
