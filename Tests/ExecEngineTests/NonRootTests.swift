import ExecEngine
import Foundation
import ISAModel
import Testing

/// The engine in VMX non-root operation (`Machine.vmx`): instructions exit where the VMCS
/// controls say (SDM Vol. 3C §25.1), exceptions by the exception bitmap (§25.2), a #PF exit
/// leaves CR2 alone (§27.1), external interrupts exit whatever IF says (§25.4.1). Each case runs
/// the same guest on the bare machine too, where it must not exit.
@Suite struct NonRootTests {
  /// Runs the kernel of InterruptTests plus `source`, in non-root operation under `controls`
  /// (nil: on the bare machine).
  func run(_ source: String, _ controls: VMCSControls?, budget: UInt64 = 200_000) throws -> (
    Machine, RunOutcome
  ) {
    let m = try Loader.machine(flat: try Nasm.assemble(source: InterruptTests.kernel + source))
    if let controls { m.vmx = VMXNonRoot(controls: controls, capabilities: .firstGeneration) }
    return (m, m.run(budget: budget))
  }

  /// The address of `label` in the assembled guest (the kernel's code and data come first).
  func address(of label: String, in source: String) throws -> UInt32 {
    let marked = InterruptTests.kernel + source + "\nmarker_end: dd \(label)\n"
    let bytes = try Nasm.assemble(source: marked)
    let n = bytes.count
    return UInt32(bytes[n - 4]) | UInt32(bytes[n - 3]) << 8 | UInt32(bytes[n - 2]) << 16 | UInt32(
      bytes[n - 1]) << 24
  }

  @Test func cpuidAlwaysExitsAtTheInstructionBeforeItRuns() throws {
    let source = """
        mov eax, 5
        mov ebx, 0x1234
      here:
        cpuid
        hlt
      """
    let (m, out) = try run(source, VMCSControls())
    #expect(out.reason == .vmExit(VMExit(.cpuid)))
    #expect(out.eip == (try address(of: "here", in: source)))
    #expect(m.state[.ebx] == 0x1234)  // CPUID did not run
    let (_, bare) = try run(source, nil)
    #expect(bare.reason == .halted)
  }

  @Test func hltExitsOnlyUnderHLTExiting() throws {
    let source = "mov ecx, 7\nhlt\n"
    let (_, exits) = try run(source, VMCSControls(primary: PrimaryControl.hltExiting.mask))
    #expect(exits.reason == .vmExit(VMExit(.hlt)))
    let (m, halts) = try run(source, VMCSControls())
    #expect(halts.reason == .halted)
    #expect(m.state[.ecx] == 7)
  }

  @Test func hostOwnedCR0BitsReadFromTheShadow() throws {
    // TS is the host's with shadow 1: the guest reads it set though CR0.TS is 0; a MOV to CR0
    // that would clear it exits with the qualification of Table 27-3 (CR0, from EAX).
    let source = """
        mov eax, cr0
        mov ebx, eax
        and eax, ~8
        mov cr0, eax
        hlt
      """
    let controls = VMCSControls(cr0GuestHostMask: CR0.ts, cr0ReadShadow: CR0.ts)
    let (m, out) = try run(source, controls)
    #expect(m.state[.ebx] & CR0.ts != 0)
    #expect(m.state.cr0 & CR0.ts == 0)
    #expect(out.reason == .vmExit(VMExit(.controlRegisterAccess, qualification: 0)))
    let (bare, halts) = try run(source, nil)
    #expect(halts.reason == .halted)
    #expect(bare.state[.ebx] & CR0.ts == 0)
  }

  @Test func exceptionsExitByTheBitmapInsteadOfTheIDT() throws {
    let source = """
        gate 6, handler, 0x8E
        mov esp, 0x50000
      here:
        ud2
        hlt
      handler:
        mov esi, 0xdead
        hlt
      """
    let here = try address(of: "here", in: source)
    let (m, out) = try run(source, VMCSControls(exceptionBitmap: 1 << 6))
    #expect(out.reason == .vmExit(VMExit(.exceptionOrNMI, interruption: Fault(.ud))))
    #expect(out.eip == here)
    #expect(m.state[.esi] != 0xDEAD)
    #expect(m.events.exceptionsDelivered == 0)
    // Another vector's bit: #UD is delivered through the guest's IDT.
    let (delivered, halts) = try run(source, VMCSControls(exceptionBitmap: 1 << 13))
    #expect(halts.reason == .halted)
    #expect(delivered.state[.esi] == 0xDEAD)
    #expect(delivered.events.exceptionsDelivered == 1)
  }

  @Test func anExceptionRaisedDeliveringAnotherIsDecidedByItsOwnBit() throws {
    // #UD through a not-present gate raises #NP: #UD's bit is clear, #NP's set, so the #NP exits
    // (its error code: the IDT entry, index 6, with IDT and EXT set, EXT because it arose
    // delivering a hardware exception, SDM Vol. 3A §6.13: 6 * 8 + 2 + 1).
    let source = """
        mov byte [0x8000 + 6 * 8 + 5], 0x0E   ; gate 6 not present
        ud2
        hlt
      """
    let (_, out) = try run(source, VMCSControls(exceptionBitmap: 1 << 11))
    #expect(
      out.reason == .vmExit(VMExit(.exceptionOrNMI, interruption: Fault(.np, errorCode: 6 * 8 + 2 + 1))))
  }

  @Test func tripleFaultExits() throws {
    // An empty IDT: #UD, then #GP delivering it, then #DF, then a fault delivering #DF.
    let source = """
        mov eax, 0
        push eax
        push eax
        lidt [esp]
        ud2
      """
    let (_, out) = try run(source, VMCSControls())
    #expect(out.reason == .vmExit(VMExit(.tripleFault)))
    let (_, bare) = try run(source, nil)
    guard case .shutdown = bare.reason else {
      Issue.record("the bare machine ends \(bare.reason)")
      return
    }
  }

  /// Paging on, as in PagingTests, with CR0.NE set as VMX operation requires (§23.8), and page
  /// 0x40000 not present (never accessed, so not in the TLB).
  static let paging =
    PagingTests.paging.replacingOccurrences(of: "or eax, 0x80000000", with: "or eax, 0x80000020") + """
        and dword [0x21000 + 0x40 * 4], ~1
        gate 14, page_fault, 0x8E
        mov esp, 0x50000

      """

  @Test func pageFaultsExitByErrorCodeMaskAndMatchWithoutLoadingCR2() throws {
    let source =
      Self.paging + """
          mov dword [0x40010], 0x77
          hlt
        page_fault:
          mov esi, cr2
          hlt
        """
    // Bit 14 with mask = match = 0: every #PF exits, qualification the linear address.
    let all = VMCSControls(exceptionBitmap: 1 << 14)
    let (m, out) = try run(source, all)
    #expect(
      out.reason
        == .vmExit(
          VMExit(
            .exceptionOrNMI, qualification: 0x40010, interruption: Fault(.pf, errorCode: PageFaultCode.write))
        ))
    #expect(m.state.cr2 == 0)
    // Bit 14 with mask W and match 0: read faults exit, this write fault is delivered.
    let reads = VMCSControls(
      exceptionBitmap: 1 << 14, pageFaultErrorCodeMask: PageFaultCode.write, pageFaultErrorCodeMatch: 0)
    let (delivered, halts) = try run(source, reads)
    #expect(halts.reason == .halted)
    #expect(delivered.state[.esi] == 0x40010)
    #expect(delivered.state.cr2 == 0x40010)
    // Bit 14 clear with the same mask and match: the reverse (§25.2).
    let writes = VMCSControls(
      exceptionBitmap: 0, pageFaultErrorCodeMask: PageFaultCode.write, pageFaultErrorCodeMatch: 0)
    let (_, exits) = try run(source, writes)
    #expect(exits.reason.isVMExit)
  }

  @Test func externalInterruptsExitEvenWithIFClear() throws {
    let source =
      APICTests.apic + """
          gate 0x30, tick, 0x8E
          timer 0x30, 50
          cli
          mov ecx, 1000
        spin:
          loop spin
          hlt
        tick:
          hlt
        """
    let pin = VMCSControls(pinBased: PinBasedControl.externalInterruptExiting.mask)
    let (m, out) = try run(source, pin)
    #expect(out.reason == .vmExit(VMExit(.externalInterrupt)))
    #expect(m.state[.ecx] > 0)  // the exit came inside the loop
    #expect(m.events.interruptsDelivered == 0)
    // Without the control, IF = 0 holds the interrupt off: the loop ends and HLT halts for good.
    let (bare, halts) = try run(source, VMCSControls())
    #expect(halts.reason == .halted)
    #expect(bare.state[.ecx] == 0)
  }

  @Test func settingTheControlsAgainReplacesThem() throws {
    let m = try Loader.machine(flat: try Nasm.assemble(source: "bits 32\ncpuid\nhlt\n"))
    m.vmx = VMXNonRoot(controls: VMCSControls(tscOffset: 1), capabilities: .firstGeneration)
    m.vmx = VMXNonRoot(controls: VMCSControls(tscOffset: 2), capabilities: .later)
    #expect(m.vmx?.controls.tscOffset == 2)
    m.vmx = nil
    #expect(m.run(budget: 10).reason == .halted)
  }
}

extension StopReason {
  var isVMExit: Bool {
    if case .vmExit = self { return true }
    return false
  }
}
