/// A machine state whose every part is a Z3 term: what the Verifier runs an instruction's one
/// semantics on. It holds what `ExecutionContext` can read or write — the architectural state
/// of SDM Vol. 3A §2 and Vol. 1 §3 — and nothing of the engine's machinery (no TLB, no devices).
import ISAModel
import Z3

/// The state, part by part.
public struct SymbolicState {
  public var gprs: [BitVector]
  public var eip: BitVector
  /// Indexed like `Flag.allCases`.
  public var flags: [BoolExpr]
  /// EFLAGS.IOPL in bits 0–1.
  public var iopl: BitVector
  /// Indexed by `SegmentRegister.rawValue`.
  public var segments: [SegmentCache<BitVector>]
  /// LDTR and TR, by `SystemSegment.rawValue`.
  public var systemSegments: [SegmentCache<BitVector>]
  /// Indexed like `SystemRegister.allCases`.
  public var systemRegisters: [BitVector]
  /// The stored MSRs, low and high halves, indexed like `ModelSpecificRegister.all`.
  public var msrs: [(low: BitVector, high: BitVector)]
  public var timeStampCounter: (low: BitVector, high: BitVector)
  public var memory: SymbolicMemory
  public var halted: BoolExpr
  /// The STI / MOV SS interrupt shadow is set for the next instruction.
  public var interruptsInhibited: BoolExpr

  /// A state of fresh constants named by part (`eax`, `cs.base`, `cr0`, …): every value allowed.
  public static func unconstrained(_ z3: Z3Context) -> SymbolicState {
    func word(_ name: String) -> BitVector { z3.bitVectorConstant(name, width: 32) }
    func segment(_ name: String) -> SegmentCache<BitVector> {
      SegmentCache(
        selector: word("\(name).selector"), base: word("\(name).base"), limit: word("\(name).limit"),
        attributes: word("\(name).attributes"))
    }
    return SymbolicState(
      gprs: GPR.allCases.map { word($0.name(.dword)) },
      eip: word("eip"),
      flags: Flag.allCases.map { z3.boolConstant($0.name.lowercased()) },
      iopl: word("iopl"),
      segments: SegmentRegister.allCases.map { segment($0.name) },
      systemSegments: SystemSegment.allCases.map { segment(String(describing: $0)) },
      systemRegisters: SystemRegister.allCases.map { word($0.name) },
      msrs: ModelSpecificRegister.all.map { (word("\($0.name).low"), word("\($0.name).high")) },
      timeStampCounter: (word("tsc.low"), word("tsc.high")),
      memory: SymbolicMemory(base: z3.arrayConstant("memory", indexWidth: 32, valueWidth: 8)),
      halted: z3.boolConstant("halted"),
      interruptsInhibited: z3.boolConstant("interrupts.inhibited"))
  }

  /// The ids of every term of the state, memory included: equal for two states made of the
  /// same terms (the key `SensitivityClassifier` memoises steps by).
  public var termIDs: [UInt32] {
    var ids = parts.map {
      switch $0.term {
      case .word(let t): t.termID
      case .truth(let t): t.termID
      }
    }
    ids += [memory.base.termID, memory.displacement?.termID ?? UInt32.max, memory.image == nil ? 0 : 1]
    for w in memory.writes { ids += [w.address.termID, w.byte.termID, w.condition.termID] }
    return ids
  }

  /// Every part as a named term, in one order: what state comparisons and witnesses range over.
  public var parts: [(name: String, term: SymbolicPart)] {
    var p: [(String, SymbolicPart)] = []
    for r in GPR.allCases { p.append((r.name(.dword), .word(gprs[Int(r.rawValue)]))) }
    p.append(("eip", .word(eip)))
    for (k, f) in Flag.allCases.enumerated() { p.append((f.name, .truth(flags[k]))) }
    p.append(("iopl", .word(iopl)))
    for s in SegmentRegister.allCases {
      let c = segments[Int(s.rawValue)]
      p += [
        ("\(s.name).selector", .word(c.selector)), ("\(s.name).base", .word(c.base)),
        ("\(s.name).limit", .word(c.limit)), ("\(s.name).attributes", .word(c.attributes)),
      ]
    }
    for s in SystemSegment.allCases {
      let c = systemSegments[Int(s.rawValue)]
      let n = String(describing: s)
      p += [
        ("\(n).selector", .word(c.selector)), ("\(n).base", .word(c.base)), ("\(n).limit", .word(c.limit)),
        ("\(n).attributes", .word(c.attributes)),
      ]
    }
    for (k, r) in SystemRegister.allCases.enumerated() { p.append((r.name, .word(systemRegisters[k]))) }
    for (k, m) in ModelSpecificRegister.all.enumerated() {
      p += [("\(m.name).low", .word(msrs[k].low)), ("\(m.name).high", .word(msrs[k].high))]
    }
    p += [("tsc.low", .word(timeStampCounter.low)), ("tsc.high", .word(timeStampCounter.high))]
    p += [("halted", .truth(halted)), ("interrupts.inhibited", .truth(interruptsInhibited))]
    return p
  }
}

/// One part of a state: a 32-bit word or a truth.
public enum SymbolicPart {
  case word(BitVector)
  case truth(BoolExpr)
}

/// Byte-addressed memory: an unconstrained array (or a concrete image) under a list of guarded
/// byte writes, newest last. Keeping the writes as a list, each under the `when` conditions it
/// was made in, lets a `when` branch leave memory alone without merging arrays.
public struct SymbolicMemory {
  public struct Write {
    public let address: BitVector
    public let byte: BitVector
    public let condition: BoolExpr
  }

  public var base: ArrayExpr
  /// Where this memory's contents sit relative to `base`: byte a here is byte a − displacement
  /// there. A behaviour-sensitivity query relocates one state's memory this way (Popek and
  /// Goldberg's relocation register made explicit).
  public var displacement: BitVector?
  /// Concrete bytes under the writes, for literal addresses (tests against the engine).
  public var image: (@Sendable (UInt32) -> UInt8)?
  public private(set) var writes: [Write] = []

  public init(base: ArrayExpr, image: (@Sendable (UInt32) -> UInt8)? = nil) {
    self.base = base
    self.image = image
  }

  public func byte(at address: BitVector) -> BitVector {
    var v: BitVector
    if let image, let a = address.simplified().literalValue {
      v = address.context.bitVector(UInt64(image(UInt32(a))), width: 8)
    } else if let displacement {
      v = base.select(address - displacement)
    } else {
      v = base.select(address)
    }
    for w in writes {
      let hit = w.address == address
      v = (w.condition.literalValue == true ? hit : w.condition && hit).ite(w.byte, v)
    }
    return v
  }

  public mutating func write(_ byte: BitVector, at address: BitVector, when condition: BoolExpr) {
    writes.append(Write(address: address, byte: byte, condition: condition))
  }
}
