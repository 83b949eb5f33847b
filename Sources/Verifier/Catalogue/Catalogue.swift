/// The Popek–Goldberg catalogue: every representative instruction classified by Z3 from the
/// semantics — privileged, control-sensitive and behaviour-sensitive, by resource, each yes with
/// a witness — and the verdict of Theorem 1 (trap-and-emulate) or Theorem 3 (hybrid) for a
/// monitor configuration. Nothing here is typed by hand (DESIGN.md decision 2).
import Foundation
import ISAModel
import Z3

/// One instruction's row.
public struct CatalogueRow: Codable, Sendable {
  public var form: String
  public var instruction: String
  public var bytes: String
  /// Nil when the instruction retires in some state; else why it never does ("always traps").
  public var outcome: String?
  public var privileged: Bool?
  public var controlSensitive: [String]
  public var behaviourSensitive: [String]
  /// Queries Z3 gave up on (`rlimit`), by name: never counted as an answer.
  public var unknown: [String]
  /// For each yes (and for "not privileged": a user-mode state that retires), the witness.
  public var witnesses: [String: WitnessSummary]
  /// Under VMX non-root operation: "faults" (the guest faults where the bare machine retires)
  /// and "retires" (the reverse), when a state shows it; nil for the other configurations.
  public var equivalence: [String]?
  /// Under binary translation: the class the rule table gives the instruction.
  public var translation: String?

  public var sensitive: Bool { !controlSensitive.isEmpty || !behaviourSensitive.isEmpty }

  /// The verdict fields alone: what `make test` compares with the committed catalogue
  /// (witnesses are compared by replaying them, since solver models differ between versions).
  public var verdict: String {
    "\(form) | \(instruction) | \(outcome ?? "-") | privileged \(privileged.map { "\($0)" } ?? "unknown") | "
      + "control \(controlSensitive.joined(separator: ",")) | behaviour \(behaviourSensitive.joined(separator: ","))"
      + " | unknown \(unknown.joined(separator: ","))"
      + (equivalence.map { " | bare-machine \($0.joined(separator: ","))" } ?? "")
  }
}

/// A witness in a few lines: each state's nonzero parts and memory bytes.
public struct WitnessSummary: Codable, Sendable {
  public struct State: Codable, Sendable {
    public var cpl: UInt8
    public var values: [String: String]
    public var memory: [String: String]
  }
  public var states: [State]
  public var displacement: String?
  /// The full witness, for replay (not encoded).
  public var witness: Witness?

  enum CodingKeys: String, CodingKey { case states, displacement }

  /// The summary of `w`, its parts named as `SymbolicState` names them; numerals are made in
  /// `z3` (a classifier's), or in a context of its own.
  public init(_ w: Witness, in context: Z3Context? = nil) throws {
    witness = w
    displacement = w.displacement.map { hex($0) }
    let z3 = try context ?? Z3Context()
    states = w.states.map { s in
      var values: [String: String] = [:]
      for (name, part) in SymbolicState(s.state, memory: nil, in: z3).parts {
        let text = part.literal
        if text != "0x0" && text != "false" { values[name] = text }
      }
      var memory: [String: String] = [:]
      for b in s.memory { memory[hex(b.address)] = hex(UInt32(b.value)) }
      return State(cpl: s.cpl, values: values, memory: memory)
    }
  }
}

extension SensitivityClassifier {
  /// A state at `cpl` in which `i` retires without trapping, if any.
  public func retires(_ i: Instruction, atCPL cpl: UInt8) throws -> SensitivityAnswer {
    let bytes = try Encoder.encode(i)
    let step = evaluate(i, from: freeState(), cpl: cpl)
    if !step.staleReads.isEmpty {
      return .unknown("the semantics read \(step.staleReads.joined(separator: ", ")) after changing it")
    }
    let e = Evaluation(step: step, cpl: cpl)
    currentQuery = "\(i) retires cpl \(cpl)"
    switch try solve([precondition(e, bytes: bytes, cpls: [cpl])]) {
    case .sat(let model):
      return .witness(
        try Witness(model, steps: [step], cpls: [cpl], instruction: i))
    case .unsat: return .none
    case .unknown(let why): return .unknown(why)
    }
  }

  /// The whole row for `i`.
  public func classify(_ i: Instruction) throws -> CatalogueRow {
    let bytes = try Encoder.encode(i)
    var (row, answered) = startRow(i, bytes: bytes)
    if answered { return row }
    let user = try retires(i, atCPL: assumptions.userCPL)
    let supervisor = try retires(i, atCPL: assumptions.supervisorCPL)
    switch (user, supervisor) {
    case (.none, .witness(let w)):
      row.privileged = true
      row.witnesses["supervisor-retires"] = try WitnessSummary(w, in: z3)
    case (.witness(let w), _):
      row.privileged = false
      row.witnesses["user-retires"] = try WitnessSummary(w, in: z3)
    case (.none, .none):
      row.privileged = false
    // Neither mode retires; other CPLs may (IN at CPL ≤ IOPL): the sensitivity queries decide.
    case (.unknown(let why), _), (_, .unknown(let why)):
      row.unknown.append("privileged (\(why))")
    }
    try addSensitivity(i, to: &row)
    if case .none = user, case .none = supervisor, !row.sensitive {
      var anyRetires = false
      for c in assumptions.cpls where c != assumptions.userCPL && c != assumptions.supervisorCPL {
        if case .witness = try retires(i, atCPL: c) { anyRetires = true }
      }
      if !anyRetires { row.outcome = "always traps" }
    }
    return row
  }

  /// A row of `i` with nothing found yet, and whether it is already answered: a step that
  /// reads the CPL as a Swift value after making it a term answers nothing, so the row is one
  /// unknown, not one per query.
  func startRow(_ i: Instruction, bytes: [UInt8]) -> (row: CatalogueRow, answered: Bool) {
    var row = CatalogueRow(
      form: i.form.spec.opcode, instruction: i.description,
      bytes: bytes.map { String(format: "%02X", $0) }.joined(separator: " "), outcome: nil, privileged: nil,
      controlSensitive: [], behaviourSensitive: [], unknown: [], witnesses: [:])
    let stale = Set(assumptions.cpls.flatMap { evaluate(i, from: freeState(), cpl: $0).staleReads })
    guard !stale.isEmpty else { return (row, false) }
    row.outcome = "unknown"
    row.unknown = [
      "every query: the semantics read \(stale.sorted().joined(separator: ", ")) after changing it"
    ]
    return (row, true)
  }

  /// Control- and behaviour-sensitivity findings of `i` added to `row`, each yes with its
  /// witness and each unknown named.
  func addSensitivity(_ i: Instruction, to row: inout CatalogueRow) throws {
    for f in try controlSensitivity(i) {
      let name = f.resource!.rawValue
      switch f.answer {
      case .witness(let w):
        row.controlSensitive.append(name)
        row.witnesses["control:\(name)"] = try WitnessSummary(w, in: z3)
      case .unknown: row.unknown.append("control:\(name)")
      case .none: break
      }
    }
    for f in try behaviourSensitivity(i) {
      let name = "\(f.kind!.rawValue):\(f.resource?.rawValue ?? "relocation")"
      switch f.answer {
      case .witness(let w):
        row.behaviourSensitive.append(name)
        row.witnesses["behaviour:\(name)"] = try WitnessSummary(w, in: z3)
      case .unknown: row.unknown.append("behaviour:\(name)")
      case .none: break
      }
    }
  }
}
