/// `ExecutionContext` over Z3 terms: runs one instruction's semantics — the same code the engine
/// runs — symbolically, and records how the step can end. Faults, model gaps and `when`
/// branches become path conditions instead of control flow: `raise` records "this fault, under
/// this condition" and goes on under its negation, so one run covers every outcome.
import ISAModel
import Z3

/// The assumptions a step is evaluated under that the semantics reads as Swift values.
public struct StepAssumptions: Sendable, Hashable, Codable {
  /// The CPL (a monitor configuration fixes it per query: `ExecutionContext.cpl`).
  public var cpl: UInt8
  /// EFLAGS.IOPL before the step.
  public var iopl: UInt8

  /// VMX non-root operation under these controls, or nil for the bare machine.
  public var vmx: VMXNonRoot?
  /// Linear addresses are physical whatever CR0.PG says: the effect of paging left out of the
  /// query (a VMM that owns paging checks it through its exits), so PG can be the 1 VMX forces.
  public var identityTranslation: Bool

  public init(
    cpl: UInt8, iopl: UInt8, vmx: VMXNonRoot? = nil, identityTranslation: Bool = false
  ) {
    self.cpl = cpl
    self.iopl = iopl
    self.vmx = vmx
    self.identityTranslation = identityTranslation
  }
}

/// A VM exit the step makes, and when.
public struct SymbolicExit {
  public let reason: VMExitReason
  public let qualification: BitVector
  public let condition: BoolExpr
}

/// A fault the step raises, and when.
public struct SymbolicFault {
  public let vector: Exception
  public let errorCode: BitVector?
  public let condition: BoolExpr
}

/// A case the model does not implement, and when it arises.
public struct SymbolicGap {
  public let what: String
  public let condition: BoolExpr
}

/// An I/O port access the step makes (a resource the monitor owns).
public struct PortAccess {
  public let port: BitVector
  public let size: OperandSize
  public let value: BitVector
  public let isWrite: Bool
  public let condition: BoolExpr
}

public struct SymbolicContext: ExecutionContext {
  public typealias Domain = TermDomain

  public let domain: TermDomain
  public let assumptions: StepAssumptions
  public var state: SymbolicState
  public var currentInstruction: BitVector
  /// The conjunction of the enclosing `when` conditions: state updates are `ite` under it.
  var guardCondition: BoolExpr
  /// `guardCondition` and no fault or gap so far: the condition the step retires under, once
  /// the outermost `when` has closed.
  public private(set) var path: BoolExpr
  /// Conditions the path has been narrowed by (a fault raised under each): a `when` on one of
  /// them is a branch no state reaches, skipped rather than evaluated under a false guard.
  var excluded: [BoolExpr] = []
  public private(set) var faults: [SymbolicFault] = []
  public private(set) var gaps: [SymbolicGap] = []
  public private(set) var exits: [SymbolicExit] = []
  public private(set) var ports: [PortAccess] = []
  /// Pages INVLPG dropped (the TLB is part of "the effect of paging").
  public private(set) var invalidatedPages: [(linear: BitVector, condition: BoolExpr)] = []
  /// Set once CS is loaded with an RPL other than the assumed CPL: the CPL is then a term (the
  /// new CS.RPL), and reading `cpl` as a Swift value would be wrong; such a read is recorded
  /// and the step answers nothing (docs/verifier.md). The flag cannot tell a read in a branch
  /// exclusive of the load, so the semantics pass the CPL a transfer began at (far JMP, CALL).
  var codeSegmentLoaded = false
  var ioplWritten = false
  public private(set) var staleReads: [String] = []
  /// Every physical byte address the step reads or writes (page walks included), with the path
  /// it happens on: a witness must place them in memory the engine has.
  public private(set) var accesses: [(address: BitVector, condition: BoolExpr)] = []
  /// The physical addresses of the instruction's bytes, fetched at the start of the step.
  public private(set) var codeAddresses: [BitVector] = []

  public init(_ domain: TermDomain, state: SymbolicState, assumptions: StepAssumptions) {
    self.domain = domain
    self.state = state
    self.assumptions = assumptions
    currentInstruction = state.eip
    guardCondition = domain.context.true
    path = domain.context.true
  }

  var z3: Z3Context { domain.context }
  var guarded: Bool { guardCondition.literalValue != true }

  func update(_ new: BitVector, _ old: BitVector) -> BitVector {
    guarded ? guardCondition.ite(new, old) : new
  }
  func update(_ new: BoolExpr, _ old: BoolExpr) -> BoolExpr { guarded ? guardCondition.ite(new, old) : new }
  func update(_ new: SegmentCache<BitVector>, _ old: SegmentCache<BitVector>) -> SegmentCache<BitVector> {
    SegmentCache(
      selector: update(new.selector, old.selector), base: update(new.base, old.base),
      limit: update(new.limit, old.limit), attributes: update(new.attributes, old.attributes))
  }

  // MARK: Registers and flags

  public func gpr(_ r: GPR) -> BitVector { state.gprs[Int(r.rawValue)] }
  public mutating func setGPR(_ r: GPR, _ v: BitVector) {
    state.gprs[Int(r.rawValue)] = update(v, state.gprs[Int(r.rawValue)])
  }

  public var eip: BitVector {
    get { state.eip }
    set { state.eip = update(newValue, state.eip) }
  }

  static let flagIndex: [UInt32: Int] = Dictionary(
    uniqueKeysWithValues: Flag.allCases.enumerated().map { ($1.rawValue, $0) })

  public func flag(_ f: Flag) -> BoolExpr { state.flags[Self.flagIndex[f.rawValue]!] }
  public mutating func setFlag(_ f: Flag, _ v: BoolExpr) {
    let k = Self.flagIndex[f.rawValue]!
    state.flags[k] = update(v, state.flags[k])
  }
  public mutating func setFlags(_ r: FlagRecord<BitVector>) {
    for f in Flag.allCases where r.op.writes & f.mask != 0 { setFlag(f, FlagSemantics.flag(f, r, domain)) }
  }

  public var cpl: UInt8 {
    domain.readsCPL = true
    if codeSegmentLoaded { noteStaleRead("CPL") }
    return assumptions.cpl
  }
  public var iopl: UInt8 {
    domain.readsIOPL = true
    if ioplWritten { noteStaleRead("IOPL") }
    return assumptions.iopl
  }
  public var cpuModel: CPUModel { .core2 }

  /// Records (in the domain, which is shared) a read of a value the step has changed.
  func noteStaleRead(_ what: String) { domain.staleReads.append(what) }

  public func segmentBase(_ s: SegmentRegister) -> BitVector { state.segments[Int(s.rawValue)].base }
  public func segment(_ s: SegmentRegister) -> SegmentCache<BitVector> { state.segments[Int(s.rawValue)] }
  public mutating func setSegment(_ s: SegmentRegister, _ v: SegmentCache<BitVector>) throws(Interrupt) {
    let k = Int(s.rawValue)
    state.segments[k] = update(v, state.segments[k])
    // A load that keeps the RPL at the assumed CPL (a far JMP or CALL to the same level) leaves
    // the CPL a Swift value; any other makes it a term.
    if s == .cs, codeSegmentLoaded || (v.selector & 3).simplified().literalValue != UInt64(assumptions.cpl) {
      codeSegmentLoaded = true
    }
  }
  public func systemSegment(_ s: SystemSegment) -> SegmentCache<BitVector> {
    state.systemSegments[Int(s.rawValue)]
  }
  public mutating func setSystemSegment(_ s: SystemSegment, _ v: SegmentCache<BitVector>) throws(Interrupt) {
    let k = Int(s.rawValue)
    state.systemSegments[k] = update(v, state.systemSegments[k])
  }

  public func systemRegister(_ r: SystemRegister) -> BitVector {
    state.systemRegisters[SystemRegister.allCases.firstIndex(of: r)!]
  }
  public mutating func setSystemRegister(_ r: SystemRegister, _ v: BitVector) throws(Interrupt) {
    let k = SystemRegister.allCases.firstIndex(of: r)!
    // The table limits are 16 bits wide, as the engine stores them.
    let stored = r == .gdtrLimit || r == .idtrLimit ? v & 0xFFFF : v
    state.systemRegisters[k] = update(stored, state.systemRegisters[k])
  }

  public func msr(_ m: ModelSpecificRegister) -> (low: BitVector, high: BitVector) {
    guard let k = ModelSpecificRegister.all.firstIndex(of: m) else {
      return (domain.constant(0), domain.constant(0))
    }
    return state.msrs[k]
  }
  public mutating func setMSR(_ m: ModelSpecificRegister, low: BitVector, high: BitVector) throws(Interrupt) {
    guard let k = ModelSpecificRegister.all.firstIndex(of: m) else { return }
    // The machine's gap, as the engine's Core has it: its local APIC stays at 0xFEE00000, enabled.
    if m.index == 0x1B {
      try modelGap(
        "relocating or disabling the local APIC (IA32_APIC_BASE)",
        when: (low & 0xFFFF_F000) != 0xFEE0_0000 || !low.bit(11))
    }
    state.msrs[k] = (update(low, state.msrs[k].low), update(high, state.msrs[k].high))
  }
  public var timeStampCounter: (low: BitVector, high: BitVector) { state.timeStampCounter }
  public mutating func setTimeStampCounter(low: BitVector, high: BitVector) {
    state.timeStampCounter = (
      update(low, state.timeStampCounter.low), update(high, state.timeStampCounter.high)
    )
  }
  public mutating func setIOPL(_ v: BitVector) {
    state.iopl = update(v.logicalShiftRight(by: 12) & 3, state.iopl)
    ioplWritten = true
  }
  public mutating func invalidatePage(_ linear: BitVector) { invalidatedPages.append((linear, path)) }

  // MARK: Memory and ports

  /// The CPL as a Swift value now: the assumption, or the RPL of a CS loaded by this step when
  /// it is a literal.
  func currentCPL() -> UInt8 {
    domain.readsCPL = true
    guard codeSegmentLoaded else { return assumptions.cpl }
    if let rpl = (state.segments[Int(SegmentRegister.cs.rawValue)].selector & 3).simplified().literalValue {
      return UInt8(rpl)
    }
    noteStaleRead("CPL")
    return assumptions.cpl
  }

  /// The physical address of each byte of an access: with CR0.PG the first and last bytes' pages
  /// are walked (`walkPages`, the one definition), as the engine does before touching a byte.
  mutating func physicalBytes(_ linear: BitVector, _ size: OperandSize, write: Bool, user: Bool?)
    throws(Interrupt) -> [BitVector]
  {
    let bytes = (0..<UInt64(size.bytes)).map { linear + $0 }
    let paging = assumptions.identityTranslation ? z3.false : systemRegister(.cr0).bit(31)
    var low: BitVector?
    var high: BitVector?
    try when(paging) { (c: inout SymbolicContext) throws(Interrupt) in
      // The CPL (nil: the current one) is read only where paging is on, for the U/S check.
      let user = user ?? (c.currentCPL() == 3)
      low = try c.walkPages(linear, write: write, user: user).physical
      if size != .byte { high = try c.walkPages(bytes[bytes.count - 1], write: write, user: user).physical }
    }
    guard let low else { return bytes }
    let frameMask: UInt64 = 0xFFFF_F000
    return bytes.map { a in
      let offset = a & 0xFFF
      var translated = (low & frameMask) | offset
      if let high {
        let samePage = a.logicalShiftRight(by: 12) == linear.logicalShiftRight(by: 12)
        translated = samePage.ite(translated, (high & frameMask) | offset)
      }
      return paging.ite(translated, a)
    }
  }

  /// The instruction fetch of `length` bytes at CS:EIP before the step (SDM Vol. 3A §5.3, §4.6):
  /// #GP(0) past the CS limit, then the page walk of its first and last bytes with the CPL's
  /// rights (which sets accessed bits as the engine's fetch does).
  public mutating func fetch(length: Int) throws(Interrupt) {
    let d = domain
    let start = state.eip
    let last = start + UInt64(length - 1)
    let cs = segment(.cs)
    try raise(
      Fault(.gp, errorCode: 0), when: d.or(d.unsignedLess(cs.limit, last), d.unsignedLess(last, start)))
    let paging = assumptions.identityTranslation ? z3.false : systemRegister(.cr0).bit(31)
    let linear = cs.base + start
    let lastLinear = cs.base + last
    var low: BitVector?
    var high: BitVector?
    try when(paging) { (c: inout SymbolicContext) throws(Interrupt) in
      let user = c.currentCPL() == 3
      low = try c.walkPages(linear, write: false, user: user).physical
      if length > 1 {
        try c.when(d.notEqual(linear.logicalShiftRight(by: 12), lastLinear.logicalShiftRight(by: 12))) {
          (c: inout SymbolicContext) throws(Interrupt) in
          high = try c.walkPages(lastLinear, write: false, user: user).physical
        }
      }
    }
    codeAddresses = (0..<UInt64(length)).map { k in
      let a = linear + k
      guard let low else { return a }
      let offset = a & 0xFFF
      var translated = (low & 0xFFFF_F000) | offset
      if let high {
        let samePage = a.logicalShiftRight(by: 12) == linear.logicalShiftRight(by: 12)
        translated = samePage.ite(translated, (high & 0xFFFF_F000) | offset)
      }
      return paging.ite(translated, a)
    }
  }

  mutating func readBytes(at physical: [BitVector]) -> BitVector {
    for a in physical { accesses.append((a, path)) }
    var v = state.memory.byte(at: physical[0])
    for a in physical.dropFirst() { v = state.memory.byte(at: a).concat(v) }
    return v.zeroExtend(to: 32)
  }

  /// A write is guarded by the enclosing `when` conditions, not by the faults raised before it,
  /// like every other state update: the final state is the retiring path's (a query that reads
  /// it asserts the step retires, and on that path the two guards agree). Guarded by `path`, an
  /// ENTER's stack writes would carry the SS limit checks, and a query varying the limit would
  /// compare terms that only look different.
  mutating func writeBytes(at physical: [BitVector], _ v: BitVector) {
    for (k, a) in physical.enumerated() {
      accesses.append((a, path))
      state.memory.write(v.extract(high: 8 * k + 7, low: 8 * k), at: a, when: guardCondition)
    }
  }

  func direct(_ address: BitVector, _ size: OperandSize) -> [BitVector] {
    (0..<UInt64(size.bytes)).map { address + $0 }
  }

  public mutating func readLinear(_ address: BitVector, _ size: OperandSize) throws(Interrupt) -> BitVector {
    readBytes(at: try physicalBytes(address, size, write: false, user: nil))
  }
  public mutating func writeLinear(_ address: BitVector, _ size: OperandSize, _ v: BitVector)
    throws(Interrupt)
  {
    writeBytes(at: try physicalBytes(address, size, write: true, user: nil), v)
  }
  public mutating func readSystem(_ address: BitVector, _ size: OperandSize) throws(Interrupt) -> BitVector {
    readBytes(at: try physicalBytes(address, size, write: false, user: false))
  }
  public mutating func writeSystem(_ address: BitVector, _ size: OperandSize, _ v: BitVector)
    throws(Interrupt)
  {
    writeBytes(at: try physicalBytes(address, size, write: true, user: false), v)
  }
  public mutating func readPhysical(_ address: BitVector, _ size: OperandSize) throws(Interrupt) -> BitVector
  {
    readBytes(at: direct(address, size))
  }
  public mutating func writePhysical(_ address: BitVector, _ size: OperandSize, _ v: BitVector)
    throws(Interrupt)
  {
    writeBytes(at: direct(address, size), v)
  }

  /// A port read gives a value nothing constrains (a device the monitor would emulate).
  public mutating func readPort(_ port: BitVector, _ size: OperandSize) throws(Interrupt) -> BitVector {
    let v = domain.masked(z3.bitVectorConstant("port.in.\(ports.count)", width: 32), size)
    ports.append(PortAccess(port: port, size: size, value: v, isWrite: false, condition: path))
    return v
  }
  public mutating func writePort(_ port: BitVector, _ size: OperandSize, _ v: BitVector) throws(Interrupt) {
    ports.append(PortAccess(port: port, size: size, value: v, isWrite: true, condition: path))
  }

  // MARK: Outcomes

  /// Records `fault` under `condition`; the step goes on where it does not hold. When nothing is
  /// left of the path, unwinds (to the enclosing `when`, or out of the step).
  public mutating func raise(_ fault: Fault, when condition: BoolExpr) throws(Interrupt) {
    try record(fault.vector, code: fault.errorCode.map { domain.constant($0) }, when: condition) {
      .fault(fault)
    }
  }

  public mutating func raise(_ vector: Exception, code: BitVector, when condition: BoolExpr) throws(Interrupt)
  {
    try record(vector, code: code, when: condition) { .fault(Fault(vector, errorCode: 0)) }
  }

  mutating func record(
    _ vector: Exception, code: BitVector?, when condition: BoolExpr, _ unwind: () -> Interrupt
  ) throws(Interrupt) {
    let c = condition.simplified()
    if c.literalValue == false { return }
    faults.append(SymbolicFault(vector: vector, errorCode: code, condition: path && c))
    try narrow(by: c, unwind())
  }

  public var vmx: VMXNonRoot? { assumptions.vmx }

  public mutating func exitVM(
    _ reason: VMExitReason, qualification: BitVector, interruption: (Exception, BitVector)?,
    when condition: BoolExpr
  ) throws(Interrupt) {
    let c = condition.simplified()
    if c.literalValue == false { return }
    exits.append(SymbolicExit(reason: reason, qualification: qualification, condition: path && c))
    try narrow(by: c, .vmExit(VMExit(reason)))
  }

  public mutating func modelGap(_ what: String, when condition: BoolExpr) throws(Interrupt) {
    let c = condition.simplified()
    if c.literalValue == false { return }
    gaps.append(SymbolicGap(what: what, condition: path && c))
    try narrow(by: c, .modelGap(what))
  }

  mutating func narrow(by condition: BoolExpr, _ unwind: Interrupt) throws(Interrupt) {
    if condition.literalValue == true {
      path = z3.false
      throw unwind
    }
    path = path && !condition
    excluded.append(condition)
  }

  public mutating func when(_ condition: BoolExpr, _ body: (inout SymbolicContext) throws(Interrupt) -> Void)
    throws(Interrupt)
  {
    let c = condition.simplified()
    if c.literalValue == false { return }
    if c.literalValue == true {
      try body(&self)
      return
    }
    // A branch the path already excludes (a far JMP's inner call, after the #GP that JMP raises
    // on it) would only build terms under a false guard.
    if excluded.contains(where: { $0.isSameTerm(as: c) }) { return }
    let (outerGuard, outerPath, outerExcluded) = (guardCondition, path, excluded)
    guardCondition = outerGuard && c
    path = outerPath && c
    do {
      try body(&self)
    } catch {
      path = z3.false
    }
    let inside = path
    // What the body narrowed holds only on its side of the merge.
    excluded = outerExcluded
    guardCondition = outerGuard
    path = (outerPath && !c) || inside
  }

  /// An event vectoring through the IDT under the current path (INT n, INT3, INTO).
  public private(set) var deliveries: [(vector: UInt8, condition: BoolExpr)] = []

  public mutating func vectoring(_ vector: UInt8, source: EventSource) throws(Interrupt) {
    deliveries.append((vector, path))
  }

  public func checksCPL0(_ m: Mnemonic) -> Bool {
    m.requiresCPL0 && !domain.droppedCPL0Checks.contains(m)
  }

  public mutating func halt() { state.halted = update(z3.true, state.halted) }
  public mutating func inhibitInterrupts() {
    state.interruptsInhibited = update(z3.true, state.interruptsInhibited)
  }
}
