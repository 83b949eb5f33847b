import ArgumentParser

/// The `virtlab` command line: verify · run · simulate · explore · report, plus tools.
public struct VirtLab: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "virtlab",
    abstract: "A formal model and simulator of x86 virtualization architectures.",
    discussion: """
      Every subcommand takes --json (a report of schema virtlab.report/1) and ends with a code \
      from one shared table:
      \(ExitStatus.table)
      """,
    version: virtlabVersion,
    subcommands: [
      VerifyCommand.self, RunCommand.self, SimulateCommand.self, ExploreCommand.self,
      ReportCommand.self, SMTCommand.self, VersionCommand.self,
    ]
  )

  public init() {}
}
