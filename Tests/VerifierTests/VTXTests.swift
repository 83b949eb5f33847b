import Architectures
import Foundation
import ISAModel
import Testing

@testable import Verifier

/// VT-x trap-completeness: the presets hold, and each ablation (a model file under
/// models/vmx/ablations) gives the counterexample its declared ownership implies. The
/// expectations come from the SDM's VMX chapters (Vol. 3C §23.8, §24.6, §25.1–25.3), never from
/// the checker.
@Suite struct VTXTests {
  static let probes: [(String, [UInt8])] = [
    ("mov cr0, eax", [0x0F, 0x22, 0xC0]), ("mov eax, cr0", [0x0F, 0x20, 0xC0]),
    ("mov cr3, eax", [0x0F, 0x22, 0xD8]), ("mov eax, cr3", [0x0F, 0x20, 0xD8]),
    ("mov cr4, eax", [0x0F, 0x22, 0xE0]), ("mov eax, cr4", [0x0F, 0x20, 0xE0]),
    ("smsw eax", [0x0F, 0x01, 0xE0]), ("lmsw ax", [0x0F, 0x01, 0xF0]), ("clts", [0x0F, 0x06]),
    ("hlt", [0xF4]), ("in al, dx", [0xEC]), ("out dx, al", [0xEE]), ("insb", [0x6C]),
    ("rdtsc", [0x0F, 0x31]),
    ("rdmsr", [0x0F, 0x32]), ("wrmsr", [0x0F, 0x30]), ("invlpg [ebx]", [0x0F, 0x01, 0x3B]),
    ("mov dr0, eax", [0x0F, 0x23, 0xC0]), ("mov eax, dr7", [0x0F, 0x21, 0xF8]), ("cpuid", [0x0F, 0xA2]),
    ("sgdt [ebx]", [0x0F, 0x01, 0x03]), ("lgdt [ebx]", [0x0F, 0x01, 0x13]), ("popf", [0x9D]),
    ("pushf", [0x9C]),
    ("cli", [0xFA]), ("rdpmc", [0x0F, 0x33]), ("wbinvd", [0x0F, 0x09]), ("vmcall", [0x0F, 0x01, 0xC1]),
    ("int3", [0xCC]), ("add eax, ecx", [0x01, 0xC8]),
  ]

  static func instructions() throws -> [Instruction] {
    try probes.map { try SensitivityTests.instruction($0.0, $0.1) }
  }

  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  @Test(arguments: VTXConfiguration.presets.map(\.name))
  func presetsAreValidAndTrapComplete(_ name: String) throws {
    let c = try #require(VTXConfiguration.preset(named: name))
    #expect(c.problems() == [])
    let r = try c.check(try Self.instructions())
    #expect(
      r.verdict == "holds",
      "\(r.culprits.map { "\($0.instruction) \($0.sensitivity)" }) \(r.events ?? []) \(r.unknown)")
    // CPUID and VMCALL exit unconditionally (SDM Vol. 3C §25.1.2): nothing of theirs is seen.
    #expect(r.rows.allSatisfy { $0.unknown.isEmpty })
  }

  @Test(arguments: VTXConfiguration.presets.map(\.name))
  func presetFilesSpellOutTheBuiltInPresets(_ name: String) throws {
    let file = try VTXConfiguration.load("\(Self.root)/models/vmx/\(name).yaml")
    let preset = try #require(VTXConfiguration.preset(named: name))
    #expect(file.nonRoot == preset.nonRoot)
    #expect(file.ownership == preset.ownership)
  }

  /// Each ablation's culprits as "instruction finding", its events and whether a note says
  /// control comes back anyway.
  static let ablations: [(file: String, culprits: Set<String>, events: [String], note: Bool)] = [
    // PG is forced to 1 in VMX operation: unmasked, a guest that clears it gets #GP(0) (§23.8).
    ("no-pg-mask", ["mov cr0, eax bare-machine:faults"], [], false),
    // WP unmasked: the guest's write changes the real bit and its read sees it (§25.3).
    ("no-wp-mask", ["mov cr0, eax control:cr0", "mov eax, cr0 behaviour:mode:cr0"], [], false),
    // #PF not intercepted: the VMM's shadow page tables never see a fault (§25.2).
    ("no-pf-intercept", [], ["#PF"], false),
    // Port 60H not in the bitmap: IN, OUT and INS reach it without an exit (§25.1.3).
    (
      "port-60-passthrough", ["in al, dx control:ports", "out dx, al control:ports", "insb control:ports"],
      [], false
    ),
    // A CR3-target value loads without an exit (§25.1.3).
    ("cr3-target", ["mov cr3, eax control:cr3"], [], false),
    // No offsetting, no RDTSC exiting: the guest reads the TSC the VMM owns (§25.3).
    ("no-tsc-offsetting", ["rdtsc behaviour:mode:tsc"], [], false),
    // HLT halts the guest without an exit; the next external interrupt exits (§24.6.1).
    ("no-hlt-exiting", [], [], true),
  ]

  @Test(arguments: ablations.indices)
  func ablationsGiveTheCounterexamplesTheirOwnershipImplies(_ k: Int) throws {
    let a = Self.ablations[k]
    let c = try VTXConfiguration.load("\(Self.root)/models/vmx/ablations/\(a.file).yaml")
    #expect(c.problems() == [])
    let r = try c.check(try Self.instructions())
    let found = Set(r.culprits.flatMap { c in c.sensitivity.map { "\(c.instruction) \($0)" } })
    #expect(found == a.culprits, "\(a.file)")
    #expect((r.events ?? []).map(\.event) == a.events, "\(a.file)")
    #expect(!(r.notes ?? []).isEmpty == a.note, "\(a.file): \(r.notes ?? [])")
    #expect(r.verdict == (a.culprits.isEmpty && a.events.isEmpty ? "holds" : "fails"), "\(a.file)")
    // Each culprit's witness is a state where the instruction does not exit: replayed on the
    // engine in non-root operation under the ablation's controls, it shows what the solver
    // claimed; under the preset the ablation was made from, the same state exits or leaves
    // what the VMM owns alone.
    let base = try #require(VTXConfiguration.preset(named: "first-generation"))
    let memory = Int(c.assumptions.memorySize)
    for culprit in r.culprits {
      let w = try #require(culprit.witness?.witness)
      let kind = culprit.sensitivity[0]
      let replay = NonRootReplay(w.states[0], nonRoot: c.nonRoot, memorySize: memory)
      let original = NonRootReplay(w.states[0], nonRoot: base.nonRoot, memorySize: memory)
      if kind.hasPrefix("behaviour:") {
        let v = try w.replayBehaviour(assumptions: c.assumptions)
        #expect(v.confirmed, "\(a.file) \(culprit.instruction): \(v)")
      } else if kind.hasPrefix("control:") {
        let resource = try #require(ControlResource(rawValue: String(kind.dropFirst("control:".count))))
        #expect(!replay.exited, "\(a.file) \(culprit.instruction): \(replay)")
        let v = try w.replayControl(resource, assumptions: c.assumptions)
        #expect(v.confirmed, "\(a.file) \(culprit.instruction): \(v)")
        let protected = try w.replayControl(resource, assumptions: base.assumptions)
        #expect(!protected.confirmed, "\(a.file) \(culprit.instruction) under first-generation: \(protected)")
      } else {
        #expect(kind == "bare-machine:faults")
        #expect(!replay.exited && !replay.guest.retired && replay.bare.retired, "\(a.file): \(replay)")
        #expect(original.exited, "\(a.file) under first-generation: \(original)")
      }
    }
  }

  @Test func externalInterruptsMustExitForAVMMThatOwnsTheProcessor() throws {
    var c = VTXConfiguration.firstGeneration
    c.nonRoot.controls.primary &= ~PrimaryControl.hltExiting.mask
    c.nonRoot.controls.pinBased &= ~PinBasedControl.externalInterruptExiting.mask
    let r = try c.check([try SensitivityTests.instruction("hlt", [0xF4])])
    #expect(r.culprits.map(\.instruction) == ["hlt"])
    #expect((r.events ?? []).map(\.event) == ["external interrupt"])
  }

  @Test func controlsOutsideTheCapabilityMSRsAreNamed() throws {
    var c = VTXConfiguration.firstGeneration
    // The first processors support only the 1-setting of CR3-store exiting (SDM Vol. 3C §24.6.2).
    c.nonRoot.controls.primary &= ~PrimaryControl.cr3StoreExiting.mask
    // And they have no secondary controls.
    c.nonRoot.controls.primary |= PrimaryControl.activateSecondaryControls.mask
    c.nonRoot.controls.cr3Targets = [1, 2, 3, 4, 5]
    let p = c.problems()
    #expect(
      p.contains {
        $0.contains("cr3StoreExiting (bit 16) must be 1") && $0.contains("IA32_VMX_PROCBASED_CTLS")
      })
    #expect(p.contains { $0.contains("activateSecondaryControls (bit 31) cannot be 1") })
    #expect(p.contains { $0.contains("5 CR3-target values") })
    var later = VTXConfiguration.later
    later.nonRoot.controls.secondary &= ~SecondaryControl.enableEPT.mask
    #expect(later.problems().contains { $0.contains("unrestrictedGuest requires enableEPT") })
  }

  @Test func malformedConfigurationFilesReportEveryProblemWithItsLine() throws {
    let text = """
      schema: virtlab.vtx/1
      name: broken
      based-on: first-generation
      controls:
        primary: [hlt-exiting, halt-exiting]
        tsc-offset: lots
        cr0-guest-host-mask: [PE, XX]
      owns:
        source: test
        resources: [cr0, registers]
      colour: blue
      """
    do {
      _ = try VTXConfiguration(file: try ModelFile(text: text, path: "broken.yaml"))
      Issue.record("a malformed file was accepted")
    } catch {
      let lines = error.problems.map(\.description)
      #expect(lines.contains { $0.hasPrefix("broken.yaml:1:") && $0.contains("missing source:") })
      #expect(lines.contains { $0.hasPrefix("broken.yaml:5:") && $0.contains("'halt-exiting'") })
      #expect(lines.contains { $0.hasPrefix("broken.yaml:6:") && $0.contains("'lots'") })
      #expect(lines.contains { $0.hasPrefix("broken.yaml:7:") && $0.contains("'XX'") })
      #expect(lines.contains { $0.hasPrefix("broken.yaml:10:") && $0.contains("'registers'") })
      #expect(lines.contains { $0.hasPrefix("broken.yaml:11:") && $0.contains("unknown key 'colour'") })
      #expect(lines.contains { $0.hasPrefix("broken.yaml:5:") && $0.contains("source: of controls:") })
      #expect(lines.count == 7, "\(lines)")
    }
    do {
      _ = try ModelFile(text: "schema: [unclosed", path: "bad.yaml")
      Issue.record("invalid YAML was accepted")
    } catch {
      #expect(error.problems.first?.description.hasPrefix("bad.yaml:") == true)
    }
  }
}
