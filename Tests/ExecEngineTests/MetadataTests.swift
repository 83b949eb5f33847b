import ExecEngine
import ISAModel
import ISATestSupport
import Testing

/// The operand-use declarations of `Mnemonic` checked against the semantics on the engine:
/// a write-only destination's old value cannot matter, a read-only operand is left unchanged.
@Suite struct MetadataTests {
  /// Runs `inst` on a fresh machine whose registers are `regs`; returns the final state.
  func run(_ inst: Instruction, regs: [UInt32]) throws -> CPUState? {
    let m = Machine(memorySize: 1 << 20)
    m.exceptionRouting = .stop
    var s = CPUState()
    for r in GPR.allCases { s[r] = regs[Int(r.rawValue)] }
    s.eip = 0x1000
    for seg in SegmentRegister.allCases { s[seg] = .flat(selector: seg == .cs ? 8 : 0x10, code: seg == .cs) }
    m.state = s
    m.load(try Encoder.encode(inst), at: PhysicalAddress(0x1000))
    // A step that faults writes nothing: it says nothing about the declared uses.
    guard m.run(budget: 1).reason == .budgetExhausted else { return nil }
    return m.state
  }

  @Test func declaredUsesMatchTheSemantics() throws {
    var rng = SplitMix64(seed: 0x3E7A)
    var generator = InstructionGenerator()
    generator.allowAddressSize16 = false
    generator.allowSegmentOverrides = false
    var checked = 0
    for index in OpcodeTable.forms.indices {
      let form = Form(index: UInt16(index))
      let uses = form.spec.operandUse
      for _ in 0..<8 {
        let inst = generator.instance(of: form, using: &rng)
        // Register operands only: their registers are distinct from the ones the instruction
        // uses implicitly? Not always (CL counts, EAX of CMPXCHG): skip shared registers.
        let ops = [inst.op0, inst.op1, inst.op2].prefix(uses.count)
        for (k, (op, use)) in zip(ops, uses).enumerated() {
          guard case .register(let r, let size) = op, size == .dword, r != .esp else { continue }
          let others = ops.enumerated().filter { $0.offset != k }.flatMap { o -> [GPR] in
            switch o.element {
            case .register(let q, _): return [q]
            case .memory(let m): return [m.base, m.index].compactMap { $0 }
            default: return []
            }
          }
          if others.contains(r) || [.eax, .edx, .ecx].contains(r) && implicitUsers.contains(inst.mnemonic) {
            continue
          }
          var regs = (0..<8).map { _ in UInt32(truncatingIfNeeded: rng.next()) | 1 }
          regs[Int(GPR.esp.rawValue)] = 0x8000
          guard let a = try run(inst, regs: regs) else { continue }
          switch use {
          case .write:
            regs[Int(r.rawValue)] ^= 0x5A5A_A5A5
            guard let b = try run(inst, regs: regs) else { continue }
            #expect(a == b, "\(inst): declared write-only, but its old value mattered")
            checked += 1
          case .read:
            #expect(
              a[r] == regs[Int(r.rawValue)] || inst.mnemonic == .xchg,
              "\(inst): declared read-only, but \(r) changed")
            checked += 1
          case .readWrite, .address:
            break
          }
        }
      }
    }
    #expect(checked > 100)
  }

  /// Instructions that use EAX, ECX or EDX implicitly.
  let implicitUsers: Set<Mnemonic> = [
    .mul, .imul, .div, .idiv, .cmpxchg, .cbw, .cwd, .loop, .loope, .loopne, .jecxz,
  ]

  @Test func stepReportsEachOutcome() throws {
    let m = Machine(memorySize: 1 << 20)
    m.exceptionRouting = .stop
    var s = CPUState()
    s.eip = 0x1000
    m.state = s
    // xor ecx, ecx; div ecx; (never reached)
    m.load([0x31, 0xC9, 0xF7, 0xF1], at: PhysicalAddress(0x1000))
    #expect(m.step() == .retired)
    #expect(m.step() == .fault(Fault(.de)))
    #expect(m.state.eip == 0x1002)
    m.load([0xF4], at: PhysicalAddress(0x1002))
    #expect(m.step() == .halted)
    let gap = Machine(memorySize: 1 << 20)
    gap.state = s
    gap.load([0x37], at: PhysicalAddress(0x1000))
    #expect(gap.step() == .modelGap("AAA"))
  }
}
