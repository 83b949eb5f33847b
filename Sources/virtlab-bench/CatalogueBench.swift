// The Popek–Goldberg catalogue: every representative under each configuration, with the
// per-query solver times. The target is all of it in under 30 s on this machine.
import Foundation
import Verifier

func catalogueBench() throws -> [String] {
  var lines: [String] = []
  let instructions = Representatives.all()
  var total = 0.0
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
  }
  let timed = try SensitivityClassifier()
  for i in instructions { _ = try timed.classify(i) }
  let times = timed.timings.map {
    Double($0.duration.components.attoseconds) / 1e18 + Double($0.duration.components.seconds)
  }
  .sorted()
  func at(_ q: Double) -> Double { times[min(times.count - 1, Int(Double(times.count) * q))] }
  let solver = times.reduce(0, +)
  lines.append(
    String(
      format: "queries   %5d: median %.4f s, p95 %.4f s, max %.3f s; solver %.1f s of the classification",
      times.count, at(0.5), at(0.95), times.last ?? 0, solver))
  for t in timed.timings.sorted(by: { $0.duration > $1.duration }).prefix(5) {
    lines.append("  slowest: \(t.duration) \(t.query)")
  }
  lines.append(String(format: "catalogue all configurations %.1f s (target < 30 s)", total))
  return lines
}
