import ExecEngine
import ISAModel
import Testing

@Suite struct PhysicalMemoryTests {
  @Test func ramHoldsWhatWasWritten() {
    var m = PhysicalMemory(size: 4096)
    m.write(PhysicalAddress(0x10), 0xAB)
    #expect(m.read(PhysicalAddress(0x10)) == 0xAB)
    #expect(m.read(PhysicalAddress(0x11)) == 0)
    #expect(m.openBusReads == 0)
  }

  @Test func aboveRamIsOpenBus() {
    var m = PhysicalMemory(size: 4096)
    m.write(PhysicalAddress(4096), 0x12)
    #expect(m.read(PhysicalAddress(4096)) == 0xFF)
    #expect(m.read(PhysicalAddress(0xFFFF_FFFF)) == 0xFF)
    #expect(m.openBusReads == 2)
    #expect(m.openBusWrites == 1)
  }

  @Test func loadStraddlingTheEndDropsTheRest() {
    var m = PhysicalMemory(size: 16)
    m.load([1, 2, 3, 4], at: PhysicalAddress(14))
    #expect(m.bytes[14...] == [1, 2])
    #expect(m.openBusWrites == 2)
  }
}
