/// Between engine states and symbolic ones: a concrete `CPUState` as numerals (to check the
/// symbolic evaluation against the engine, and to replay witnesses), and a Z3 model's values
/// back as a `CPUState`.
import ExecEngine
import ISAModel
import Z3

extension SymbolicState {
  /// `state` as numerals over a memory image (bytes for literal addresses; others unconstrained).
  public init(_ state: CPUState, memory image: (@Sendable (UInt32) -> UInt8)?, in z3: Z3Context) {
    func word(_ v: UInt32) -> BitVector { z3.bitVector(UInt64(v), width: 32) }
    func segment(_ s: SegmentState) -> SegmentCache<BitVector> {
      SegmentCache(
        selector: word(UInt32(s.selector)), base: word(s.base), limit: word(s.limit),
        attributes: word(UInt32(s.attributes)))
    }
    self.init(
      gprs: GPR.allCases.map { word(state[$0]) },
      eip: word(state.eip),
      flags: Flag.allCases.map { z3.bool(state.eflags & $0.mask != 0) },
      iopl: word((state.eflags >> 12) & 3),
      segments: SegmentRegister.allCases.map { segment(state[$0]) },
      systemSegments: [segment(state.ldtr), segment(state.tr)],
      systemRegisters: SystemRegister.allCases.map { word(state[$0]) },
      msrs: ModelSpecificRegister.all.map {
        let v = $0.kind == .timeStampCounter ? state.tsc : state.msrs[$0.index] ?? 0
        return (word(UInt32(truncatingIfNeeded: v)), word(UInt32(truncatingIfNeeded: v >> 32)))
      },
      timeStampCounter: (
        word(UInt32(truncatingIfNeeded: state.tsc)), word(UInt32(truncatingIfNeeded: state.tsc >> 32))
      ),
      memory: SymbolicMemory(base: z3.arrayConstant("memory", indexWidth: 32, valueWidth: 8), image: image),
      halted: z3.bool(state.halted),
      interruptsInhibited: z3.bool(state.interruptsInhibitedUntil > state.clock))
  }
}
