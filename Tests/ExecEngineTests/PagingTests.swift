import ExecEngine
import ISAModel
import Testing

/// 32-bit paging and the TLB (SDM Vol. 3A §4.3, §4.6–4.8, §4.10). The kernel of InterruptTests
/// plus `paging`: a page directory at 0x20000 whose first entry points to a page table at
/// 0x21000 that maps the first 4 MiB onto themselves, user and writable (PTE = page | 7).
@Suite struct PagingTests {
  static let paging = """
      mov edi, 0x21000
      mov eax, 0x7
      mov ecx, 1024
    fill:
      mov [edi], eax
      add eax, 0x1000
      add edi, 4
      loop fill
      mov dword [0x20000], 0x21007
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax

    """

  func run(_ source: String) throws -> (Machine, RunOutcome) {
    let m = try Loader.machine(flat: try Nasm.assemble(source: InterruptTests.kernel + Self.paging + source))
    return (m, m.run(budget: 200_000))
  }

  func pte(_ m: Machine, _ page: UInt32) -> UInt32 {
    m.memory.read(PhysicalAddress(0x21000 + page * 4), .dword)
  }

  @Test func identityMappingRunsAndSetsAccessedAndDirtyBits() throws {
    let (m, out) = try run(
      """
        mov ecx, 100
      again:
        mov eax, [0x30000]
        loop again
        mov dword [0x31000], 5
        hlt
      """)
    #expect(out.reason == .halted)
    #expect(pte(m, 0x30) & 0x60 == 0x20)  // read: accessed, not dirty
    #expect(pte(m, 0x31) & 0x60 == 0x60)  // written: accessed and dirty
    #expect(pte(m, 0x32) & 0x60 == 0)  // untouched
    #expect(m.memory.read(PhysicalAddress(0x20000), .dword) & 0x20 != 0)  // the PDE too
    let e = m.events
    #expect(e.tlbMisses >= 3)  // the code page, 0x30000, 0x31000
    #expect(e.tlbHits >= 100)  // the loop's reads
  }

  @Test func pageFaultsSetCR2AndTheErrorCode() throws {
    // A not-present page: #PF with CR2 = the address and error code 0 (read) or 2 (write);
    // the handler maps the page (demand zero) and the access is retried.
    let (m, out) = try run(
      """
        gate 14, page_fault, 0x8E
        and dword [0x21000 + 0x40 * 4], ~1   ; page 0x40000 not present
        mov eax, cr3
        mov cr3, eax
        mov dword [0x40010], 0x77
        mov ebx, [0x40010]
        hlt
      page_fault:
        mov esi, cr2
        mov edi, [esp]
        or dword [0x21000 + 0x40 * 4], 1
        add esp, 4
        iretd
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.esi] == 0x40010)
    #expect(m.state[.edi] == PageFaultCode.write)
    #expect(m.state[.ebx] == 0x77)
    #expect(m.events.exceptionsDelivered == 1)
  }

  @Test func userAccessToSupervisorPagesAndWriteProtect() throws {
    // Ring 3 reading a supervisor page: #PF(P | U); ring 0 writing a read-only page: allowed
    // without CR0.WP, #PF(P | W) with it (SDM Vol. 3A §4.6).
    let (m, _) = try run(
      """
        gate 14, page_fault, 0x8E
        and dword [0x21000 + 0x50 * 4], ~4   ; page 0x50000: supervisor only
        and dword [0x21000 + 0x51 * 4], ~2   ; page 0x51000: read-only
        mov eax, cr3
        mov cr3, eax
        mov dword [0x51000], 1               ; WP = 0: fine
        mov eax, cr0
        or eax, 0x10000
        mov cr0, eax
        mov dword [0x51004], 2               ; WP = 1: #PF(3)
        mov eax, 0x2
        mov ecx, ring3
        jmp to_ring3
      ring3:
        mov ax, 0x23                         ; IRET to ring 3 nulled DS
        mov ds, ax
        mov eax, [0x50000]                   ; #PF(5)
        ud2
      page_fault:
        inc ebp
        mov ebx, [esp]
        cmp ebp, 1
        jne second
        mov edx, ebx
        or dword [0x21000 + 0x51 * 4], 2
        invlpg [0x51004]
        add esp, 4
        iretd
      second:
        mov esi, cr2
        hlt
      """)
    #expect(m.memory.read(PhysicalAddress(0x51000), .dword) == 1)
    #expect(m.memory.read(PhysicalAddress(0x51004), .dword) == 2)  // retried after the fix
    #expect(m.state[.edx] == PageFaultCode.present | PageFaultCode.write)
    #expect(m.state[.ebx] == PageFaultCode.present | PageFaultCode.user)
    #expect(m.state[.esi] == 0x50000)
  }

  @Test func largePagesAndInvalidation() throws {
    // A 4 MiB page (CR4.PSE, PDE.PS) maps 0x400000 onto physical 0x800000; the PDE gets A and D.
    // INVLPG makes a changed PTE visible; CR3 writes flush the TLB.
    let (m, out) = try run(
      """
        mov eax, cr4
        or eax, 0x10
        mov cr4, eax
        mov dword [0x20004], 0x800087
        mov dword [0x400008], 0x1234
        mov ebx, [0x400008]
        mov dword [0x60000], 0xaaaa
        mov dword [0x61000], 0xbbbb
        mov ecx, [0x60000]
        mov dword [0x21000 + 0x60 * 4], 0x61007
        invlpg [0x60000]
        mov edx, [0x60000]
        hlt
      """)
    #expect(out.reason == .halted)
    #expect(m.memory.read(PhysicalAddress(0x80_0008), .dword) == 0x1234)
    #expect(m.state[.ebx] == 0x1234)
    #expect(m.memory.read(PhysicalAddress(0x20004), .dword) & 0x60 == 0x60)
    #expect(m.state[.ecx] == 0xAAAA)
    #expect(m.state[.edx] == 0xBBBB)
    #expect(m.events.tlbPageInvalidations == 1)
    #expect(m.events.tlbFlushes >= 2)  // CR0.PG on, CR4.PSE
  }

  @Test func fetchingFromAnAbsentPageFaultsAtItsAddress() throws {
    let (m, out) = try run(
      """
        gate 14, page_fault, 0x8E
        mov byte [0x70000], 0xf4             ; HLT at 0x70000
        and dword [0x21000 + 0x70 * 4], ~1
        mov eax, cr3
        mov cr3, eax
        jmp 0x70000
      page_fault:
        mov esi, cr2
        mov edi, [esp]
        mov ebx, [esp + 4]                   ; the saved EIP
        or dword [0x21000 + 0x70 * 4], 1
        add esp, 4
        iretd
      """)
    #expect(out.reason == .halted)
    #expect(m.state.eip == 0x70001)
    #expect(m.state[.esi] == 0x70000)
    #expect(m.state[.edi] == 0)  // supervisor read of a not-present page
    #expect(m.state[.ebx] == 0x70000)
  }

  @Test func reservedBitsInALargePDEFault() throws {
    let (m, _) = try run(
      """
        gate 14, page_fault, 0x8E
        mov eax, cr4
        or eax, 0x10
        mov cr4, eax
        mov dword [0x20004], 0x800087 | 0x2000   ; bit 13: reserved without PSE-36
        mov eax, [0x400000]
      page_fault:
        mov ebx, [esp]
        hlt
      """)
    #expect(m.state[.ebx] == PageFaultCode.present | PageFaultCode.reservedBit)
  }
}
