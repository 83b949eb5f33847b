/// A witness as concrete machine states: Z3's model read back into `CPUState`s and the memory
/// bytes the step touches, so the engine can replay it (solver models differ between Z3
/// versions; a replay does not).
import ExecEngine
import ISAModel
import Z3

/// One state of a witness.
public struct WitnessState: Sendable, Hashable, Codable {
  public var cpl: UInt8
  public var state: CPUState
  /// The physical bytes the step reads or writes (its code and page walks included), by address.
  public var memory: [MemoryByte]

  public struct MemoryByte: Sendable, Hashable, Codable {
    public var address: UInt32
    public var value: UInt8
  }
}

/// A state (control-sensitivity, privilege) or a pair (behaviour-sensitivity) showing a verdict.
public struct Witness: Sendable, Hashable, Codable {
  public var instruction: Instruction
  public var states: [WitnessState]
  /// For a relocated pair: the second state's memory and bases are the first's moved by this.
  public var displacement: UInt32?

  init(
    _ model: Model, steps: [SymbolicStep], cpls: [UInt8?], instruction: Instruction,
    displacement: BitVector? = nil
  ) throws {
    self.instruction = instruction
    self.displacement = try displacement.map { UInt32(try model.evaluate($0)) }
    states = try zip(steps, cpls).map { step, cpl in try WitnessState(model, step: step, cpl: cpl) }
  }
}

extension WitnessState {
  init(_ model: Model, step: SymbolicStep, cpl: UInt8?) throws {
    let s = step.initial
    func word(_ t: BitVector) throws -> UInt32 { UInt32(truncatingIfNeeded: try model.evaluate(t)) }
    func segment(_ c: SegmentCache<BitVector>) throws -> SegmentState {
      SegmentState(
        selector: UInt16(truncatingIfNeeded: try word(c.selector)), base: try word(c.base),
        limit: try word(c.limit), attributes: UInt16(truncatingIfNeeded: try word(c.attributes)))
    }
    var state = CPUState()
    for r in GPR.allCases { state[r] = try word(s.gprs[Int(r.rawValue)]) }
    state.eip = try word(s.eip)
    var eflags = FlagMask.reservedOne | (try word(s.iopl) & 3) << 12
    for (k, f) in Flag.allCases.enumerated() where try model.evaluate(s.flags[k]) { eflags |= f.mask }
    state.eflags = eflags
    for x in SegmentRegister.allCases { state[x] = try segment(s.segments[Int(x.rawValue)]) }
    state.ldtr = try segment(s.systemSegments[Int(SystemSegment.ldtr.rawValue)])
    state.tr = try segment(s.systemSegments[Int(SystemSegment.tr.rawValue)])
    for (k, r) in SystemRegister.allCases.enumerated() { state[r] = try word(s.systemRegisters[k]) }
    for (k, m) in ModelSpecificRegister.all.enumerated() where m.kind == .storage {
      state.msrs[m.index] = UInt64(try word(s.msrs[k].high)) << 32 | UInt64(try word(s.msrs[k].low))
    }
    state.tsc = UInt64(try word(s.timeStampCounter.high)) << 32 | UInt64(try word(s.timeStampCounter.low))
    state.clock = 0
    // The shadow holds interrupts off until the clock passes the next instruction.
    state.interruptsInhibitedUntil = try model.evaluate(s.interruptsInhibited) ? 1 : 0
    state.halted = try model.evaluate(s.halted)
    self.cpl = try cpl ?? UInt8(word(s.segments[Int(SegmentRegister.cs.rawValue)].selector) & 3)
    self.state = state
    var bytes: [UInt32: UInt8] = [:]
    for a in step.accesses.map(\.address) + step.codeAddresses {
      let address = try word(a)
      let z3 = a.context
      bytes[address] = UInt8(
        truncatingIfNeeded: try model.evaluate(s.memory.byte(at: z3.bitVector(UInt64(address), width: 32))))
    }
    memory = bytes.sorted { $0.key < $1.key }.map { MemoryByte(address: $0.key, value: $0.value) }
  }
}
