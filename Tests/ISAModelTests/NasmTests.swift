import ExecEngine
import ISAModel
import ISATestSupport
import Testing

/// The decoder against nasm: random instances of every form are written as nasm source (our
/// disassembly), assembled by nasm in one batch, and nasm's bytes decoded back. Each must read
/// as the instruction we wrote (nasm may pick another encoding; the meaning must be the same).
@Suite struct NasmTests {
  @Test func nasmsEncodingsDecodeToTheInstructionsWritten() throws {
    let seed: UInt64 = 0x7A5A_0001
    var rng = SplitMix64(seed: seed)
    var generator = InstructionGenerator()
    generator.allowRepeatPrefixes = false
    var written: [Instruction] = []
    for index in OpcodeTable.forms.indices {
      let form = Form(index: UInt16(index))
      let spec = form.spec
      // Relative offsets are absolute targets in assembler syntax.
      if spec.operands.contains(where: { if case .j = $0 { true } else { false } }) { continue }
      for _ in 0..<12 {
        var inst = generator.instance(of: form, using: &rng)
        if inst.mnemonic == .bswap && inst.operandSize == .word { continue }  // undefined; nasm rejects it
        // MOVZX/MOVSX r16, r/m16 are valid encodings that nasm has no syntax for.
        if (inst.mnemonic == .movzx || inst.mnemonic == .movsx) && inst.op1.size == .word
          && inst.operandSize == .word
        {
          continue
        }
        if inst.mnemonic.isString { inst.segmentOverride = nil }
        written.append(inst)
      }
    }
    let source = "bits 32\n" + written.map(\.description).joined(separator: "\n") + "\n"
    let bytes: [UInt8]
    do {
      bytes = try Nasm.assemble(source: source)
    } catch {
      let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
      let report = error.message.split(separator: "\n").filter { $0.contains("error") }.prefix(20).map {
        line -> String in
        // "file:LINE: error: …" → quote the source line.
        let parts = line.split(separator: ":")
        let n = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        return "\(line)  ← \(n > 0 && n <= lines.count ? String(lines[n - 1]) : "?")"
      }
      Issue.record("seed \(seed): nasm rejected our text:\n\(report.joined(separator: "\n"))")
      return
    }
    var offset = 0
    var mismatches: [String] = []
    for (n, inst) in written.enumerated() {
      guard case .instruction(let back, let length) = Decoder.decode(bytes[offset...].prefix(15)) else {
        mismatches.append("line \(n + 2) \(inst): nasm's bytes do not decode")
        break
      }
      let same = back.description == inst.description || Self.swappedXchg(back, inst)
      if !same { mismatches.append("line \(n + 2): wrote \(inst), nasm encoded \(back)") }
      offset += length
    }
    #expect(offset == bytes.count, "seed \(seed): decoding consumed \(offset) of \(bytes.count) bytes")
    for m in mismatches.prefix(30) { Issue.record("seed \(seed): \(m)") }
    #expect(mismatches.isEmpty)
    #expect(written.count > 2000)
  }

  /// XCHG is symmetric: nasm may put the register operands the other way round.
  static func swappedXchg(_ a: Instruction, _ b: Instruction) -> Bool {
    a.mnemonic == .xchg && b.mnemonic == .xchg && Set([a.op0, a.op1]) == Set([b.op0, b.op1])
  }
}
