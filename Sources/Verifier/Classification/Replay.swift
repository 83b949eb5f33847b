/// Replays a witness on the engine — the machine that runs guests — and says whether it shows
/// what the solver claimed: a witness is checked by running it, not by its text.
import ExecEngine
import ISAModel
import Z3

/// One witness state run for one instruction on a fresh machine.
public struct ReplayRun {
  public let result: StepResult
  public let before: CPUState
  public let after: CPUState
  public let events: EventCounts
  /// The machine's memory before and after the step.
  let machine: Machine
  let original: [UInt32: UInt8]

  /// Runs `w` on a machine of `memorySize` bytes that stops at any exception — in VMX non-root
  /// operation under `vmx`, if given; with linear addresses physical if `identityTranslation`.
  public init(_ w: WitnessState, memorySize: Int, vmx: VMXNonRoot? = nil, identityTranslation: Bool = false) {
    let m = Machine(memorySize: memorySize)
    m.exceptionRouting = .stop
    m.vmx = vmx
    m.identityTranslation = identityTranslation
    for b in w.memory { m.load([b.value], at: PhysicalAddress(b.address)) }
    m.state = w.state
    let before = m.state
    let eventsBefore = m.events
    result = m.step()
    var after = m.state
    // The engine's clock ticks once per instruction; a step of the model leaves the TSC alone.
    after.tsc &-= after.clock &- before.clock
    self.before = before
    self.after = after
    var e = m.events
    e.portReads -= eventsBefore.portReads
    e.portWrites -= eventsBefore.portWrites
    e.tlbPageInvalidations -= eventsBefore.tlbPageInvalidations
    events = e
    machine = m
    original = Dictionary(uniqueKeysWithValues: w.memory.map { ($0.address, $0.value) })
  }

  /// Runs `w` as the queries assumed: in VMX non-root operation with linear addresses physical
  /// where `assumptions` say VT-x (docs/vtx.md), else on the bare machine.
  public init(_ w: WitnessState, _ assumptions: ClassificationAssumptions) {
    self.init(
      w, memorySize: Int(assumptions.memorySize), vmx: assumptions.vmx,
      identityTranslation: assumptions.vmx != nil)
  }

  /// What differs after two runs of one witness: how they ended, registers, EFLAGS, EIP,
  /// selectors (under `selectorMask`) and the memory the witness touched.
  static func differences(
    _ guest: ReplayRun, _ bare: ReplayRun, selectorMask: (SegmentRegister) -> UInt16
  ) -> [String] {
    var d: [String] = []
    if guest.result != bare.result { d.append("ends \(guest.result) vs \(bare.result)") }
    for r in GPR.allCases where guest.after[r] != bare.after[r] {
      d.append("\(r.name(.dword)) \(hex(guest.after[r])) vs \(hex(bare.after[r]))")
    }
    if guest.after.eflags != bare.after.eflags {
      d.append("EFLAGS \(hex(guest.after.eflags)) vs \(hex(bare.after.eflags))")
    }
    if guest.after.eip != bare.after.eip { d.append("EIP \(hex(guest.after.eip)) vs \(hex(bare.after.eip))") }
    for x in SegmentRegister.allCases {
      let (a, b) = (guest.after[x].selector, bare.after[x].selector)
      if a & selectorMask(x) != b & selectorMask(x) {
        d.append("\(x.name) \(hex(UInt32(a))) vs \(hex(UInt32(b)))")
      }
    }
    for a in guest.original.keys.sorted() where guest.byte(a) != bare.byte(a) {
      d.append("memory[\(hex(a))] \(hex(UInt32(guest.byte(a)))) vs \(hex(UInt32(bare.byte(a))))")
    }
    return d
  }

  public var retired: Bool { result == .retired || result == .halted }

  /// The byte at `address` now.
  public func byte(_ address: UInt32) -> UInt8 { machine.memory.read(PhysicalAddress(address)) }
}

/// What a replay showed.
public struct ReplayVerdict: CustomStringConvertible {
  /// The engine agrees with the witness.
  public let confirmed: Bool
  public let detail: String
  public var description: String { (confirmed ? "confirmed: " : "NOT confirmed: ") + detail }
}

extension Witness {
  /// Replays a control-sensitivity witness: the step retires and changes `resource`.
  public func replayControl(_ resource: ControlResource, assumptions: ClassificationAssumptions) throws
    -> ReplayVerdict
  {
    let run = ReplayRun(states[0], assumptions)
    guard run.retired else {
      return ReplayVerdict(confirmed: false, detail: "the engine ended with \(run.result)")
    }
    switch resource {
    case .ports:
      let n = run.events.portReads + run.events.portWrites
      return ReplayVerdict(confirmed: n > 0, detail: "\(n) port accesses")
    case .paging:
      let n = run.events.tlbPageInvalidations
      return ReplayVerdict(confirmed: n > 0, detail: "\(n) page invalidations")
    default:
      let z3 = try Z3Context()
      let partition = StatePartition(ownership: assumptions.ownership)
      let changed = zip(
        partition.parts(resource, of: SymbolicState(run.before, memory: nil, in: z3)),
        partition.parts(resource, of: SymbolicState(run.after, memory: nil, in: z3))
      ).compactMap { a, b in
        a.1.literal != b.1.literal ? "\(a.0): \(a.1.literal) → \(b.1.literal)" : nil
      }
      return ReplayVerdict(
        confirmed: !changed.isEmpty,
        detail: changed.isEmpty ? "nothing changed" : changed.joined(separator: ", "))
    }
  }

  /// Replays a behaviour-sensitivity pair: both steps retire and end differing outside the
  /// control state (memory compared through the displacement).
  public func replayBehaviour(assumptions: ClassificationAssumptions) throws -> ReplayVerdict {
    let runs = states.map { ReplayRun($0, assumptions) }
    for r in runs where !r.retired {
      return ReplayVerdict(confirmed: false, detail: "the engine ended with \(r.result)")
    }
    let z3 = try Z3Context()
    let partition = StatePartition(ownership: assumptions.ownership)
    var differences = zip(
      partition.visibleParts(of: SymbolicState(runs[0].after, memory: nil, in: z3)),
      partition.visibleParts(of: SymbolicState(runs[1].after, memory: nil, in: z3))
    ).compactMap { a, b in
      a.1.literal != b.1.literal ? "\(a.0): \(a.1.literal) vs \(b.1.literal)" : nil
    }
    let d = displacement ?? 0
    // Bytes the steps may have written: every touched address of either state.
    let touched = Set(runs[0].original.keys).union(runs[1].original.keys.map { $0 &- d })
    for a in touched.sorted() where runs[0].byte(a) != runs[1].byte(a &+ d) {
      differences.append(
        "memory[\(hex(a))]: \(hex(UInt32(runs[0].byte(a)))) vs [\(hex(a &+ d))] \(hex(UInt32(runs[1].byte(a &+ d))))"
      )
    }
    return ReplayVerdict(
      confirmed: !differences.isEmpty,
      detail: differences.isEmpty ? "the two states end the same" : differences.joined(separator: ", "))
  }
}

func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16, uppercase: true) }

extension SymbolicPart {
  /// The part's value as text, for a literal part.
  var literal: String {
    switch self {
    case .word(let v): v.simplified().literalValue.map { hex(UInt32($0)) } ?? "\(v)"
    case .truth(let t): t.simplified().literalValue.map { "\($0)" } ?? "\(t)"
    }
  }
}

/// A culprit's witness run twice on the engine: as the guest runs it (at its deprivileged CPL)
/// and as the bare machine the guest believes in would (the same state at CPL 0), with what
/// differs afterwards — the divergence a trap-and-emulate monitor cannot see.
public struct DeprivilegedReplay: CustomStringConvertible {
  public let guestCPL: UInt8
  public let guest: ReplayRun
  public let bare: ReplayRun
  /// Guest-visible differences after the two steps: registers, EFLAGS, selectors, memory.
  public let differences: [String]

  public init(_ w: WitnessState, memorySize: Int) {
    guestCPL = w.cpl
    guest = ReplayRun(w, memorySize: memorySize)
    var supervisor = w
    supervisor.cpl = 0
    for x in [SegmentRegister.cs, .ss] {
      var s = supervisor.state[x]
      s.selector &= 0xFFFC
      // The stack segment's DPL is the CPL (SDM Vol. 3A §5.7).
      if x == .ss { s.attributes &= ~0x60 }
      supervisor.state[x] = s
    }
    bare = ReplayRun(supervisor, memorySize: memorySize)
    // CS's and SS's RPL is the CPL, which differs by construction.
    differences = ReplayRun.differences(guest, bare) { $0 == .cs || $0 == .ss ? 0xFFFC : 0xFFFF }
  }

  public var description: String {
    let same = differences.isEmpty ? "no difference the engine shows" : differences.joined(separator: "; ")
    return "at CPL \(guestCPL) the engine ends \(guest.result), at CPL 0 \(bare.result): \(same)"
  }
}

extension Witness {
  /// Replays a code-location witness (binary translation): one state whose step does not go on
  /// to the next instruction, or two states whose code is displaced that end differing in
  /// guest-visible state (EIP aside) or not displaced alike.
  public func replayCodeLocation(assumptions: ClassificationAssumptions) throws -> ReplayVerdict {
    let runs = states.map { ReplayRun($0, memorySize: Int(assumptions.memorySize)) }
    for r in runs where !r.retired {
      return ReplayVerdict(confirmed: false, detail: "the engine ended with \(r.result)")
    }
    let length = UInt32((try? Encoder.encode(instruction).count) ?? 0)
    if runs.count == 1 {
      let r = runs[0]
      let next = r.before.eip &+ length
      return ReplayVerdict(
        confirmed: r.after.eip != next,
        detail: "EIP \(hex(r.before.eip)) → \(hex(r.after.eip)), next \(hex(next))")
    }
    var differences: [String] = []
    let moved = runs[1].before.eip &- runs[0].before.eip
    let went = runs[1].after.eip &- runs[0].after.eip
    if moved != went { differences.append("code moved by \(hex(moved)), EIP after by \(hex(went))") }
    let z3 = try Z3Context()
    let partition = StatePartition(ownership: assumptions.ownership)
    differences += zip(
      partition.visibleParts(of: SymbolicState(runs[0].after, memory: nil, in: z3)),
      partition.visibleParts(of: SymbolicState(runs[1].after, memory: nil, in: z3))
    ).compactMap { a, b in a.1.literal != b.1.literal ? "\(a.0): \(a.1.literal) vs \(b.1.literal)" : nil }
    let touched = Set(runs[0].original.keys).union(runs[1].original.keys)
    for a in touched.sorted() where runs[0].byte(a) != runs[1].byte(a) {
      differences.append(
        "memory[\(hex(a))]: \(hex(UInt32(runs[0].byte(a)))) vs \(hex(UInt32(runs[1].byte(a))))")
    }
    return ReplayVerdict(
      confirmed: !differences.isEmpty,
      detail: differences.isEmpty ? "the two states end alike" : differences.joined(separator: ", "))
  }
}

/// A VT-x culprit's witness run twice on the engine: in VMX non-root operation at the guest's
/// CPL under the configuration's VMCS controls — where trap-completeness needs a VM exit — and on
/// the bare machine the guest believes in (the same CPL, host-owned CR0 and CR4 bits from their
/// read shadows, SDM Vol. 3C §25.3), with what the non-root step changed without exiting and
/// what differs between the two.
public struct NonRootReplay: CustomStringConvertible {
  public let guestCPL: UInt8
  public let guest: ReplayRun
  public let bare: ReplayRun
  /// System state (control registers, descriptor tables, MSRs, the TSC, the activity state) and
  /// ports the non-root step changed or touched, when it retired without a VM exit.
  public let unexited: [String]
  /// Differences after the two steps: how they ended, registers, EFLAGS, selectors, CR0 and CR4
  /// as the guest reads them, memory.
  public let differences: [String]

  public init(_ w: WitnessState, nonRoot: VMXNonRoot, memorySize: Int) {
    guestCPL = w.cpl
    // Linear addresses are physical, as in the queries: the VMM's translation maps identically.
    guest = ReplayRun(w, memorySize: memorySize, vmx: nonRoot, identityTranslation: true)
    let k = nonRoot.controls
    func view(_ value: UInt32, _ r: SystemRegister) -> UInt32 { VMX.guestView(value, r, k, Concrete()) }
    var believed = w
    believed.state.cr0 = view(w.state.cr0, .cr0)
    believed.state.cr4 = view(w.state.cr4, .cr4)
    bare = ReplayRun(believed, memorySize: memorySize, identityTranslation: true)
    var u: [String] = []
    if guest.retired {
      let (a, b) = (guest.before, guest.after)
      for (name, x, y) in [("cr0", a.cr0, b.cr0), ("cr3", a.cr3, b.cr3), ("cr4", a.cr4, b.cr4)] where x != y {
        u.append("\(name) \(hex(x)) → \(hex(y))")
      }
      if a.debugRegisters != b.debugRegisters { u.append("debug registers") }
      for (name, x, y) in [("gdtr", a.gdtr, b.gdtr), ("idtr", a.idtr, b.idtr)] where x != y {
        u.append("\(name) \(x) → \(y)")
      }
      for (name, x, y) in [("ldtr", a.ldtr, b.ldtr), ("tr", a.tr, b.tr)] where x != y {
        u.append("\(name) \(x) → \(y)")
      }
      for m in ModelSpecificRegister.all where a.msrs[m.index] != b.msrs[m.index] { u.append(m.name) }
      if a.halted != b.halted { u.append("the activity state (halted)") }
      let ports = guest.events.portReads + guest.events.portWrites
      if ports > 0 { u.append("\(ports) port accesses") }
      if guest.events.tlbPageInvalidations > 0 {
        u.append("\(guest.events.tlbPageInvalidations) page invalidations")
      }
    }
    unexited = u
    var d = ReplayRun.differences(guest, bare) { _ in 0xFFFF }
    let seen = (view(guest.after.cr0, .cr0), view(guest.after.cr4, .cr4))
    if seen.0 != bare.after.cr0 { d.append("CR0 as read \(hex(seen.0)) vs \(hex(bare.after.cr0))") }
    if seen.1 != bare.after.cr4 { d.append("CR4 as read \(hex(seen.1)) vs \(hex(bare.after.cr4))") }
    differences = d
  }

  /// Whether the non-root step ended in a VM exit.
  public var exited: Bool {
    if case .vmExit = guest.result { return true }
    return false
  }

  public var description: String {
    var s = "in VMX non-root operation at CPL \(guestCPL) the engine ends \(guest.result)"
    if !exited { s += " (no VM exit)" }
    if !unexited.isEmpty { s += ", changing without an exit " + unexited.joined(separator: ", ") }
    s += "; on the bare machine \(bare.result)"
    s += differences.isEmpty ? ", no difference the engine shows" : ": " + differences.joined(separator: "; ")
    return s
  }
}
