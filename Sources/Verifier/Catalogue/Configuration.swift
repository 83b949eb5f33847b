/// Monitor configurations and the theorem each is checked against (Popek & Goldberg, CACM
/// 1974): trap-and-emulate by ring deprivileging (Theorem 1) with the guest kernel at ring 1 or
/// ring 3, and the hybrid monitor (Theorem 3), which interprets guest supervisor code and so
/// needs only the user-sensitive instructions to trap.
import Foundation
import ISAModel
import Z3

/// A configuration to check.
public enum MonitorConfiguration: String, CaseIterable, Codable, Sendable {
  case ring1, ring3, hybrid

  /// The CPL the guest kernel really runs at.
  public var guestKernelCPL: UInt8 { self == .ring1 ? 1 : 3 }
  /// The CPLs at which every sensitive instruction must trap.
  public var trappingCPLs: [UInt8] { self == .ring1 ? [1, 3] : [3] }
  public var theorem: String {
    self == .hybrid ? "Theorem 3 (hybrid monitor)" : "Theorem 1 (trap-and-emulate)"
  }

  /// The assumptions the configuration's queries run under.
  public var assumptions: ClassificationAssumptions {
    var a = ClassificationAssumptions()
    // Theorem 3 asks only for user-sensitive instructions: sensitive in a user-mode state.
    if self == .hybrid { a.cpls = [3] }
    // The monitor's top 64 MiB (Xen/x86_32's reservation) lies above every guest segment.
    if self == .ring1 { a.segmentLimitCeiling = MonitorConfiguration.monitorBase - 1 }
    return a
  }

  /// Where a ring-1 monitor's reserved region begins (Xen/x86_32: the top 64 MiB).
  public static let monitorBase: UInt32 = 0xFC00_0000

  /// What every verdict states it was computed under.
  public var statedAssumptions: [String] {
    var s = [
      "guest kernel at CPL \(guestKernelCPL), guest user code at CPL 3, the monitor at CPL 0",
      "EFLAGS.IOPL = 0; CR4.TSD, PVI and UMIP free (every query ranges over both values)",
      "the monitor owns every control resource, the TSC included (no offsetting); EIP is the guest's",
      "the TSS I/O permission bitmap free: IN/OUT above IOPL may or may not trap",
      "paging off in sensitivity queries; segment bases, tables and memory relocated together",
    ]
    if self == .ring1 {
      s.append(
        "guest segment limits truncated below \(hex(Self.monitorBase)) to hide the monitor "
          + "(32-bit paging's U/S bit cannot separate ring 1 from ring 0)")
    }
    if self == .hybrid {
      s.append("guest supervisor code is interpreted: only sensitivity in user mode (CPL 3) counts")
    }
    return s
  }
}

/// One instruction that breaks the theorem: sensitive, yet it retires at a deprivileged CPL.
public struct Culprit: Codable, Sendable {
  public var instruction: String
  public var sensitivity: [String]
  public var retiresAtCPL: UInt8
  /// Nil only for a rule table's missing rule, which no state shows.
  public var witness: WitnessSummary?
}

/// A configuration's verdict table.
public struct ConfigurationReport: Codable, Sendable {
  public var configuration: String
  public var theorem: String
  public var assumptions: [String]
  /// "holds", "fails" or "unknown" (a query hit its limit, so the theorem cannot be decided).
  public var verdict: String
  public var rows: [CatalogueRow]
  public var culprits: [Culprit]
  public var unknown: [String]
  public var queries: Int
  public var seconds: Double
  /// Where control comes back without a trap (a VT-x halt ends at the next exiting interrupt).
  public var notes: [String]?
  /// Owned events that reach the guest without a trap (VT-x: exception bitmap, pin controls).
  public var events: [EventHole]?
}

/// Runs `body` once per instruction, each with a fresh classifier: Z3's search (and so where an
/// rlimit falls) depends on the terms a context has made before, so a row must not depend on
/// the rows before it. Returns the queries run and the wall time, for the report.
func eachWithFreshClassifier(
  _ instructions: [Instruction], _ assumptions: ClassificationAssumptions, smtDirectory: String?,
  droppedCPL0Checks: Set<Mnemonic> = [], _ body: (Int, Instruction, SensitivityClassifier) throws -> Void
) throws -> (queries: Int, seconds: Double) {
  let clock = ContinuousClock()
  let start = clock.now
  var queries = 0
  for (k, i) in instructions.enumerated() {
    let c = try SensitivityClassifier(assumptions)
    c.smtDirectory = smtDirectory
    c.domain.droppedCPL0Checks = droppedCPL0Checks
    defer { queries += c.queries }
    try body(k, i, c)
  }
  let d = clock.now - start
  return (queries, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
}

extension MonitorConfiguration {
  /// Classifies `instructions` under this configuration and decides its theorem.
  public func check(
    _ instructions: [Instruction], smtDirectory: String? = nil, droppedCPL0Checks: Set<Mnemonic> = [],
    progress: (Int, CatalogueRow) -> Void = { _, _ in }
  ) throws -> ConfigurationReport {
    var rows: [CatalogueRow] = []
    var culprits: [Culprit] = []
    var unknown: [String] = []
    let (queries, seconds) = try eachWithFreshClassifier(
      instructions, assumptions, smtDirectory: smtDirectory, droppedCPL0Checks: droppedCPL0Checks
    ) { k, i, c in
      let row = try c.classify(i)
      rows.append(row)
      progress(k, row)
      unknown += row.unknown.map { "\(row.instruction): \($0)" }
      guard row.sensitive, row.outcome != "unknown" else { return }
      for cpl in trappingCPLs {
        switch try c.retires(i, atCPL: cpl) {
        case .witness(let w):
          culprits.append(
            Culprit(
              instruction: row.instruction, sensitivity: row.controlSensitive + row.behaviourSensitive,
              retiresAtCPL: cpl, witness: try WitnessSummary(w)))
        case .unknown(let why): unknown.append("\(row.instruction): retires at CPL \(cpl) (\(why))")
        case .none: continue
        }
        break
      }
    }
    let verdict = !culprits.isEmpty ? "fails" : unknown.isEmpty ? "holds" : "unknown"
    return ConfigurationReport(
      configuration: rawValue, theorem: theorem, assumptions: statedAssumptions, verdict: verdict, rows: rows,
      culprits: culprits, unknown: unknown, queries: queries, seconds: seconds)
  }
}
