import Architectures
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
      Theorem 1), hybrid (Theorem 3), and vtx=PRESET or vtx=FILE (VT-x trap-completeness \
      against what the VMM owns; presets: first-generation (the default for vtx), later; files: \
      models/vmx/*.yaml), and bt=FILE (a binary translator's rule table, checked against the \
      classification; bt alone reads models/bt/ring1.yaml). Exit 0 when the theorem holds, 1 \
      when it fails (each culprit listed with its witness), 3 when a query hit Z3's resource \
      limit and the verdict cannot be decided, 64 for a bad option or model file.
      """)

  @Option(name: .long, help: "ring1, ring3, hybrid, vtx[=PRESET|FILE], bt[=FILE].")
  var config = "ring1"

  @Option(name: .long, help: "Only the instructions whose mnemonic or form contains this text.")
  var only: String?

  @Option(name: .customLong("emit-smt2"), help: "Write every query as an SMT-LIB2 file into this directory.")
  var emitSMT2: String?

  @Flag(
    name: .long,
    help:
      "Replay each culprit's witness on the engine at the guest's CPL and at CPL 0 (VT-x: in non-root operation and on the bare machine)."
  )
  var replay = false

  @Option(name: .long, help: "Write the catalogue (Markdown and JSON) to this path prefix.")
  var catalogue: String?

  @OptionGroup var output: OutputOptions

  struct Result: Encodable {
    let report: ConfigurationReport
    let replays: [String: String]?
  }

  /// What `--config` names.
  enum Checked {
    case monitor(MonitorConfiguration)
    case vtx(VTXConfiguration)
    case bt(BTConfiguration)
  }

  /// Parses `--config`; a bad name or file is an input error listing every problem.
  func checked(_ reporter: inout Reporter) throws -> Checked {
    if let m = MonitorConfiguration(rawValue: config) { return .monitor(m) }
    if config == "vtx" || config.hasPrefix("vtx=") {
      let name = config == "vtx" ? "first-generation" : String(config.dropFirst(4))
      let c: VTXConfiguration
      if let preset = VTXConfiguration.preset(named: name) {
        c = preset
      } else if name.contains("/") || name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
        do {
          c = try VTXConfiguration.load(name)
        } catch {
          throw reporter.finish(.inputError, result: NoResult?.none, error: error.description)
        }
      } else {
        throw reporter.finish(
          .inputError, result: NoResult?.none,
          error:
            "virtlab verify pg: --config \(config): no VT-x preset '\(name)' (presets: "
            + VTXConfiguration.presets.map(\.name).joined(separator: ", ") + "; or a .yaml file)")
      }
      let problems = c.problems()
      if !problems.isEmpty {
        throw reporter.finish(
          .inputError, result: NoResult?.none,
          error: "virtlab verify pg: --config \(config): VM entry would fail:\n"
            + problems.map { "  \($0)" }.joined(separator: "\n"))
      }
      return .vtx(c)
    }
    if config == "bt" || config.hasPrefix("bt=") {
      let path = config == "bt" ? "models/bt/ring1.yaml" : String(config.dropFirst(3))
      do {
        return .bt(BTConfiguration(rules: try BTConfiguration.load(path)))
      } catch {
        throw reporter.finish(.inputError, result: NoResult?.none, error: error.description)
      }
    }
    throw reporter.finish(
      .inputError, result: NoResult?.none,
      error:
        "virtlab verify pg: --config \(config): unknown configuration (ring1, ring3, hybrid, vtx[=PRESET|FILE])"
    )
  }

  func run() throws {
    var reporter = Reporter(command: "verify pg", resultSchema: "virtlab.verify-pg/1", json: output.json)
    reporter.inputs = ["config": config, "only": only ?? "", "replay": String(replay)]
    let configuration = try checked(&reporter)
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
    let report: ConfigurationReport
    /// Each culprit's witness replayed on the engine, as `text` describes it.
    func replayed(_ text: (Culprit, Witness) throws -> String) throws -> [String: String]? {
      guard replay else { return nil }
      var r: [String: String] = [:]
      for culprit in report.culprits {
        guard let w = culprit.witness?.witness else { continue }
        r[culprit.instruction] = try text(culprit, w)
      }
      return r
    }
    let replays: [String: String]?
    switch configuration {
    case .vtx(let c):
      report = try c.check(instructions, smtDirectory: emitSMT2)
      // In VMX non-root operation, where the step should have exited, and on the bare machine;
      // a behaviour pair (two states alike but for what the VMM owns) with both in non-root.
      replays = try replayed { culprit, w in
        culprit.sensitivity[0].hasPrefix("behaviour:") && w.states.count == 2
          ? "both states in VMX non-root operation: "
            + (try w.replayBehaviour(assumptions: c.assumptions)).description
          : NonRootReplay(w.states[0], nonRoot: c.nonRoot, memorySize: Int(c.assumptions.memorySize))
            .description
      }
    case .bt(let c):
      report = try c.check(instructions, smtDirectory: emitSMT2)
      // A wrong rule's witness: a code-location pair, or a sensitivity witness at ring 1.
      replays = try replayed { culprit, w in
        culprit.sensitivity.contains("behaviour:code-location")
          ? try w.replayCodeLocation(assumptions: c.assumptions).description
          : DeprivilegedReplay(w.states[0], memorySize: Int(c.assumptions.memorySize)).description
      }
    case .monitor(let m):
      report = try m.check(instructions, smtDirectory: emitSMT2)
      replays = try replayed { _, w in
        DeprivilegedReplay(w.states[0], memorySize: Int(m.assumptions.memorySize)).description
      }
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
