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

  /// Runs `w` on a machine of `memorySize` bytes that stops at any exception.
  public init(_ w: WitnessState, memorySize: Int) {
    let m = Machine(memorySize: memorySize)
    m.exceptionRouting = .stop
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
    let run = ReplayRun(states[0], memorySize: Int(assumptions.memorySize))
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
    let runs = states.map { ReplayRun($0, memorySize: Int(assumptions.memorySize)) }
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
    var d: [String] = []
    if guest.result != bare.result { d.append("ends \(guest.result) vs \(bare.result)") }
    for r in GPR.allCases where guest.after[r] != bare.after[r] {
      d.append("\(r.name(.dword)) \(hex(guest.after[r])) vs \(hex(bare.after[r]))")
    }
    // IOPL and the flags; CS's and SS's RPL is the CPL, which differs by construction.
    if guest.after.eflags != bare.after.eflags {
      d.append("EFLAGS \(hex(guest.after.eflags)) vs \(hex(bare.after.eflags))")
    }
    if guest.after.eip != bare.after.eip { d.append("EIP \(hex(guest.after.eip)) vs \(hex(bare.after.eip))") }
    for x in SegmentRegister.allCases {
      let (a, b) = (guest.after[x].selector, bare.after[x].selector)
      let rpl: UInt16 = x == .cs || x == .ss ? 0xFFFC : 0xFFFF
      if a & rpl != b & rpl { d.append("\(x.name) \(hex(UInt32(a))) vs \(hex(UInt32(b)))") }
    }
    for a in guest.original.keys.sorted() where guest.byte(a) != bare.byte(a) {
      d.append("memory[\(hex(a))] \(hex(UInt32(guest.byte(a)))) vs \(hex(UInt32(bare.byte(a))))")
    }
    differences = d
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
