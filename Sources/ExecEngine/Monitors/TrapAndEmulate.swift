/// Trap-and-emulate by ring compression: the classic monitor (Popek & Goldberg, CACM 1974). The
/// guest kernel runs deprivileged at ring 1 and its user code at ring 3, on shadow page tables;
/// the monitor, at ring 0 in the top 64 MiB, receives every exception and interrupt through its
/// real IDT, emulates on the virtual CPU what trapped, and reflects the rest through the guest's
/// IDT. On IA-32 it is not equivalent to the bare machine — POPF and IRET drop IF changes at
/// ring 1 without trapping; PUSHF, SGDT, SIDT, SLDT, STR, SMSW, selector RPLs, LAR, LSL, VERR and
/// VERW show the truth — which is the point (docs/monitors.md).
import ISAModel

/// A monitor that runs a guest on the engine.
public protocol Monitor: AnyObject {
  /// The machine the monitor owns.
  var machine: Machine { get }
  /// Runs the guest for at most `budget` guest steps (instructions retired or emulated, and
  /// exceptions and interrupts delivered to it).
  func run(budget: UInt64) -> RunOutcome
  /// The processor state as the guest sees it.
  var guestState: CPUState { get }
  /// Guest-physical memory, `count` bytes from `address`.
  func guestMemory(at address: GuestPhysicalAddress, count: Int) -> [UInt8]
  /// The guest's RAM size in bytes.
  var guestMemorySize: Int { get }
  var statistics: MonitorStatistics { get }
  /// Called with every event and the guest clock (traces, routing). nil: only counted.
  var observer: ((MonitorEvent, UInt64) -> Void)? { get set }
  /// The guest-physical address the guest's own tables give `linear` (nothing is touched:
  /// no accessed bit, no CR2), or nil where they map nothing.
  func peekTranslate(_ linear: UInt32) -> GuestPhysicalAddress?
  /// The instruction at `eip` in the guest's code segment, read the same way.
  func peekInstruction(at eip: UInt32) -> Instruction?
}

/// A culprit of the ring-1 verdict (sensitive, retires deprivileged) that this monitor's
/// configuration closes, or that no run can show, with the probe that demonstrates it
/// (models/guests/probes/PROBE.asm runs with no divergence).
public struct UnobservedCulprit: Hashable, Sendable {
  /// The instruction forms, by their SDM opcode column (`FormSpec.opcode`).
  public var forms: [String]
  public var reason: String
  public var probe: String
}

public final class TrapAndEmulate: Monitor {
  /// The Verifier's ring-1 culprits that do not diverge under this monitor, and why. Every
  /// other culprit has a probe that diverges (VerifierTests checks both against the catalogue).
  public static let unobservedCulprits: [UnobservedCulprit] = [
    UnobservedCulprit(
      forms: ["E4 ib", "E5 ib", "E6 ib", "E7 ib", "EC", "ED", "EE", "EF", "6C", "6D", "6E", "6F"],
      reason:
        "closed: the real TSS has no I/O permission bitmap, so every port access at ring 1 traps (the verdict leaves the bitmap free)",
      probe: "in"),
    UnobservedCulprit(
      forms: ["0F 31"],
      reason:
        "not observable: the TSC is the guest's clock of retired instructions on both machines (the monitor's own time is not guest time)",
      probe: "rdtsc"),
    UnobservedCulprit(
      forms: ["0F 00 /0"],
      reason:
        "not observable: the real LDTR is null and so is the guest's (an LDT is a model gap under this monitor)",
      probe: "sldt"),
    UnobservedCulprit(
      forms: ["0F 34"],
      reason:
        "closed: the real IA32_SYSENTER_CS is 0, so SYSENTER faults (#GP(0)) and is emulated against the guest's MSRs",
      probe: "sysenter"),
  ]

  public let machine: Machine
  public let map: GuestPhysicalMap
  public internal(set) var vcpu: VirtualCPU
  public private(set) var statistics = MonitorStatistics()
  public var observer: ((MonitorEvent, UInt64) -> Void)?
  var shadow: ShadowPageTables!
  /// The guest's GDT as it wrote it, by index (the real GDT holds these compressed).
  private var mirror: [UInt64] = []
  /// Guest frames holding the GDT.
  private var gdtFrames: Set<UInt32> = []
  /// Mirrored descriptors whose accessed bit the guest's copy does not have yet.
  private var unaccessed = 0
  /// The last hidden page fault, to stop rather than loop if a fill does not take.
  private var lastHidden: (eip: UInt32, linear: UInt32, count: Int) = (0, 0, 0)

  /// Machine memory the monitor keeps for itself: its tables and the shadow pool.
  public static let monitorMemory = 8 << 20
  private static let iretd: Instruction = {
    guard case .instruction(let i, _) = Decoder.decode([0xCF]) else { fatalError("IRETD decodes") }
    return i
  }()

  public var guestMemorySize: Int { Int(map.ramFrames) << 12 }

  /// Guest steps so far in a run, and its budget.
  struct Progress {
    var steps: UInt64
    var retired: UInt64
    var budget: UInt64
  }

  /// Loads `binary` per `convention` into guest memory and prepares the real machine: the
  /// guest's initial state with its privilege compressed, paging on over a shadow of its
  /// physical memory, the monitor's tables in the top 64 MiB.
  public convenience init(guest binary: [UInt8], _ convention: LoadConvention = LoadConvention())
    throws(LoadError)
  {
    try Loader.validate(binary, convention)
    try self.init(
      state: Loader.initialState(convention), memorySize: convention.memorySize,
      contents: [(convention.gdtAddress, Loader.gdt), (convention.loadAddress, binary)])
  }

  /// A guest that starts in `state` (at CPL 0 or 3) with `memorySize` bytes of RAM holding
  /// `contents` at their guest-physical addresses.
  public init(state guest: CPUState, memorySize: Int, contents: [(UInt32, [UInt8])]) throws(LoadError) {
    guard guest.cpl == 0 || guest.cpl == 3 else {
      throw LoadError(message: "a guest at CPL \(guest.cpl): ring compression runs only rings 0 and 3")
    }
    guard memorySize >= 1 << 20, memorySize % 4096 == 0, memorySize <= 2 << 30 else {
      throw LoadError(message: "guest memory of \(memorySize) bytes: 1 MiB … 2 GiB in whole pages")
    }
    for (address, bytes) in contents where UInt64(address) + UInt64(bytes.count) > UInt64(memorySize) {
      throw LoadError(
        message:
          "\(bytes.count) bytes at \(hex32(address)) do not fit in \(memorySize >> 20) MiB of guest memory")
    }
    let monitorFrames = UInt32(Self.monitorMemory >> 12)
    map = GuestPhysicalMap(ramFrames: UInt32(memorySize >> 12), firstFrame: monitorFrames)
    machine = Machine(memorySize: Self.monitorMemory + memorySize)
    vcpu = VirtualCPU(guest)

    // Monitor frames: 1 is the page table of its region, then the tables; the rest is the pool.
    var next: UInt32 = 1
    func take() -> UInt32 {
      defer { next += 1 }
      return next
    }
    let regionTable = take()
    var frames: [UInt32: UInt32] = [:]
    for page in MonitorLayout.pages {
      let f = take()
      frames[page.linear] = f
      let entry = Int((page.linear >> 12) & 0x3FF)
      machine.memory.write(
        PhysicalAddress(regionTable << 12 | UInt32(entry) << 2), .dword,
        f << 12 | 0x61 | (page.writable ? 2 : 0))
    }
    let regionIndex = Int(MonitorLayout.base >> 22)
    shadow = ShadowPageTables(
      machine: machine, map: map, frames: Array(next..<monitorFrames),
      monitorEntries: [(regionIndex, regionTable << 12 | 0x23)])
    shadow.record = { [unowned self] op in self.note(.shadow(op)) }

    // The real IDT: an interrupt gate per vector to the monitor's entry points, DPL 0 (so every
    // INT n from the guest arrives as #GP and is emulated against the guest's IDT).
    let idt = frames[MonitorLayout.idt]! << 12
    for v in UInt32(0)..<256 {
      let offset = MonitorLayout.entries + v * MonitorLayout.entryStride
      machine.memory.write(
        PhysicalAddress(idt + v * 8), .dword, MonitorLayout.codeSelector << 16 | offset & 0xFFFF)
      machine.memory.write(PhysicalAddress(idt + v * 8 + 4), .dword, offset & 0xFFFF_0000 | 0x8E00)
    }
    // The real TSS: the monitor's stack for ring 0; no I/O bitmap (every port traps).
    let tss = frames[MonitorLayout.tss]! << 12
    machine.memory.write(PhysicalAddress(tss + 4), .dword, MonitorLayout.stackTop)
    machine.memory.write(PhysicalAddress(tss + 8), .dword, MonitorLayout.dataSelector)
    machine.memory.write(PhysicalAddress(tss + 0x64), .dword, 0xFFFF_0000)
    // The monitor's descriptors at the top of the real GDT: flat ring-0 code and data, the TSS.
    let gdt = frames[MonitorLayout.gdt]! << 12
    func descriptor(_ selector: UInt32, _ raw: UInt64) {
      let a = PhysicalAddress(gdt + selector)
      machine.memory.write(a, .dword, UInt32(truncatingIfNeeded: raw))
      machine.memory.write(a.advanced(by: 4), .dword, UInt32(truncatingIfNeeded: raw >> 32))
    }
    descriptor(MonitorLayout.codeSelector, 0x00CF_9B00_0000_FFFF)
    descriptor(MonitorLayout.dataSelector, 0x00CF_9300_0000_FFFF)
    let t = UInt64(MonitorLayout.tss)
    descriptor(
      MonitorLayout.tssSelector,
      (t & 0xFF00_0000) << 32 | ((t >> 16) & 0xFF) << 32 | 0x8B00 << 32 | (t & 0xFFFF) << 16 | 0x67)

    // The guest's memory.
    for (address, bytes) in contents { loadGuest(bytes, at: address) }

    // The real processor: the guest's registers; the monitor's tables, paging and flags.
    var real = guest
    real.gdtr = TableRegister(base: MonitorLayout.gdt, limit: 0xFFFF)
    real.idtr = TableRegister(base: MonitorLayout.idt, limit: 0x7FF)
    real.tr = SegmentState(
      selector: UInt16(MonitorLayout.tssSelector), base: MonitorLayout.tss, limit: 0x67, attributes: 0x8B)
    real.ldtr = SegmentState(selector: 0, base: 0, limit: 0, attributes: 0)
    real.cr0 = CR0.pe | CR0.et | CR0.wp | CR0.pg
    real.cr3 = shadow.activate(
      guest.cr0 & CR0.pg != 0 ? guest.cr3 >> 12 : ShadowPageTables.physicalRoot)
    real.cr4 = guest.cr4 & CR4.tsd
    real.eflags = (guest.eflags & ~FlagMask.iopl) | Flag.if.mask
    for s in SegmentRegister.allCases {
      real[s] = SegmentState(RingCompression.cache(guest[s].cache, for: s))
    }
    machine.state = real
    machine.hostCode = MonitorLayout.entries..<(MonitorLayout.entries + 256 * MonitorLayout.entryStride)
    remirror()
  }

  private func loadGuest(_ bytes: [UInt8], at address: UInt32) {
    // Guest RAM is one run of machine frames (the binary was checked to fit in it).
    machine.memory.load(bytes, at: map.machineAddress(GuestPhysicalAddress(address)))
  }

  // MARK: The guest's view

  /// The guest's CPL: ring compression runs its ring 0 at ring 1.
  var virtualCPL: UInt8 { machine.core.cpl == 1 ? 0 : machine.core.cpl }

  /// A segment register as the guest loaded it: the real cache with its compression undone,
  /// from the descriptor the guest wrote.
  func virtualSegment(_ s: SegmentRegister) -> SegmentCache<UInt32> {
    let r = machine.core.segment(s)
    var v = r
    if s == .cs || s == .ss, r.selector & 3 == 1 { v.selector &= ~3 }
    let index = Int(r.selector >> 3)
    guard r.selector & 4 == 0, index > 0, index < mirror.count, mirror[index] != 0,
      r.attributes & SegmentAttribute.present != 0
    else { return v }
    let d = Descriptor<Concrete>(
      low: UInt32(truncatingIfNeeded: mirror[index]), high: UInt32(truncatingIfNeeded: mirror[index] >> 32))
    let c = Concrete()
    let original = SegmentCache(
      selector: v.selector, base: d.base(c), limit: d.limit(c), attributes: d.attributes(c))
    let installed = RingCompression.cache(original, for: s)
    let a = SegmentAttribute.accessed
    guard installed.base == r.base, installed.limit == r.limit, installed.attributes | a == r.attributes | a
    else {
      return v
    }
    // A loaded cache has its accessed bit set (the load set it), whatever the table says now.
    return SegmentCache(
      selector: v.selector, base: original.base, limit: original.limit, attributes: original.attributes | a)
  }

  public var guestState: CPUState {
    propagateAccessed()
    var s = machine.state
    for seg in SegmentRegister.allCases { s[seg] = SegmentState(virtualSegment(seg)) }
    s.ldtr = vcpu.ldtr
    s.tr = vcpu.tr
    for r in SystemRegister.allCases { s[r] = vcpu[r] }
    s.eflags =
      (s.eflags & ~(Flag.if.mask | FlagMask.iopl)) | (vcpu.interruptFlag ? Flag.if.mask : 0)
      | UInt32(vcpu.iopl) << 12
    s.msrs = vcpu.msrs
    s.halted = vcpu.halted
    s.interruptsInhibitedUntil = max(s.interruptsInhibitedUntil, vcpu.inhibitUntil)
    return s
  }

  public func guestMemory(at address: GuestPhysicalAddress, count: Int) -> [UInt8] {
    // Guest RAM is one run of machine frames: copy it at once where the range is all RAM.
    if count > 0, UInt64(address.value) + UInt64(count) <= UInt64(guestMemorySize) {
      return machine.memory.bytes(at: map.machineAddress(address), count: count)
    }
    return (0..<count).map { k in machine.memory.read(map.machineAddress(address.advanced(by: UInt32(k)))) }
  }

  public func peekTranslate(_ linear: UInt32) -> GuestPhysicalAddress? {
    var v = VirtualContext(self)
    v.peeking = true
    return (try? v.translate(linear, write: false, user: false)).map(GuestPhysicalAddress.init)
  }

  public func peekInstruction(at eip: UInt32) -> Instruction? {
    var v = VirtualContext(self)
    v.peeking = true
    let cs = virtualSegment(.cs)
    var bytes: [UInt8] = []
    for k in UInt32(0)..<UInt32(Decoder.maximumLength) {
      guard let b = try? v.readLinear(cs.base &+ eip &+ k, .byte) else { break }
      bytes.append(UInt8(b))
    }
    if case .instruction(let i, _) = Decoder.decode(bytes) { return i }
    return nil
  }

  // MARK: Running

  public func run(budget: UInt64) -> RunOutcome {
    var steps: UInt64 = 0
    var retired: UInt64 = 0
    func end(_ reason: StopReason) -> RunOutcome {
      RunOutcome(reason: reason, eip: machine.core.eip, instructionsRetired: retired)
    }
    while steps < budget {
      // A held interrupt goes in as soon as the guest's IF and interrupt shadow allow.
      if vcpu.interruptFlag, !vcpu.pendingInterrupts.isEmpty, machine.core.clock >= vcpu.inhibitUntil {
        let vector = vcpu.pendingInterrupts.removeFirst()
        vcpu.halted = false
        machine.core.halted = false
        steps += 1
        if let stop = deliverVirtual(vector) { return end(stop) }
        continue
      }
      // With an interrupt held behind a shadow, run just the shadowed instruction.
      let waiting = vcpu.interruptFlag && !vcpu.pendingInterrupts.isEmpty
      let out = machine.run(budget: waiting ? 1 : budget - steps)
      steps += out.instructionsRetired
      retired += out.instructionsRetired
      switch out.reason {
      case .hostCode(let eip):
        var counted = Progress(steps: steps, retired: retired, budget: budget)
        if let stop = enter(
          vector: UInt8((eip &- MonitorLayout.entries) / MonitorLayout.entryStride), &counted)
        {
          (steps, retired) = (counted.steps, counted.retired)
          return end(stop)
        }
        (steps, retired) = (counted.steps, counted.retired)
        if let value = machine.ports.exitRequest { return end(.debugExit(value)) }
      case .budgetExhausted: continue
      case .halted:
        return end(.halted)
      case .debugExit, .modelGap, .shutdown, .fault, .vmExit:
        return end(out.reason)
      }
    }
    return end(.budgetExhausted)
  }

  /// Control reached the monitor's entry point for `vector`: back to the guest's state as the
  /// monitor's IRET would leave it, then the event.
  private func enter(vector: UInt8, _ counted: inout Progress) -> StopReason? {
    let esp = machine.core.gpr(.esp)
    let errorCode: UInt32? =
      esp == MonitorLayout.stackTop &- 24 ? machine.core.readPhysical(monitorPhysical(esp), .dword) : nil
    if errorCode != nil { machine.core.setGPR(.esp, esp &+ 4) }
    // The monitor's IRET loads CS and SS from the real GDT, which sets their accessed bits
    // there; that is no load of the guest's, so the bits are put back afterwards.
    let frame = machine.core.gpr(.esp)
    let reloaded = [frame &+ 4, frame &+ 16].map { a in
      realGDTAddress(Int(machine.core.readPhysical(monitorPhysical(a), .dword) & 0xFFFF) >> 3).advanced(by: 4)
    }
    let saved = reloaded.map { machine.memory.read($0, .dword) }
    // Its return to an outer ring also nulls data segment registers the new CPL may not use —
    // a null selector's RPL bits included; delivery left them as the guest had them.
    let data: [SegmentRegister] = [.ds, .es, .fs, .gs]
    let segments = data.map { machine.core.segment($0) }
    do throws(Interrupt) {
      try Semantics.execute(&machine.core, Self.iretd)
      for (s, cache) in zip(data, segments) { try machine.core.setSegment(s, cache) }
    } catch {
      return .modelGap("the monitor could not return to the guest (\(error))")
    }
    for (a, v) in zip(reloaded, saved) { machine.memory.write(a, .dword, v) }
    let eip = machine.core.eip
    note(.entry(vector: vector, errorCode: errorCode, eip: eip))
    // The rule the monitor relies on: the guest at ring 3 always has IF = 1 (its kernel
    // returned there with an IRET the monitor never saw).
    if virtualCPL == 3 { vcpu.interruptFlag = true }
    propagateAccessed()
    switch vector {
    case Exception.pf.rawValue:
      return pageFault(linear: machine.core.systemRegister(.cr2), errorCode: errorCode ?? 0, &counted)
    case 0..<32:
      let software = vector == Exception.gp.rawValue && (errorCode ?? 0) & 3 == 2
      return emulate(software ? .softwareInterrupt : .privileged, &counted)
    default:
      vcpu.halted = false
      if vcpu.interruptFlag && machine.core.clock >= vcpu.inhibitUntil {
        counted.steps += 1
        return deliverVirtual(vector)
      }
      vcpu.pendingInterrupts.append(vector)
      note(.interruptHeld(vector: vector))
      return nil
    }
  }

  /// The machine address of `linear` in the monitor's region (its page table is machine frame 1).
  private func monitorPhysical(_ linear: UInt32) -> UInt32 {
    let entry = (linear >> 12) & 0x3FF
    let pte = machine.memory.read(PhysicalAddress(1 << 12 | entry << 2), .dword)
    return pte & ~0xFFF | linear & 0xFFF
  }

  /// A page fault at `linear`: hidden (the shadow lacked the entry, or the write was to a
  /// traced page) or true (the guest's own tables deny it: reflected).
  private func pageFault(linear: UInt32, errorCode: UInt32, _ counted: inout Progress)
    -> StopReason?
  {
    let write = errorCode & PageFaultCode.write != 0
    let user = errorCode & PageFaultCode.user != 0
    guard errorCode & PageFaultCode.reservedBit == 0, linear < MonitorLayout.base else {
      return .modelGap("a page fault in the monitor's own region at \(hex32(linear)) (error \(errorCode))")
    }
    var v = VirtualContext(self)
    let page: GuestPage
    if vcpu[.cr0] & CR0.pg != 0 {
      let pde: UInt32
      let t: PageTranslation<Concrete>
      do throws(Interrupt) {
        pde = try v.readPhysical(vcpu[.cr3] & ~0xFFF | (linear >> 22) << 2, .dword)
        t = try v.walkPages(linear, write: write, user: user)
      } catch {
        guard case .fault(let f) = error else { return stop(error) }
        note(.truePageFault(linear: linear))
        counted.steps += 1
        return reflect(f)
      }
      let large = vcpu[.cr4] & CR4.pse != 0 && pde & 0x80 != 0
      page = GuestPage(
        frame: t.physical >> 12, user: t.user.isSet, writable: t.writable.isSet, dirty: t.dirty.isSet,
        table: large ? nil : pde >> 12)
    } else {
      page = GuestPage(frame: linear >> 12, user: true, writable: true, dirty: true, table: nil)
    }
    // A write the shadow must not allow: to a traced page, or to a read-only one that the
    // guest's CR0.WP = 0 lets its kernel write. The instruction runs on the virtual CPU.
    if write && (!shadow.kinds(page.frame).isEmpty || !page.writable) {
      return emulate(.tracedWrite, &counted)
    }
    let eip = machine.core.eip
    lastHidden =
      lastHidden.eip == eip && lastHidden.linear == linear
      ? (eip, linear, lastHidden.count + 1) : (eip, linear, 1)
    if lastHidden.count > 3 {
      return .modelGap("shadow paging made no progress at \(hex32(eip)) for \(hex32(linear))")
    }
    shadow.fill(linear, page)
    note(.hiddenPageFault(linear: linear))
    return nil
  }

  /// Runs the guest's instruction at EIP on the virtual CPU: it retires there (one tick of the
  /// guest's clock) or raises the fault the guest takes.
  private func emulate(_ reason: EmulationReason, _ counted: inout Progress) -> StopReason? {
    var v = VirtualContext(self)
    let eip = machine.core.eip
    v.currentInstruction = eip
    machine.core.currentInstruction = eip
    let instruction: Instruction
    do throws(Interrupt) {
      instruction = try fetch(&v, eip)
    } catch {
      guard case .fault(let f) = error else { return stop(error) }
      counted.steps += 1
      return reflect(f)
    }
    let next = machine.core.eip
    // A REP string instruction writing a traced page (zeroing or copying a page table) would
    // trap on every element: the monitor runs its elements on, while nothing else is due.
    let batch = reason == .tracedWrite && instruction.repeatPrefix != .none
    repeat {
      v.currentInstruction = eip
      v.eip = next
      do throws(Interrupt) {
        try Semantics.execute(&v, instruction)
      } catch {
        machine.core.eip = eip
        guard case .fault(let f) = error else { return stop(error) }
        counted.steps += 1
        return reflect(f)
      }
      machine.core.clock &+= 1
      counted.steps += 1
      counted.retired += 1
      note(.emulated(instruction.mnemonic, eip: eip, reason: reason))
    } while batch && machine.core.eip == eip && counted.steps < counted.budget
      && (machine.core.apic.deadline.map { $0 > machine.core.clock } ?? true)
    if v.inhibited {
      vcpu.inhibitUntil = machine.core.clock &+ 1
      machine.core.inhibitUntil = vcpu.inhibitUntil
    }
    if vcpu.halted {
      if vcpu.interruptFlag && !vcpu.pendingInterrupts.isEmpty { return nil }
      // HLT with IF = 0: nothing can wake the guest, as on the bare machine.
      guard vcpu.interruptFlag else { return .halted }
      machine.core.halted = true
    }
    return nil
  }

  /// Decodes the instruction at `eip` through the guest's CS and page tables, fetching a page
  /// only when the bytes before it do not make an instruction (as the processor's fetch does).
  private func fetch(_ v: inout VirtualContext, _ eip: UInt32) throws(Interrupt) -> Instruction {
    let cs = virtualSegment(.cs)
    var bytes: [UInt8] = []
    while true {
      var fault: Fault?
      // The rest of this page (at most 15 bytes in all), translated once as the fetch does.
      let k = UInt32(bytes.count)
      let linear = cs.base &+ eip &+ k
      var count = min(UInt32(Decoder.maximumLength) - k, 0x1000 - (linear & 0xFFF))
      // The CS limit: bytes past it are not fetched (#GP(0) if the instruction needs them).
      let room = cs.limit &- (eip &+ k)
      if eip &+ k > cs.limit {
        count = 0
        fault = Fault(.gp, errorCode: 0)
      } else if room < count - 1 {
        count = room + 1
        fault = Fault(.gp, errorCode: 0)
      }
      if count > 0 {
        do throws(Interrupt) {
          let p = GuestPhysicalAddress(try v.translate(linear, write: false, user: v.cpl == 3))
          if map.isRAM(p.frame) {
            bytes += guestMemory(at: p, count: Int(count))
          } else {
            for j in 0..<count { bytes.append(UInt8(try v.readPhysical(p.value &+ j, .byte))) }
          }
        } catch {
          guard case .fault(let f) = error else { throw error }
          fault = f
        }
      }
      switch Decoder.decode(bytes) {
      case .instruction(let i, let length):
        v.eip = eip &+ UInt32(length)
        return i
      case .fault(let f): throw .fault(f)
      case .modelGap(let what): throw .modelGap(what)
      case .truncated:
        if let fault { throw .fault(fault) }
        if bytes.count >= Decoder.maximumLength { throw .fault(Fault(.gp, errorCode: 0)) }
      }
    }
  }

  /// Delivers `fault` through the guest's IDT (with #DF and shutdown as the SDM says).
  private func reflect(_ fault: Fault) -> StopReason? {
    var v = VirtualContext(self)
    note(.reflected(fault, eip: machine.core.eip))
    vcpu.halted = false
    return Machine.deliverException(fault, &v)
  }

  /// Delivers an external interrupt through the guest's IDT.
  private func deliverVirtual(_ vector: UInt8) -> StopReason? {
    var v = VirtualContext(self)
    note(.virtualInterrupt(vector: vector))
    do throws(Interrupt) {
      try Semantics.deliver(&v, vector: vector, errorCode: nil, source: .external, returnAddress: v.eip)
      return nil
    } catch {
      guard case .fault(let f) = error else { return stop(error) }
      return Machine.deliverException(f, &v)
    }
  }

  private func stop(_ error: Interrupt) -> StopReason {
    switch error {
    case .fault(let f): .fault(f)
    case .modelGap(let what): .modelGap(what)
    case .vmExit(let e): .vmExit(e)
    }
  }

  func note(_ e: MonitorEvent) {
    statistics.record(e)
    observer?(e, machine.core.clock)
  }

  // MARK: What the virtual CPU's instructions reach

  func portRead(_ port: UInt16, _ size: OperandSize) throws(Interrupt) -> UInt32 {
    note(.deviceAccess(port: port, write: false, size: size))
    return machine.ports.read(port, size)
  }

  func portWrite(_ port: UInt16, _ size: OperandSize, _ v: UInt32) throws(Interrupt) {
    if (Machine.blockPort..<Machine.blockPort + 16).contains(port) {
      // Its DMA addresses are guest-physical: the device must be emulated, not passed through.
      throw .modelGap("the block device under trap-and-emulate")
    }
    note(.deviceAccess(port: port, write: true, size: size))
    machine.ports.write(port, size, v)
  }

  func setVirtualSystemRegister(_ r: SystemRegister, _ v: UInt32) throws(Interrupt) {
    if r == .gdtrLimit && v >= MonitorLayout.guestEntries * 8 {
      // The real GDT's top entries are the monitor's own descriptors.
      throw .modelGap(
        "a GDT reaching selector 0xFFE8 under trap-and-emulate (the monitor's descriptors are there)")
    }
    let old = vcpu[r]
    vcpu[r] = v
    switch r {
    case .cr0 where (old ^ v) & CR0.pg != 0, .cr3:
      activateShadow()
    case .cr4 where (old ^ v) & (CR4.pse | CR4.pge) != 0:
      shadow.flushAll()
      activateShadow()
    case .cr4:
      break
    case .gdtrBase, .gdtrLimit:
      remirror()
    default: break
    }
    if r == .cr4 {
      // RDTSC traps at ring 1 and 3 exactly when the guest asked it to trap at CPL > 0.
      try machine.core.setSystemRegister(.cr4, v & CR4.tsd)
    }
  }

  private func activateShadow() {
    let root = vcpu[.cr0] & CR0.pg != 0 ? vcpu[.cr3] >> 12 : ShadowPageTables.physicalRoot
    let cr3 = shadow.activate(root)
    try? machine.core.setSystemRegister(.cr3, cr3)
  }

  func guestWrote(_ a: GuestPhysicalAddress, _ size: OperandSize, old: UInt32, new: UInt32) {
    shadow.guestWrote(a, size, old: old, new: new)
    // A write to a page holding the GDT: the table is copied again (writes elsewhere in the
    // page are traced too, and cost the same: false sharing).
    if gdtFrames.contains(a.frame) { remirror() }
  }

  // MARK: The real GDT

  /// Copies the guest's GDT into the real one, compressed, and traces the frames it lies in.
  func remirror() {
    var v = VirtualContext(self)
    v.peeking = true
    let base = vcpu[.gdtrBase]
    let limit = vcpu[.gdtrLimit]
    let count = min(Int(limit + 1) / 8, Int(MonitorLayout.guestEntries))
    let old = mirror.count
    mirror = [0]
    unaccessed = 0
    for index in 1..<max(count, 1) {
      var raw: UInt64 = 0
      let a = base &+ UInt32(index * 8)
      if let low = try? v.readSystem(a, .dword), let high = try? v.readSystem(a &+ 4, .dword) {
        raw = UInt64(high) << 32 | UInt64(low)
      }
      let installed = RingCompression.descriptor(raw)
      mirror.append(installed == 0 ? 0 : raw)
      if installed != 0 && raw & (1 << 40) == 0 { unaccessed += 1 }
      writeRealGDT(index, installed)
    }
    for index in stride(from: max(count, 1), to: old, by: 1) { writeRealGDT(index, 0) }
    // Trace the frames the table lies in (where they are mapped).
    var frames: Set<UInt32> = []
    var page = base & ~0xFFF
    while page <= base &+ limit || page == base & ~0xFFF {
      if let p = try? v.translate(page, write: false, user: false) { frames.insert(p >> 12) }
      let next = page &+ 0x1000
      if next < page || next > base &+ limit { break }
      page = next
    }
    for f in gdtFrames.subtracting(frames) { shadow.untrace(f, .descriptors) }
    for f in frames.subtracting(gdtFrames) { shadow.trace(f, .descriptors) }
    gdtFrames = frames
  }

  private func writeRealGDT(_ index: Int, _ raw: UInt64) {
    let a = realGDTAddress(index)
    machine.memory.write(a, .dword, UInt32(truncatingIfNeeded: raw))
    machine.memory.write(a.advanced(by: 4), .dword, UInt32(truncatingIfNeeded: raw >> 32))
  }

  private func realGDTAddress(_ index: Int) -> PhysicalAddress {
    let linear = MonitorLayout.gdt + UInt32(index * 8)
    return PhysicalAddress(monitorPhysical(linear))
  }

  /// Accessed bits the processor set in the real GDT go back to the guest's copy (a segment
  /// load sets it in the descriptor it read).
  private func propagateAccessed() {
    guard unaccessed > 0 else { return }
    var v = VirtualContext(self)
    v.peeking = true
    for index in 1..<mirror.count where mirror[index] != 0 && mirror[index] & (1 << 40) == 0 {
      let real = machine.memory.read(realGDTAddress(index).advanced(by: 4), .dword)
      guard real & (1 << 8) != 0 else { continue }
      mirror[index] |= 1 << 40
      unaccessed -= 1
      // Written as the processor writes it: a supervisor write through the guest's tables.
      let linear = vcpu[.gdtrBase] &+ UInt32(index * 8) &+ 5
      if let byte = try? v.readSystem(linear, .byte) {
        v.peeking = false
        try? v.writeSystem(linear, .byte, byte | 1)
        v.peeking = true
      }
    }
  }
}
