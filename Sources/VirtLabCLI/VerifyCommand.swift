import ArgumentParser
import Foundation
import Verifier

/// `virtlab verify`: properties proved or refuted by Z3 from the semantics.
struct VerifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Prove or refute trap-completeness and isolation with Z3.",
    subcommands: [PopekGoldbergCommand.self])
}

/// `virtlab verify pg`: the Popek–Goldberg classification of every instruction form and the
/// verdict of Theorem 1 or 3 for a monitor configuration (docs/popek-goldberg.md).
struct PopekGoldbergCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "pg",
    abstract: "Classify every instruction form and check a monitor configuration (Popek & Goldberg).",
    discussion: """
      Configurations: ring1 and ring3 (trap-and-emulate with the guest kernel at that ring; \
      Theorem 1) and hybrid (Theorem 3). vtx and bt are not available yet (exit 69). Exit 0 \
      when the theorem holds, 1 when it fails (each culprit listed with its witness), 3 when a \
      query hit Z3's resource limit and the verdict cannot be decided.
      """)

  @Option(name: .long, help: "ring1, ring3 or hybrid.")
  var config = "ring1"

  @Option(name: .long, help: "Only the instructions whose mnemonic or form contains this text.")
  var only: String?

  @Option(name: .customLong("emit-smt2"), help: "Write every query as an SMT-LIB2 file into this directory.")
  var emitSMT2: String?

  @Flag(name: .long, help: "Replay each culprit's witness on the engine at the guest's CPL.")
  var replay = false

  @Option(name: .long, help: "Write the catalogue (Markdown and JSON) to this path prefix.")
  var catalogue: String?

  @OptionGroup var output: OutputOptions

  struct Result: Encodable {
    let report: ConfigurationReport
    let replays: [String: String]?
  }

  func run() throws {
    var reporter = Reporter(command: "verify pg", resultSchema: "virtlab.verify-pg/1", json: output.json)
    reporter.inputs = ["config": config, "only": only ?? "", "replay": String(replay)]
    guard let configuration = MonitorConfiguration(rawValue: config) else {
      if config.hasPrefix("vtx") || config.hasPrefix("bt") {
        throw reporter.finish(
          .notAvailable, result: NoResult?.none,
          error:
            "virtlab verify pg: --config \(config): the VT-x and binary-translation checks are not available yet"
        )
      }
      throw reporter.finish(
        .inputError, result: NoResult?.none,
        error: "virtlab verify pg: --config \(config): unknown configuration (ring1, ring3, hybrid)")
    }
    if let emitSMT2 {
      do {
        try FileManager.default.createDirectory(atPath: emitSMT2, withIntermediateDirectories: true)
      } catch {
        throw reporter.finish(
          .inputError, result: NoResult?.none, error: "virtlab verify pg: --emit-smt2 \(emitSMT2): \(error)")
      }
    }
    var instructions = Representatives.all()
    if let only {
      instructions = instructions.filter {
        $0.description.contains(only) || $0.form.spec.opcode.contains(only)
      }
      if instructions.isEmpty {
        throw reporter.finish(
          .inputError, result: NoResult?.none,
          error: "virtlab verify pg: --only \(only): no instruction matches")
      }
    }
    let report = try configuration.check(instructions, smtDirectory: emitSMT2)
    var replays: [String: String]?
    if replay {
      var r: [String: String] = [:]
      for c in report.culprits {
        guard let w = c.witness.witness else { continue }
        let run = ReplayRun(w.states[0], memorySize: Int(configuration.assumptions.memorySize))
        r[c.instruction] = "at CPL \(c.retiresAtCPL) the engine ends with \(run.result)"
      }
      replays = r
    }
    if let catalogue {
      do {
        try CatalogueDocument(report).write(to: catalogue)
      } catch {
        throw reporter.finish(
          .inputError, result: NoResult?.none, error: "virtlab verify pg: --catalogue: \(error)")
      }
    }
    if !output.json { print(CatalogueDocument(report).table(replays: replays)) }
    let status: ExitStatus =
      switch report.verdict {
      case "holds": .success
      case "fails": .propertyFails
      default: .budgetExhausted
      }
    throw reporter.finish(status, result: Result(report: report, replays: replays))
  }
}
