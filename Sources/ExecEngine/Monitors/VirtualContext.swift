/// The virtual CPU as an `ExecutionContext`: how a monitor emulates a guest instruction with the
/// one semantics (DESIGN.md decision 1). General registers, EIP and the status flags are the
/// real ones (the guest's, while it is stopped); the CPL, IF, IOPL, control registers, GDTR,
/// IDTR, LDTR and TR are the virtual CPU's; segment registers read as the guest loaded them
/// (ring compression undone) and load through it; memory is the guest's linear space through
/// its own page tables and the guest-physical map; ports are the devices the monitor reaches.
import ISAModel

struct VirtualContext: ExecutionContext {
  typealias Domain = Concrete

  unowned let monitor: TrapAndEmulate
  var currentInstruction: UInt32 = 0
  /// Look without touching: page walks set no accessed bits and no CR2, writes are dropped (the
  /// monitor reading the guest's tables for itself).
  var peeking = false
  /// Set by an emulated STI, MOV SS, POP SS.
  var inhibited = false

  init(_ monitor: TrapAndEmulate) { self.monitor = monitor }

  var machine: Machine { monitor.machine }
  var domain: Concrete { Concrete() }
  var cpuModel: CPUModel { .core2 }

  func gpr(_ r: GPR) -> UInt32 { machine.core.gpr(r) }
  mutating func setGPR(_ r: GPR, _ v: UInt32) { machine.core.setGPR(r, v) }

  var eip: UInt32 {
    get { machine.core.eip }
    set { machine.core.eip = newValue }
  }

  func flag(_ f: Flag) -> Bit { f == .if ? Bit(monitor.vcpu.interruptFlag) : machine.core.flag(f) }

  mutating func setFlag(_ f: Flag, _ v: Bit) {
    if f == .if { monitor.vcpu.interruptFlag = v.isSet } else { machine.core.setFlag(f, v) }
  }

  mutating func setFlags(_ r: FlagRecord<UInt32>) { machine.core.setFlags(r) }

  var cpl: UInt8 { monitor.virtualCPL }
  var iopl: UInt8 { monitor.vcpu.iopl }
  mutating func setIOPL(_ v: UInt32) { monitor.vcpu.iopl = UInt8((v >> 12) & 3) }

  func segmentBase(_ s: SegmentRegister) -> UInt32 { monitor.virtualSegment(s).base }
  func segment(_ s: SegmentRegister) -> SegmentCache<UInt32> { monitor.virtualSegment(s) }

  mutating func setSegment(_ s: SegmentRegister, _ v: SegmentCache<UInt32>) throws(Interrupt) {
    try machine.core.setSegment(s, RingCompression.cache(v, for: s))
  }

  func systemSegment(_ s: SystemSegment) -> SegmentCache<UInt32> {
    (s == .ldtr ? monitor.vcpu.ldtr : monitor.vcpu.tr).cache
  }

  mutating func setSystemSegment(_ s: SystemSegment, _ v: SegmentCache<UInt32>) throws(Interrupt) {
    switch s {
    case .ldtr:
      // The real LDTR would have to hold a compressed copy, traced like the GDT.
      try modelGap("an LDT under trap-and-emulate", when: Bit(v.attributes & SegmentAttribute.present != 0))
      monitor.vcpu.ldtr = SegmentState(v)
    case .tr: monitor.vcpu.tr = SegmentState(v)
    }
  }

  // MARK: Memory: the guest's linear space through its page tables

  /// The guest-physical address of `linear` for an access (the guest's walk, or linear =
  /// guest-physical with its paging off).
  mutating func translate(_ linear: UInt32, write: Bool, user: Bool) throws(Interrupt) -> UInt32 {
    guard monitor.vcpu[.cr0] & CR0.pg != 0 else { return linear }
    return try walkPages(linear, write: write, user: user).physical
  }

  mutating func read(_ linear: UInt32, _ size: OperandSize, user: Bool) throws(Interrupt) -> UInt32 {
    if linear & 0xFFF &+ size.bytes <= 0x1000 {
      return try readPhysical(translate(linear, write: false, user: user), size)
    }
    // Across a page boundary: both pages are translated before any byte is read.
    let low = try translate(linear, write: false, user: user)
    let high = try translate(linear &+ (size.bytes &- 1), write: false, user: user)
    var v: UInt32 = 0
    for k in 0..<size.bytes {
      let a = linear &+ k
      let p = (a >> 12 == linear >> 12 ? low : high) & ~0xFFF | (a & 0xFFF)
      v |= try readPhysical(p, .byte) << (8 * k)
    }
    return v
  }

  mutating func write(_ linear: UInt32, _ size: OperandSize, _ v: UInt32, user: Bool) throws(Interrupt) {
    if linear & 0xFFF &+ size.bytes <= 0x1000 {
      return try writePhysical(translate(linear, write: true, user: user), size, v)
    }
    let low = try translate(linear, write: true, user: user)
    let high = try translate(linear &+ (size.bytes &- 1), write: true, user: user)
    for k in 0..<size.bytes {
      let a = linear &+ k
      let p = (a >> 12 == linear >> 12 ? low : high) & ~0xFFF | (a & 0xFFF)
      try writePhysical(p, .byte, (v >> (8 * k)) & 0xFF)
    }
  }

  mutating func readLinear(_ address: UInt32, _ size: OperandSize) throws(Interrupt) -> UInt32 {
    try read(address, size, user: cpl == 3)
  }

  mutating func writeLinear(_ address: UInt32, _ size: OperandSize, _ v: UInt32) throws(Interrupt) {
    try write(address, size, v, user: cpl == 3)
  }

  mutating func readSystem(_ address: UInt32, _ size: OperandSize) throws(Interrupt) -> UInt32 {
    try read(address, size, user: false)
  }

  mutating func writeSystem(_ address: UInt32, _ size: OperandSize, _ v: UInt32) throws(Interrupt) {
    try write(address, size, v, user: false)
  }

  /// Guest-physical memory, through the guest-physical map.
  mutating func readPhysical(_ address: UInt32, _ size: OperandSize) throws(Interrupt) -> UInt32 {
    let a = GuestPhysicalAddress(address)
    if a.frame == (address &+ (size.bytes &- 1)) >> 12 {
      return machine.core.readPhysical(monitor.map.machineAddress(a).value, size)
    }
    var v: UInt32 = 0
    for k in 0..<size.bytes {
      v |= machine.core.readPhysical(monitor.map.machineAddress(a.advanced(by: k)).value, .byte) << (8 * k)
    }
    return v
  }

  mutating func writePhysical(_ address: UInt32, _ size: OperandSize, _ v: UInt32) throws(Interrupt) {
    guard !peeking else { return }
    let a = GuestPhysicalAddress(address)
    guard a.frame == (address &+ (size.bytes &- 1)) >> 12 else {
      for k in 0..<size.bytes { try writePhysical(address &+ k, .byte, (v >> (8 * k)) & 0xFF) }
      return
    }
    let m = monitor.map.machineAddress(a).value
    let traced = !monitor.shadow.kinds(a.frame).isEmpty
    let old = traced ? machine.core.readPhysical(m, size) : 0
    machine.core.writePhysical(m, size, v)
    if traced { monitor.guestWrote(a, size, old: old, new: v) }
  }

  // MARK: Ports, system registers, MSRs, time

  mutating func readPort(_ port: UInt32, _ size: OperandSize) throws(Interrupt) -> UInt32 {
    try monitor.portRead(UInt16(truncatingIfNeeded: port), size)
  }

  mutating func writePort(_ port: UInt32, _ size: OperandSize, _ v: UInt32) throws(Interrupt) {
    try monitor.portWrite(UInt16(truncatingIfNeeded: port), size, v)
  }

  func systemRegister(_ r: SystemRegister) -> UInt32 { monitor.vcpu[r] }

  mutating func setSystemRegister(_ r: SystemRegister, _ v: UInt32) throws(Interrupt) {
    if peeking && r == .cr2 { return }
    try monitor.setVirtualSystemRegister(r, r == .gdtrLimit || r == .idtrLimit ? v & 0xFFFF : v)
  }

  func msr(_ m: ModelSpecificRegister) -> (low: UInt32, high: UInt32) {
    let v = monitor.vcpu.msrs[m.index] ?? 0
    return (UInt32(truncatingIfNeeded: v), UInt32(truncatingIfNeeded: v >> 32))
  }

  mutating func setMSR(_ m: ModelSpecificRegister, low: UInt32, high: UInt32) throws(Interrupt) {
    guard m.kind == .storage else { return }
    if m.index == 0x1B && (low & 0xFFFF_F000 != LocalAPIC.base || low & 0x800 == 0) {
      throw .modelGap("relocating or disabling the local APIC (IA32_APIC_BASE)")
    }
    monitor.vcpu.msrs[m.index] = UInt64(high) << 32 | UInt64(low)
  }

  /// The guest owns the TSC: the clock is its retired instructions (DESIGN.md decision 10).
  var timeStampCounter: (low: UInt32, high: UInt32) { machine.core.timeStampCounter }
  mutating func setTimeStampCounter(low: UInt32, high: UInt32) {
    machine.core.setTimeStampCounter(low: low, high: high)
  }

  mutating func invalidatePage(_ linear: UInt32) { monitor.shadow.invalidate(linear) }

  // MARK: Control

  mutating func raise(_ fault: Fault, when condition: Bit) throws(Interrupt) {
    if condition.isSet { throw .fault(fault) }
  }

  mutating func raise(_ vector: Exception, code: UInt32, when condition: Bit) throws(Interrupt) {
    if condition.isSet { throw .fault(Fault(vector, errorCode: code)) }
  }

  mutating func modelGap(_ what: String, when condition: Bit) throws(Interrupt) {
    if condition.isSet { throw .modelGap(what) }
  }

  mutating func when(_ condition: Bit, _ body: (inout VirtualContext) throws(Interrupt) -> Void)
    throws(Interrupt)
  {
    if condition.isSet { try body(&self) }
  }

  mutating func exitVM(
    _ reason: VMExitReason, qualification: UInt32, interruption: (Exception, UInt32)?, when condition: Bit
  ) throws(Interrupt) {
    if condition.isSet {
      throw .vmExit(VMExit(reason, qualification: qualification, interruption: interruption.fault))
    }
  }

  mutating func halt() { monitor.vcpu.halted = true }
  mutating func inhibitInterrupts() { inhibited = true }
}
