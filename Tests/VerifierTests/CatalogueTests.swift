import Foundation
import ISAModel
import Testing

@testable import Verifier

/// The generated catalogue: regenerated from the semantics and compared with the committed
/// docs/catalogue.json verdict by verdict; every witness replayed on the engine; the theorems
/// checked on small instruction sets whose answers are known by hand, in both directions.
@Suite struct CatalogueTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  static func instruction(_ bytes: [UInt8]) -> Instruction {
    guard case .instruction(let i, _) = Decoder.decode(bytes) else {
      preconditionFailure("\(bytes) does not decode")
    }
    return i
  }

  /// ring1 over every representative (`check` runs the rows on every core).
  static func regenerate() throws -> ConfigurationReport {
    try MonitorConfiguration.ring1.check(Representatives.all())
  }

  @Test func theCommittedCatalogueIsWhatTheSemanticsGive() async throws {
    let data = try Data(contentsOf: Self.root.appendingPathComponent("docs/catalogue.json"))
    let committed = try JSONDecoder().decode(ConfigurationReport.self, from: data)
    let fresh = try Self.regenerate()
    let old = committed.rows.map(\.verdict)
    let new = fresh.rows.map(\.verdict)
    let removed = old.filter { !new.contains($0) }
    let added = new.filter { !old.contains($0) }
    #expect(
      removed.isEmpty && added.isEmpty,
      "docs/catalogue.json is stale (run make catalogue):\n- \(removed.joined(separator: "\n- "))\n+ \(added.joined(separator: "\n+ "))"
    )
    #expect(committed.verdict == fresh.verdict)
    #expect(committed.culprits.map(\.instruction) == fresh.culprits.map(\.instruction))

    // Every witness shows on the engine what the solver claimed.
    let a = MonitorConfiguration.ring1.assumptions
    var replayed = 0
    var notReplayed: [String] = []
    for row in fresh.rows {
      for (name, summary) in row.witnesses.sorted(by: { $0.key < $1.key }) {
        let w = try #require(summary.witness)
        let verdict: ReplayVerdict
        if name.hasPrefix("control:") {
          verdict = try w.replayControl(ControlResource(rawValue: String(name.dropFirst(8)))!, assumptions: a)
        } else if name.hasPrefix("behaviour:") {
          verdict = try w.replayBehaviour(assumptions: a)
        } else {
          let run = ReplayRun(w.states[0], memorySize: Int(a.memorySize))
          verdict = ReplayVerdict(confirmed: run.retired, detail: "\(run.result)")
        }
        replayed += 1
        if !verdict.confirmed { notReplayed.append("\(row.instruction) \(name)") }
      }
    }
    for c in fresh.culprits {
      let w = try #require(c.witness?.witness)
      let run = ReplayRun(w.states[0], memorySize: Int(a.memorySize))
      if !(run.retired && w.states[0].cpl == c.retiresAtCPL) {
        notReplayed.append("\(c.instruction) culprit")
      }
      replayed += 1
    }
    #expect(notReplayed.isEmpty, "witnesses the engine does not confirm: \(notReplayed)")
    print("replayed \(replayed) witnesses")
    #expect(replayed > 100)
  }

  @Test func ring1FailsOnRobinAndIrvinesInstructions() async throws {
    // Robin & Irvine (2000) §4: sensitive, unprivileged at CPL 1 — a culprit each.
    let culprits: [(String, [UInt8])] = [
      ("sgdt", [0x0F, 0x01, 0x00]), ("sidt", [0x0F, 0x01, 0x08]), ("sldt", [0x0F, 0x00, 0xC0]),
      ("str", [0x0F, 0x00, 0xC8]), ("smsw", [0x0F, 0x01, 0xE0]), ("pushf", [0x9C]), ("popf", [0x9D]),
      ("lar", [0x0F, 0x02, 0xC1]), ("lsl", [0x0F, 0x03, 0xC1]), ("verr", [0x0F, 0x00, 0xE0]),
      ("push cs", [0x0E]), ("mov eax, cs", [0x8C, 0xC8]),
    ]
    let report = try MonitorConfiguration.ring1.check(culprits.map { Self.instruction($0.1) })
    #expect(report.verdict == "fails")
    #expect(report.culprits.count == culprits.count, "\(report.culprits.map(\.instruction))")
  }

  @Test func aSetWhoseSensitiveInstructionsAllTrapSatisfiesTheorem1() throws {
    // ADD, MUL are innocuous; HLT, MOV CR0, LGDT, WRMSR are sensitive and trap at CPL 1 and 3.
    let set: [[UInt8]] = [
      [0x01, 0xC8], [0xF7, 0xE1], [0xF4], [0x0F, 0x22, 0xC0], [0x0F, 0x01, 0x10], [0x0F, 0x30],
    ]
    let report = try MonitorConfiguration.ring1.check(set.map(Self.instruction))
    #expect(report.verdict == "holds", "\(report.culprits.map(\.instruction))")
    // Adding POPF (control-sensitive through IF, yet it retires at CPL 1) breaks it.
    let broken = try MonitorConfiguration.ring1.check((set + [[0x9D]]).map(Self.instruction))
    #expect(broken.verdict == "fails")
    #expect(broken.culprits.map(\.instruction) == ["popfd"])
  }

  @Test func droppingOnePrivilegeCheckChangesTheVerdict() throws {
    // The mutation: HLT without its CPL 0 check (not a second copy of its semantics).
    let set: [[UInt8]] = [[0x01, 0xC8], [0xF4]]
    let sound = try MonitorConfiguration.ring1.check(set.map(Self.instruction))
    #expect(sound.verdict == "holds")
    let mutated = try MonitorConfiguration.ring1.check(set.map(Self.instruction), droppedCPL0Checks: [.hlt])
    #expect(mutated.verdict == "fails")
    #expect(mutated.culprits.map(\.instruction) == ["hlt"])
    #expect(mutated.rows[1].privileged == false && sound.rows[1].privileged == true)
  }

  @Test func theHybridMonitorNeedsOnlyUserSensitiveInstructionsToTrap() throws {
    // SMSW reveals CR0 to user mode (user-sensitive, unprivileged): Theorem 3 fails on it. CLI
    // at IOPL 0 traps at CPL 3 and MOV CR0 too; both are fine for a hybrid monitor.
    let fine = try MonitorConfiguration.hybrid.check(
      [[0xFA], [0x0F, 0x22, 0xC0], [0x01, 0xC8]].map(Self.instruction))
    #expect(fine.verdict == "holds", "\(fine.culprits.map(\.instruction))")
    let smsw = try MonitorConfiguration.hybrid.check([[0x0F, 0x01, 0xE0]].map(Self.instruction))
    #expect(smsw.verdict == "fails")
  }
}
