import ExecEngine
import Foundation
import ISAModel
import Testing

/// Trap-and-emulate by ring compression on the guests of models/guests: each runs natively and
/// under the monitor to the same end, output, state and memory (the equivalence runner), and
/// the monitor's counts agree with what the native run and the workload's description imply.
@Suite struct TrapAndEmulateTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  func equivalent(_ name: String, exit: UInt32 = 0) throws -> (Machine, TrapAndEmulate) {
    let binary = try Nasm.assemble(file: Self.root.appendingPathComponent("models/guests/\(name).asm"))
    let (report, native, monitor) = try Equivalence.run(binary, budget: 50_000_000) {
      b, c throws(LoadError) in
      try TrapAndEmulate(guest: b, c)
    }
    #expect(report.differences == [], "\(name) under trap-and-emulate")
    #expect(report.native.reason == .debugExit(exit) || name == "mix", "\(name): \(report.native.reason)")
    return (native, monitor as! TrapAndEmulate)
  }

  @Test func helloTalksToTheSerialPortThroughTheMonitor() throws {
    let (native, m) = try equivalent("hello", exit: 42)
    // Every IN and OUT traps at ring 1 (the real TSS has no I/O bitmap) and is emulated.
    #expect(m.statistics["devices.reads"] == native.events.portReads)
    #expect(m.statistics["devices.writes"] == native.events.portWrites)
    #expect(m.statistics["traps.#GP"] == native.events.portReads + native.events.portWrites)
  }

  @Test func mixRunsDeprivilegedWithoutTraps() throws {
    let (_, m) = try equivalent("mix")
    // Arithmetic at ring 1 runs on the processor: only the final HLT traps, plus the hidden
    // faults that build the shadow of the pages it touches.
    #expect(m.statistics["emulated.instruction.hlt"] == 1)
    #expect(m.statistics["traps.#GP"] == 1)
    #expect(m.statistics["pagefaults.true"] == 0)
    #expect(m.statistics["pagefaults.hidden"] == m.statistics["shadow.fill"])
  }

  @Test func syscallEmulatesEverySoftwareInterrupt() throws {
    let (_, m) = try equivalent("syscall")
    // 10,000 SYS_NOP, then SYS_COUNT and SYS_EXIT: the real gates have DPL 0, so each INT 0x80
    // arrives as #GP(0x80 × 8 + 2) and is delivered through the guest's IDT.
    #expect(m.statistics["emulated.software-interrupt"] == 10_002)
    #expect(m.statistics["emulated.instruction.int"] == 10_002)
  }

  @Test func divzeroReflectsEachDivideError() throws {
    let (native, m) = try equivalent("divzero")
    #expect(m.statistics["reflected.#DE"] == 100)
    #expect(m.statistics["reflected.#DE"] == native.events.exceptionsDelivered)
  }

  @Test func pgfaultTellsTrueFaultsFromHiddenOnes() throws {
    let (native, m) = try equivalent("pgfault")
    // One true fault per heap page (the guest's PTE is not present), reflected to its handler;
    // the shadow's own misses are hidden.
    #expect(m.statistics["pagefaults.true"] == 256)
    #expect(m.statistics["reflected.#PF"] == native.events.exceptionsDelivered)
    #expect(m.statistics["pagefaults.hidden"] > 256)
    // The handler's PTE writes land on a traced page table.
    #expect(m.statistics["emulated.traced-write"] >= 256)
  }

  @Test func ptemodTracesPTEWritesAndEmulatesINVLPG() throws {
    let (native, m) = try equivalent("ptemod")
    #expect(m.statistics["emulated.instruction.invlpg"] == native.events.tlbPageInvalidations)
    #expect(m.statistics["emulated.traced-write"] >= 4096)
    #expect(m.statistics["shadow.invalidate"] >= 4096)
  }

  @Test func forkwaitCachesShadowsAcrossCR3Switches() throws {
    let (_, m) = try equivalent("forkwait")
    // 64 rounds, two switches each: the kernel's address space and the round's (whose page
    // directory frame is reused every round) stay cached after their first build.
    #expect(m.statistics["shadow.build"] <= 3)
    #expect(m.statistics["shadow.cache-hit"] >= 126)
    // From round 1 on, alloc_frame zeroes (REP STOSD) and the copy fills (REP MOVSD) the page
    // directory frame of the round before, still traced: 2 × 1024 traced writes a round,
    // emulated element by element without a monitor entry for each. (Zeroing it drops the
    // shadow table of its heap entry, so the page table frame is no longer traced when its
    // turn comes.)
    #expect(m.statistics["emulated.traced-write"] >= 63 * 2048)
    #expect(m.statistics["entries"] < 4000)
  }

  @Test func computeCallret3AndInRunEquivalent() throws {
    _ = try equivalent("compute")
    _ = try equivalent("callret3")
    let (native, m) = try equivalent("in")
    #expect(m.statistics["devices.reads"] == native.events.portReads)
  }

  @Test func timerInterruptsAreDeliveredThroughTheGuestIDT() throws {
    let (native, m) = try equivalent("timer")
    #expect(m.statistics["interrupts.external"] == 50)
    #expect(m.statistics["interrupts.virtual.delivered"] == native.events.interruptsDelivered)
  }

  /// docs/divergences.md, under trap-and-emulate: the passed-through APIC accepts an interrupt
  /// that arrives while the guest's IF is 0 (the real IF is 1: the monitor takes it and holds
  /// it), where the bare machine leaves it requested. The guest can read the difference.
  @Test func aHeldInterruptIsInServiceOnThePassedThroughAPIC() throws {
    let binary = try Nasm.assemble(
      source: """
        bits 32
        org 0x1000
          mov dword [0xFEE000F0], 0x1FF     ; SVR: enabled
          mov dword [0xFEE003E0], 0xB       ; divide by 1
          mov dword [0xFEE00320], 0x40      ; LVT timer: vector 0x40, one-shot
          mov dword [0xFEE00380], 10        ; fires 10 ticks later, with IF = 0
          mov ecx, 20
        spin: loop spin
          mov eax, [0xFEE00120]             ; ISR bits 32-63: 0x40 is bit 0
          mov ebx, [0xFEE00220]             ; IRR bits 32-63
          hlt
        """)
    let native = try Loader.machine(flat: binary)
    let n = native.run(budget: 1000)
    let monitor = try TrapAndEmulate(guest: binary)
    let m = monitor.run(budget: 1000)
    #expect(n.reason == .halted && m.reason == .halted)
    #expect(native.state[.eax] == 0 && native.state[.ebx] == 1)
    #expect(monitor.guestState[.eax] == 1 && monitor.guestState[.ebx] == 0)
    #expect(monitor.statistics["interrupts.virtual.held"] == 1)
  }

  @Test func guestMemoryIsNotMachineMemory() throws {
    let binary = try Nasm.assemble(file: Self.root.appendingPathComponent("models/guests/hello.asm"))
    let m = try TrapAndEmulate(guest: binary)
    // Guest-physical 0x1000 holds the binary; machine 0x1000 is the monitor's.
    #expect(m.guestMemory(at: GuestPhysicalAddress(0x1000), count: binary.count) == binary)
    #expect(m.machine.memory.bytes(at: PhysicalAddress(0x1000), count: binary.count) != binary)
    #expect(m.map.machineAddress(GuestPhysicalAddress(0x1000)).value >= UInt32(TrapAndEmulate.monitorMemory))
    // The local APIC is passed through; a hole above RAM reaches no RAM.
    #expect(m.map.machineAddress(GuestPhysicalAddress(0xFEE0_0000)).value == 0xFEE0_0000)
    #expect(m.machine.memory.isBacked(m.map.machineAddress(GuestPhysicalAddress(16 << 20))) == false)
  }

  @Test func segmentsAreTruncatedBelowTheMonitorAndLookFlatToTheGuest() throws {
    let binary = try Nasm.assemble(file: Self.root.appendingPathComponent("models/guests/hello.asm"))
    let m = try TrapAndEmulate(guest: binary)
    let real = m.machine.state
    let guest = m.guestState
    for s in SegmentRegister.allCases {
      #expect(real[s].limit == MonitorLayout.base - 1, "\(s)")
      #expect(guest[s].limit == 0xFFFF_FFFF, "\(s)")
    }
    // Ring 1 really, ring 0 as the guest sees it.
    #expect(real.cpl == 1)
    #expect(guest.cpl == 0)
    #expect(real.cr0 & CR0.pg != 0 && guest.cr0 & CR0.pg == 0)
  }
}
