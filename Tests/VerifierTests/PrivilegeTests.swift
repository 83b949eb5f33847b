import ISAModel
import Testing

@testable import Verifier

/// Privileged or not, computed by Z3 from the semantics, against what the SDM says of each
/// instruction in its "Protected Mode Exceptions" (the expectations come from the SDM, not
/// from the code under test).
@Suite struct PrivilegeTests {
  func instruction(_ text: String, _ bytes: [UInt8]) throws -> Instruction {
    guard case .instruction(let i, _) = Decoder.decode(bytes) else {
      throw ClassificationError(message: "\(text) does not decode")
    }
    return i
  }

  struct ClassificationError: Error { let message: String }

  @Test func theSDMsPrivilegedInstructionsArePrivileged() throws {
    let c = try PrivilegeClassifier()
    // SDM Vol. 3A §5.9 lists these as privileged (#GP(0) unless CPL = 0).
    let privileged: [(String, [UInt8])] = [
      ("hlt", [0xF4]), ("lgdt [eax]", [0x0F, 0x01, 0x10]), ("lidt [eax]", [0x0F, 0x01, 0x18]),
      ("mov cr0, eax", [0x0F, 0x22, 0xC0]), ("mov eax, cr3", [0x0F, 0x20, 0xD8]), ("clts", [0x0F, 0x06]),
      ("rdmsr", [0x0F, 0x32]), ("wrmsr", [0x0F, 0x30]), ("invlpg [eax]", [0x0F, 0x01, 0x38]),
      ("lmsw ax", [0x0F, 0x01, 0xF0]), ("ltr ax", [0x0F, 0x00, 0xD8]), ("lldt ax", [0x0F, 0x00, 0xD0]),
      ("mov dr7, eax", [0x0F, 0x23, 0xF8]),
      // Above IOPL (0 here): #GP(0) at CPL 3 (SDM Vol. 2A CLI, STI).
      ("cli", [0xFA]), ("sti", [0xFB]),
    ]
    for (text, bytes) in privileged {
      let v = try c.classify(try instruction(text, bytes))
      #expect(v.privileged == true, "\(text): user \(v.userRetires), supervisor \(v.supervisorRetires)")
    }
  }

  @Test func theSensitiveUnprivilegedOnesAreNot() throws {
    // Robin and Irvine (USENIX Security 2000) §4: these never trap at CPL 3; nor do ordinary ones.
    let c = try PrivilegeClassifier()
    let unprivileged: [(String, [UInt8])] = [
      ("sgdt [eax]", [0x0F, 0x01, 0x00]), ("sidt [eax]", [0x0F, 0x01, 0x08]),
      ("smsw eax", [0x0F, 0x01, 0xE0]),
      ("sldt eax", [0x0F, 0x00, 0xC0]), ("str eax", [0x0F, 0x00, 0xC8]), ("pushf", [0x9C]), ("popf", [0x9D]),
      ("lar eax, ecx", [0x0F, 0x02, 0xC1]), ("lsl eax, ecx", [0x0F, 0x03, 0xC1]),
      ("verr ax", [0x0F, 0x00, 0xE0]),
      ("mov eax, cs", [0x8C, 0xC8]), ("push ss", [0x16]), ("add eax, ecx", [0x01, 0xC8]),
      ("rdtsc", [0x0F, 0x31]),
    ]
    for (text, bytes) in unprivileged {
      let v = try c.classify(try instruction(text, bytes))
      #expect(v.privileged == false, "\(text): user \(v.userRetires), supervisor \(v.supervisorRetires)")
      if case .witness = v.userRetires {} else { Issue.record("\(text): no user-mode witness") }
    }
  }
}
