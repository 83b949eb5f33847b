import ISAModel
import Testing

@Suite struct DecoderTests {
  func mnemonic(_ bytes: [UInt8]) -> String {
    switch Decoder.decode(bytes) {
    case .instruction(let i, _): return i.description
    case .fault(let f): return f.description
    case .modelGap(let what): return "gap: \(what)"
    case .truncated(let n): return "truncated after \(n)"
    }
  }

  @Test func moreThanFifteenBytesIsGP() {
    // 14 redundant prefixes + NOP = 15 bytes: fine; one more prefix: #GP(0).
    #expect(mnemonic(Array(repeating: 0x66, count: 14) + [0x90]) == "nop")
    #expect(mnemonic(Array(repeating: 0x66, count: 15) + [0x90]) == "#GP(0)")
    // A long but valid instruction whose bytes pass 15 through its immediate.
    let long: [UInt8] =
      Array(repeating: 0x3E, count: 6) + [0xC7, 0x84, 0x88, 0x78, 0x56, 0x34, 0x12, 0xEF, 0xBE, 0xAD, 0xDE]
    #expect(mnemonic(long) == "#GP(0)")
  }

  @Test func mandatoryPrefixesSelectTheInstruction() {
    let m: UInt8 = 0x30  // mod 00, reg 6, rm 000: [eax]
    #expect(mnemonic([0x0F, 0xC7, m]) == "vmptrld [eax]")
    #expect(mnemonic([0x66, 0x0F, 0xC7, m]) == "vmclear [eax]")
    #expect(mnemonic([0xF3, 0x0F, 0xC7, m]) == "vmxon [eax]")
    #expect(mnemonic([0x0F, 0xC7, 0x08]) == "gap: CMPXCHG8B")
    #expect(mnemonic([0x0F, 0xC7, 0x38]) == "vmptrst [eax]")
    #expect(mnemonic([0x0F, 0xC7, 0xF0]) == "#UD")  // register form: RDRAND is not on this CPU
    #expect(mnemonic([0x0F, 0x01, 0xC1]) == "vmcall")
    #expect(mnemonic([0x0F, 0x01, 0x10]) == "lgdt [eax]")
    #expect(mnemonic([0x0F, 0x01, 0xE0]) == "smsw eax")
    #expect(mnemonic([0x0F, 0x01, 0xF0]) == "lmsw ax")
    #expect(mnemonic([0x0F, 0x01, 0xC8]) == "#UD")  // MONITOR: not reported by CPUID
    #expect(mnemonic([0x0F, 0x01, 0xF8]) == "#UD")  // INVLPG needs memory
    #expect(mnemonic([0x66, 0x0F, 0x38, 0x80, 0x00]) == "invept eax, [eax]")
    #expect(mnemonic([0x0F, 0x38, 0x80, 0x00]) == "#UD")  // INVEPT needs its 66 prefix
  }

  @Test func controlAndDebugRegisterMovesIgnoreMod() {
    // MOV r32, CR0 with mod = 00: still the register form, no displacement follows.
    #expect(mnemonic([0x0F, 0x20, 0x00]) == "mov eax, cr0")
    #expect(mnemonic([0x0F, 0x22, 0xD8]) == "mov cr3, eax")
    #expect(mnemonic([0x0F, 0x22, 0xC8]) == "#UD")  // CR1
    #expect(mnemonic([0x0F, 0x20, 0xE8]) == "#UD")  // CR5
    #expect(mnemonic([0x0F, 0x21, 0xF8]) == "mov eax, dr7")
    #expect(mnemonic([0xF0, 0x0F, 0x20, 0xC0]) == "#UD")  // LOCK MOV CR0 is CR8 on AMD only
  }

  @Test func decodesAsACore2() {
    #expect(mnemonic([0xF3, 0x0F, 0xBC, 0xC1]) == "bsf eax, ecx")  // not TZCNT
    #expect(mnemonic([0xF3, 0x0F, 0xBD, 0xC1]) == "bsr eax, ecx")  // not LZCNT
    #expect(mnemonic([0x0F, 0x58, 0xC1]) == "#UD")  // ADDPS: no SSE
    #expect(mnemonic([0x0F, 0x6F, 0xC1]) == "#UD")  // MOVQ mm: no MMX
    #expect(mnemonic([0x0F, 0x38, 0x00, 0xC1]) == "#UD")  // PSHUFB: no SSSE3
    #expect(mnemonic([0xD9, 0xE8]) == "gap: x87 escape D9")  // FLD1
    #expect(mnemonic([0x0F, 0x31]) == "rdtsc")
    #expect(mnemonic([0x0F, 0x34]) == "sysenter")
    #expect(mnemonic([0x0F, 0x37]) == "#UD")  // GETSEC: no SMX
    #expect(mnemonic([0x0F, 0xA2]) == "cpuid")
    #expect(mnemonic([0x0F, 0x05]) == "#UD")  // SYSCALL: 64-bit only on Intel
    #expect(mnemonic([0x0F, 0x0B]) == "ud2")
    #expect(mnemonic([0x0F, 0x1F, 0x44, 0x00, 0x00]) == "nop dword [eax+eax]")  // the 5-byte NOP
    #expect(mnemonic([0x0F, 0x19, 0xC0]) == "nop eax")  // a hint NOP
    #expect(mnemonic([0x62, 0xC0]) == "#UD")  // BOUND with a register operand
    #expect(mnemonic([0x62, 0x00]) == "gap: BOUND")
  }

  @Test func lockIsLegalOnlyOnMemoryReadModifyWrite() {
    #expect(mnemonic([0xF0, 0x01, 0x08]) == "lock add dword [eax], ecx")
    #expect(mnemonic([0xF0, 0x01, 0xC8]) == "#UD")  // register destination
    #expect(mnemonic([0xF0, 0x89, 0x08]) == "#UD")  // MOV is not lockable
    #expect(mnemonic([0xF0, 0x0F, 0xA3, 0x08]) == "#UD")  // BT does not write
    #expect(mnemonic([0xF0, 0x0F, 0xAB, 0x08]) == "lock bts dword [eax], ecx")
  }

  @Test func truncatedInputSaysHowMuchWasThere() {
    #expect(mnemonic([0xB8, 0x01, 0x02]) == "truncated after 3")
    #expect(mnemonic([]) == "truncated after 0")
  }

  /// Every one-byte opcode decodes to something deliberate: a form, a prefix, a gap or #UD.
  @Test func everyOneByteOpcodeIsClassified() {
    var undefined: [Int] = []
    for b in 0..<256 {
      if case .fault(let f) = Decoder.decode([UInt8(b), 0xC0, 0, 0, 0, 0, 0, 0]), f.vector == .ud {
        undefined.append(b)
      }
    }
    // With ModRM C0 (a register operand) only the memory-only BOUND, LEA, LES and LDS are
    // #UD, and F0 (LOCK on the ROL that follows).
    #expect(undefined == [0x62, 0x8D, 0xC4, 0xC5, 0xF0])
    // And with ModRM F8 (/7): POP r/m, MOV r/m imm and group 4 have no /7; FF /7 neither.
    var slash7: [Int] = []
    for b in 0..<256 {
      if case .fault(let f) = Decoder.decode([UInt8(b), 0xF8, 0, 0, 0, 0, 0, 0]), f.vector == .ud {
        slash7.append(b)
      }
    }
    // (0F F8 is PSUBB, MMX.) 8C and 8E: there is no segment register 7.
    #expect(slash7 == [0x0F, 0x62, 0x8C, 0x8D, 0x8E, 0x8F, 0xC4, 0xC5, 0xC6, 0xC7, 0xF0, 0xFE, 0xFF])
  }
}
