import ExecEngine
import ISAModel
import Testing

@Suite struct PhysicalMemoryTests {
  @Test func ramHoldsWhatWasWritten() {
    let m = PhysicalMemory(size: 4096)
    m.write(PhysicalAddress(0x10), 0xAB)
    #expect(m.read(PhysicalAddress(0x10)) == 0xAB)
    #expect(m.read(PhysicalAddress(0x11)) == 0)
    m.write(PhysicalAddress(0x20), .dword, 0x1122_3344)
    #expect(m.bytes(at: PhysicalAddress(0x20), count: 4) == [0x44, 0x33, 0x22, 0x11])
    #expect(m.read(PhysicalAddress(0x21), .word) == 0x2233)
    #expect(m.openBusReads == 0)
  }

  @Test func aboveRamIsOpenBus() {
    let m = PhysicalMemory(size: 4096)
    m.write(PhysicalAddress(4096), 0x12)
    #expect(m.read(PhysicalAddress(4096)) == 0xFF)
    #expect(m.read(PhysicalAddress(0xFFFF_FFFF)) == 0xFF)
    #expect(m.openBusReads == 2)
    #expect(m.openBusWrites == 1)
  }

  @Test func accessesStraddlingTheEndMixRamAndOpenBus() {
    let m = PhysicalMemory(size: 16)
    m.load([1, 2, 3, 4], at: PhysicalAddress(14))
    #expect(m.snapshot()[14...] == [1, 2])
    #expect(m.openBusWrites == 2)
    #expect(m.read(PhysicalAddress(14), .dword) == 0xFFFF_0201)
    // At the top of the 32-bit address space the address wraps to 0 (two open-bus bytes,
    // then RAM bytes 0 and 1) instead of trapping.
    #expect(m.read(PhysicalAddress(0xFFFF_FFFE), .dword) == 0x0000_FFFF)
  }
}

@Suite struct MachineStateTests {
  /// Every field of the state survives a round trip through the machine.
  @Test func stateRoundTrips() {
    let m = Machine(memorySize: 1 << 20)
    var s = CPUState()
    for (k, r) in GPR.allCases.enumerated() { s[r] = 0x1111_1111 &* UInt32(k + 1) }
    s.eip = 0x1234
    s.eflags = 0x8D7
    s[.fs] = SegmentState(selector: 0x2B, base: 0x4000, limit: 0xFFF, attributes: 0x40F3)
    s.gdtr = TableRegister(base: 0x800, limit: 23)
    s.idtr = TableRegister(base: 0x900, limit: 0x7FF)
    s.cr0 = 0x8000_0011
    s.cr2 = 0xDEAD_B000
    s.cr3 = 0x0010_0000
    s.cr4 = 0x10
    m.state = s
    #expect(m.state == s, "\(m.state.differences(from: s))")
  }
}
