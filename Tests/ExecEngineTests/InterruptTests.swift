import ExecEngine
import ISAModel
import Testing

/// Interrupt and exception delivery through the IDT, INT n/INT3/INTO and IRET (SDM Vol. 3A
/// §6.12–6.15; Vol. 2A INT n, IRET). Each guest is a small kernel: a GDT with ring-0 and ring-3
/// segments, a TSS whose SS0:ESP0 is 0x10:0x7000, and an IDT at 0x8000 filled by `gate`.
@Suite struct InterruptTests {
  static let kernel = """
    bits 32
    org 0x1000
    %macro gate 3  ; vector, handler, type and attributes (8E interrupt, 8F trap, EE/EF DPL 3)
      mov eax, %2
      mov word [0x8000 + %1 * 8], ax
      mov word [0x8000 + %1 * 8 + 2], 0x08
      mov byte [0x8000 + %1 * 8 + 4], 0
      mov byte [0x8000 + %1 * 8 + 5], %3
      shr eax, 16
      mov word [0x8000 + %1 * 8 + 6], ax
    %endmacro
      lgdt [gdtr]
      lidt [idtr]
      mov dword [0x9004], 0x7000  ; TSS.ESP0
      mov dword [0x9008], 0x10    ; TSS.SS0
      mov ax, 0x28
      ltr ax
      jmp body
    align 8
    gdt:
      dq 0
      dq 0x00CF9A000000FFFF  ; 0x08 ring-0 code
      dq 0x00CF92000000FFFF  ; 0x10 ring-0 data
      dq 0x00CFFA000000FFFF  ; 0x18 ring-3 code
      dq 0x00CFF2000000FFFF  ; 0x20 ring-3 data
      dq 0x0000890090000067  ; 0x28 the TSS at 0x9000
      dq 0x00CF1A000000FFFF  ; 0x30 ring-0 code, not present
    gdt_end:
    gdtr:
      dw gdt_end - gdt - 1
      dd gdt
    idtr:
      dw 0x7FF
      dd 0x8000
    ; Enters ring 3 at ECX with ESP 0x60000 and EFLAGS = EAX, through IRET.
    to_ring3:
      push dword 0x23
      push dword 0x60000
      push eax
      push dword 0x1B
      push ecx
      iretd
    body:

    """

  func run(_ source: String, budget: UInt64 = 100_000) throws -> (Machine, RunOutcome) {
    let m = try Loader.machine(flat: try Nasm.assemble(source: Self.kernel + source))
    return (m, m.run(budget: budget))
  }

  @Test func softwareInterruptAtTheSamePrivilege() throws {
    // INT 0x80 through an interrupt gate: EFLAGS, CS, EIP pushed on the same stack, IF cleared;
    // IRET returns after the INT with IF restored.
    let (m, out) = try run(
      """
        gate 0x80, handler, 0x8E
        sti
        mov esp, 0x50000
        int 0x80
      after:
        pushfd
        pop edi
        hlt
      handler:
        mov ebx, [esp]       ; EIP
        mov ecx, [esp + 4]   ; CS
        mov edx, [esp + 8]   ; EFLAGS
        pushfd
        pop esi
        iretd
      """)
    #expect(out.reason == .halted)
    let s = m.state
    let after = try #require(s[.ebx] > 0x1000 ? s[.ebx] : nil)
    #expect(s[.ecx] == 0x08)
    #expect(s[.edx] & Flag.if.mask != 0)  // the frame holds IF = 1
    #expect(s[.esi] & Flag.if.mask == 0)  // the interrupt gate cleared it
    #expect(s[.edi] & Flag.if.mask != 0)  // IRET restored it
    #expect(s[.esp] == 0x50000)
    #expect(after < s.eip)
    #expect(m.events.exceptionsDelivered == 0)  // INT n is an instruction, not an exception
  }

  @Test func divideErrorIsHandledAndResumed() throws {
    // #DE is a fault: the frame's EIP is the DIV itself; the handler skips it (2 bytes).
    let (m, out) = try run(
      """
        gate 0, divide_error, 0x8E
        mov eax, 7
        xor ecx, ecx
        div ecx
        mov ebx, 0x600d
        hlt
      divide_error:
        mov esi, [esp]
        add dword [esp], 2
        iretd
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.ebx] == 0x600D)
    #expect(m.memory.read(PhysicalAddress(m.state[.esi]), .byte) == 0xF7)  // DIV's opcode
    #expect(m.events.exceptionsDelivered == 1)
  }

  @Test func ring3SystemCallSwitchesToTheTSSStack() throws {
    // From ring 3 through a DPL-3 gate: SS0:ESP0 from the TSS, the frame holds SS and ESP of
    // ring 3, and IRET returns to ring 3 (SDM Vol. 3A §6.12.1, Figure 6-4).
    let (m, out) = try run(
      """
        gate 0x80, syscall, 0xEE
        mov eax, 0x202
        mov ecx, ring3
        jmp to_ring3
      ring3:
        mov eax, 41
        int 0x80
        mov edi, cs
        mov ebp, ss
        ud2
      syscall:
        inc eax
        mov ebx, esp
        mov ecx, [esp + 12]  ; the ring-3 ESP
        mov edx, [esp + 16]  ; the ring-3 SS
        mov esi, cs
        iretd
      """)
    // The final UD2 has no handler: #UD → #GP(6 × 8 + 3) → #GP(13 × 8 + 3) → #DF → shutdown.
    #expect(
      out.reason
        == .shutdown([
          Fault(.ud), Fault(.gp, errorCode: 0x33), Fault(.gp, errorCode: 0x6B), Fault(.df, errorCode: 0),
          Fault(.gp, errorCode: 0x43),
        ]))
    let s = m.state
    #expect(s[.eax] == 42)
    #expect(s[.ebx] == 0x7000 - 20)
    #expect(s[.ecx] == 0x60000)
    #expect(s[.edx] == 0x23)
    #expect(s[.esi] == 0x08)
    #expect(s[.edi] == 0x1B)
    #expect(s[.ebp] == 0x23)
  }

  @Test func gatePrivilegeAndPresence() throws {
    // INT to a DPL-0 gate from ring 3: #GP(vector × 8 + 2), delivered to the #GP handler.
    let (m, _) = try run(
      """
        gate 13, general_protection, 0x8E
        gate 0x81, never, 0x8E
        mov eax, 0x2
        mov ecx, ring3
        jmp to_ring3
      ring3:
        int 0x81
      never:
        hlt
      general_protection:
        mov ebx, [esp]       ; the error code
        mov ecx, [esp + 8]   ; CS of the INT
        hlt
      """)
    #expect(m.state[.ebx] == 0x81 * 8 + 2)
    #expect(m.state[.ecx] == 0x1B)
    // A not-present gate for a benign exception: #NP(vector × 8 + 2 + EXT), delivered.
    let (n, _) = try run(
      """
        gate 11, not_present, 0x8E
        gate 6, never0, 0x0E   ; P = 0
        ud2
      never0:
        hlt
      not_present:
        mov ebx, [esp]
        hlt
      """)
    #expect(n.state[.ebx] == 6 * 8 + 2 + 1)
  }

  @Test func faultsWhileDeliveringBecomeDoubleFaults() throws {
    // #GP whose handler's code segment is not present: #NP while delivering a contributory
    // exception is #DF (SDM Vol. 3A Table 6-5), delivered with error code 0.
    let (m, out) = try run(
      """
        gate 8, double_fault, 0x8E
        gate 13, gp, 0x8E
        mov word [0x8000 + 13 * 8 + 2], 0x30   ; the #GP gate's selector: not present
        mov eax, [cs:0]
        mov ds, [bad]
      gp:
        hlt
      double_fault:
        mov ebx, [esp]
        mov ecx, 0xdf
        hlt
      bad: dw 0x38
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.ecx] == 0xDF)
    #expect(m.state[.ebx] == 0)
    #expect(m.events.exceptionsDelivered == 1)
  }

  @Test func noIDTIsATripleFault() throws {
    let binary = try Nasm.assemble(source: "bits 32\norg 0x1000\nxor ecx, ecx\ndiv ecx\n")
    let m = try Loader.machine(flat: binary)
    let out = m.run(budget: 100)
    // #DE → #GP(0*8+2+1) past the IDT limit → #DF → #GP(8*8+2+1) → shutdown.
    #expect(
      out.reason
        == .shutdown([
          Fault(.de), Fault(.gp, errorCode: 3), Fault(.df, errorCode: 0), Fault(.gp, errorCode: 0x43),
        ]))
    #expect(out.eip == 0x1002)
  }

  @Test func trapGatesKeepIFAndINT3AndINTOAreVectors3And4() throws {
    let (m, out) = try run(
      """
        gate 3, breakpoint, 0x8F
        gate 4, overflow, 0x8F
        sti
        int3
        mov eax, 0x7fffffff
        add eax, 1
        into
        hlt
      breakpoint:
        pushfd
        pop ebx
        iretd
      overflow:
        mov ecx, 4
        iretd
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.ebx] & Flag.if.mask != 0)
    #expect(m.state[.ecx] == 4)
    // INTO without OF does nothing.
    let (n, _) = try run("gate 4, overflow, 0x8F\nxor eax, eax\ninto\nhlt\noverflow: mov ecx, 4\niretd")
    #expect(n.state[.ecx] != 4)
  }

  @Test func iretToRing3ClearsPrivilegedDataSegmentsAndKeepsItsOwnIF() throws {
    // IRET to an outer ring nulls DS if its DPL is below the new CPL; at ring 3 with IOPL 0 an
    // IRET to the same ring leaves IF alone, silently (SDM Vol. 2A IRET; issue 6's culprit).
    let (m, out) = try run(
      """
        mov ax, 0x10
        mov ds, ax
        mov eax, 0x202
        mov ecx, ring3
        jmp to_ring3
      ring3:
        mov ebx, ds
        pushfd
        pop ecx
        push dword 0x2       ; EFLAGS image with IF = 0
        push dword 0x1B
        push dword back
        iretd
      back:
        pushfd
        pop edx
        ud2
      """)
    #expect(out.reason != .halted)
    #expect(m.state[.ebx] == 0)  // DS was nulled
    #expect(m.state[.ecx] & Flag.if.mask != 0)
    #expect(m.state[.edx] & Flag.if.mask != 0)  // the IRET at ring 3 did not clear IF
  }
}

/// SYSENTER and SYSEXIT (SDM Vol. 2B): flat segments derived from IA32_SYSENTER_CS.
@Suite struct FastSystemCallTests {
  @Test func sysexitToRing3AndSysenterBack() throws {
    let source =
      InterruptTests.kernel + """
          gate 13, general_protection, 0x8E
          xor edx, edx
          mov ecx, 0x174
          mov eax, 0x08
          wrmsr
          mov ecx, 0x175
          mov eax, 0x7000
          wrmsr
          mov ecx, 0x176
          mov eax, entry
          wrmsr
          mov ecx, 0x60000
          mov edx, ring3
          sysexit
        ring3:
          mov edi, cs
          mov ebp, esp
          sysexit                          ; at CPL 3: #GP(0), which the handler skips
          sysenter
        entry:
          mov esi, cs
          mov ebx, ss
          hlt
        general_protection:
          mov eax, [esp]
          mov [0x5000], eax                ; the error code
          add dword [esp + 4], 2
          add esp, 4
          iretd
        """
    let m = try Loader.machine(flat: try Nasm.assemble(source: source))
    let out = m.run(budget: 10_000)
    #expect(out.reason == .halted)
    let s = m.state
    #expect(s[.edi] == 0x1B)
    #expect(s[.ebp] == 0x60000)
    #expect(s[.esi] == 0x08)
    #expect(s[.ebx] == 0x10)
    #expect(s[.esp] == 0x7000)
    #expect(s.cpl == 0)
    #expect(m.memory.read(PhysicalAddress(0x5000), .dword) == 0)
  }

  @Test func aNullSysenterCSIsGP() throws {
    let m = try Loader.machine(flat: try Nasm.assemble(source: "bits 32\norg 0x1000\nsysenter\n"))
    m.exceptionRouting = .stop
    #expect(m.run(budget: 10).reason == .fault(Fault(.gp, errorCode: 0)))
  }
}

/// Far JMP, CALL and RETF (SDM Vol. 2A CALL, JMP; Vol. 2B RET; Vol. 3A §5.8).
@Suite struct FarTransferTests {
  func run(_ body: String, stop: Bool = false) throws -> (Machine, RunOutcome) {
    let m = try Loader.machine(flat: try Nasm.assemble(source: InterruptTests.kernel + body))
    if stop { m.exceptionRouting = .stop }
    return (m, m.run(budget: 10_000))
  }

  /// A call gate in GDT slot 0x30 (selector 0x30 | RPL) to SEL:OFFSET, with DPL `dpl`, copying
  /// `parameters` dwords.
  static func gate(_ selector: String, _ offset: String, dpl: Int, parameters: Int = 0) -> String {
    """
      mov eax, \(offset)
      mov word [gdt + 0x30], ax
      mov word [gdt + 0x32], \(selector)
      mov byte [gdt + 0x34], \(parameters)
      mov byte [gdt + 0x35], 0x8C | \(dpl) << 5
      shr eax, 16
      mov word [gdt + 0x36], ax

    """
  }

  @Test func sameLevelFarJumpCallAndReturn() throws {
    let (m, out) = try run(
      """
        jmp dword 0x08:there
        hlt
      there:
        mov esp, 0x50000
        call dword 0x08:far_function
        mov ebx, eax
        hlt
      far_function:
        mov eax, [esp + 4]                ; the CS pushed
        mov ecx, [esp]                    ; the EIP pushed
        retf
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.ebx] == 0x08)
    #expect(m.state[.esp] == 0x50000)
    #expect(m.state[.ecx] > 0x1000)
  }

  @Test func retfToRing3AndACallGateAtRing3() throws {
    // RETF to an outer level pops ESP and SS and nulls DS; a DPL-3 call gate to ring-3 code is
    // a call at the same level; a call gate to ring 0 is a model gap (inner-level calls).
    let (m, out) = try run(
      Self.gate("0x1B", "ring3_function", dpl: 3) + """
          mov ax, 0x10
          mov ds, ax
          push dword 0x23
          push dword 0x60000
          push dword 0x1B
          push dword ring3
          retf
        ring3:
          mov ebx, ds
          call dword 0x33:0
          mov esi, eax
          ud2
        ring3_function:
          mov eax, cs
          retf
        """)
    #expect(m.state[.ebx] == 0)  // DS nulled
    #expect(m.state[.esi] == 0x1B)  // through the gate, still at ring 3
    // The UD2 at the end has no handler in this kernel: the run ends in a shutdown, at ring 3
    // with the stack balanced.
    if case .shutdown = out.reason {} else { Issue.record("expected a shutdown, got \(out.reason)") }
    #expect(m.state[.esp] == 0x60000)
    #expect(m.state.cpl == 3)
  }

  @Test func callGateToAnInnerLevel() throws {
    // Ring 3 pushes two parameters and calls a DPL-3 gate to ring-0 code copying two: the ring-0
    // stack from TSS.SS0:ESP0 holds EIP, CS, the parameters in order, then ESP and SS of ring 3
    // (SDM Vol. 3A Figure 5-13). RETF 8 releases them on both stacks and returns to ring 3.
    let (m, out) = try run(
      Self.gate("0x08", "kernel_function", dpl: 3, parameters: 2) + """
          push dword 0x23
          push dword 0x60000
          push dword 0x1B
          push dword ring3
          retf
        ring3:
          push dword 0x2222
          push dword 0x1111
          call dword 0x33:0
          mov edi, cs
          ud2
        kernel_function:
          mov eax, cs
          mov ebx, [esp + 8]                ; parameter 0
          mov ecx, [esp + 12]               ; parameter 1
          mov edx, [esp + 16]               ; ring 3's ESP
          mov esi, [esp + 20]               ; ring 3's SS
          mov ebp, esp
          retf 8
        """, stop: true)
    #expect(out.reason == .fault(Fault(.ud)))
    #expect(m.state[.eax] == 0x08)
    #expect(m.state[.ebx] == 0x1111)
    #expect(m.state[.ecx] == 0x2222)
    #expect(m.state[.edx] == 0x60000 - 8)
    #expect(m.state[.esi] == 0x23)
    #expect(m.state[.ebp] == 0x7000 - 24)  // TSS.ESP0 less the 6-dword frame
    #expect(m.state[.edi] == 0x1B)
    #expect(m.state[.esp] == 0x60000)  // the parameters released on return
    #expect(m.state.cpl == 3)
  }

  @Test func callGateToAnInnerLevelChecksTheNewStackFirst() throws {
    // Ring 0's data segment in the GDT shrunk to 4 KiB below TSS.ESP0: no room for the frame on
    // the new stack → #SS(0x10), with ring 3's state unchanged. TSS.SS0 = 0 → #TS(0).
    let call =
      Self.gate("0x08", "kernel_function", dpl: 3) + """
          push dword 0x23
          push dword 0x60000
          push dword 0x1B
          push dword ring3
          retf
        ring3:
          call dword 0x33:0
        kernel_function:
          hlt
        """
    let shrink = "  mov dword [gdt + 0x10], 0xFFF\n  mov dword [gdt + 0x14], 0x00409200\n"
    let (m, low) = try run(shrink + call, stop: true)
    #expect(low.reason == .fault(Fault(.ss, errorCode: 0x10)))
    #expect(m.state.cpl == 3)
    #expect(m.state[.esp] == 0x60000)
    let (_, null) = try run("  mov dword [0x9008], 0\n" + call, stop: true)
    #expect(null.reason == .fault(Fault(.ts, errorCode: 0)))
  }

  @Test func privilegeChecks() throws {
    // A far JMP from ring 3 to DPL-0 code: #GP(0x08); through a gate of DPL 0: #GP(gate).
    let enter = """
        push dword 0x23
        push dword 0x60000
        push dword 0x1B
        push dword ring3
        retf
      ring3:

      """
    #expect(try run(enter + "jmp dword 0x08:0\n", stop: true).1.reason == .fault(Fault(.gp, errorCode: 0x08)))
    #expect(
      try run(Self.gate("0x1B", "0", dpl: 0) + enter + "call dword 0x33:0\n", stop: true).1.reason
        == .fault(Fault(.gp, errorCode: 0x30)))
    // A far JMP to a TSS is a task switch: a model gap.
    #expect(
      try run("jmp dword 0x28:0\n", stop: true).1.reason
        == .modelGap("task switch (far JMP or CALL to a TSS or a task gate)"))
  }
}

/// The local APIC and its timer on the virtual clock (SDM Vol. 3A Chapter 10; DESIGN.md
/// decision 10), with paging off: the APIC is at physical 0xFEE00000.
@Suite struct APICTests {
  func run(_ source: String, budget: UInt64 = 100_000) throws -> (Machine, RunOutcome) {
    let m = try Loader.machine(flat: try Nasm.assemble(source: InterruptTests.kernel + source))
    return (m, m.run(budget: budget))
  }

  /// The APIC's address, and `timer VECTOR, COUNT`: enable the APIC, divide by 1, arm a
  /// one-shot timer.
  static let apic = """
    APIC equ 0xFEE00000
    %macro timer 2
      mov dword [APIC + 0xF0], 0x1FF
      mov dword [APIC + 0x3E0], 0xB
      mov dword [APIC + 0x320], %1
      mov dword [APIC + 0x380], %2
    %endmacro

    """

  @Test func haltedProcessorWakesAtTheTimerDeadline() throws {
    // A one-shot timer of 1,000,000 ticks and STI; HLT: the clock jumps to the deadline, the
    // interrupt is delivered with the HLT behind it, and the handler's TSC is past the deadline.
    let (m, out) = try run(
      Self.apic + """
          gate 0x30, tick, 0x8E
          timer 0x30, 1000000
          sti
          hlt
          mov ecx, 0xc0ffee
          hlt
        tick:
          rdtsc
          mov ebx, eax
          mov dword [APIC + 0xB0], 0
          iretd
        """)
    #expect(out.reason == .halted)  // the second HLT: nothing is armed any more
    #expect(m.state[.ecx] == 0xC0FFEE)
    #expect(m.state[.ebx] >= 1_000_000)
    #expect(out.instructionsRetired < 1000)
    #expect(m.events.interruptsDelivered == 1)
  }

  @Test func interruptsWaitForIFAndTheShadowAndFollowPriorities() throws {
    // With IF clear the expired timer stays pending; STI delivers it only after the next
    // instruction (the STI shadow): the handler sees ECX = 1 set by that instruction.
    let (m, _) = try run(
      Self.apic + """
          gate 0x40, tick, 0x8E
          timer 0x40, 10
          mov ecx, 100
        spin:
          loop spin
          xor ecx, ecx
          mov edx, [APIC + 0x200 + 0x20]   ; IRR bits 64–95: vector 0x40 pending
          sti
          mov ecx, 1
          mov ecx, 2
          hlt
        tick:
          mov ebx, ecx
          mov esi, [APIC + 0x100 + 0x20]   ; ISR: in service
          mov edi, [APIC + 0xA0]           ; PPR: 0x40
          mov dword [APIC + 0xB0], 0
          mov ebp, [APIC + 0x100 + 0x20]   ; after EOI: not in service
          iretd
        """)
    #expect(m.state[.edx] == 1)
    #expect(m.state[.ebx] == 1)
    #expect(m.state[.esi] == 1)
    #expect(m.state[.edi] == 0x40)
    #expect(m.state[.ebp] == 0)
    #expect(m.state[.ecx] == 2)
  }

  @Test func haltWithInterruptsOffEndsTheRun() throws {
    let (m, out) = try run("cli\nhlt\n")
    #expect(out.reason == .halted)
    #expect(m.state.eflags & Flag.if.mask == 0)
  }

  @Test func stiThenHaltIsWokenByAPendingInterrupt() throws {
    // The idle idiom: an interrupt pending while IF = 0 is held by STI's shadow over the HLT,
    // then wakes it; the frame returns after the HLT.
    let (m, out) = try run(
      Self.apic + """
          gate 0x50, tick, 0x8E
          timer 0x50, 5
          nop
          nop
          nop
          nop
          nop
          nop
          sti
          hlt
          mov ecx, 7
          cli
          hlt
        tick:
          mov ebx, [esp]                   ; the return address: after the first HLT
          mov dword [APIC + 0xB0], 0
          iretd
        """)
    #expect(out.reason == .halted)
    #expect(m.state[.ecx] == 7)
    #expect(m.memory.read(PhysicalAddress(m.state[.ebx]), .byte) == 0xB9)  // MOV ECX, imm32
  }
}

/// The CS limit: on fetch and on near branch targets (SDM Vol. 3A §5.3; Vol. 2A JMP, Jcc, CALL,
/// RET, LOOP "Operation").
@Suite struct CodeLimitTests {
  static let prefix =
    InterruptTests.kernel + """
          mov eax, edge - 1
          mov word [gdt + 0x30], ax
          mov word [gdt + 0x32], 0
          mov dword [gdt + 0x34], 0x00409A00
          mov esp, 0x50000
          jmp dword 0x30:limited
        limited:

      """

  /// Reloads CS with a byte-granular ring-0 code segment whose limit is `edge - 1`, then runs
  /// `body` (which defines `edge`).
  func run(_ body: String) throws -> (Machine, RunOutcome) {
    let source = Self.prefix + body
    let m = try Loader.machine(flat: try Nasm.assemble(source: source))
    m.exceptionRouting = .stop
    return (m, m.run(budget: 1_000))
  }

  func address(_ label: String, in body: String) throws -> UInt32 {
    // Assembled again with the label's address as the only output.
    let probe = try Nasm.assemble(source: Self.prefix + body + "\nprobe: dd \(label)\n")
    let at = probe.count - 4
    return UInt32(probe[at]) | UInt32(probe[at + 1]) << 8 | UInt32(probe[at + 2]) << 16
      | UInt32(probe[at + 3]) << 24
  }

  @Test func runningPastTheLimitIsGPAtTheFirstInstructionOutside() throws {
    let body = """
        mov ebx, 1
        mov ecx, 2
      edge:
        mov ebx, 3
      """
    let (m, out) = try run(body)
    #expect(out.reason == .fault(Fault(.gp, errorCode: 0)))
    #expect(m.state.eip == (try address("edge", in: body)))
    #expect(m.state[.ebx] == 1 && m.state[.ecx] == 2)
  }

  @Test func anInstructionStraddlingTheLimitIsGP() throws {
    // The limit ends inside the 5-byte MOV: it does not run.
    let body = """
        mov ecx, 2
      here:
        mov ebx, 0x12345678
      edge equ here + 2
      """
    let (m, out) = try run(body)
    #expect(out.reason == .fault(Fault(.gp, errorCode: 0)))
    #expect(m.state.eip == (try address("here", in: body)))
    #expect(m.state[.ecx] == 2 && m.state[.ebx] != 0x1234_5678)
  }

  @Test func branchesBeyondTheLimitFaultAtTheBranch() throws {
    // Each branch's target lies past the limit: #GP(0) with EIP at the branch, nothing pushed or
    // popped, ECX not decremented.
    for (setup, branch) in [
      ("", "jmp beyond"), ("", "jz beyond"), ("", "call beyond"), ("push dword beyond", "ret"),
      ("mov ecx, 2", "loop beyond"), ("mov eax, beyond", "jmp eax"),
    ] {
      let body = """
          xor ecx, ecx
          add ecx, 2
          cmp ecx, ecx
          \(setup)
          mov edx, esp
        branch_here:
          \(branch)
        edge:
          hlt
        beyond:
          hlt
        """
      let (m, out) = try run(body)
      #expect(out.reason == .fault(Fault(.gp, errorCode: 0)), "\(branch)")
      #expect(m.state.eip == (try address("branch_here", in: body)), "\(branch)")
      #expect(m.state[.esp] == m.state[.edx], "\(branch)")
      #expect(m.state[.ecx] == 2, "\(branch)")
    }
  }

  @Test func aCodeSegmentWithANonzeroBaseIsAModelGap() throws {
    // docs/divergences.md: decoded blocks are keyed by EIP as a linear address.
    let m = try Loader.machine(
      flat: try Nasm.assemble(
        source: InterruptTests.kernel + """
            mov dword [gdt + 0x30], 0x1000FFFF
            mov dword [gdt + 0x34], 0x00CF9A00
            jmp dword 0x30:0
          """))
    #expect(m.run(budget: 1_000).reason == .modelGap("a code segment with a nonzero base"))
  }
}
