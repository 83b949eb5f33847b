import ExecEngine
import ISAModel
import ISATestSupport
import Testing

/// The engine's fast path against its plain one (docs/engine.md, "Fixed shapes"): random code
/// run with fixed-shape handlers, chained blocks and lazy flags must end exactly as the same code
/// run with every instruction through `Semantics.execute` and flags computed after each one.
@Suite struct FixedShapeTests {
  /// User-level forms, without far transfers and segment loads (they fault at once on random
  /// selectors, which would end most runs early).
  static let forms: [Form] = OpcodeTable.forms.indices.map { Form(index: UInt16($0)) }.filter {
    let m = $0.spec.mnemonic
    return !DifferentialRunner.systemMnemonics.contains(m) && ![.jmpFar, .callFar, .retf].contains(m)
      && !$0.spec.description.contains("Sreg")
  }

  /// A run of `count` random instructions from `seed`, with registers pointing into RAM.
  static func program(seed: UInt64, count: Int) throws -> (code: [UInt8], registers: [UInt32], eflags: UInt32)
  {
    var rng = SplitMix64(seed: seed)
    var generator = InstructionGenerator()
    // Half the programs keep to the forms fixed shapes cover (32-bit sizes, no REP).
    let plain = seed % 2 == 0
    generator.allowAddressSize16 = !plain
    generator.allowRepeatPrefixes = !plain
    generator.allowSegmentOverrides = false
    var code: [UInt8] = []
    for _ in 0..<count {
      let form = forms[Int(rng.next() % UInt64(forms.count))]
      code += try Encoder.encode(generator.instance(of: form, using: &rng))
    }
    let registers = (0..<8).map { _ in UInt32(0x2000 &+ (rng.next() % 0xF_0000)) & ~3 }
    let eflags = UInt32(rng.next() & 0x8D5) | FlagMask.reservedOne
    return (code + [0xF4], registers, eflags)
  }

  static func run(_ p: (code: [UInt8], registers: [UInt32], eflags: UInt32), fast: Bool) throws -> (
    RunOutcome, CPUState, [UInt8]
  ) {
    var convention = LoadConvention()
    convention.memorySize = 1 << 20
    let m = try Loader.machine(flat: p.code, convention)
    m.exceptionRouting = .stop
    m.fixedShapes = fast
    m.flagEvaluation = fast ? .lazy : .eager
    var s = m.state
    for r in GPR.allCases { s[r] = p.registers[Int(r.rawValue)] }
    s.eflags = p.eflags
    m.state = s
    let out = m.run(budget: 400)
    return (out, m.state, m.memory.snapshot())
  }

  static let programs = 300

  @Test func randomCodeEndsAsOnThePlainPath() throws {
    var failures: [String] = []
    var steps: UInt64 = 0
    for k in 0..<Self.programs {
      let seed = 0xF1ED_0000 &+ UInt64(k)
      let p = try Self.program(seed: seed, count: 48)
      let (fastOut, fastState, fastMemory) = try Self.run(p, fast: true)
      let (plainOut, plainState, plainMemory) = try Self.run(p, fast: false)
      steps += plainOut.instructionsRetired
      var differences = fastState.differences(from: plainState)
      if fastOut != plainOut { differences.append("outcome: \(plainOut) → \(fastOut)") }
      if fastMemory != plainMemory,
        let at = fastMemory.indices.first(where: { fastMemory[$0] != plainMemory[$0] })
      {
        differences.append("memory at \(String(at, radix: 16))")
      }
      if !differences.isEmpty { failures.append("seed \(String(seed, radix: 16)): \(differences)") }
    }
    for f in failures.prefix(20) { Issue.record("\(f)") }
    #expect(failures.isEmpty, "\(failures.count) of \(Self.programs) programs differ")
    // The programs must run, not stop at their first instruction.
    #expect(steps > UInt64(Self.programs) * 8, "only \(steps) instructions retired in all")
  }
}

extension FixedShapeTests {
  /// Every ordered triple of instructions that write different sets of flags (all six, all but
  /// CF, CF and OF only, all but ZF, one flag directly), then PUSHFD: lazy flags with two records
  /// must read as flags computed after each instruction.
  @Test func flagWritersInEveryOrderReadAsEager() throws {
    let writers = [
      "add eax, ebx", "sub ecx, eax", "inc edx", "dec eax", "rol ebx, 1", "ror ecx, 3", "bt eax, 5",
      "bts edx, 17", "shl eax, 2", "sar edx, 1", "adc eax, edx", "sbb ebx, eax", "stc", "cmc", "sahf",
    ]
    var rng = SplitMix64(seed: 0xF1A6)
    var source = "bits 32\norg 0x1000\nmov edi, 0x80000\n"
    for a in writers {
      for b in writers {
        for c in writers {
          for r in ["eax", "ebx", "ecx", "edx"] { source += "mov \(r), \(rng.edgyWord())\n" }
          source += "\(a)\n\(b)\n\(c)\npushfd\npop dword [edi]\nadd edi, 4\n"
        }
      }
    }
    source += "hlt\n"
    let binary = try Nasm.assemble(source: source)
    var results: [(RunOutcome, CPUState, [UInt8])] = []
    for fast in [true, false] {
      let m = try Loader.machine(flat: binary)
      m.fixedShapes = fast
      m.flagEvaluation = fast ? .lazy : .eager
      let out = m.run(budget: 1_000_000)
      results.append((out, m.state, m.memory.bytes(at: PhysicalAddress(0x80000), count: 4 * 15 * 15 * 15)))
    }
    #expect(results[0].0.reason == .halted)
    #expect(results[0].0 == results[1].0)
    #expect(results[0].1.differences(from: results[1].1).isEmpty)
    let differing = (0..<(15 * 15 * 15)).filter {
      results[0].2[4 * $0..<4 * $0 + 4] != results[1].2[4 * $0..<4 * $0 + 4]
    }
    let names = differing.prefix(10).map { k in
      "\(writers[k / 225]); \(writers[k / 15 % 15]); \(writers[k % 15])"
    }
    #expect(differing.isEmpty, "\(differing.count) triples differ, first: \(names)")
  }
}
