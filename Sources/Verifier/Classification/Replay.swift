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
