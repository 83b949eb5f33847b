import ISAModel
import Testing

@testable import Verifier

/// Control- and behaviour-sensitivity computed by Z3, against what the SDM and Robin & Irvine
/// (USENIX Security 2000, §4) say each instruction does to or reveals of the control state. The
/// expectations come from those sources, never from the classifier; every witness is replayed on
/// the engine.
@Suite struct SensitivityTests {
  static func instruction(_ text: String, _ bytes: [UInt8]) throws -> Instruction {
    guard case .instruction(let i, _) = Decoder.decode(bytes) else {
      throw Failure(message: "\(text) does not decode")
    }
    return i
  }
  struct Failure: Error { let message: String }

  /// The resources whose findings are yes, each witness replayed (a witness the engine does not
  /// confirm is recorded as a failure).
  func controlResources(_ c: SensitivityClassifier, _ text: String, _ bytes: [UInt8]) throws -> Set<
    ControlResource
  > {
    var found: Set<ControlResource> = []
    for f in try c.controlSensitivity(try Self.instruction(text, bytes)) {
      switch f.answer {
      case .witness(let w):
        let replay = try w.replayControl(f.resource!, assumptions: c.assumptions)
        #expect(replay.confirmed, "\(text) \(f.resource!): \(replay)")
        found.insert(f.resource!)
      case .unknown(let why): Issue.record("\(text) \(f.resource!): unknown (\(why))")
      case .none: break
      }
    }
    return found
  }

  func behaviourFindings(_ c: SensitivityClassifier, _ text: String, _ bytes: [UInt8]) throws -> Set<String> {
    var found: Set<String> = []
    for f in try c.behaviourSensitivity(try Self.instruction(text, bytes)) {
      let name = "\(f.kind!.rawValue):\(f.resource?.rawValue ?? "relocation")"
      switch f.answer {
      case .witness(let w):
        let replay = try w.replayBehaviour(assumptions: c.assumptions)
        #expect(replay.confirmed, "\(text) \(name): \(replay)")
        found.insert(name)
      case .unknown(let why): Issue.record("\(text) \(name): unknown (\(why))")
      case .none: break
      }
    }
    return found
  }

  @Test func controlSensitiveInstructionsChangeWhatTheSDMSaysTheyChange() throws {
    let c = try SensitivityClassifier()
    // Each writes the named part of the control state (SDM Vol. 2 Operation sections).
    let expected: [(String, [UInt8], ControlResource)] = [
      ("cli", [0xFA], .interruptFlag), ("sti", [0xFB], .interruptFlag), ("sti", [0xFB], .interruptShadow),
      ("popf", [0x9D], .interruptFlag), ("popf", [0x9D], .iopl), ("mov cr0, eax", [0x0F, 0x22, 0xC0], .cr0),
      ("mov cr3, eax", [0x0F, 0x22, 0xD8], .cr3), ("in al, dx", [0xEC], .ports),
      ("out dx, al", [0xEE], .ports),
      ("hlt", [0xF4], .activity), ("mov ds, ax", [0x8E, 0xD8], .segmentCaches),
      ("mov ss, ax", [0x8E, 0xD0], .interruptShadow), ("lgdt [eax]", [0x0F, 0x01, 0x10], .descriptorTables),
      ("wrmsr", [0x0F, 0x30], .msrs), ("invlpg [eax]", [0x0F, 0x01, 0x38], .paging),
      ("lldt ax", [0x0F, 0x00, 0xD0], .ldtr), ("clts", [0x0F, 0x06], .cr0),
    ]
    for (text, bytes, resource) in expected {
      #expect(try controlResources(c, text, bytes).contains(resource), "\(text) should change \(resource)")
    }
  }

  @Test func innocuousAndReadingInstructionsChangeNoControlState() throws {
    let c = try SensitivityClassifier()
    let none: [(String, [UInt8])] = [
      ("add eax, ecx", [0x01, 0xC8]), ("add [ebx], ecx", [0x01, 0x0B]), ("mul ecx", [0xF7, 0xE1]),
      ("pushf", [0x9C]), ("sgdt [eax]", [0x0F, 0x01, 0x00]), ("rdtsc", [0x0F, 0x31]),
      ("mov eax, cs", [0x8C, 0xC8]), ("lar eax, ecx", [0x0F, 0x02, 0xC1]),
    ]
    for (text, bytes) in none {
      #expect(try controlResources(c, text, bytes).isEmpty, "\(text) changes no control state")
    }
  }

  @Test func behaviourSensitiveInstructionsRevealWhatRobinAndIrvineSay() throws {
    let c = try SensitivityClassifier()
    // §4: each reveals the named part of the control state to unprivileged code.
    let expected: [(String, [UInt8], String)] = [
      ("pushf", [0x9C], "mode:if"), ("sgdt [eax]", [0x0F, 0x01, 0x00], "location:relocation"),
      ("sidt [eax]", [0x0F, 0x01, 0x08], "location:gdtr-idtr"), ("smsw eax", [0x0F, 0x01, 0xE0], "mode:cr0"),
      ("str eax", [0x0F, 0x00, 0xC8], "location:tr"), ("sldt eax", [0x0F, 0x00, 0xC0], "location:ldtr"),
      ("mov eax, cs", [0x8C, 0xC8], "mode:cpl"), ("push cs", [0x0E], "mode:cpl"),
      ("lar eax, ecx", [0x0F, 0x02, 0xC1], "mode:cpl"), ("verr ax", [0x0F, 0x00, 0xE0], "mode:cpl"),
      ("rdtsc", [0x0F, 0x31], "mode:tsc"),
    ]
    for (text, bytes, finding) in expected {
      #expect(try behaviourFindings(c, text, bytes).contains(finding), "\(text) should be \(finding)")
    }
  }

  @Test func innocuousInstructionsRevealNothing() throws {
    let c = try SensitivityClassifier()
    // MUL's SF/ZF/AF/PF and SHL's OF (count ≠ 1) are undefined: the two states of a pair share
    // them, so they are no difference.
    let innocuous: [(String, [UInt8])] = [
      ("add eax, ecx", [0x01, 0xC8]), ("add [ebx], ecx", [0x01, 0x0B]), ("mul ecx", [0xF7, 0xE1]),
      ("shl eax, cl", [0xD3, 0xE0]), ("bsf eax, ecx", [0x0F, 0xBC, 0xC1]), ("push eax", [0x50]),
      ("call eax", [0xFF, 0xD0]), ("movsd", [0xA5]),
    ]
    for (text, bytes) in innocuous {
      #expect(try behaviourFindings(c, text, bytes).isEmpty, "\(text) is innocuous")
    }
  }
}
