import ArgumentParser

/// A subcommand whose issue has not landed: it says so and ends with `notAvailable` (69),
/// never with a made-up result.
protocol PlannedCommand: ParsableCommand {
  static var name: String { get }
  /// What will provide it.
  static var arrivesWith: String { get }
  var output: OutputOptions { get }
  var inputs: [String] { get }
}

extension PlannedCommand {
  func run() throws {
    var reporter = Reporter(command: Self.name, resultSchema: "virtlab.\(Self.name)/1", json: output.json)
    reporter.inputs = ["arguments": inputs.joined(separator: " ")]
    let message = "virtlab \(Self.name) is not available yet: it arrives with \(Self.arrivesWith)."
    throw reporter.finish(.notAvailable, result: NoResult?.none, error: message)
  }
}

struct SimulateCommand: PlannedCommand {
  static let name = "simulate"
  static let arrivesWith = "the Simulator issue"
  static let configuration = CommandConfiguration(
    commandName: name, abstract: "Price a run's events on a CPU profile (not available yet).")
  @Argument(help: "What to simulate.") var inputs: [String] = []
  @OptionGroup var output: OutputOptions
}

struct ExploreCommand: PlannedCommand {
  static let name = "explore"
  static let arrivesWith = "the Simulator's sweep issue"
  static let configuration = CommandConfiguration(
    commandName: name, abstract: "Sweep a parameter to find trade-off points (not available yet).")
  @Argument(help: "The sweep.") var inputs: [String] = []
  @OptionGroup var output: OutputOptions
}

struct ReportCommand: PlannedCommand {
  static let name = "report"
  static let arrivesWith = "the report issue, once verify, run and simulate exist"
  static let configuration = CommandConfiguration(
    commandName: name, abstract: "Write the full comparison of ESX, Xen and Hyper-V (not available yet).")
  @Argument(help: "What to report on.") var inputs: [String] = []
  @OptionGroup var output: OutputOptions
}
