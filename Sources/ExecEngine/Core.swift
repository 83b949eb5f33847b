/// The concrete execution context: the semantics of ISAModel run against real registers and
/// memory. Status flags are lazy: the last two flag-setting instructions' records are kept and
/// a flag is computed only when read (FlagSemantics gives the one definition either way).
import ISAModel

/// Marks physical pages that hold decoded code, so a write to one flushes the decode cache.
final class CodePages {
  let marks: UnsafeMutablePointer<UInt8>
  let count: Int
  /// The marked pages, so that a flush clears only those.
  var marked: [Int] = []
  var generation: UInt64 = 0
  var invalidations: UInt64 = 0

  /// Marks for the RAM's pages (code outside RAM is open bus and cannot be written).
  init(memorySize: Int) {
    count = (memorySize + 4095) >> 12
    marks = .allocate(capacity: max(count, 1))
    marks.initialize(repeating: 0, count: max(count, 1))
  }

  deinit { marks.deallocate() }

  @inline(__always) func mark(_ address: UInt32) {
    let page = Int(address >> 12)
    if page < count && marks[page] == 0 {
      marks[page] = 1
      marked.append(page)
    }
  }

  /// A write landed on `address`: if that page holds decoded code, every block is stale.
  /// Returns whether it did.
  @discardableResult @inline(__always) func written(_ address: UInt32, _ size: OperandSize) -> Bool {
    let first = Int(address >> 12)
    let last = Int((address &+ (size.bytes &- 1)) >> 12)
    guard (first < count && marks[first] != 0) || (last < count && marks[last] != 0) else { return false }
    invalidateAll()
    return true
  }

  func invalidateAll() {
    for page in marked { marks[page] = 0 }
    marked.removeAll(keepingCapacity: true)
    generation &+= 1
    invalidations &+= 1
  }

  /// Linear-to-physical translations changed (a TLB flush): blocks are found by linear EIP, so
  /// they go too, without counting as a write to code.
  func remap() {
    for page in marked { marks[page] = 0 }
    marked.removeAll(keepingCapacity: true)
    generation &+= 1
  }
}

/// Where each register lives in the register file.
enum RegisterSlot {
  static let segmentBases = 8
  static let systemRegisters = 16
  static let msrs = 32
  static let segmentLimits = 48
  static let selectors = 54
  static let attributes = 60
  /// LDTR then TR: selector, base, limit, attributes each.
  static let systemSegments = 66
  static let count = 80

  @inline(__always) static func system(_ r: SystemRegister) -> Int { systemRegisters + Int(r.rawValue) }
  /// Low half; the high half follows.
  static func msr(_ m: ModelSpecificRegister) -> Int? { m.storageSlot.map { msrs + 2 * $0 } }
}

struct Core: ExecutionContext {
  typealias Domain = Concrete

  /// GPRs 0–7, segment bases 8–13, system registers from 16 and stored MSRs from 32
  /// (`RegisterSlot`), in storage the machine owns: indexing a pointer costs a load, where
  /// indexing a value array with a run-time index made the optimiser copy it.
  let registerFile: UnsafeMutablePointer<UInt32>
  /// The virtual clock (DESIGN.md decision 10): instructions retired, plus the time a halted
  /// processor skipped to its next timer deadline. During an instruction it is the number of
  /// instructions before it.
  var clock: UInt64 = 0
  /// TSC = clock + offset (a WRMSR of the TSC sets the offset).
  var tscOffset: UInt64 = 0
  var eip: UInt32 = 0
  var currentInstruction: UInt32 = 0
  /// EFLAGS; the bits in `pendingMask` are stale and come from `pending`.
  var flagBits: UInt32 = FlagMask.reservedOne
  var pending = FlagRecord<UInt32>(.logic, .dword, a: 0, b: 0, result: 0, carry: 0)
  var pendingMask: UInt32 = 0
  /// The record before `pending`, for the bits in `olderMask` (disjoint from `pendingMask`):
  /// an instruction that writes only some flags (ROL, INC) leaves the rest to it, so that
  /// nothing is computed until read.
  var older = FlagRecord<UInt32>(.logic, .dword, a: 0, b: 0, result: 0, carry: 0)
  var olderMask: UInt32 = 0
  var cpl: UInt8 = 0
  var iopl: UInt8 = 0
  // Not a stored property: a field holding an array made Core non-trivial and halved the
  // engine's speed (measured with make bench). A configurable model will live behind a class.
  var cpuModel: CPUModel { CPUModel.core2 }
  var halted = false
  /// Compute flags after every instruction instead of when read (for measuring laziness).
  var eagerFlags = false
  /// Set when execution must leave the current block: HLT, or a write to decoded code.
  var leaveBlock = false
  let memory: PhysicalMemory
  let code: CodePages
  /// The RAM's bytes and size, and the decoded-code marks of its pages, copied out of `memory`
  /// and `code` (which never reallocate) so that an access loads no object first.
  let ram: UnsafeMutableRawPointer
  let ramSize: UInt64
  let codeMarks: UnsafeMutablePointer<UInt8>
  let ports: PortBus

  let tlb: TLB
  let apic: LocalAPIC
  /// CR0.PG, kept apart so that an access tests one field when paging is off.
  var paging = false
  /// The VMCS controls in VMX non-root operation, in storage the machine owns (a pointer keeps
  /// `Core` free of reference-counted values); nil on the bare machine.
  var nonRoot: UnsafePointer<VMXNonRoot>?
  /// Linear addresses are physical whatever CR0.PG says (`Machine.identityTranslation`).
  var identityTranslation = false
  /// What the handlers of the blocks running now share (`DecodeCache.run`); nil between runs.
  /// Reached through the core so that a handler takes two arguments, not three.
  var chain: UnsafeMutablePointer<DecodeCache.Chain>?

  var vmx: VMXNonRoot? { nonRoot?.pointee }

  /// Sets `paging` from CR0 = `cr0`: PG, unless linear addresses are taken as physical.
  mutating func followPaging(_ cr0: UInt32) { paging = cr0 & CR0.pg != 0 && !identityTranslation }

  init(
    memory: PhysicalMemory, code: CodePages, ports: PortBus, tlb: TLB, apic: LocalAPIC,
    registerFile: UnsafeMutablePointer<UInt32>
  ) {
    self.apic = apic
    self.memory = memory
    self.code = code
    ram = memory.base
    ramSize = UInt64(memory.size)
    codeMarks = code.marks
    self.ports = ports
    self.tlb = tlb
    self.registerFile = registerFile
  }

  @inline(__always) var domain: Concrete { Concrete() }

  @inline(__always) func gpr(_ r: GPR) -> UInt32 { registerFile[Int(r.rawValue)] }
  @inline(__always) mutating func setGPR(_ r: GPR, _ v: UInt32) { registerFile[Int(r.rawValue)] = v }

  @inline(__always) func flag(_ f: Flag) -> Bit {
    if pendingMask & f.mask != 0 { return FlagSemantics.flag(f, pending, Concrete()) }
    if olderMask & f.mask != 0 { return FlagSemantics.flag(f, older, Concrete()) }
    return Bit(flagBits & f.mask != 0)
  }

  @inline(__always) mutating func setFlag(_ f: Flag, _ v: Bit) {
    if (pendingMask | olderMask) & f.mask != 0 { materialize() }
    flagBits = v.isSet ? flagBits | f.mask : flagBits & ~f.mask
  }

  @inline(__always) mutating func setFlags(_ r: FlagRecord<UInt32>) {
    let written = r.op.writes
    // The common cases inline (`written` folds per instruction): lazy, and the record covers
    // every pending bit (ADD after SUB), or it leaves some to the older record and nothing the
    // older one held is still needed (DEC or ROL after ADD).
    if _fastPath(!eagerFlags) {
      if written == FlagMask.status || pendingMask & ~written == 0 {
        olderMask &= ~written
        pending = r
        pendingMask = written
        return
      }
      if olderMask & ~written == 0 {
        older = pending
        olderMask = pendingMask & ~written
        pending = r
        pendingMask = written
        return
      }
    }
    setFlagsPartially(r)
  }

  /// The rest of `setFlags`, out of line so that the handlers' common path stays small.
  @inline(never) mutating func setFlagsPartially(_ r: FlagRecord<UInt32>) {
    if eagerFlags {
      // The same FlagSemantics, evaluated now instead of when read.
      flagBits = (flagBits & ~r.op.writes) | FlagSemantics.bits(r)
      return
    }
    // A record that leaves some pending bits alone (ROL or INC after ADD): the pending record
    // becomes the older one for those bits; what the older one still held is fixed.
    let written = r.op.writes
    let kept = pendingMask & ~written
    let olderKept = olderMask & ~written & ~pendingMask
    if olderKept != 0 { flagBits = (flagBits & ~olderKept) | FlagSemantics.bits(older, in: olderKept) }
    older = pending
    olderMask = kept
    pending = r
    pendingMask = written
  }

  /// Computes the pending flags into `flagBits`.
  mutating func materialize() {
    flagBits = eflags
    pendingMask = 0
    olderMask = 0
  }

  /// EFLAGS with every bit computed.
  var eflags: UInt32 {
    (flagBits & ~pendingMask & ~olderMask) | (FlagSemantics.bits(older) & olderMask)
      | (FlagSemantics.bits(pending) & pendingMask)
  }

  @inline(__always) func segmentBase(_ s: SegmentRegister) -> UInt32 { registerFile[8 + Int(s.rawValue)] }

  @inline(__always) func segment(_ s: SegmentRegister) -> SegmentCache<UInt32> {
    let k = Int(s.rawValue)
    return SegmentCache(
      selector: registerFile[RegisterSlot.selectors + k], base: registerFile[RegisterSlot.segmentBases + k],
      limit: registerFile[RegisterSlot.segmentLimits + k],
      attributes: registerFile[RegisterSlot.attributes + k])
  }

  mutating func setSegment(_ s: SegmentRegister, _ v: SegmentCache<UInt32>) throws(Interrupt) {
    let k = Int(s.rawValue)
    registerFile[RegisterSlot.selectors + k] = v.selector & 0xFFFF
    registerFile[RegisterSlot.segmentBases + k] = v.base
    registerFile[RegisterSlot.segmentLimits + k] = v.limit
    registerFile[RegisterSlot.attributes + k] = v.attributes
    if s == .cs { cpl = UInt8(v.selector & 3) }
    updateUncheckedSegments()
  }

  func systemSegment(_ s: SystemSegment) -> SegmentCache<UInt32> {
    let k = RegisterSlot.systemSegments + 4 * Int(s.rawValue)
    return SegmentCache(
      selector: registerFile[k], base: registerFile[k + 1], limit: registerFile[k + 2],
      attributes: registerFile[k + 3])
  }

  mutating func setSystemSegment(_ s: SystemSegment, _ v: SegmentCache<UInt32>) throws(Interrupt) {
    let k = RegisterSlot.systemSegments + 4 * Int(s.rawValue)
    (registerFile[k], registerFile[k + 1], registerFile[k + 2], registerFile[k + 3]) = (
      v.selector & 0xFFFF, v.base, v.limit, v.attributes
    )
  }

  /// Segments (one bit each) through which every read, or every write, passes the checks: usable
  /// 4 GiB expand-up segments of the right type. Accesses through them skip the check.
  var uncheckedReads: UInt8 = 0
  var uncheckedWrites: UInt8 = 0

  /// CS has a 4 GiB limit: every branch target passes (`checkBranchTarget`).
  var flatCode = false

  mutating func updateUncheckedSegments() {
    uncheckedReads = 0
    uncheckedWrites = 0
    flatCode = registerFile[RegisterSlot.segmentLimits + Int(SegmentRegister.cs.rawValue)] == 0xFFFF_FFFF
    for s in SegmentRegister.allCases {
      let k = Int(s.rawValue)
      let a = registerFile[RegisterSlot.attributes + k]
      guard registerFile[RegisterSlot.segmentLimits + k] == 0xFFFF_FFFF, a & SegmentAttribute.present != 0
      else {
        continue
      }
      let code = a & SegmentAttribute.code != 0
      let rw = a & SegmentAttribute.writableOrReadable != 0
      if code ? rw : a & SegmentAttribute.expandDownOrConforming == 0 { uncheckedReads |= 1 << s.rawValue }
      if !code && rw && a & SegmentAttribute.expandDownOrConforming == 0 {
        uncheckedWrites |= 1 << s.rawValue
      }
    }
  }

  /// Flat code (limit 4 GiB) passes every branch target: the check is skipped.
  @inline(__always)
  mutating func checkBranchTarget(_ target: UInt32, when taken: Bit) throws(Interrupt) {
    if flatCode { return }
    try checkedBranchTarget(target, when: taken)
  }

  @inline(__always)
  mutating func checkSegment(_ s: SegmentRegister, _ offset: UInt32, _ size: OperandSize, write: Bool)
    throws(Interrupt)
  {
    if (write ? uncheckedWrites : uncheckedReads) & (1 << s.rawValue) != 0 { return }
    try checkedSegmentAccess(s, offset, size, write: write)
  }

  @inline(__always) func systemRegister(_ r: SystemRegister) -> UInt32 {
    registerFile[RegisterSlot.system(r)]
  }

  mutating func setSystemRegister(_ r: SystemRegister, _ v: UInt32) throws(Interrupt) {
    let old = registerFile[RegisterSlot.system(r)]
    // The instructions that write control registers end their block (DecodeCache.endsBlock).
    registerFile[RegisterSlot.system(r)] = r == .gdtrLimit || r == .idtrLimit ? v & 0xFFFF : v
    // What the TLB must forget (SDM Vol. 3A §4.10.4.1).
    switch r {
    case .cr3: dropTranslations(keepingGlobal: true)
    case .cr0 where (old ^ v) & (CR0.pg | CR0.wp) != 0:
      followPaging(v)
      dropTranslations(keepingGlobal: false)
    case .cr4 where (old ^ v) & (CR4.pse | CR4.pge) != 0: dropTranslations(keepingGlobal: false)
    default: break
    }
  }

  func dropTranslations(keepingGlobal: Bool) {
    tlb.flush(keepingGlobal: keepingGlobal)
    code.remap()
  }

  func msr(_ m: ModelSpecificRegister) -> (low: UInt32, high: UInt32) {
    guard let k = RegisterSlot.msr(m) else { return (0, 0) }
    return (registerFile[k], registerFile[k + 1])
  }

  mutating func setMSR(_ m: ModelSpecificRegister, low: UInt32, high: UInt32) throws(Interrupt) {
    guard let k = RegisterSlot.msr(m) else { return }
    if m.index == 0x1B && (low & 0xFFFF_F000 != LocalAPIC.base || low & 0x800 == 0) {
      throw .modelGap("relocating or disabling the local APIC (IA32_APIC_BASE)")
    }
    registerFile[k] = low
    registerFile[k + 1] = high
  }

  var timeStampCounter: (low: UInt32, high: UInt32) {
    let t = clock &+ tscOffset
    return (UInt32(truncatingIfNeeded: t), UInt32(truncatingIfNeeded: t >> 32))
  }

  mutating func setTimeStampCounter(low: UInt32, high: UInt32) {
    tscOffset = (UInt64(high) << 32 | UInt64(low)) &- clock
  }

  mutating func setIOPL(_ v: UInt32) {
    iopl = UInt8((v >> 12) & 3)
    flagBits = (flagBits & ~FlagMask.iopl) | (v & FlagMask.iopl)
  }

  mutating func invalidatePage(_ linear: UInt32) {
    tlb.invalidate(page: linear)
    // Blocks are found by linear EIP: they may rest on the old translation.
    code.remap()
  }

  @inline(__always)
  mutating func readLinear(_ address: UInt32, _ size: OperandSize) throws(Interrupt) -> UInt32 {
    if !paging { return readPhysical(address, size) }
    return try readPaged(address, size, user: cpl == 3)
  }

  @inline(__always)
  mutating func writeLinear(_ address: UInt32, _ size: OperandSize, _ v: UInt32) throws(Interrupt) {
    if !paging { return writePhysical(address, size, v) }
    try writePaged(address, size, v, user: cpl == 3)
  }

  mutating func readSystem(_ address: UInt32, _ size: OperandSize) throws(Interrupt) -> UInt32 {
    if !paging { return readPhysical(address, size) }
    return try readPaged(address, size, user: false)
  }

  mutating func writeSystem(_ address: UInt32, _ size: OperandSize, _ v: UInt32) throws(Interrupt) {
    if !paging { return writePhysical(address, size, v) }
    try writePaged(address, size, v, user: false)
  }

  /// RAM, or above it a device (the local APIC's page) or open bus.
  // Mutating (like the other accessors) so that a call through a pointer to the core does not
  // copy the whole core first (measured: a 152-byte copy on every RET).
  @inline(__always)
  mutating func readPhysical(_ address: UInt32, _ size: OperandSize) -> UInt32 {
    if _slowPath(UInt64(address) &+ UInt64(size.bytes) > ramSize) { return readDevice(address, size) }
    return PhysicalMemory.load(ram, Int(address), size)
  }

  @inline(__always)
  mutating func writePhysical(_ address: UInt32, _ size: OperandSize, _ v: UInt32) {
    if _slowPath(UInt64(address) &+ UInt64(size.bytes) > ramSize) { return writeDevice(address, size, v) }
    PhysicalMemory.store(ram, Int(address), size, v)
    // In RAM, so both pages have marks: does either hold decoded code?
    if _slowPath(codeMarks[Int(address >> 12)] | codeMarks[Int((address &+ (size.bytes &- 1)) >> 12)] != 0) {
      code.invalidateAll()
      leaveBlock = true
    }
  }

  mutating func readDevice(_ address: UInt32, _ size: OperandSize) -> UInt32 {
    if address & ~(LocalAPIC.size - 1) == LocalAPIC.base {
      return apic.read(offset: address & (LocalAPIC.size - 1), size: size, clock: clock)
    }
    return memory.read(PhysicalAddress(address), size)
  }

  mutating func writeDevice(_ address: UInt32, _ size: OperandSize, _ v: UInt32) {
    if address & ~(LocalAPIC.size - 1) == LocalAPIC.base {
      apic.write(offset: address & (LocalAPIC.size - 1), size: size, v, clock: clock)
      // The APIC may now have an interrupt to deliver, or a new deadline: look again.
      leaveBlock = true
      return
    }
    memory.write(PhysicalAddress(address), size, v)
  }

  /// Interrupts are held off until the clock reaches this (the shadow of STI, MOV SS, POP SS).
  var inhibitUntil: UInt64 = 0

  mutating func inhibitInterrupts() {
    // The clock during this instruction is n: it retires at n + 1, the next one at n + 2.
    inhibitUntil = clock &+ 2
    leaveBlock = true
  }

  /// The physical address of `linear`: the TLB's entry when it allows the access (a write needs
  /// the dirty bit already set, so the walk sets it), else a walk that fills it.
  @inline(__always)
  mutating func translate(_ linear: UInt32, write: Bool, user: Bool) throws(Interrupt) -> UInt32 {
    let page = linear >> 12
    if let e = tlb.lookup(page), !user || e.user,
      !write || (e.dirty && (e.writable || (!user && registerFile[RegisterSlot.system(.cr0)] & CR0.wp == 0)))
    {
      tlb.hits &+= 1
      return e.frame | (linear & 0xFFF)
    }
    tlb.misses &+= 1
    let t = try walkPages(linear, write: write, user: user)
    tlb.fill(
      TLB.Entry(
        tag: page &+ 1, frame: t.physical & ~0xFFF, user: t.user.isSet, writable: t.writable.isSet,
        dirty: t.dirty.isSet, global: t.global.isSet))
    return t.physical
  }

  mutating func readPaged(_ linear: UInt32, _ size: OperandSize, user: Bool) throws(Interrupt) -> UInt32 {
    if linear & 0xFFF &+ size.bytes <= 0x1000 {
      return readPhysical(try translate(linear, write: false, user: user), size)
    }
    // Across a page boundary: both pages are translated before any byte is read.
    let last = linear &+ (size.bytes &- 1)
    let low = try translate(linear, write: false, user: user)
    let high = try translate(last, write: false, user: user)
    var v: UInt32 = 0
    for k in 0..<size.bytes {
      let a = linear &+ k
      let p = a >> 12 == linear >> 12 ? (low & ~0xFFF) | (a & 0xFFF) : (high & ~0xFFF) | (a & 0xFFF)
      v |= readPhysical(p, .byte) << (8 * k)
    }
    return v
  }

  mutating func writePaged(_ linear: UInt32, _ size: OperandSize, _ v: UInt32, user: Bool) throws(Interrupt) {
    if linear & 0xFFF &+ size.bytes <= 0x1000 {
      return writePhysical(try translate(linear, write: true, user: user), size, v)
    }
    let last = linear &+ (size.bytes &- 1)
    let low = try translate(linear, write: true, user: user)
    let high = try translate(last, write: true, user: user)
    for k in 0..<size.bytes {
      let a = linear &+ k
      let p = a >> 12 == linear >> 12 ? (low & ~0xFFF) | (a & 0xFFF) : (high & ~0xFFF) | (a & 0xFFF)
      writePhysical(p, .byte, (v >> (8 * k)) & 0xFF)
    }
  }

  /// The physical page an instruction fetch at `linear` reads, or nil if the fetch would fault;
  /// a failed probe leaves CR2 as it was (the fault is raised when execution gets there).
  mutating func fetchPage(_ linear: UInt32) -> UInt32? {
    guard paging else { return linear & ~0xFFF }
    let cr2 = registerFile[RegisterSlot.system(.cr2)]
    do {
      return try translate(linear, write: false, user: cpl == 3) & ~0xFFF
    } catch {
      registerFile[RegisterSlot.system(.cr2)] = cr2
      return nil
    }
  }

  mutating func readPort(_ port: UInt32, _ size: OperandSize) throws(Interrupt) -> UInt32 {
    ports.read(UInt16(truncatingIfNeeded: port), size)
  }

  mutating func writePort(_ port: UInt32, _ size: OperandSize, _ v: UInt32) throws(Interrupt) {
    ports.write(UInt16(truncatingIfNeeded: port), size, v)
    // A device may end the run (debug exit), overwrite decoded code by DMA or, later, raise an
    // interrupt: leave the block so the loop looks.
    leaveBlock = true
  }

  @inline(__always)
  mutating func raise(_ fault: Fault, when condition: Bit) throws(Interrupt) {
    if condition.isSet { throw .fault(fault) }
  }

  @inline(__always)
  mutating func raise(_ vector: Exception, code: UInt32, when condition: Bit) throws(Interrupt) {
    if condition.isSet { throw .fault(Fault(vector, errorCode: code)) }
  }

  /// Called only in VMX non-root operation (`Machine.vmx` set).
  mutating func exitVM(
    _ reason: VMExitReason, qualification: UInt32, interruption: (Exception, UInt32)?, when condition: Bit
  ) throws(Interrupt) {
    if condition.isSet {
      throw .vmExit(VMExit(reason, qualification: qualification, interruption: interruption.fault))
    }
  }

  @inline(__always)
  mutating func modelGap(_ what: String, when condition: Bit) throws(Interrupt) {
    if condition.isSet { throw .modelGap(what) }
  }

  @inline(__always)
  mutating func when(_ condition: Bit, _ body: (inout Core) throws(Interrupt) -> Void) throws(Interrupt) {
    if condition.isSet { try body(&self) }
  }

  mutating func halt() {
    halted = true
    leaveBlock = true
  }
}
