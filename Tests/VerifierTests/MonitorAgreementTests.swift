import ExecEngine
import Foundation
import ISAModel
import Testing

/// The divergences trap-and-emulate shows on the culprit probes (models/guests/probes) agree
/// with the Verifier's ring-1 verdict (docs/catalogue.json), instruction form by form: every
/// culprit either has a probe whose lockstep run diverges at it, or is one the monitor declares
/// closed or unobservable — and that probe then runs without divergence; every divergence is
/// at a culprit.
@Suite struct MonitorAgreementTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  struct Key: Hashable, CustomStringConvertible {
    var form: String
    var memory: Bool
    var description: String { form + (memory ? " (m)" : " (r)") }
  }

  static func key(_ i: Instruction) -> Key {
    let memory = [i.op0, i.op1, i.op2].contains { if case .memory = $0 { true } else { false } }
    return Key(form: i.form.spec.opcode, memory: memory)
  }

  /// The ring-1 culprits of the committed catalogue (make test regenerates and diffs it).
  static func culprits() throws -> [Key: String] {
    let data = try Data(contentsOf: root.appendingPathComponent("docs/catalogue.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let rows = try #require(json["rows"] as? [[String: Any]])
    var bytesOf: [String: String] = [:]
    for r in rows { bytesOf[r["instruction"] as! String] = r["bytes"] as? String }
    var out: [Key: String] = [:]
    for c in try #require(json["culprits"] as? [[String: Any]]) {
      let text = c["instruction"] as! String
      let bytes = try #require(bytesOf[text]).split(separator: " ").map { UInt8($0, radix: 16)! }
      guard case .instruction(let i, _) = Decoder.decode(bytes) else {
        Issue.record("\(text) does not decode")
        continue
      }
      out[key(i)] = text
    }
    return out
  }

  @Test func probesDivergeExactlyAtTheRing1Culprits() throws {
    let culprits = try Self.culprits()
    #expect(culprits.count >= 40)
    let probes = try FileManager.default.contentsOfDirectory(
      at: Self.root.appendingPathComponent("models/guests/probes"), includingPropertiesForKeys: nil
    ).filter { $0.pathExtension == "asm" }
    var diverged: [Key: String] = [:]
    var quiet: Set<String> = []
    for file in probes {
      let binary = try Nasm.assemble(file: file)
      let name = file.deletingPathExtension().lastPathComponent
      let d = try Equivalence.lockstep(binary, budget: 20_000) { b, c throws(LoadError) in
        try TrapAndEmulate(guest: b, c)
      }
      if let d {
        let i = try #require(d.instruction, "\(name): diverged at the end of the run: \(d)")
        diverged[Self.key(i)] = name
        #expect(culprits[Self.key(i)] != nil, "probe \(name) diverges at \(d), which is no ring-1 culprit")
      } else {
        quiet.insert(name)
      }
    }
    let unobserved = TrapAndEmulate.unobservedCulprits
    for (key, text) in culprits.sorted(by: { $0.value < $1.value }) where diverged[key] == nil {
      let declared = unobserved.first { $0.forms.contains(key.form) }
      #expect(declared != nil, "the culprit \(text) neither diverges in a probe nor is declared unobserved")
      if let declared {
        #expect(
          quiet.contains(declared.probe), "\(text): its probe \(declared.probe) must run without divergence")
      }
    }
    // A declared form that diverges would be a false claim.
    for u in unobserved {
      for form in u.forms {
        #expect(!diverged.keys.contains { $0.form == form }, "\(form) is declared unobserved yet diverges")
      }
    }
  }
}
