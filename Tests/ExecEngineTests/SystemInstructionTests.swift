import ExecEngine
import ISAModel
import Testing

/// System instructions where the differential test cannot reach: CPL above 0, the model's own
/// clock and MSRs, and the checks unicorn's CPU model does differently. Expectations come from
/// the SDM text cited at each case.
@Suite struct SystemInstructionTests {
  /// Runs `source` from a flat state at `cpl` (CS.RPL) with `eflags`, until HLT, a fault or a gap.
  func run(_ source: String, cpl: UInt8 = 0, eflags: UInt32 = 0x2, setup: (inout CPUState) -> Void = { _ in })
    throws -> (Machine, RunOutcome)
  {
    let binary = try Nasm.assemble(source: "bits 32\norg 0x1000\n" + source)
    let m = try Loader.machine(flat: binary)
    m.exceptionRouting = .stop  // the fault each case raises ends the run
    var s = m.state
    s[.cs].selector = 0x08 | UInt16(cpl)
    s.eflags = eflags
    setup(&s)
    m.state = s
    return (m, m.run(budget: 10_000))
  }

  let gp = StopReason.fault(Fault(.gp, errorCode: 0))

  @Test func privilegedInstructionsFaultAboveCPL0() throws {
    // "#GP(0) if the current privilege level is not 0" (SDM Vol. 2, each instruction).
    for source in [
      "mov eax, cr0", "mov cr3, eax", "mov eax, dr7", "lgdt [0x2000]", "lidt [0x2000]", "lmsw ax", "clts",
      "invd", "wbinvd", "invlpg [0x2000]", "rdmsr", "wrmsr", "hlt",
    ] {
      for cpl: UInt8 in [1, 3] {
        let (_, out) = try run(source, cpl: cpl)
        #expect(out.reason == gp, "\(source) at CPL \(cpl): \(out.reason)")
        #expect(out.eip == 0x1000)
      }
    }
    // SGDT, SIDT and SMSW are not privileged (no UMIP on the modelled CPU).
    for source in ["sgdt [0x2000]\nhlt", "sidt [0x2000]\nhlt", "smsw eax\nhlt"] {
      let (_, out) = try run(source, cpl: 3)
      #expect(out.reason == gp, "\(source): only the HLT faults")
      #expect(out.eip != 0x1000)
    }
  }

  @Test func popfDropsWhatTheCPLMayNotChangeSilently() throws {
    // POPF at CPL 3 with IOPL 0: IF and IOPL unchanged, no fault (SDM Vol. 2B POPF).
    let image: UInt32 = 0x3000 | Flag.if.mask | Flag.cf.mask | Flag.df.mask
    let (m, out) = try run("push \(image)\npopfd\npushfd\npop ebx\nud2", cpl: 3)
    #expect(out.reason == .fault(Fault(.ud)))
    #expect(m.state[.ebx] == Flag.cf.mask | Flag.df.mask | 0x2)
    // At CPL 1 with IOPL 1, IF changes but IOPL does not.
    let (m1, _) = try run("push \(image)\npopfd\npushfd\npop ebx\nud2", cpl: 1, eflags: 0x1002)
    #expect(m1.state[.ebx] == Flag.if.mask | Flag.cf.mask | Flag.df.mask | 0x1002)
    // At CPL 0 both change; VM, VIF and VIP never do, RF is cleared.
    let all: UInt32 = 0x003F_7FD5
    let (m0, _) = try run("push \(all & ~Flag.tf.mask)\npopfd\npushfd\npop ebx\nud2", cpl: 0)
    #expect(
      m0.state[.ebx] == (all & ~(Flag.tf.mask | Flag.vm.mask | Flag.vif.mask | Flag.vip.mask | Flag.rf.mask))
        | 0x2)
    // POPFW touches only the low 16 bits.
    let (mw, _) = try run("push word 0x0001\npopfw\npushfd\npop ebx\nud2", cpl: 0, eflags: 0x0004_0002)
    #expect(mw.state[.ebx] == 0x0004_0003)
  }

  @Test func cliAndStiFollowIOPL() throws {
    // CLI/STI: allowed when CPL ≤ IOPL, #GP(0) otherwise (SDM Vol. 2A CLI, no PVI).
    // IOPL 3 allows ring 3.
    let (m, out) = try run("cli\nud2", cpl: 3, eflags: 0x3202)
    #expect(out.reason == .fault(Fault(.ud)))
    #expect(m.state.eflags & Flag.if.mask == 0)
    #expect(try run("sti", cpl: 3, eflags: 0x0002).1.reason == gp)
    #expect(try run("cli", cpl: 1, eflags: 0x0202).1.reason == gp)
    let (m1, _) = try run("sti\nud2", cpl: 1, eflags: 0x1002)
    #expect(m1.state.eflags & Flag.if.mask != 0)
  }

  @Test func controlRegisterChecks() throws {
    // "#GP(0) … setting the PG flag when the PE flag is clear, or NW without CD" (MOV CR).
    #expect(try run("mov eax, 0x80000000\nmov cr0, eax").1.reason == gp)
    #expect(try run("mov eax, 0x20000011\nmov cr0, eax").1.reason == gp)
    // Clearing PE would enter real-address mode, which the model does not have.
    #expect(
      try run("mov eax, 0x10\nmov cr0, eax").1.reason
        == .modelGap("real-address mode (MOV to CR0 clearing PE)"))
    // CR4 bits of unreported features are reserved: PAE, VMXE.
    #expect(try run("mov eax, 0x20\nmov cr4, eax").1.reason == gp)
    #expect(try run("mov eax, 0x2000\nmov cr4, eax").1.reason == gp)
    let (m, out) = try run("mov eax, 0x10c\nmov cr4, eax\nmov ebx, cr4\nhlt")
    #expect(out.reason == .halted)
    #expect(m.state[.ebx] == 0x10C)
    // ET reads as 1; reserved bits read as 0; LMSW cannot clear PE; CLTS clears TS.
    let (m2, _) = try run(
      "mov eax, 0x00000009 | 0x100\nmov cr0, eax\nmov ebx, cr0\nlmsw [zero]\nmov ecx, cr0\nclts\nmov edx, cr0\nhlt\nzero: dw 0x000e"
    )
    #expect(m2.state[.ebx] == 0x19)
    #expect(m2.state[.ecx] == 0x1F)
    #expect(m2.state[.edx] == 0x17)
  }

  @Test func debugRegisterAliasesAndFixedBits() throws {
    let (m, _) = try run(
      "mov eax, 0xffffffff\nmov dr6, eax\nmov ebx, dr4\nmov eax, 0xffffdfff\nmov dr7, eax\nmov ecx, dr5\nhlt")
    #expect(m.state[.ebx] == 0xFFFF_EFFF)  // DR6: bit 12 reads 0, bits 4–11 read 1
    #expect(m.state[.ecx] == 0xFFFF_07FF)  // DR7: bits 11, 12, 14, 15 read 0, bit 10 reads 1
    // With CR4.DE, DR4 and DR5 raise #UD (SDM Vol. 3A §17.2.2).
    #expect(try run("mov eax, 8\nmov cr4, eax\nmov eax, dr4").1.reason == .fault(Fault(.ud)))
    // General detect is not modelled: a model gap, not a silent pass.
    let (_, gd) = try run("mov eax, 0x2400\nmov dr7, eax\nmov eax, dr0")
    #expect(gd.reason == .modelGap("debug exception for DR7.GD (general detect)"))
  }

  @Test func timeStampCounterIsTheVirtualClock() throws {
    // Three instructions retire before the RDTSC: it reads 3; a WRMSR sets the counter.
    let (m, _) = try run(
      "nop\nnop\nnop\nrdtsc\nmov esi, eax\nmov ecx, 0x10\nxor edx, edx\nmov eax, 1000\nwrmsr\nrdtsc\nhlt")
    #expect(m.state[.esi] == 3)
    #expect(m.state[.eax] == 1001)  // one instruction after the WRMSR
    #expect(m.state[.edx] == 0)
    // CR4.TSD makes RDTSC privileged (SDM Vol. 2B RDTSC).
    #expect(try run("rdtsc\nhlt", cpl: 3).1.reason == gp)  // the HLT: RDTSC itself is allowed
    #expect(try run("rdtsc", cpl: 3, setup: { $0.cr4 = CR4.tsd }).1.reason == gp)
    // RDPMC: no counters in the model.
    #expect(try run("rdpmc").1.reason == gp)
  }

  @Test func modelSpecificRegisters() throws {
    let (m, _) = try run(
      """
      mov ecx, 0x1b
      rdmsr
      mov esi, eax
      and eax, ~0x100
      wrmsr
      rdmsr
      mov edi, eax
      mov ecx, 0x174
      mov eax, 0x08
      xor edx, edx
      wrmsr
      hlt
      """)
    #expect(m.state[.esi] == 0xFEE0_0900)
    #expect(m.state[.edi] == 0xFEE0_0900)  // BSP is read-only
    #expect(m.state.msrs[0x174] == 0x08)
    // Unknown MSRs and reserved bits: #GP(0).
    #expect(try run("mov ecx, 0x12345\nrdmsr").1.reason == gp)
    #expect(try run("mov ecx, 0x174\nmov eax, 0x10000\nxor edx, edx\nwrmsr").1.reason == gp)
    #expect(try run("mov ecx, 0xc0000080\nmov eax, 1\nxor edx, edx\nwrmsr").1.reason == gp)
  }

  @Test func vmxInstructionsRaiseUDWithoutVMXE() throws {
    for source in [
      "vmcall", "vmlaunch", "vmresume", "vmxoff", "vmxon [0x2000]", "vmclear [0x2000]", "vmptrld [0x2000]",
      "vmptrst [0x2000]", "vmread eax, ebx", "vmwrite eax, ebx", "invept eax, [0x2000]",
      "invvpid eax, [0x2000]",
    ] {
      #expect(try run(source).1.reason == .fault(Fault(.ud)), "\(source)")
      #expect(try run(source, cpl: 3).1.reason == .fault(Fault(.ud)), "\(source) at CPL 3")
    }
  }

  @Test func unmodelledModesEndTheRunAsGaps() throws {
    #expect(try run("nop", setup: { $0.cr0 = 0x10 }).1.reason == .modelGap("real-address mode (CR0.PE = 0)"))
    #expect(try run("push 0x102\npopfd\nnop").1.reason == .modelGap("single-step trap (EFLAGS.TF = 1)"))
  }
}
