import ArgumentParser
import Foundation
import Verifier

/// The version of VirtLab itself, recorded in every report.
public let virtlabVersion = "0.1.0"

/// The JSON envelope every subcommand writes with `--json` (docs/cli.md): what ran, on what
/// inputs, with which tool versions, how it ended, and the subcommand's own result, whose
/// shape is named by `resultSchema`.
struct Report<Result: Encodable>: Encodable {
  let schema = "virtlab.report/1"
  let command: String
  let resultSchema: String
  let status: String
  let exitCode: Int32
  let inputs: [String: String]
  let tools: [String: String]
  let result: Result?
  let error: String?
}

/// The `--json` flag every subcommand takes.
struct OutputOptions: ParsableArguments {
  @Flag(name: .long, help: "Write a JSON report (schema virtlab.report/1) to standard output.")
  var json = false
}

/// Writes results in the shared contract and ends with a code of the shared table.
struct Reporter {
  let command: String
  let resultSchema: String
  let json: Bool
  var inputs: [String: String] = [:]
  /// The references this run used, beside VirtLab and Z3 (nasm, unicorn).
  var tools = Self.baseTools

  static var baseTools: [String: String] { ["virtlab": virtlabVersion, "z3": Toolchain.z3Version] }

  /// Writes the JSON report (when asked for) and returns the error to end the command with.
  func finish<R: Encodable>(_ status: ExitStatus, result: R?, error: String? = nil) -> ExitCode {
    if json {
      let report = Report(
        command: command, resultSchema: resultSchema, status: status.name,
        exitCode: status.rawValue, inputs: inputs, tools: tools, result: result, error: error)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      if let data = try? encoder.encode(report), let text = String(data: data, encoding: .utf8) {
        print(text)
      } else {
        Self.diagnose("virtlab \(command): internal error: the report could not be encoded")
        return ExitCode(ExitStatus.internalError.rawValue)
      }
    }
    if let error, !json { Self.diagnose(error) }
    return ExitCode(status.rawValue)
  }

  /// Writes one line to standard error.
  static func diagnose(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
  }
}

/// A result with no fields, for reports that carry only a status.
struct NoResult: Encodable {}
