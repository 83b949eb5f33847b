import ExecEngine
import Foundation
import ISAModel
import Testing

/// The guest kernels of models/guests (lib/kernel.inc plus one workload each): each prints
/// "NAME: result=XXXXXXXX" on COM1; the value is computed here independently, in Swift, from
/// the workload's description. Each also runs twice to the same output, state and counts.
@Suite struct GuestKernelTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  func run(_ name: String) throws -> (Machine, RunOutcome) {
    let binary = try Nasm.assemble(file: Self.root.appendingPathComponent("models/guests/\(name).asm"))
    let m = try Loader.machine(flat: binary)
    return (m, m.run(budget: 50_000_000))
  }

  func expectResult(_ name: String, _ value: UInt32) throws -> Machine {
    let (m, out) = try run(name)
    #expect(out.reason == .debugExit(0), "\(name): \(out.reason)")
    let hex = String(value, radix: 16, uppercase: true)
    let line = "\(name): result=" + String(repeating: "0", count: 8 - hex.count) + hex + "\n"
    #expect(String(decoding: m.serial.output, as: UTF8.self) == line, "\(name)")
    // Deterministic: a second run gives the same output, state and counts.
    let (again, out2) = try run(name)
    #expect(out2 == out)
    #expect(again.serial.output == m.serial.output)
    #expect(again.state == m.state)
    #expect(again.events == m.events)
    return m
  }

  @Test func syscallCountsItsRoundTrips() throws {
    _ = try expectResult("syscall", 10_000)
  }

  @Test func divzeroResumesAfterEachDivideError() throws {
    var sum: UInt32 = 0
    for i: UInt32 in 1...1000 { sum &+= i % 10 == 0 ? 1 : (i &* 7919) / i }
    let m = try expectResult("divzero", sum)
    #expect(m.events.exceptionsDelivered == 100)
  }

  @Test func pgfaultMapsEachPageOnDemand() throws {
    let m = try expectResult("pgfault", (0..<256).reduce(0, +))
    #expect(m.events.exceptionsDelivered == 256)
    #expect(m.events.tlbPageInvalidations == 256)
  }

  @Test func ptemodSeesEachRemappingAfterINVLPG() throws {
    // Round r reads what round r − 16 wrote into the same frame (nothing before round 16).
    var sum: UInt32 = 0
    for r: UInt32 in 0..<4096 where r >= 16 { sum &+= r - 16 }
    let m = try expectResult("ptemod", sum)
    #expect(m.events.tlbPageInvalidations == 4096)
  }

  @Test func forkwaitBuildsSwitchesAndTearsDownAddressSpaces() throws {
    let m = try expectResult("forkwait", (0..<512).reduce(0, +))
    #expect(m.events.tlbFlushes >= 128)  // two CR3 writes a round
  }

  @Test func callret3RecursesAtRing3() throws {
    func sum(_ n: UInt32) -> UInt32 { n == 0 ? 0 : n &+ sum(n - 1) }
    _ = try expectResult("callret3", 100 &* sum(1000))
  }

  @Test func timerInterruptsLandEveryPeriodOfTheVirtualClock() throws {
    // 50 periodic APIC timer interrupts every 5,000 ticks of the virtual clock: the TSC read in
    // the handler moves by exactly 49 × 5,000 from the first to the last.
    let m = try expectResult("timer", 49 * 5000)
    #expect(m.events.interruptsDelivered == 50)
    #expect(m.events.timerExpirations == 50)
  }

  @Test func inReadsTheSerialPortsRegisters() throws {
    // The scratch register returns what was written; LSR reads THRE | TEMT (0x60).
    var sum: UInt32 = 0
    for r: UInt32 in 0..<1000 { sum &+= r % 256 + 0x60 }
    let m = try expectResult("in", sum)
    // 2,000 reads, and one LSR poll per character of the 20-character result line.
    #expect(m.events.portReads == 2000 + 20)
  }

  @Test func computeRunsAtRing3WithPagingOn() throws {
    var x: UInt32 = 1
    var y: UInt32 = 0
    for _ in 0..<250_000 {
      x = x &* 1_103_515_245 &+ 12345
      y ^= x >> 7
      y = y << 3 | y >> 29
    }
    let m = try expectResult("compute", y)
    #expect(m.state.cpl == 0)  // back in the kernel for SYS_EXIT
  }

  @Test func aSnapshotMidRunResumesToTheSameEnd() throws {
    // The timer guest, stopped between two interrupts, its CPU state (with the APIC, the clock
    // and the interrupt shadow) and memory copied into a fresh machine: the copy finishes as
    // the original does (DESIGN.md decision 5).
    let (whole, end) = try run("timer")
    let binary = try Nasm.assemble(file: Self.root.appendingPathComponent("models/guests/timer.asm"))
    let first = try Loader.machine(flat: binary)
    _ = first.run(budget: 123_457)
    let second = Machine(memorySize: first.memory.size)
    second.load(first.memory.snapshot(), at: PhysicalAddress(0))
    second.state = first.state
    let rest = second.run(budget: 50_000_000)
    #expect(rest.reason == end.reason)
    #expect(
      String(decoding: second.serial.output, as: UTF8.self)
        == String(decoding: whole.serial.output, as: UTF8.self))
    #expect(second.state.differences(from: whole.state) == [])
  }
}
