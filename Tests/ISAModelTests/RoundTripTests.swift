import ISAModel
import ISATestSupport
import Testing

@Suite struct RoundTripTests {
  /// decode(encode(i)) == i for random instances of every form, and the decoder consumes
  /// exactly the encoded bytes.
  @Test func everyFormRoundTrips() throws {
    let seed: UInt64 = 0x5EED_0001
    var rng = SplitMix64(seed: seed)
    let generator = InstructionGenerator()
    for index in OpcodeTable.forms.indices {
      let form = Form(index: UInt16(index))
      for round in 0..<40 {
        let inst = generator.instance(of: form, using: &rng)
        let bytes: [UInt8]
        do {
          bytes = try Encoder.encode(inst)
        } catch {
          Issue.record("seed \(seed) form \(form) round \(round): \(error) for \(inst)")
          continue
        }
        let hexBytes = bytes.map { String($0, radix: 16) }.joined(separator: " ")
        guard case .instruction(let back, let length) = Decoder.decode(bytes) else {
          Issue.record("seed \(seed): \(inst) → [\(hexBytes)] → \(Decoder.decode(bytes))")
          continue
        }
        #expect(back == inst, "seed \(seed): \(inst) → [\(hexBytes)] → \(back)")
        #expect(length == bytes.count, "seed \(seed): \(inst) → [\(hexBytes)] length \(length)")
      }
    }
  }

  @Test func encodingsMatchTheSDM() throws {
    // A few hand-checked encodings (the nasm-checked corpus is in NasmTests).
    func enc(_ opcode: String, _ ops: [Operand], size: OperandSize = .dword) throws -> [UInt8] {
      try Encoder.encode(
        Instruction(form: try #require(OpcodeTable.form(opcode)), operands: ops, operandSize: size))
    }
    #expect(try enc("01 /r", [.register(.ecx, .dword), .register(.eax, .dword)]) == [0x01, 0xC1])
    #expect(
      try enc("B8+r iv", [.register(.edi, .dword), .immediate(0x1234_5678)]) == [
        0xBF, 0x78, 0x56, 0x34, 0x12,
      ])
    let esp = MemoryOperand(
      segment: .ss, base: .esp, index: nil, scale: 1, displacement: 8, size: .dword, addressSize: .a32)
    #expect(try enc("8B /r", [.register(.eax, .dword), .memory(esp)]) == [0x8B, 0x44, 0x24, 0x08])
    let ebp = MemoryOperand(
      segment: .ss, base: .ebp, index: nil, scale: 1, displacement: 0, size: .word, addressSize: .a32)
    #expect(
      try enc("89 /r", [.memory(ebp), .register(.edx, .word)], size: .word) == [0x66, 0x89, 0x55, 0x00])
  }
}
