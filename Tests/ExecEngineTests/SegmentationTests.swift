import ExecEngine
import ISAModel
import Testing

/// Segment loads and segment-checked accesses (SDM Vol. 3A Chapter 5; Vol. 2B MOV, POP; Vol. 2A
/// LLDT, LTR). Each guest loads its own GDT first; expectations come from the SDM text cited.
@Suite struct SegmentationTests {
  /// The GDT every guest here loads: 0x08 code, 0x10 data, 0x18 read-only data, 0x20 DPL-3
  /// data, 0x28 not present, 0x30 data at 0x100000 with limit 0xFFF, 0x38 execute-only code,
  /// 0x40 an expand-down data segment (limit 0xFFF, B = 1), 0x48 an LDT (at `ldt`, 2 entries),
  /// 0x50 an available 32-bit TSS at 0x3000.
  static let prologue = """
      lgdt [gdtr]
      jmp start
    align 8
    gdt:
      dq 0
      dq 0x00CF9A000000FFFF
      dq 0x00CF92000000FFFF
      dq 0x00CF90000000FFFF
      dq 0x00CFF2000000FFFF
      dq 0x00CF12000000FFFF
      dq 0x0040921000000FFF
      dq 0x00CF98000000FFFF
      dq 0x0040960000000FFF
      dq 0x0000820000000000 | ((ldt - $$ + 0x1000) << 16) | 15
      dq 0x0000890030000067
    gdt_end:
    gdtr:
      dw gdt_end - gdt - 1
      dd gdt
    align 8
    ldt:
      dq 0
      dq 0x00CF92000000FFFF
    start:
      hlt

    """

  func run(_ body: String, cpl: UInt8 = 0) throws -> (Machine, RunOutcome) {
    let binary = try Nasm.assemble(source: "bits 32\norg 0x1000\n" + Self.prologue + body)
    let m = try Loader.machine(flat: binary)
    m.exceptionRouting = .stop  // the fault each case raises ends the run
    // The prologue loads the GDT at CPL 0 and halts; the body runs at `cpl` (CS.RPL).
    let loaded = m.run(budget: 100)
    #expect(loaded.reason == .halted)
    var s = m.state
    s[.cs].selector |= UInt16(cpl)
    s.halted = false
    m.state = s
    return (m, m.run(budget: 10_000))
  }

  func fault(_ v: Exception, _ code: UInt32) -> StopReason { .fault(Fault(v, errorCode: code)) }

  @Test func dataSegmentLoadsCheckTypePrivilegeAndPresence() throws {
    // "#GP(selector) if … not a data or readable code segment", "#NP(selector) if not present",
    // "#GP(selector) if … RPL and CPL are both greater than DPL" (MOV, Protected Mode Exceptions).
    #expect(try run("mov ax, 0x28\nmov ds, ax").1.reason == fault(.np, 0x28))
    #expect(try run("mov ax, 0x38\nmov ds, ax").1.reason == fault(.gp, 0x38))
    #expect(try run("mov ax, 0x58\nmov ds, ax").1.reason == fault(.gp, 0x58))  // past the GDT limit
    #expect(try run("mov ax, 0x13\nmov es, ax").1.reason == fault(.gp, 0x10))  // RPL 3 > DPL 0
    #expect(try run("mov ax, 0x23\nmov es, ax\nhlt").1.reason == .halted)  // DPL 3, RPL 3: fine
    #expect(try run("mov ax, 0x10\nmov ds, ax", cpl: 3).1.reason == fault(.gp, 0x10))  // CPL 3 > DPL 0
    // TI = 1 before any LLDT: the LDT is unusable, #GP(selector).
    #expect(try run("mov ax, 0x0C\nmov ds, ax").1.reason == fault(.gp, 0x0C))
    // Loading CS with MOV is #UD.
    #expect(try run("mov ax, 0x08\nmov cs, ax").1.reason == .fault(Fault(.ud)))
  }

  @Test func stackSegmentLoadsNeedWritableDataAtCPL() throws {
    #expect(try run("xor eax, eax\nmov ss, ax").1.reason == fault(.gp, 0))  // null SS
    #expect(try run("mov ax, 0x18\nmov ss, ax").1.reason == fault(.gp, 0x18))  // read-only
    #expect(try run("mov ax, 0x20\nmov ss, ax").1.reason == fault(.gp, 0x20))  // DPL 3 ≠ CPL 0
    #expect(try run("mov ax, 0x11\nmov ss, ax").1.reason == fault(.gp, 0x10))  // RPL 1 ≠ CPL 0
    #expect(try run("mov ax, 0x28\nmov ss, ax").1.reason == fault(.ss, 0x28))  // not present: #SS
  }

  @Test func nullSegmentsLoadButCannotBeUsed() throws {
    let (_, out) = try run("xor eax, eax\nmov ds, ax\nmov ebx, [0x2000]")
    #expect(out.reason == fault(.gp, 0))
    #expect(out.eip > 0x1000)  // at the access, not the load
  }

  @Test func limitsAndTypesAreCheckedOnEveryAccess() throws {
    // Expand-up, limit 0xFFF: the last dword is at 0xFFC (SDM Vol. 3A §5.3).
    let (m, ok) = try run("mov ax, 0x30\nmov ds, ax\nmov dword [0xffc], 0x1234\nhlt")
    #expect(ok.reason == .halted)
    #expect(m.memory.read(PhysicalAddress(0x10_0FFC), .dword) == 0x1234)
    #expect(try run("mov ax, 0x30\nmov ds, ax\nmov eax, [0xffd]").1.reason == fault(.gp, 0))
    #expect(try run("mov ax, 0x30\nmov es, ax\nmov al, [es:0x1000]").1.reason == fault(.gp, 0))
    // Through SS the fault is #SS(0).
    #expect(try run("mov ax, 0x30\nmov ss, ax\nmov esp, 0x1002\npush eax").1.reason == fault(.ss, 0))
    // Expand-down with B: valid offsets are 0x1000 … 0xFFFFFFFF.
    #expect(try run("mov ax, 0x40\nmov ds, ax\nmov eax, [0x1000]\nhlt").1.reason == .halted)
    #expect(try run("mov ax, 0x40\nmov ds, ax\nmov eax, [0xffe]").1.reason == fault(.gp, 0))
    // Writes need writable data: read-only data, and code through a CS override.
    #expect(try run("mov ax, 0x18\nmov ds, ax\nmov eax, [0]\nmov [0], eax").1.reason == fault(.gp, 0))
    #expect(try run("mov [cs:0x2000], eax").1.reason == fault(.gp, 0))
    #expect(try run("mov eax, [cs:0x2000]\nhlt").1.reason == .halted)  // readable code reads
  }

  @Test func loadsSetTheAccessedBitAndFaultsLeaveNoTrace() throws {
    let (m, _) = try run("mov ax, 0x20\nmov es, ax\nhlt")
    let gdt = m.state.gdtr.base
    #expect(m.memory.read(PhysicalAddress(gdt + 0x20 + 5), .byte) == 0xF3)
    #expect(m.state[.es].selector == 0x20)
    #expect(m.state[.es].attributes & 1 == 1)
    // POP DS that faults leaves ESP where it was.
    let (p, out) = try run("push dword 0x28\npop ds")
    #expect(out.reason == fault(.np, 0x28))
    #expect(p.state[.esp] == 0x9_0000 - 4)
  }

  @Test func segmentRegistersAreStoredAndPushed() throws {
    let (m, _) = try run(
      "mov eax, 0xffffffff\nmov ax, ss\nmov ebx, 0xffffffff\nmov bx, ds\npush fs\npop ecx\nhlt")
    #expect(m.state[.eax] == 0xFFFF_0010)  // MOV r16, Sreg keeps the high half
    #expect(m.state[.ebx] == 0xFFFF_0010)
    #expect(m.state[.ecx] == 0x10)  // PUSH Sreg at 32 bits: zero-extended
    let (d, _) = try run("mov edx, 0xffffffff\nmov edx, cs\nhlt")
    #expect(d.state[.edx] == 0x08)  // MOV r32, Sreg: zero-extended
  }

  @Test func localDescriptorTableAndTaskRegister() throws {
    // LLDT: then TI = 1 selectors use the LDT (SDM Vol. 2A LLDT).
    let (m, out) = try run(
      """
      mov ax, 0x48
      lldt ax
      mov bx, 0x0C
      mov ds, bx
      sldt ecx
      mov ax, 0x50
      ltr ax
      str edx
      hlt
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.ds].selector == 0x0C)
    #expect(m.state[.ecx] == 0x48)
    #expect(m.state[.edx] == 0x50)
    #expect(m.state.tr.base == 0x3000)
    #expect(m.state.tr.limit == 0x67)
    #expect(m.state.tr.attributes & 0xF == 0xB)  // busy
    #expect(m.memory.read(PhysicalAddress(m.state.gdtr.base + 0x50 + 5), .byte) == 0x8B)
    // A busy TSS cannot be loaded again; a data segment is not an LDT; null LTR is #GP(0).
    #expect(try run("mov ax, 0x50\nltr ax\nltr ax").1.reason == fault(.gp, 0x50))
    #expect(try run("mov ax, 0x10\nlldt ax").1.reason == fault(.gp, 0x10))
    #expect(try run("xor eax, eax\nltr ax").1.reason == fault(.gp, 0))
    #expect(try run("mov ax, 0x50\nltr ax", cpl: 3).1.reason == fault(.gp, 0))  // CPL 3: #GP(0)
  }

  @Test func selectorQueriesAnswerInZF() throws {
    // At CPL 3: DPL-0 descriptors are invisible to LAR/LSL/VERR (ZF = 0, destination kept);
    // the DPL-3 data segment is visible (SDM Vol. 2A LAR, Vol. 2B LSL, VERR/VERW).
    let (m, out) = try run(
      """
      mov eax, 0x11111111
      mov cx, 0x08
      lar eax, cx
      setz bl
      mov cx, 0x23
      lar edx, cx
      lsl esi, cx
      verr cx
      setz bh
      mov cx, 0x18
      verw cx
      setz ah
      ud2
      """, cpl: 3)
    #expect(out.reason == .fault(Fault(.ud)))
    #expect(m.state[.eax] & 0xFFFF_00FF == 0x1111_0011)  // LAR missed: EAX kept (AH is VERW's ZF)
    #expect(m.state[.ebx] & 0xFF == 0)
    // The access rights of 0x20: G, D/B, P, DPL 3, data RW (never loaded, so A = 0).
    #expect(m.state[.edx] == 0x00C0_F200)
    #expect(m.state[.esi] == 0xFFFF_FFFF)
    #expect((m.state[.ebx] >> 8) & 0xFF == 1)
    #expect((m.state[.eax] >> 8) & 0xFF == 0)  // 0x18 is DPL 0 and read-only
    // ARPL raises an RPL to the source's.
    let (a, _) = try run("mov ax, 0x10\nmov cx, 0x03\narpl ax, cx\nsetz bl\narpl ax, cx\nsetz bh\nhlt")
    #expect(a.state[.eax] & 0xFFFF == 0x13)
    #expect(a.state[.ebx] & 0xFFFF == 0x0001)
  }
}
