import ArgumentParser
import Foundation
import Verifier

/// `virtlab smt FILE`: runs an SMT-LIB2 script through the linked Z3, as the z3 command would.
struct SMTCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "smt",
    abstract: "Run an SMT-LIB2 script with the linked Z3.",
    discussion: """
      Commands run in order in one Z3 interpreter (push/pop, check-sat, get-model, get-value …) \
      and print what z3 would print. Any (error …) makes the run fail with code 64, naming \
      the script's line and column; like z3, later commands still run.
      """)

  @Argument(help: "The SMT-LIB2 script.")
  var file: String

  @Flag(name: .long, help: "Print the model after each sat answer.")
  var model = false

  @OptionGroup var output: OutputOptions

  struct CommandResult: Encodable {
    let line: Int
    let column: Int
    let command: String
    let answer: SMTOutcome.Answer?
    let model: String?
    let output: String
    let error: String?
  }

  struct Result: Encodable {
    let answers: [SMTOutcome.Answer]
    let commands: [CommandResult]
  }

  func run() throws {
    var reporter = Reporter(command: "smt", resultSchema: "virtlab.smt/1", json: output.json)
    reporter.inputs = ["file": file, "model": String(model)]
    guard let data = FileManager.default.contents(atPath: file) else {
      let why = FileManager.default.fileExists(atPath: file) ? "cannot be read" : "does not exist"
      throw reporter.finish(.inputError, result: NoResult?.none, error: "virtlab smt: \(file): \(why)")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw reporter.finish(
        .inputError, result: NoResult?.none, error: "virtlab smt: \(file): not UTF-8 text")
    }
    reporter.inputs["bytes"] = String(data.count)
    let script: SMTScript
    do {
      script = try SMTScript(text)
    } catch {
      throw reporter.finish(
        .inputError, result: NoResult?.none,
        error: "\(file):\(error.line):\(error.column): error: \(error.message)")
    }
    let outcomes: [SMTOutcome]
    do {
      outcomes = try script.run(models: model)
    } catch {
      throw reporter.finish(.internalError, result: NoResult?.none, error: "virtlab smt: \(error)")
    }
    var errors: [String] = []
    for o in outcomes {
      if !output.json {
        print(o.output, terminator: "")
        if let m = o.model { print(m, terminator: "") }
      }
      if let e = o.error {
        errors.append("\(file):\(Self.place(of: e, default: o.command)): error: \(Self.message(of: e))")
      }
    }
    let result = Result(
      answers: outcomes.compactMap(\.answer),
      commands: outcomes.map {
        CommandResult(
          line: $0.command.line, column: $0.command.column, command: $0.command.name,
          answer: $0.answer, model: $0.model, output: $0.output, error: $0.error)
      })
    let status: ExitStatus = errors.isEmpty ? .success : .inputError
    throw reporter.finish(
      status, result: result, error: errors.isEmpty ? nil : errors.joined(separator: "\n"))
  }

  /// "line L column C: msg" → "L:C", else the command's own start.
  static func place(of error: String, default command: SMTScript.Command) -> String {
    let parts = error.split(separator: " ", maxSplits: 4)
    if parts.count >= 4, parts[0] == "line", parts[2] == "column", let l = Int(parts[1]),
      let c = Int(parts[3].trimmingCharacters(in: CharacterSet(charactersIn: ":")))
    {
      return "\(l):\(c)"
    }
    return "\(command.line):\(command.column)"
  }

  static func message(of error: String) -> String {
    guard error.hasPrefix("line "), let colon = error.firstIndex(of: ":") else { return error }
    return String(error[error.index(after: colon)...].drop { $0 == " " })
  }
}
