import ExecEngine
import ISAModel
import Testing

/// Blocks that follow direct jumps and calls and predict returns (docs/engine.md, "Traces"):
/// every program here must end exactly as on the plain path (each instruction through
/// `Semantics.execute`, blocks ending at every branch), however its branches go.
@Suite struct TraceTests {
  struct Run {
    let outcome: RunOutcome
    let state: CPUState
    let memory: [UInt8]
    let events: EventCounts
  }

  static func run(
    _ binary: [UInt8], fast: Bool, budget: UInt64 = 100_000, setUp: (Machine) -> Void = { _ in }
  )
    throws -> Run
  {
    var convention = LoadConvention()
    convention.memorySize = 1 << 20
    let m = try Loader.machine(flat: binary, convention)
    m.exceptionRouting = .stop
    m.fixedShapes = fast
    setUp(m)
    let out = m.run(budget: budget)
    return Run(outcome: out, state: m.state, memory: m.memory.snapshot(), events: m.events)
  }

  /// Runs `source` both ways and expects the same end; returns the fast run and the plain one.
  @discardableResult
  static func bothWays(
    _ source: String, budget: UInt64 = 100_000, setUp: (Machine) -> Void = { _ in },
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> (fast: Run, plain: Run) {
    let binary = try Nasm.assemble(source: "bits 32\norg 0x1000\n" + source)
    let fast = try run(binary, fast: true, budget: budget, setUp: setUp)
    let plain = try run(binary, fast: false, budget: budget, setUp: setUp)
    #expect(fast.outcome == plain.outcome, sourceLocation: sourceLocation)
    #expect(fast.state.differences(from: plain.state).isEmpty, sourceLocation: sourceLocation)
    let at = fast.memory.indices.first { fast.memory[$0] != plain.memory[$0] }
    #expect(at == nil, "memory differs at \(String(at ?? 0, radix: 16))", sourceLocation: sourceLocation)
    return (fast, plain)
  }

  /// Nested calls, a direct jump and returns, in a loop: `callret`'s shape.
  static let calls = """
      mov esp, 0x90000
      xor ebx, ebx
      mov ecx, 50
    again:
      push ecx
      call outer
      add esp, 4
      add ebx, eax
      call leaf
      dec ecx
      jnz again
      mov eax, ebx
      hlt
    outer:
      push ebp
      mov ebp, esp
      mov eax, [ebp + 8]
      imul eax, eax, 31
      jmp .on
      ud2
    .on:
      call leaf
      pop ebp
      ret
    leaf:
      lea eax, [eax + ebx * 2 + 7]
      ret
    """

  @Test func callsAndReturnsRunInOneBlock() throws {
    let (fast, plain) = try Self.bothWays(Self.calls)
    #expect(fast.outcome.reason == .halted)
    // The sum the loop computes, by hand: eax = 31·ecx + 2·ebx + 7 after outer, + 2·ebx + 7
    // after each leaf.
    var ebx: UInt32 = 0
    for ecx in stride(from: UInt32(50), through: 1, by: -1) {
      var eax = ecx &* 31
      eax = eax &+ ebx &* 2 &+ 7
      ebx = ebx &+ eax
      eax = eax &+ ebx &* 2 &+ 7
    }
    #expect(fast.state[.eax] == ebx)
    // Blocks run through the calls, returns and the loop's branch: on average at least one round
    // of the loop (19 instructions) each, where on the plain path they end at every branch.
    let fastLength = Double(fast.events.instructionsDecoded) / Double(fast.events.blocksDecoded)
    let plainLength = Double(plain.events.instructionsDecoded) / Double(plain.events.blocksDecoded)
    #expect(
      fastLength >= 19,
      "\(fast.events.instructionsDecoded) instructions in \(fast.events.blocksDecoded) blocks")
    #expect(
      plainLength < 5,
      "\(plain.events.instructionsDecoded) instructions in \(plain.events.blocksDecoded) blocks")
  }

  @Test func everyBudgetStopsWhereThePlainPathDoes() throws {
    let binary = try Nasm.assemble(
      source: "bits 32\norg 0x1000\n" + Self.calls.replacingOccurrences(of: "50", with: "3"))
    let total = try Self.run(binary, fast: false).outcome.instructionsRetired
    #expect(total > 40)
    for budget in 1...total {
      let fast = try Self.run(binary, fast: true, budget: budget)
      let plain = try Self.run(binary, fast: false, budget: budget)
      #expect(fast.outcome == plain.outcome, "budget \(budget)")
      #expect(fast.state.differences(from: plain.state).isEmpty, "budget \(budget)")
    }
  }

  /// Backward Jcc is predicted taken, so a block unrolls a loop; inner loops of 1 to 7 rounds
  /// leave the unrolled block at every position.
  @Test func loopsUnrollAndLeaveAnywhere() throws {
    let (fast, _) = try Self.bothWays(
      """
        xor eax, eax
        mov ecx, 7
      outer:
        mov edx, ecx
      inner:
        add eax, edx
        dec edx
        jnz inner
        cmp eax, 0x7FFFFFFF
        jb .next            ; forward: not followed
        ud2
      .next:
        loop outer
        hlt
      """)
    #expect(fast.outcome.reason == .halted)
    // Σ over n = 1…7 of n(n + 1)/2.
    #expect(fast.state[.eax] == (1...7).map { $0 * ($0 + 1) / 2 }.reduce(0, +))
  }

  @Test func returnsThatGoElsewhereLeaveTheBlock() throws {
    let (fast, _) = try Self.bothWays(
      """
        mov esp, 0x90000
        xor ebx, ebx
        mov ecx, 20
      again:
        call redirect       ; returns to `there`, not here
        add ebx, 1000
      there:
        call skip           ; returns two bytes past the call
        db 0xEB, 0xFE       ; jmp $: never runs
        add ebx, eax
        call twice          ; pops its return address and jumps to it
        dec ecx
        jnz again
        hlt
      redirect:
        mov dword [esp], there
        ret
      skip:
        add dword [esp], 2
        mov eax, 3
        ret
      twice:
        pop edx
        add ebx, 1
        jmp edx
      """)
    #expect(fast.outcome.reason == .halted)
    #expect(fast.state[.ebx] == 20 * 4)
  }

  /// Branches with a prefix that keeps them off the fixed-shape path (0x67 here) run on the
  /// general handler, which does not check a prediction: no block may follow them.
  @Test func prefixedBranchesAreNotFollowed() throws {
    let (fast, _) = try Self.bothWays(
      """
        mov esp, 0x90000
        xor ebx, ebx
        mov ecx, 5
      again:
        call redirect       ; its RET, prefixed, returns to `there`
        add ebx, 1000
      there:
        add ebx, 1
        dec ecx
        db 0x67             ; a backward Jcc, prefixed: not taken at the end
        jnz again
        hlt
      redirect:
        mov dword [esp], there
        db 0x67
        ret
      """)
    #expect(fast.outcome.reason == .halted)
    #expect(fast.state[.ebx] == 5)
  }

  @Test func writesToAFollowedCalleeAreSeen() throws {
    let (fast, _) = try Self.bothWays(
      """
        mov esp, 0x90000
        xor ebx, ebx
        mov ecx, 10
      again:
        inc dword [value]
        call f
        add ebx, eax
        dec ecx
        jnz again
        hlt
      f:
        db 0xB8             ; mov eax, imm32
      value:
        dd 1
        ret
      """)
    #expect(fast.outcome.reason == .halted)
    #expect(fast.state[.ebx] == (2...11).reduce(0, +))
    #expect(fast.events.codeInvalidations == 10)
  }

  @Test func noBlockFollowsABranchIntoHostCode() throws {
    let (fast, _) = try Self.bothWays(
      """
        mov esp, 0x90000
        call 0x8000
        hlt
      """, setUp: { $0.hostCode = 0x8000..<0x8100 })
    #expect(fast.outcome.reason == .hostCode(0x8000))
    #expect(fast.state[.esp] == 0x90000 - 4)
  }

  /// A code segment whose limit ends inside a callee: the call to a target past the limit is
  /// #GP(0) at the call, and an instruction that crosses the limit is #GP(0) at its start
  /// (SDM Vol. 3A §5.3; Vol. 2A CALL).
  @Test func followedBranchesKeepTheCodeLimit() throws {
    let prologue = """
        lgdt [gdtr]
        jmp 0x18:start
      align 8
      gdt:
        dq 0
        dq 0x00CF9A000000FFFF
        dq 0x00CF92000000FFFF
        dq 0x00409A0000001FFF   ; code, limit 0x1FFF, byte granular
      gdt_end:
      gdtr:
        dw gdt_end - gdt - 1
        dd gdt
      start:
        mov esp, 0x90000

      """
    let past = try Self.bothWays(prologue + "call 0x2100\nhlt\n")
    #expect(past.fast.outcome.reason == .fault(Fault(.gp, errorCode: 0)))
    #expect(past.fast.outcome.eip < 0x2000)
    let crossing = try Self.bothWays(
      prologue + "call f\nhlt\ntimes 0x1FFD - ($ - $$ + 0x1000) db 0x90\nf:\nmov eax, 1\nret\n")
    #expect(crossing.fast.outcome.reason == .fault(Fault(.gp, errorCode: 0)))
    #expect(crossing.fast.outcome.eip == 0x1FFD)
    #expect(crossing.fast.state[.esp] == 0x90000 - 4)
  }
}
