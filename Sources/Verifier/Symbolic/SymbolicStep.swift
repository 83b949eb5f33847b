/// One instruction evaluated symbolically: every way the step can end, each with its condition
/// over the initial state, and the state it retires to.
import ISAModel
import Z3

public struct SymbolicStep {
  public let instruction: Instruction
  public let initial: SymbolicState
  /// The state after the step, meaningful where `retires` holds.
  public let final: SymbolicState
  /// The step retires (no fault, no VM exit, no model gap).
  public let retires: BoolExpr
  public let faults: [SymbolicFault]
  public let gaps: [SymbolicGap]
  /// VM exits (in VMX non-root operation), each with its condition.
  public let exits: [SymbolicExit]
  public let ports: [PortAccess]
  /// Events the step vectors through the IDT (INT n, INT3, INTO), each with its condition.
  public let deliveries: [(vector: UInt8, condition: BoolExpr)]
  public let invalidatedPages: [(linear: BitVector, condition: BoolExpr)]
  /// Swift-valued reads of state the step had already changed (see `TermDomain.staleReads`).
  public let staleReads: [String]
  /// The semantics read the CPL / the IOPL as a Swift value (the assumption matters).
  public let readsCPL: Bool
  public let readsIOPL: Bool
  /// Physical byte addresses the step touches, each with the path it does so on.
  public let accesses: [(address: BitVector, condition: BoolExpr)]
  /// The physical addresses of the instruction's own bytes.
  public let codeAddresses: [BitVector]

  /// Runs `instruction` (of `length` bytes, at `initial.eip`) once over `initial`.
  public init(
    _ instruction: Instruction, length: Int, from initial: SymbolicState, assumptions: StepAssumptions,
    domain: TermDomain
  ) {
    domain.restartUndefinedValues()
    var c = SymbolicContext(domain, state: initial, assumptions: assumptions)
    do {
      try c.fetch(length: length)
      c.eip = initial.eip + UInt64(length)
      try Semantics.execute(&c, instruction)
    } catch {
      // The path was exhausted by a fault or gap that always happens; it is recorded.
    }
    self.instruction = instruction
    self.initial = initial
    final = c.state
    retires = c.path
    faults = c.faults
    gaps = c.gaps
    exits = c.exits
    ports = c.ports
    deliveries = c.deliveries
    invalidatedPages = c.invalidatedPages
    staleReads = domain.staleReads
    readsCPL = domain.readsCPL
    readsIOPL = domain.readsIOPL
    accesses = c.accesses
    codeAddresses = c.codeAddresses
  }

  /// The instruction's encoding is in memory where it is fetched from, as it is on the machine
  /// a witness is replayed on.
  public func codeInMemory(_ bytes: [UInt8]) -> BoolExpr {
    let z3 = initial.eip.context
    return BoolExpr.all(
      [z3.true]
        + zip(codeAddresses, bytes).map { initial.memory.byte(at: $0) == z3.bitVector(UInt64($1), width: 8) })
  }

  /// Every byte the step touches lies below `size` (the replaying machine's memory; above it a
  /// PC reads open bus, which the symbolic memory does not model).
  public func accessesBelow(_ size: UInt64) -> BoolExpr {
    let z3 = initial.eip.context
    let all = accesses + codeAddresses.map { ($0, z3.true) }
    return BoolExpr.all([z3.true] + all.map { $0.1.implies($0.0.unsignedLessThan($0.0.constant(size))) })
  }

  /// The states the model covers, as the engine does (`Machine.unmodelled`): protected mode,
  /// no single-step trap, no virtual-8086 mode, a 32-bit code segment based at 0.
  public static func modelled(_ s: SymbolicState) -> BoolExpr {
    let flags = Dictionary(uniqueKeysWithValues: zip(Flag.allCases, s.flags))
    let cr0 = s.systemRegisters[SystemRegister.allCases.firstIndex(of: .cr0)!]
    let cs = s.segments[Int(SegmentRegister.cs.rawValue)]
    // CS.D = 1: the instruction is the one a 32-bit code segment decodes (IRET is IRETD).
    return cr0.bit(0) && !flags[.tf]! && !flags[.vm]! && cs.base == 0 && cs.attributes.bit(14)
  }

  /// What the assumptions say of the initial state: CS.RPL is the CPL, IOPL as given.
  public static func assumptionsHold(_ a: StepAssumptions, in s: SymbolicState) -> BoolExpr {
    let cs = s.segments[Int(SegmentRegister.cs.rawValue)]
    return (cs.selector & 3) == UInt64(a.cpl) && s.iopl == UInt64(a.iopl)
  }
}
