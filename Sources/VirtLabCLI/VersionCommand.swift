import ArgumentParser

/// `virtlab version`: VirtLab's version and the linked references.
struct VersionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "version", abstract: "Print VirtLab's version and the linked Z3 version.")

  @OptionGroup var output: OutputOptions

  struct Result: Encodable {
    let virtlab: String
    let z3: String
  }

  func run() throws {
    let tools = Reporter.baseTools
    let result = Result(virtlab: virtlabVersion, z3: tools["z3"] ?? "?")
    if !output.json {
      print("virtlab \(result.virtlab)")
      print("z3 \(result.z3)")
    }
    let reporter = Reporter(command: "version", resultSchema: "virtlab.version/1", json: output.json)
    throw reporter.finish(.success, result: result)
  }
}
