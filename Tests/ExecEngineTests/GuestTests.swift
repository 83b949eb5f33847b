import ExecEngine
import ISAModel
import Testing

/// Assembles a guest with nasm and runs it natively.
func runGuest(_ source: String, budget: UInt64 = 1_000_000) throws -> (Machine, RunOutcome) {
  let binary = try Nasm.assemble(source: "bits 32\norg 0x1000\n" + source)
  let m = try Loader.machine(flat: binary)
  // These guests have no IDT: an exception ends the run instead of being delivered.
  m.exceptionRouting = .stop
  return (m, m.run(budget: budget))
}

@Suite struct GuestTests {
  @Test func aLoopSumsAndHalts() throws {
    let (m, out) = try runGuest(
      """
        xor eax, eax
        mov ecx, 10
      l: add eax, ecx
        loop l
        hlt
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.eax] == 55)
    #expect(out.instructionsRetired == 2 + 20 + 1)
  }

  @Test func callsReturnAndTheStackBalances() throws {
    let (m, out) = try runGuest(
      """
        mov esp, 0x8000
        push 7
        call f
        add esp, 4
        hlt
      f: mov eax, [esp + 4]
        imul eax, eax, 6
        ret
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.eax] == 42)
    #expect(m.state[.esp] == 0x8000)
  }

  @Test func divideByZeroFaultsAtTheInstruction() throws {
    let (m, out) = try runGuest(
      """
        mov eax, 1
        xor ecx, ecx
      d: div ecx
        hlt
      """)
    #expect(out.reason == .fault(Fault(.de)))
    #expect(out.eip == 0x1000 + 5 + 2)
    #expect(m.state.eip == out.eip)
    #expect(m.state[.eax] == 1)
  }

  @Test func unimplementedInstructionsAreModelGapsNotFaults() throws {
    let (_, out) = try runGuest("aaa\nhlt")
    #expect(out.reason == .modelGap("AAA"))
    let (_, x87) = try runGuest("fld1\nhlt")
    #expect(x87.reason == .modelGap("x87 escape D9"))
  }

  @Test func invalidOpcodesRaiseUD() throws {
    let (_, out) = try runGuest("ud2")
    #expect(out.reason == .fault(Fault(.ud)))
    let (_, sse) = try runGuest("db 0x0F, 0x58, 0xC1")  // ADDPS: no SSE on the modelled CPU
    #expect(sse.reason == .fault(Fault(.ud)))
  }

  @Test func budgetStopsAnEndlessLoop() throws {
    let (_, out) = try runGuest("l: jmp l", budget: 1000)
    #expect(out.reason == .budgetExhausted)
    #expect(out.instructionsRetired == 1000)
  }

  @Test func repStringsRunOneElementPerStep() throws {
    let (m, out) = try runGuest(
      """
        mov edi, 0x20000
        mov ecx, 5
        mov al, 0xAB
        cld
        rep stosb
        hlt
      """)
    #expect(out.reason == .halted)
    #expect(m.memory.bytes(at: PhysicalAddress(0x20000), count: 6) == [0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0])
    #expect(m.state[.ecx] == 0)
    #expect(out.instructionsRetired == 4 + 5 + 1)
  }

  @Test func selfModifyingCodeIsSeen() throws {
    // The loop patches its own immediate: the decode cache must notice.
    let (m, out) = try runGuest(
      """
        xor ebx, ebx
        mov ecx, 3
      l: mov eax, 1
      imm equ $ - 4
        add ebx, eax
        mov dword [imm], 100
        loop l
        hlt
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.ebx] == 1 + 100 + 100)
    #expect(m.events.codeInvalidations >= 1)
  }

  @Test func executingOpenBusIsUD() throws {
    let (_, out) = try runGuest("jmp 0x2000000")  // past 16 MiB of RAM: fetches 0xFF 0xFF …
    #expect(out.reason == .fault(Fault(.ud)))
    #expect(out.eip == 0x0200_0000)
  }
}

@Suite struct FlagEvaluationTests {
  /// Lazy and eager flag evaluation reach the same state on a flag-heavy guest.
  @Test func lazyAndEagerFlagsAgree() throws {
    let source = """
      bits 32
      org 0x1000
        mov ecx, 200
        mov eax, 0x1234567
      l: add eax, ecx
        rcl eax, 3
        sbb ebx, eax
        inc edx
        adc esi, ebx
        shr eax, 1
        setc dl
        cmovo edi, eax
        lahf
        xor ah, al
        sahf
        dec ecx
        jnz l
        hlt
      """
    let binary = try Nasm.assemble(source: source)
    let lazy = try Loader.machine(flat: binary)
    let eager = try Loader.machine(flat: binary)
    eager.flagEvaluation = .eager
    #expect(lazy.run(budget: 100_000).reason == .halted)
    #expect(eager.run(budget: 100_000).reason == .halted)
    #expect(lazy.state == eager.state, "\(lazy.state.differences(from: eager.state))")
  }
}

@Suite struct SixteenBitTransferTests {
  /// 66 FF /2: CALL r/m16 pushes the 16-bit IP and jumps to the zero-extended 16-bit target
  /// (SDM Vol. 2A, CALL: "tempEIP ← tempEIP AND 0000FFFFH").
  @Test func sixteenBitIndirectCall() throws {
    let (m, out) = try runGuest(
      """
        mov esp, 0x8000
        mov dword [0x3000], 0x12345020
        o16 call word [0x3000]
        hlt
      times 0x5020 - 0x1000 - ($ - $$) db 0x90
        mov eax, 0x77
        hlt
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.eax] == 0x77)
    #expect(m.state.eip == 0x5026)
    #expect(m.state[.esp] == 0x7FFE)  // two bytes pushed
    // The pushed return address is the 16-bit IP after the call (0x1000 + 5 + 10 + 7).
    #expect(m.memory.read(PhysicalAddress(0x7FFE), .word) == 0x1016)
  }
}

@Suite struct PrivilegeCheckTests {
  /// HLT at CPL 3 is #GP(0) (SDM Vol. 2A, HLT), from the table attribute.
  @Test func hltOutsideRingZeroIsGP() {
    let m = Machine(memorySize: 1 << 20)
    m.exceptionRouting = .stop
    var s = CPUState()
    s.eip = 0x1000
    s[.cs] = SegmentState(selector: 0x1B, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC0FA)  // CPL 3
    m.state = s
    m.load([0xF4], at: PhysicalAddress(0x1000))
    #expect(m.step() == .fault(Fault(.gp, errorCode: 0)))
    #expect(!m.state.halted)
  }
}
