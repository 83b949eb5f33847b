/// The concrete machine: a CPU, its RAM, and the run loop with a decode cache.
///
/// Instructions are decoded once into blocks (straight-line runs ending at a control transfer)
/// and executed from there; a write to a page holding decoded code flushes the cache. A fault is
/// delivered through the guest's IDT (`Semantics.deliver`), or ends the run with EIP at the
/// faulting instruction under `ExceptionRouting.stop`.
import ISAModel

/// Why a run stopped.
public enum StopReason: Hashable, Sendable, Codable {
  case halted
  case fault(Fault)
  case modelGap(String)
  /// In VMX non-root operation (`Machine.vmx`), a VM exit.
  case vmExit(VMExit)
  case budgetExhausted
  /// The guest wrote this value to the debug-exit port.
  case debugExit(UInt32)
  /// Execution reached host code (`Machine.hostCode`) at CPL 0: silicon has delivered an event
  /// through the IDT to a monitor's handler, which is software outside the model.
  case hostCode(UInt32)
  /// A triple fault shut the processor down: the faults in order, from the first to the one
  /// raised while delivering #DF (SDM Vol. 3A §6.15, "Interrupt 8").
  case shutdown([Fault])
}

/// What the machine does with an exception (DESIGN.md decision 3: one intercept point).
public enum ExceptionRouting: Hashable, Sendable {
  /// Deliver it through the guest's IDT, as silicon does.
  case deliver
  /// End the run with it: the host claims every exception (instruction-level tests, and where a
  /// monitor will plug in).
  case stop
}

/// The end of a run: why, where, and how far it got.
public struct RunOutcome: Hashable, Sendable, Codable {
  public var reason: StopReason
  /// EIP of the instruction that faulted or was not modelled; after HLT, of the next one.
  public var eip: UInt32
  public var instructionsRetired: UInt64
}

public final class Machine {
  public let memory: PhysicalMemory
  var core: Core
  let code: CodePages
  var counts = EventCounts()

  var cache = DecodeCache()
  let registerFile: UnsafeMutablePointer<UInt32>
  /// The I/O ports: COM1 (a 16550) at 0x3F8 and the debug-exit port at 0x501.
  public let ports: PortBus
  public let serial: Serial16550
  public static let serialPort: UInt16 = 0x3F8
  public static let debugExitPort: UInt16 = 0x501
  /// The block device (docs/system.md): 16 ports from 0xB000, a 1 MiB disk by default.
  public static let blockPort: UInt16 = 0xB000
  public private(set) var disk: BlockDevice!

  deinit {
    registerFile.deallocate()
    release(core.nonRoot)
  }

  private func release(_ p: UnsafePointer<VMXNonRoot>?) {
    guard let p else { return }
    let m = UnsafeMutablePointer(mutating: p)
    m.deinitialize(count: 1)
    m.deallocate()
  }

  /// Linear addresses taken as physical even with CR0.PG = 1: the translation a VMM's shadow
  /// page tables or EPT give when they map guest memory onto itself — the Verifier's VT-x
  /// assumption (docs/vtx.md), so that its witnesses replay without page tables. Off by
  /// default: CR0.PG walks the page tables at CR3 as silicon does.
  public var identityTranslation: Bool {
    get { core.identityTranslation }
    set {
      core.identityTranslation = newValue
      core.followPaging(core.systemRegister(.cr0))
      tlb.reset()
      code.remap()
    }
  }

  /// VMX non-root operation: the guest runs under these VMCS controls on a processor with these
  /// capabilities — instructions exit as `VMX.instructionExit` decides, exceptions as the
  /// exception bitmap does (SDM Vol. 3C §25.2), and a run ends at the first exit
  /// (`StopReason.vmExit`), where the VMM, outside the model, would take over. Nil (the
  /// default): the bare machine. VM entry's checks are the caller's (`VTXConfiguration.problems`).
  public var vmx: VMXNonRoot? {
    get { core.vmx }
    set {
      release(core.nonRoot)
      core.nonRoot = nil
      if let newValue {
        let p = UnsafeMutablePointer<VMXNonRoot>.allocate(capacity: 1)
        p.initialize(to: newValue)
        core.nonRoot = UnsafePointer(p)
      }
      cache.nonRoot = newValue != nil
      code.remap()
    }
  }

  /// The TLB in front of the page walk.
  let tlb: TLB
  /// The local APIC at 0xFEE00000 (physical).
  let apic: LocalAPIC

  /// A machine with `memorySize` bytes of RAM and a four-way TLB of `tlbEntries` (a power of
  /// two; 256 like Core 2's data TLB).
  public init(memorySize: Int, tlbEntries: Int = 256) {
    tlb = TLB(entries: tlbEntries)
    memory = PhysicalMemory(size: memorySize)
    code = CodePages(memorySize: memorySize)
    registerFile = .allocate(capacity: RegisterSlot.count)
    registerFile.initialize(repeating: 0, count: RegisterSlot.count)
    ports = PortBus()
    serial = Serial16550()
    ports.attach(serial, at: Self.serialPort, count: 8)
    ports.attach(DebugExit(bus: ports), at: Self.debugExitPort, count: 1)
    apic = LocalAPIC()
    core = Core(memory: memory, code: code, ports: ports, tlb: tlb, apic: apic, registerFile: registerFile)
    disk = BlockDevice(sectors: 2048, memory: memory) { [unowned self] bytes, at in self.load(bytes, at: at) }
    ports.attach(disk, at: Self.blockPort, count: 16)
  }

  /// The CPU state as a value.
  public var state: CPUState {
    get {
      var s = CPUState()
      for r in GPR.allCases { s[r] = core.gpr(r) }
      s.eip = core.eip
      s.eflags = core.eflags
      for seg in SegmentRegister.allCases { s[seg] = SegmentState(core.segment(seg)) }
      s.ldtr = SegmentState(core.systemSegment(.ldtr))
      s.tr = SegmentState(core.systemSegment(.tr))
      for r in SystemRegister.allCases { s[r] = core.systemRegister(r) }
      for m in ModelSpecificRegister.all where m.kind == .storage {
        let v = core.msr(m)
        s.msrs[m.index] = UInt64(v.high) << 32 | UInt64(v.low)
      }
      s.tsc = clock &+ core.tscOffset
      s.clock = core.clock
      s.interruptsInhibitedUntil = core.inhibitUntil
      s.apic = apic.state
      s.halted = core.halted
      return s
    }
    set {
      for r in GPR.allCases { core.setGPR(r, newValue[r]) }
      core.eip = newValue.eip
      core.flagBits = newValue.eflags | FlagMask.reservedOne
      core.pendingMask = 0
      core.olderMask = 0
      for seg in SegmentRegister.allCases { try? core.setSegment(seg, newValue[seg].cache) }
      try? core.setSystemSegment(.ldtr, newValue.ldtr.cache)
      try? core.setSystemSegment(.tr, newValue.tr.cache)
      core.iopl = UInt8((newValue.eflags & FlagMask.iopl) >> 12)
      for r in SystemRegister.allCases { registerFile[RegisterSlot.system(r)] = newValue[r] }
      // A new state: no translation cached for it holds.
      core.followPaging(newValue.cr0)
      tlb.reset()
      code.remap()
      for m in ModelSpecificRegister.all where m.kind == .storage {
        let v = newValue.msrs[m.index] ?? m.reset
        try? core.setMSR(m, low: UInt32(truncatingIfNeeded: v), high: UInt32(truncatingIfNeeded: v >> 32))
      }
      core.clock = newValue.clock
      core.tscOffset = newValue.tsc &- newValue.clock
      core.inhibitUntil = newValue.interruptsInhibitedUntil
      apic.state = newValue.apic
      core.halted = newValue.halted
    }
  }

  /// The virtual clock: instructions retired so far (DESIGN.md decision 10). The TSC and, later,
  /// the APIC timer derive from it.
  public var clock: UInt64 { core.clock }

  /// Writes `bytes` into physical memory as a device or loader would, keeping the decode cache
  /// coherent (a write over decoded code flushes it).
  public func load(_ bytes: [UInt8], at address: PhysicalAddress) {
    memory.load(bytes, at: address)
    var page = address.value >> 12
    let last = address.value &+ UInt32(max(bytes.count, 1) - 1)
    while true {
      code.written(page << 12, .byte)
      if page == last >> 12 { break }
      page &+= 1
    }
  }

  /// The events counted so far.
  public var events: EventCounts {
    var e = counts
    e.codeInvalidations = code.invalidations
    e.openBusReads = UInt64(memory.openBusReads)
    e.openBusWrites = UInt64(memory.openBusWrites)
    e.portReads = ports.reads
    e.portWrites = ports.writes
    e.portsUnclaimed = ports.unclaimed
    e.timerExpirations = apic.timerInterrupts
    e.sectorsRead = disk.sectorsRead
    e.sectorsWritten = disk.sectorsWritten
    e.apicUnmodelled = apic.unmodelledAccesses
    e.tlbHits = tlb.hits
    e.tlbMisses = tlb.misses
    e.tlbFlushes = tlb.flushes
    e.tlbPageInvalidations = tlb.pageInvalidations
    return e
  }

  /// When status flags are computed: `.lazy` (when read) is the default; `.eager` (after every
  /// instruction) exists to measure what laziness buys. Both use FlagSemantics.
  public enum FlagEvaluation: Sendable { case lazy, eager }

  public var flagEvaluation: FlagEvaluation {
    get { core.eagerFlags ? .eager : .lazy }
    set {
      core.materialize()
      core.eagerFlags = newValue == .eager
    }
  }

  /// Whether common instructions of a fixed operand shape run through handlers of their own —
  /// the same semantics, specialised (docs/engine.md) — or all through `Semantics.execute`.
  /// On by default; off exists to compare the two (tests and `make bench`).
  public var fixedShapes: Bool {
    get { cache.fixedShapes }
    set {
      cache.fixedShapes = newValue
      code.remap()
    }
  }

  /// Where exceptions go: through the IDT (the default) or out of the run.
  public var exceptionRouting = ExceptionRouting.deliver
  /// Linear addresses of host code: a monitor's handlers. The run ends (`StopReason.hostCode`)
  /// before an instruction there would be fetched at CPL 0, so the monitor — Swift code — takes
  /// over with the frame silicon pushed on its stack.
  public var hostCode: Range<UInt32>? {
    didSet {
      // Blocks follow branches only outside host code: those decoded before may not.
      cache.host = hostCode
      code.remap()
    }
  }
  /// The last exception a run delivered through the IDT.
  public private(set) var lastDelivered: Fault?

  /// Executes one instruction (one element of a REP string instruction), or delivers the
  /// exception it raises.
  public func step() -> StepResult {
    lastDelivered = nil
    let out = run(budget: 1)
    if let f = lastDelivered, out.reason == .budgetExhausted { return .fault(f) }
    switch out.reason {
    case .shutdown: return .shutdown
    case .budgetExhausted, .debugExit: return .retired
    case .halted: return .halted
    case .fault(let f): return .fault(f)
    case .modelGap(let what): return .modelGap(what)
    case .vmExit(let e): return .vmExit(e)
    // The event that entered host code was delivered (an INT n retired).
    case .hostCode: return lastDelivered.map { .fault($0) } ?? .retired
    }
  }

  /// Runs until HLT, a shutdown, a model gap, or `budget` steps — retired instructions and
  /// delivered exceptions, so that a guest that faults forever still stops. With
  /// `exceptionRouting = .stop` the first exception ends the run.
  public func run(budget: UInt64) -> RunOutcome {
    // The loop works on locals (moved out and back), so the hot path has no class accesses.
    var c = core
    var cache = DecodeCache()
    swap(&cache, &self.cache)
    var counts = self.counts
    var retired: UInt64 = 0
    var delivered: UInt64 = 0
    let hostStart = hostCode?.lowerBound ?? 0
    let hostSize = hostCode.map { $0.upperBound &- $0.lowerBound } ?? 0
    defer {
      counts.instructionsRetired &+= retired
      core = c
      swap(&cache, &self.cache)
      self.counts = counts
    }
    while retired &+ delivered < budget {
      if c.eip &- hostStart < hostSize && c.cpl == 0 {
        return RunOutcome(reason: .hostCode(c.eip), eip: c.eip, instructionsRetired: retired)
      }
      // Architectural features the model does not implement end the run before the next
      // instruction, never silently (docs/divergences.md).
      if let gap = Self.unmodelled(c) {
        return RunOutcome(reason: .modelGap(gap), eip: c.eip, instructionsRetired: retired)
      }
      // In VMX non-root operation with external-interrupt exiting, an interrupt the APIC has
      // exits whatever IF says; an interrupt shadow still holds it off, the implementation-
      // specific choice the model makes (SDM Vol. 3C §25.4.1). It stays pending in the APIC.
      if c.nonRoot?.pointee.controls.has(.externalInterruptExiting) == true, c.apic.enabled {
        c.apic.advance(to: c.clock)
        if c.clock >= c.inhibitUntil, c.apic.deliverable != nil {
          return RunOutcome(
            reason: .vmExit(VMExit(.externalInterrupt)), eip: c.eip, instructionsRetired: retired)
        }
        if c.halted, let deadline = c.apic.deadline {
          c.clock = max(c.clock, deadline)
          continue
        }
      }
      // Interrupts are taken between instructions: the APIC's, when IF = 1 and no shadow.
      if c.halted || c.apic.enabled {
        if let vector = Self.acceptableInterrupt(&c) {
          if let end = Self.deliverInterrupt(vector, &c) {
            return RunOutcome(reason: end, eip: c.eip, instructionsRetired: retired)
          }
          delivered &+= 1
          counts.interruptsDelivered &+= 1
          continue
        }
        if c.halted {
          // Halted: time jumps to the timer's next deadline if an interrupt can come of it;
          // otherwise nothing can wake the processor and the run ends.
          guard c.flagBits & Flag.if.mask != 0, c.apic.enabled, let deadline = c.apic.deadline else {
            return RunOutcome(reason: .halted, eip: c.eip, instructionsRetired: retired)
          }
          c.clock = max(c.clock, deadline)
          continue
        }
      }
      let first = cache.block(at: c.eip, memory: memory, code: code, counts: &counts) { c.fetchPage($0) }
      let left = Int(clamping: budget - retired - delivered)
      var n = min(cache.blocks[first].count, left)
      // The CS limit on fetch (SDM Vol. 3A §5.3): only instructions that end inside it run; the
      // first that does not is #GP(0).
      let csLimit = c.registerFile[RegisterSlot.segmentLimits + Int(SegmentRegister.cs.rawValue)]
      if csLimit != 0xFFFF_FFFF {
        var fit = 0
        while fit < n {
          let entry = cache.decoded[cache.blocks[first].first + fit]
          guard Self.fitsCodeLimit(start: entry.start, next: entry.next, limit: csLimit) else { break }
          fit += 1
        }
        if fit == 0 && n > 0 {
          c.currentInstruction = c.eip
          if let end = take(Fault(.gp, errorCode: 0), &c, &counts, &delivered) {
            return RunOutcome(reason: end, eip: c.eip, instructionsRetired: retired)
          }
          continue
        }
        n = fit
      }
      // Stop where the timer expires and where an interrupt shadow ends, to look again there.
      var limit = left
      if let deadline = c.apic.deadline, deadline > c.clock {
        limit = min(limit, Int(clamping: deadline - c.clock))
      }
      if c.inhibitUntil > c.clock { limit = min(limit, Int(clamping: c.inhibitUntil - c.clock)) }
      n = min(n, limit)
      // Blocks chain (the next found without leaving this loop) while nothing the loop above
      // looks at can have changed: flat code, a block that ended in a near branch or a plain
      // instruction, no request to leave, time left before the limit, and no host code ahead.
      let chaining = csLimit == 0xFFFF_FFFF
      c.leaveBlock = false
      // The blocks' instructions in place: the cache does not change while they run.
      let (last, completed, total, stopped) = withUnsafeMutablePointer(to: &c) { core in
        cache.run(first, count: n, limit: limit, chaining: chaining, core: core, host: (hostStart, hostSize))
      }
      let b = cache.blocks[last]
      retired &+= UInt64(total)
      var fault: Fault?
      if let stopped {
        c.eip = c.currentInstruction
        switch stopped {
        case .fault(let f): fault = f
        case .modelGap(let what):
          return RunOutcome(reason: .modelGap(what), eip: c.eip, instructionsRetired: retired)
        case .vmExit(let e):
          return RunOutcome(reason: .vmExit(e), eip: c.eip, instructionsRetired: retired)
        }
      } else {
        if c.halted && !Self.canWake(c) {
          return RunOutcome(reason: .halted, eip: c.eip, instructionsRetired: retired)
        }
        if let value = ports.exitRequest {
          return RunOutcome(reason: .debugExit(value), eip: c.eip, instructionsRetired: retired)
        }
        // What ends the block (a fault or gap decoding the next instruction) is the next step:
        // taken only while the budget lasts, so that a budget of 1 is one step.
        if completed && b.stop >= 0 && c.eip == b.stopEIP && retired &+ delivered < budget {
          switch cache.stops[b.stop] {
          case .decoded(.fault(let f)): fault = f
          case .decoded(.modelGap(let what)):
            return RunOutcome(reason: .modelGap(what), eip: c.eip, instructionsRetired: retired)
          case .decoded(.truncated), .decoded(.instruction):
            // Fetches past RAM read open bus (0xFF), so decoding cannot run out of bytes here.
            fault = Fault(.gp, errorCode: 0)
          case .fetchFault(let linear):
            // The fetch, for real: #PF with CR2 set; if the page has appeared since the block
            // was decoded, decode again.
            do throws(Interrupt) {
              _ = try c.translate(linear, write: false, user: c.cpl == 3)
              code.remap()
            } catch {
              switch error {
              case .fault(let f): fault = f
              case .vmExit(let e):
                return RunOutcome(reason: .vmExit(e), eip: c.eip, instructionsRetired: retired)
              case .modelGap(let what):
                return RunOutcome(reason: .modelGap(what), eip: c.eip, instructionsRetired: retired)
              }
            }
          }
        }
      }
      guard let fault else { continue }
      if let end = take(fault, &c, &counts, &delivered) {
        return RunOutcome(reason: end, eip: c.eip, instructionsRetired: retired)
      }
    }
    return RunOutcome(reason: .budgetExhausted, eip: c.eip, instructionsRetired: retired)
  }

  /// Whether a halted processor can be woken: IF is set and the APIC has an interrupt pending
  /// or a timer running.
  static func canWake(_ c: Core) -> Bool {
    let unmasked =
      c.flagBits & Flag.if.mask != 0 || c.nonRoot?.pointee.controls.has(.externalInterruptExiting) == true
    return unmasked && c.apic.enabled && (c.apic.deadline != nil || c.apic.deliverable != nil)
  }

  /// The vector the APIC has for the processor now, accepted (IRR → ISR), if IF is set and no
  /// interrupt shadow holds it off.
  static func acceptableInterrupt(_ c: inout Core) -> UInt8? {
    c.apic.advance(to: c.clock)
    guard c.flagBits & Flag.if.mask != 0, c.clock >= c.inhibitUntil, let v = c.apic.deliverable else {
      return nil
    }
    c.apic.accept(v)
    return v
  }

  /// Delivers an external interrupt (a HLT it ends is left behind: the frame returns after it).
  static func deliverInterrupt(_ vector: UInt8, _ c: inout Core) -> StopReason? {
    c.halted = false
    do throws(Interrupt) {
      try Semantics.deliver(&c, vector: vector, errorCode: nil, source: .external, returnAddress: c.eip)
      return nil
    } catch {
      switch error {
      case .modelGap(let what): return .modelGap(what)
      case .vmExit(let e): return .vmExit(e)
      case .fault(let f): return deliverException(f, &c)
      }
    }
  }

  /// Delivers `first` through the IDT, turning faults met on the way into #DF or a shutdown as
  /// SDM Vol. 3A Table 6-5 says. Returns why the run ends, or nil when a handler is entered.
  static func deliverException<C: ExecutionContext>(_ first: Fault, _ c: inout C) -> StopReason?
  where C.Domain == Concrete {
    var chain = [first]
    var pending = first
    let faulting = c.eip
    while true {
      // In VMX non-root operation the exception bitmap decides, for each exception in turn —
      // one raised delivering another included (SDM Vol. 3C §25.2); a #PF has been decided where
      // it was raised, before CR2 was loaded (`walkPages`). A triple fault exits.
      if let v = c.vmx {
        let d = c.domain
        if VMX.exceptionExits(pending.vector, errorCode: pending.errorCode ?? 0, v.controls, d).isSet {
          return .vmExit(VMExit(.exceptionOrNMI, interruption: pending))
        }
      }
      do throws(Interrupt) {
        try Semantics.deliver(
          &c, vector: pending.vector.rawValue, errorCode: pending.errorCode, source: .exception,
          returnAddress: faulting)
        return nil
      } catch {
        switch error {
        case .modelGap(let what): return .modelGap(what)
        case .vmExit(let e): return .vmExit(e)
        case .fault(let second):
          chain.append(second)
          if pending.vector == .df { return c.vmx == nil ? .shutdown(chain) : .vmExit(VMExit(.tripleFault)) }
          pending = pending.vector.makesDoubleFault(with: second.vector) ? Fault(.df, errorCode: 0) : second
          if pending.vector == .df { chain.append(pending) }
        }
      }
    }
  }

  /// A mode of the machine state that the model does not implement, if the core is in one.
  static func unmodelled(_ c: Core) -> String? {
    if c.systemRegister(.cr0) & CR0.pe == 0 { return "real-address mode (CR0.PE = 0)" }
    if c.flagBits & Flag.tf.mask != 0 { return "single-step trap (EFLAGS.TF = 1)" }
    if c.flagBits & Flag.vm.mask != 0 { return "virtual-8086 mode (EFLAGS.VM = 1)" }
    // Decoded blocks are keyed by linear address = EIP.
    if c.segmentBase(.cs) != 0 { return "a code segment with a nonzero base" }
    return nil
  }

  /// Whether an instruction from `start` to `next` − 1 lies inside a CS limit (not wrapping).
  @inline(__always)
  static func fitsCodeLimit(start: UInt32, next: UInt32, limit: UInt32) -> Bool {
    let last = next &- 1
    return start <= last && last <= limit
  }

  /// A fault at `c.currentInstruction`: stops the run (routing `.stop`, or a shutdown) or is
  /// delivered through the IDT and counted.
  func take(_ fault: Fault, _ c: inout Core, _ counts: inout EventCounts, _ delivered: inout UInt64)
    -> StopReason?
  {
    guard exceptionRouting == .deliver else { return .fault(fault) }
    if let end = Self.deliverException(fault, &c) { return end }
    delivered &+= 1
    counts.exceptionsDelivered &+= 1
    lastDelivered = fault
    return nil
  }

}
