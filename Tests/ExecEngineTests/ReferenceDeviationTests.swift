import ExecEngine
import ISAModel
import Testing
import UnicornReference

/// The reference's known deviations (docs/divergences.md), shown case by case: if a new
/// unicorn fixes one, its test fails and the differential test can stop excluding it.
@Suite struct ReferenceDeviationTests {
  struct Outcome {
    var registers: [UInt32]
    var eflags: UInt32
    var stop: String
  }

  static let data: UInt32 = 0x2000

  func reference(_ bytes: [UInt8], registers: [UInt32], memory: [UInt8] = []) throws -> Outcome {
    let u = try Unicorn(regions: [(0, 0x10000)])
    for r in 0..<8 { try u.setRegister(r, registers[r]) }
    try u.setEFLAGS(0x2)
    try u.writeCode(bytes, at: 0x1000)
    try u.writeMemory(memory, at: UInt64(Self.data))
    let stop = u.run(from: 0x1000, until: 0x1000 + UInt32(bytes.count), count: 0)
    return Outcome(registers: try (0..<8).map { try u.register($0) }, eflags: try u.eflags, stop: "\(stop)")
  }

  func engine(_ bytes: [UInt8], registers: [UInt32], memory: [UInt8] = []) -> Outcome {
    let m = Machine(memorySize: 1 << 20)
    m.exceptionRouting = .stop
    var s = CPUState()
    for r in GPR.allCases { s[r] = registers[Int(r.rawValue)] }
    s.eip = 0x1000
    m.state = s
    m.load(bytes, at: PhysicalAddress(0x1000))
    m.load(memory, at: PhysicalAddress(Self.data))
    let step = m.step()
    return Outcome(registers: GPR.allCases.map { m.state[$0] }, eflags: m.state.eflags, stop: "\(step)")
  }

  let registers: [UInt32] = [0x55, 0x10, 0, 0, 0x8000, 0, 0, 0]

  @Test func testAliasF6Slash1IsUDInUnicornButTESTHere() throws {
    let bytes: [UInt8] = [0xF6, 0xC8, 0x0F]  // F6 /1 ib: test al, 0x0f
    #expect(engine(bytes, registers: registers).stop == "retired")
    #expect(try reference(bytes, registers: registers).stop.contains("error(10"))
  }

  @Test func repBSRIsLZCNTInUnicorn() throws {
    let bytes: [UInt8] = [0xF3, 0x0F, 0xBD, 0xC1]  // F3 0F BD: bsr eax, ecx on a Core 2
    #expect(engine(bytes, registers: registers).registers[0] == 4)  // BSR(0x10)
    #expect(try reference(bytes, registers: registers).registers[0] == 27)  // LZCNT(0x10)
  }

  @Test func lockNegFlagsDifferInUnicorn() throws {
    var differs = 0
    for v: UInt8 in [1, 0x7F, 0x80, 0xFF, 0x10, 0x0F] {
      // neg byte [0x2000], with and without LOCK
      let plain: [UInt8] = [0xF6, 0x1D, 0x00, 0x20, 0x00, 0x00]
      let ours = engine(plain, registers: registers, memory: [v])
      let theirs = try reference(plain, registers: registers, memory: [v])
      #expect(ours.eflags & FlagMask.status == theirs.eflags & FlagMask.status, "NEG \(v)")
      let locked = try reference([0xF0] + plain, registers: registers, memory: [v])
      if locked.eflags & FlagMask.status != ours.eflags & FlagMask.status { differs += 1 }
    }
    #expect(differs > 0)
  }

  @Test func retImm16IsSignExtendedInUnicorn() throws {
    let bytes: [UInt8] = [0xC2, 0x00, 0x80]  // ret 0x8000
    // The return address: [esp] = 0 (fresh memory); only ESP matters.
    let ours = engine(bytes, registers: registers)
    #expect(ours.registers[4] == 0x8000 + 4 + 0x8000)
    let u = try Unicorn(regions: [(0, 0x20000)])
    for r in 0..<8 { try u.setRegister(r, registers[r]) }
    try u.writeCode(bytes, at: 0x1000)
    _ = u.run(from: 0x1000, until: 0xFFFF_FFFF, count: 1)
    #expect(try u.register(4) == 0x8000 + 4 &- 0x8000)
  }

  @Test func prefixedVMWRITEExecutesInUnicorn() throws {
    let bytes: [UInt8] = [0x66, 0x0F, 0x79, 0xC1]  // 66 0F 79: VMWRITE with 66 (EXTRQ on AMD)
    #expect(engine(bytes, registers: registers).stop == "fault(#UD)")
    #expect(try reference(bytes, registers: registers).stop == "completed")
  }

  @Test func invEPTIsNotUDInUnicorn() throws {
    let bytes: [UInt8] = [0x66, 0x0F, 0x38, 0x80, 0x05, 0x00, 0x20, 0x00, 0x00]  // invept eax, [0x2000]
    #expect(engine(bytes, registers: registers).stop == "fault(#UD)")
    #expect(try reference(bytes, registers: registers).stop != "interrupt(6)")
  }

  @Test func rdpmcIsUDInUnicorn() throws {
    let bytes: [UInt8] = [0x0F, 0x33]  // rdpmc at CPL 0
    #expect(engine(bytes, registers: registers).stop == "fault(#GP(0))")
    #expect(try reference(bytes, registers: registers).stop.contains("error(10"))
  }

  @Test func ltrOfANullSelectorDoesNotFaultInUnicorn() throws {
    let bytes: [UInt8] = [0x0F, 0x00, 0xD8]  // ltr ax, with AX = 0
    let zero: [UInt32] = [0, 0, 0, 0, 0x8000, 0, 0, 0]
    #expect(engine(bytes, registers: zero).stop == "fault(#GP(0))")  // "#GP(0) if … a NULL selector"
    #expect(try reference(bytes, registers: zero).stop == "completed")
  }
}
