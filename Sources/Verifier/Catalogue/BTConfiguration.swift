/// Binary translation checked against the computed classification: a translator's rule table
/// (`TranslationRules`, the monitor's declared policy) for guest kernel code run at ring 1, with
/// EIP and the code's location part of the control state (the translated code runs elsewhere,
/// in the translation cache). Every sensitive instruction must be a callout; every other one
/// whose effect depends on where the code runs — control flow, a pushed return address — must
/// be rewritten; the rest may be copied unchanged. A rule that breaks this is reported with the
/// witness that shows why.
import Architectures
import Foundation
import ISAModel
import Z3

/// The BT check of one rule table.
public struct BTConfiguration: Sendable {
  public var rules: TranslationRules

  public init(rules: TranslationRules) { self.rules = rules }

  public static let schema = "virtlab.bt-rules/1"

  /// The assumptions of the sensitivity queries: ring 1's, the guest kernel's CPL under BT.
  public var assumptions: ClassificationAssumptions {
    var a = MonitorConfiguration.ring1.assumptions
    // Translated code runs elsewhere: the monitor owns EIP (asked by `codeLocationDependence`).
    a.ownership.resources.insert(.eip)
    return a
  }

  public var statedAssumptions: [String] {
    MonitorConfiguration.ring1.statedAssumptions + [
      "translated guest kernel code runs at CPL 1 from the translation cache: EIP and the code's "
        + "location are the monitor's",
      "rule table \(rules.name): \(rules.source)",
    ]
  }

  /// Classifies `instructions` and checks the table's rule for each.
  public func check(_ instructions: [Instruction], smtDirectory: String? = nil) throws -> ConfigurationReport
  {
    let rules = rules
    let (outcomes, cost) = try eachWithFreshClassifier(
      instructions, assumptions, smtDirectory: smtDirectory
    ) { i, c in
      var row = try c.classify(i)
      let location = try c.codeLocationDependence(i)
      switch location {
      case .witness(let w):
        row.behaviourSensitive.append("code-location")
        row.witnesses["behaviour:code-location"] = try WitnessSummary(w, in: c.z3)
      case .unknown(let why): row.unknown.append("code-location (\(why))")
      case .none: break
      }
      let rule = rules.rule(for: i)
      row.translation = rule?.rawValue
      var out = RowOutcome(row)
      guard let rule else {
        out.culprits.append(
          Culprit(
            instruction: row.instruction, sensitivity: ["no rule in the table"], retiresAtCPL: 1,
            witness: nil))
        return out
      }
      let sensitive =
        !row.controlSensitive.isEmpty || row.behaviourSensitive.contains { $0 != "code-location" }
      let needs: TranslationClass =
        sensitive ? .callout : row.behaviourSensitive.contains("code-location") ? .rewrite : .ident
      if row.outcome == "unknown" { return out }
      if rule < needs {
        let why =
          needs == .callout
          ? row.controlSensitive.map { "control:\($0)" }
            + row.behaviourSensitive.filter { $0 != "code-location" }.map { "behaviour:\($0)" }
          : ["behaviour:code-location"]
        // The finding names are the witnesses' keys.
        out.culprits.append(
          Culprit(
            instruction: row.instruction,
            sensitivity: ["\(rule.rawValue) where \(needs.rawValue) is needed"] + why, retiresAtCPL: 1,
            witness: row.witnesses[why[0]]))
      } else if rule > needs {
        out.notes.append(
          "\(row.instruction): \(rule.rawValue) where \(needs.rawValue) would do (correct, slower)")
      }
      return out
    }
    let (rows, culprits, unknown, notes) = gather(outcomes)
    let verdict = !culprits.isEmpty ? "fails" : unknown.isEmpty ? "holds" : "unknown"
    var report = ConfigurationReport(
      configuration: "bt=\(rules.name)",
      theorem: "binary translation (every rule at least what the classification needs)",
      assumptions: statedAssumptions, verdict: verdict, rows: rows, culprits: culprits, unknown: unknown,
      queries: 0, seconds: 0)
    cost.record(in: &report)
    report.notes = notes
    return report
  }

  /// Reads a rule table (schema `virtlab.bt-rules/1`):
  /// `name`, `source`, optional `default` (a class), and `rules`: a list of mappings with
  /// `class`, `source`, and `mnemonics` or `forms`.
  public static func load(_ path: String) throws(ModelProblems) -> TranslationRules {
    try rules(file: try ModelFile.load(path))
  }

  public static func rules(file: ModelFile) throws(ModelProblems) -> TranslationRules {
    var r = ModelReader()
    let root = file.root
    let top =
      r.mapping(root, "the rule table", allowed: ["schema", "name", "source", "default", "rules"]) ?? [:]
    r.schema(root, expected: schema)
    let name = r.string(top["name"], "name:", in: root) ?? ""
    let source = r.string(top["source"], "source:", in: root) ?? ""
    let classes = Dictionary(uniqueKeysWithValues: TranslationClass.allCases.map { ($0.rawValue, $0) })
    var fallback: TranslationClass?
    if let d = top["default"] {
      if let s = d.scalar, let c = classes[s] {
        fallback = c
      } else {
        r.report(d.location, "default: '\(d.scalar ?? d.kind)' is not ident, rewrite or callout")
      }
    }
    let mnemonicNames = Dictionary(
      uniqueKeysWithValues: Mnemonic.allCases.map { (String(describing: $0), $0) })
    let formNames = Set(OpcodeTable.forms.map(\.opcode))
    var mnemonics: [String: TranslationClass] = [:]
    var forms: [String: TranslationClass] = [:]
    if let list = top["rules"].flatMap({ r.list($0, "rules:") }) {
      for item in list {
        guard let m = r.mapping(item, "a rule", allowed: ["class", "source", "mnemonics", "forms"]) else {
          continue
        }
        _ = r.string(m["source"], "source: of the rule", in: item)
        guard let cn = m["class"] else {
          r.report(item.location, "a rule needs class: (ident, rewrite or callout)")
          continue
        }
        guard let s = cn.scalar, let c = classes[s] else {
          r.report(cn.location, "class: '\(cn.scalar ?? cn.kind)' is not ident, rewrite or callout")
          continue
        }
        if m["mnemonics"] == nil && m["forms"] == nil {
          r.report(item.location, "a rule names mnemonics: or forms:")
        }
        if let n = m["mnemonics"], let names = r.list(n, "mnemonics") {
          for x in names {
            guard let t = x.scalar, mnemonicNames[t] != nil else {
              r.report(x.location, "mnemonics: '\(x.scalar ?? x.kind)' is not a mnemonic of the model")
              continue
            }
            if mnemonics[t] != nil { r.report(x.location, "mnemonics: '\(t)' has a rule already") }
            mnemonics[t] = c
          }
        }
        if let n = m["forms"], let names = r.list(n, "forms") {
          for x in names {
            guard let t = x.scalar, formNames.contains(t) else {
              r.report(x.location, "forms: '\(x.scalar ?? x.kind)' is not a form of the opcode table")
              continue
            }
            if forms[t] != nil { r.report(x.location, "forms: '\(t)' has a rule already") }
            forms[t] = c
          }
        }
      }
    } else if top["rules"] == nil {
      r.report(root.location, "missing rules:")
    }
    try r.check()
    return TranslationRules(
      name: name, source: source, mnemonics: mnemonics, forms: forms, fallback: fallback)
  }
}

extension SensitivityClassifier {
  /// Whether `i`'s effect depends on where its code runs: a retiring step that does not go on
  /// to the next instruction (control flow), or two states whose code sits at different
  /// addresses that end differing in guest-visible state or in where they go relative to
  /// their own code (a pushed return address, an absolute or indirect target).
  public func codeLocationDependence(_ i: Instruction) throws -> SensitivityAnswer {
    let bytes = try Encoder.encode(i)
    let s = freeState()
    let cpls = assumptions.cpls
    var sawUnknown: String?
    for a in evaluations(i, from: s, cpls: cpls) where a.step.staleReads.isEmpty {
      currentQuery = "\(i) control-flow cpl \(a.cpl.map(String.init) ?? "any")"
      let next = a.step.initial.eip + UInt64(bytes.count)
      switch try solve([precondition(a, bytes: bytes, cpls: cpls), a.step.final.eip != next]) {
      case .sat(let model):
        return .witness(try Witness(model, steps: [a.step], cpls: [a.cpl], instruction: i))
      case .unknown(let why): sawUnknown = why
      case .unsat: break
      }
      // The same state with its code moved by δ.
      let delta = z3.bitVectorConstant("code.displacement", width: 32)
      var t = s
      t.eip = s.eip + delta
      let b = Evaluation(step: evaluate(i, from: t, cpl: a.cpl ?? cpls[0]), cpl: a.cpl)
      guard b.step.staleReads.isEmpty else { continue }
      currentQuery = "\(i) code-location cpl \(a.cpl.map(String.init) ?? "any")"
      let differ =
        visiblyDiffer(a.step, b.step, displacement: nil) || (b.step.final.eip - a.step.final.eip != delta)
      switch try solve([
        precondition(a, bytes: bytes, cpls: cpls), precondition(b, bytes: bytes, cpls: cpls), delta != 0,
        differ,
      ]) {
      case .sat(let model):
        return .witness(try Witness(model, steps: [a.step, b.step], cpls: [a.cpl, b.cpl], instruction: i))
      case .unknown(let why): sawUnknown = why
      case .unsat: break
      }
    }
    return sawUnknown.map { .unknown($0) } ?? .none
  }
}
