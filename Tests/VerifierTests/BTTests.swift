import Architectures
import Foundation
import ISAModel
import Testing

@testable import Verifier

/// The binary-translation check: the shipped rule table (models/bt/ring1.yaml) against the
/// computed classification, and tables broken on purpose in each direction. What each
/// instruction needs comes from the SDM's Operation sections: CALL pushes EIP, JMP and RET set
/// it, POPF and SGDT are ring-1 culprits (Robin & Irvine §4), ADD and LEA touch neither.
@Suite struct BTTests {
  static let probes: [(String, [UInt8])] = [
    ("add eax, ecx", [0x01, 0xC8]), ("lea eax, [ebx+4]", [0x8D, 0x43, 0x04]), ("push eax", [0x50]),
    ("jmp short +0x10", [0xEB, 0x10]), ("jz +0x10", [0x74, 0x10]), ("call +0x10", [0xE8, 0x10, 0, 0, 0]),
    ("call ecx", [0xFF, 0xD1]), ("jmp ecx", [0xFF, 0xE1]), ("ret", [0xC3]), ("loop +0x10", [0xE2, 0x10]),
    ("popf", [0x9D]), ("pushf", [0x9C]), ("sgdt [ebx]", [0x0F, 0x01, 0x03]), ("mov ecx, cs", [0x8C, 0xC9]),
    ("push cs", [0x0E]), ("cli", [0xFA]), ("mov eax, cr0", [0x0F, 0x20, 0xC0]),
  ]

  static func instructions() throws -> [Instruction] {
    try probes.map { try SensitivityTests.instruction($0.0, $0.1) }
  }

  static let table = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("models/bt/ring1.yaml").path

  @Test func theShippedTableIsCompleteAndRight() throws {
    let rules = try BTConfiguration.load(Self.table)
    let r = try BTConfiguration(rules: rules).check(try Self.instructions())
    #expect(r.verdict == "holds", "\(r.culprits.map { "\($0.instruction) \($0.sensitivity)" }) \(r.unknown)")
    let needs = Dictionary(
      uniqueKeysWithValues: r.rows.map { ($0.instruction, $0.behaviourSensitive.contains("code-location")) })
    // Control flow and return addresses depend on where the code runs; ADD, LEA and PUSH do not.
    for text in ["jmp 0x10", "je 0x10", "call 0x10", "call ecx", "jmp ecx", "ret", "loop 0x10"] {
      #expect(needs[text] == true, "\(text): \(needs)")
    }
    for text in ["add eax, ecx", "lea eax, dword [ebx+0x4]", "push eax"] {
      #expect(needs[text] == false, "\(text)")
    }
    // Every code-location witness holds on the engine.
    let assumptions = BTConfiguration(rules: rules).assumptions
    var replayed = 0
    for row in r.rows {
      guard let w = row.witnesses["behaviour:code-location"]?.witness else { continue }
      let replay = try w.replayCodeLocation(assumptions: assumptions)
      #expect(replay.confirmed, "\(row.instruction): \(replay)")
      replayed += 1
    }
    #expect(replayed >= 7)
  }

  @Test func wrongRulesAreReportedWithTheirWitness() throws {
    var rules = try BTConfiguration.load(Self.table)
    rules.mnemonics["call"] = .ident  // CALL pushes a return address in the translation cache
    rules.mnemonics["popf"] = .rewrite  // POPF at ring 1 drops IF silently: it needs the monitor
    rules.mnemonics["add"] = .callout  // harmless: correct, slower
    let r = try BTConfiguration(rules: rules).check(try Self.instructions())
    #expect(r.verdict == "fails")
    let wrong = Dictionary(uniqueKeysWithValues: r.culprits.map { ($0.instruction, $0.sensitivity[0]) })
    #expect(wrong["call 0x10"] == "ident where rewrite is needed")
    #expect(wrong["call ecx"] == "ident where rewrite is needed")
    #expect(wrong["popfd"] == "rewrite where callout is needed")
    #expect(wrong.count == 3, "\(wrong)")
    for c in r.culprits { #expect(c.witness?.witness != nil, "\(c.instruction)") }
    #expect((r.notes ?? []).contains { $0.hasPrefix("add eax, ecx: callout where ident would do") })
  }

  @Test func aTableWithoutADefaultMustNameEveryInstruction() throws {
    var rules = try BTConfiguration.load(Self.table)
    rules.fallback = nil
    let r = try BTConfiguration(rules: rules).check([
      try SensitivityTests.instruction("add eax, ecx", [0x01, 0xC8])
    ])
    #expect(r.culprits.map(\.sensitivity) == [["no rule in the table"]])
  }

  @Test func malformedTablesReportEveryProblemWithItsLine() throws {
    let text = """
      schema: virtlab.bt-rules/1
      name: broken
      source: test
      default: copy
      rules:
        - class: callout
          source: x
          mnemonics: [popf, popfq]
        - class: fast
          source: y
          mnemonics: [add]
        - class: ident
          mnemonics: [add]
          forms: ["99 /9"]
      """
    do {
      _ = try BTConfiguration.rules(file: try ModelFile(text: text, path: "rules.yaml"))
      Issue.record("a malformed table was accepted")
    } catch {
      let lines = error.problems.map(\.description)
      #expect(lines.contains { $0.hasPrefix("rules.yaml:4:") && $0.contains("'copy'") })
      #expect(lines.contains { $0.hasPrefix("rules.yaml:8:") && $0.contains("'popfq' is not a mnemonic") })
      #expect(lines.contains { $0.hasPrefix("rules.yaml:9:") && $0.contains("'fast'") })
      #expect(lines.contains { $0.hasPrefix("rules.yaml:12:") && $0.contains("source: of the rule") })
      #expect(lines.contains { $0.hasPrefix("rules.yaml:14:") && $0.contains("'99 /9' is not a form") })
      #expect(lines.count == 5, "\(lines)")
    }
  }
}
