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
  /// Of `seconds`, the time inside Z3's `check`; the rest builds and simplifies terms.
  public var solverSeconds: Double = 0
  /// Each row's wall time, in the order of `rows` (for the benchmark's slowest rows).
  public var rowSeconds: [Double] = []
  /// Every query's time and answer, rows in order (for the benchmark; not encoded).
  public var queryTimings: [QueryTiming] = []
  /// Where control comes back without a trap (a VT-x halt ends at the next exiting interrupt).
  public var notes: [String]?
  /// Owned events that reach the guest without a trap (VT-x: exception bitmap, pin controls).
  public var events: [EventHole]?

  enum CodingKeys: String, CodingKey {
    case configuration, theorem, assumptions, verdict, rows, culprits, unknown, queries, seconds,
      solverSeconds,
      rowSeconds, notes, events
  }
}

/// What checking a configuration cost: queries, wall and solver time, and each row's time.
struct CheckCost {
  var queries = 0
  var seconds = 0.0
  var solverSeconds = 0.0
  var rowSeconds: [Double] = []
  var queryTimings: [QueryTiming] = []

  /// Copies the figures into `report`.
  func record(in report: inout ConfigurationReport) {
    report.queries = queries
    report.seconds = seconds
    report.solverSeconds = solverSeconds
    report.rowSeconds = rowSeconds
    report.queryTimings = queryTimings
  }
}

/// What one instruction contributes to a configuration's report.
struct RowOutcome: Sendable {
  var row: CatalogueRow
  var culprits: [Culprit] = []
  var unknown: [String] = []
  var notes: [String] = []

  init(_ row: CatalogueRow) {
    self.row = row
    unknown = row.unknown.map { "\(row.instruction): \($0)" }
  }
}

extension Duration {
  var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// One row's outcome or error, and what it cost, filled in by whichever thread ran it.
private final class RowResults: @unchecked Sendable {
  typealias Slot = (outcome: Result<RowOutcome, any Error>, timings: [QueryTiming], wall: Double)
  private let lock = NSLock()
  private var slots: [Slot?]

  init(_ count: Int) { slots = Array(repeating: nil, count: count) }

  func set(_ k: Int, _ r: Slot) { lock.withLock { slots[k] = r } }
  var all: [Slot] { lock.withLock { slots.map { $0! } } }
}

/// Runs `body` once per instruction, each with a fresh classifier, on every core. A fresh
/// classifier per row keeps each row independent of the others: Z3's search (and so where an
/// rlimit falls) depends on the terms a context has made before. So the rows, in the order of
/// `instructions`, are the same however many threads run and in whatever order they finish.
/// The first error (in that order) is thrown once every row has run.
func eachWithFreshClassifier(
  _ instructions: [Instruction], _ assumptions: ClassificationAssumptions, smtDirectory: String?,
  droppedCPL0Checks: Set<Mnemonic> = [],
  _ body: @Sendable @escaping (Instruction, SensitivityClassifier) throws -> RowOutcome
) throws -> (outcomes: [RowOutcome], cost: CheckCost) {
  let clock = ContinuousClock()
  let start = clock.now
  let results = RowResults(instructions.count)
  DispatchQueue.concurrentPerform(iterations: instructions.count) { k in
    let rowStart = clock.now
    let outcome: Result<RowOutcome, any Error>
    var timings: [QueryTiming] = []
    do {
      let c = try SensitivityClassifier(assumptions)
      c.smtDirectory = smtDirectory
      c.domain.droppedCPL0Checks = droppedCPL0Checks
      outcome = Result { try body(instructions[k], c) }
      timings = c.timings
    } catch {
      outcome = .failure(error)
    }
    results.set(k, (outcome, timings, (clock.now - rowStart).seconds))
  }
  var cost = CheckCost()
  var outcomes: [RowOutcome] = []
  for r in results.all {
    outcomes.append(try r.outcome.get())
    cost.queries += r.timings.count
    cost.solverSeconds += r.timings.reduce(0) { $0 + $1.duration.seconds }
    cost.queryTimings += r.timings
    cost.rowSeconds.append(r.wall)
  }
  cost.seconds = (clock.now - start).seconds
  return (outcomes, cost)
}

/// A report's rows, culprits, unknowns and notes, gathered from the outcomes in order.
func gather(_ outcomes: [RowOutcome]) -> (
  rows: [CatalogueRow], culprits: [Culprit], unknown: [String], notes: [String]
) {
  (
    outcomes.map(\.row), outcomes.flatMap(\.culprits), outcomes.flatMap(\.unknown),
    outcomes.flatMap(\.notes)
  )
}

extension MonitorConfiguration {
  /// Classifies `instructions` under this configuration and decides its theorem.
  public func check(
    _ instructions: [Instruction], smtDirectory: String? = nil, droppedCPL0Checks: Set<Mnemonic> = []
  ) throws -> ConfigurationReport {
    let trappingCPLs = trappingCPLs
    let (outcomes, cost) = try eachWithFreshClassifier(
      instructions, assumptions, smtDirectory: smtDirectory, droppedCPL0Checks: droppedCPL0Checks
    ) { i, c in
      let row = try c.classify(i)
      var out = RowOutcome(row)
      guard row.sensitive, row.outcome != "unknown" else { return out }
      for cpl in trappingCPLs {
        switch try c.retires(i, atCPL: cpl) {
        case .witness(let w):
          out.culprits.append(
            Culprit(
              instruction: row.instruction, sensitivity: row.controlSensitive + row.behaviourSensitive,
              retiresAtCPL: cpl, witness: try WitnessSummary(w, in: c.z3)))
        case .unknown(let why): out.unknown.append("\(row.instruction): retires at CPL \(cpl) (\(why))")
        case .none: continue
        }
        break
      }
      return out
    }
    let (rows, culprits, unknown, _) = gather(outcomes)
    let verdict = !culprits.isEmpty ? "fails" : unknown.isEmpty ? "holds" : "unknown"
    var report = ConfigurationReport(
      configuration: rawValue, theorem: theorem, assumptions: statedAssumptions, verdict: verdict, rows: rows,
      culprits: culprits, unknown: unknown, queries: 0, seconds: 0)
    cost.record(in: &report)
    return report
  }
}
