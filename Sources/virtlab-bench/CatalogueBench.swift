// The Popek–Goldberg catalogue: every representative under each configuration, with the
// per-query solver times. The issue's target is all of it in under 30 s on this machine.
import Foundation
import ISAModel
import Verifier

func catalogueBench() throws -> [String] {
  var lines: [String] = []
  // For experiments: VIRTLAB_CATALOGUE_ONLY=A|B keeps only the instructions whose text contains
  // one of A, B, …; VIRTLAB_CATALOGUE_SKIP=A|B drops them.
  let environment = ProcessInfo.processInfo.environment
  func matches(_ i: Instruction, _ variable: String) -> Bool? {
    environment[variable].map { list in list.split(separator: "|").contains { i.description.contains($0) } }
  }
  let instructions = Representatives.all().filter { i in
    (matches(i, "VIRTLAB_CATALOGUE_ONLY") ?? true) && !(matches(i, "VIRTLAB_CATALOGUE_SKIP") ?? false)
  }
  var total = 0.0
  var all: [QueryTiming] = []
  var runs: [(String, () throws -> ConfigurationReport)] = MonitorConfiguration.allCases.map { c in
    (c.rawValue, { try c.check(instructions) })
  }
  // VT-x presets and the shipped BT rule table, over the same instructions.
  runs += VTXConfiguration.presets.map { c in ("vtx=\(c.name)", { try c.check(instructions) }) }
  if let rules = try? BTConfiguration.load("models/bt/ring1.yaml") {
    runs.append(("bt=ring1", { try BTConfiguration(rules: rules).check(instructions) }))
  }
  for (name, run) in runs {
    let report = try run()
    total += report.seconds
    all += report.queryTimings
    lines.append(
      String(
        format:
          "catalogue %-20@ %7.1f s (solver %5.1f s)  %4d instructions, %5d queries, verdict %@, %d culprits, %d unknown",
        name, report.seconds, report.solverSeconds, report.rows.count, report.queries, report.verdict,
        report.culprits.count, report.unknown.count))
    let slowest = zip(report.rows, report.rowSeconds).sorted { $0.1 > $1.1 }.prefix(3)
    lines.append(
      "  slowest rows: "
        + slowest.map { String(format: "%@ %.1f s", $0.0.instruction, $0.1) }.joined(separator: ", "))
    lines += queryBreakdown(report.queryTimings).map { "  " + $0 }
  }
  let times = all.map(\.seconds).sorted()
  func at(_ q: Double) -> Double { times[min(times.count - 1, Int(Double(times.count) * q))] }
  lines.append(
    String(
      format:
        "queries   %5d in all: median %.4f s, p95 %.4f s, max %.3f s; solver %.1f s summed over threads",
      times.count, at(0.5), at(0.95), times.last ?? 0, times.reduce(0, +)))
  for t in all.sorted(by: { $0.duration > $1.duration }).prefix(5) {
    lines.append("  slowest: \(String(format: "%.2f s", t.seconds)) \(t.outcome.rawValue) \(t.query)")
  }
  lines.append(String(format: "catalogue all configurations %.1f s (target < 30 s)", total))
  return lines
}

/// The kinds of query a configuration asked, in the words of their names.
private let queryKinds = [
  "bare-machine", "control-flow", "code-location", "control", "mode", "location", "retires",
]

/// Per kind of query and answer: how many, their summed solver time and the slowest.
func queryBreakdown(_ timings: [QueryTiming]) -> [String] {
  var groups: [String: [Double]] = [:]
  for t in timings {
    let kind = queryKinds.first { t.query.contains(" \($0) ") } ?? "other"
    groups["\(kind) \(t.outcome.rawValue)", default: []].append(t.seconds)
  }
  return groups.sorted { $0.value.reduce(0, +) > $1.value.reduce(0, +) }.map { key, times in
    String(
      format: "%-22@ %5d queries, solver %6.1f s, median %.3f s, max %.2f s", key, times.count,
      times.reduce(0, +), times.sorted()[times.count / 2], times.max() ?? 0)
  }
}
