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
