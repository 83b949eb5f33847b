/// Popek and Goldberg's sensitivity (CACM 1974, §3), computed by Z3 from the one semantics:
/// control-sensitive (a non-trapping step changes the control state) and behaviour-sensitive
/// (two non-trapping states equal outside the control state end different outside it), each per
/// resource, with a witness. The definitions are written out in docs/popek-goldberg.md.
import Foundation
import ISAModel
import Z3

/// What a classification is computed under; every verdict states it.
public struct ClassificationAssumptions: Sendable, Hashable, Codable {
  /// The CPL user mode runs at, and the supervisor's (Popek and Goldberg's two modes).
  public var userCPL: UInt8 = 3
  public var supervisorCPL: UInt8 = 0
  /// The CPLs sensitivity queries range over.
  public var cpls: [UInt8] = [0, 1, 2, 3]
  /// EFLAGS.IOPL in every state (a guest kernel's usual 0).
  public var iopl: UInt8 = 0
  public var ownership: ControlOwnership = .classic
  /// Every byte a step touches lies below this physical address (the replaying machine's memory).
  public var memorySize: UInt64 = 1 << 24
  /// Sensitivity queries range over states with paging on as well as off. Off by default:
  /// symbolic page walks make the queries far slower, and paging changes no sensitivity verdict
  /// of an instruction that retires — a U/S or R/W check that fails traps (docs/popek-goldberg.md).
  public var pagingInSensitivityQueries = false
  /// Every data, stack and code segment's limit is at most this (a ring-1 monitor truncates
  /// the guest's segments below itself); nil: limits are free.
  public var segmentLimitCeiling: UInt32?
  /// Z3's deterministic resource limit per query (`rlimit`), so load cannot change an answer.
  public var resourceLimit: UInt32 = 20_000_000
  /// The guest runs in VMX non-root operation under these controls: exits trap, CR0 and CR4
  /// respect the bits VMX fixes, and linear addresses are physical (the VMM owns translation
  /// through shadow paging or EPT, checked by its exits) while CR0.PG is the 1 VMX forces.
  public var vmx: VMXNonRoot?

  public init() {}
}

/// Which way two states of a behaviour-sensitivity query differ.
public enum SensitivityKind: String, Sendable, Codable {
  /// In the mode: the CPL, flags and registers that set what an instruction may do.
  case mode
  /// In where the machine's memory and tables are (a relocation of segment and table bases,
  /// or a location resource's limits, attributes or selectors).
  case location
}

/// One resource's answer for one instruction.
public struct ResourceFinding {
  public let resource: ControlResource?
  /// For behaviour-sensitivity: mode or location; `resource` nil means the relocation itself.
  public let kind: SensitivityKind?
  public let answer: SensitivityAnswer
}

/// A query's answer with what a witness needs to be replayed.
public enum SensitivityAnswer {
  case none
  case witness(Witness)
  case unknown(String)

  public var isYes: Bool? {
    switch self {
    case .none: false
    case .witness: true
    case .unknown: nil
    }
  }
}

/// One query's solver time and answer (for the benchmark's per-query figures).
public struct QueryTiming: Sendable {
  public enum Outcome: String, Sendable { case sat, unsat, unknown }
  /// The instruction and the query, as `--emit-smt2` names its file.
  public var query: String
  public var duration: Duration
  public var outcome: Outcome
  public var seconds: Double { duration.seconds }
}

/// Runs the sensitivity and privilege queries over one Z3 context.
public final class SensitivityClassifier {
  public let z3: Z3Context
  public let domain: TermDomain
  public let assumptions: ClassificationAssumptions
  let partition: StatePartition
  /// Queries run, each with the solver time it took (for the benchmark), and queries answered
  /// without the solver (the terms were identical, or the same query was answered before).
  public private(set) var timings: [QueryTiming] = []
  public internal(set) var skipped = 0
  public var queries: Int { timings.count }
  /// When set, each query is written there as an SMT-LIB2 file before it is solved.
  public var smtDirectory: String?
  /// The instruction and query being asked, to name timings and files.
  var currentQuery = ""

  /// A state of free constants, with paging off unless the assumptions let it range (CR0.PG a
  /// literal 0 keeps the page walk out of the terms altogether).
  func freeState() -> SymbolicState {
    var s = Self.storedWidths(SymbolicState.unconstrained(z3))
    if !assumptions.pagingInSensitivityQueries && assumptions.vmx == nil {
      let k = SystemRegister.allCases.firstIndex(of: .cr0)!
      s.systemRegisters[k] = s.systemRegisters[k] & UInt64(~CR0.pg)
    }
    return s
  }

  /// Parts the machine stores in 16 bits (selectors, attributes, the GDTR and IDTR limits) cut
  /// to 16 bits, as `CPUState` holds them: a witness must be a state the engine can hold.
  static func storedWidths(_ s: SymbolicState) -> SymbolicState {
    var t = s
    func cut(_ c: SegmentCache<BitVector>) -> SegmentCache<BitVector> {
      SegmentCache(
        selector: c.selector & 0xFFFF, base: c.base, limit: c.limit, attributes: c.attributes & 0xFFFF)
    }
    t.segments = s.segments.map(cut)
    t.systemSegments = s.systemSegments.map(cut)
    for r in [SystemRegister.gdtrLimit, .idtrLimit] {
      let k = SystemRegister.allCases.firstIndex(of: r)!
      t.systemRegisters[k] = s.systemRegisters[k] & 0xFFFF
    }
    return t
  }

  public init(_ assumptions: ClassificationAssumptions = ClassificationAssumptions()) throws {
    z3 = try Z3Context()
    domain = TermDomain(z3)
    self.assumptions = assumptions
    partition = StatePartition(ownership: assumptions.ownership)
  }

  // MARK: Evaluations

  /// One symbolic evaluation of an instruction from a state, at a CPL (or at every CPL in the
  /// assumptions when the semantics never reads it).
  struct Evaluation {
    let step: SymbolicStep
    let cpl: UInt8?
  }

  /// Steps already evaluated, by instruction bytes, CPL and the ids of the state's terms. A row
  /// asks about the same free state once per query; the evaluation is deterministic (the same
  /// terms in give the same terms out), so the first one serves them all.
  private var steps: [StepKey: SymbolicStep] = [:]

  struct StepKey: Hashable {
    var bytes: [UInt8]
    var cpl: UInt8
    var state: [UInt32]
  }

  func evaluate(_ i: Instruction, from s: SymbolicState, cpl: UInt8) -> SymbolicStep {
    let bytes = (try? Encoder.encode(i)) ?? []
    let key = StepKey(bytes: bytes, cpl: cpl, state: s.termIDs)
    if let known = steps[key] { return known }
    let step = SymbolicStep(
      i, length: max(bytes.count, 1), from: s,
      assumptions: StepAssumptions(
        cpl: cpl, iopl: assumptions.iopl, vmx: assumptions.vmx, identityTranslation: assumptions.vmx != nil),
      domain: domain)
    steps[key] = step
    return step
  }

  /// The evaluations covering every CPL of the assumptions: one if the step never reads the CPL.
  func evaluations(_ i: Instruction, from s: SymbolicState, cpls: [UInt8]) -> [Evaluation] {
    let first = evaluate(i, from: s, cpl: cpls[0])
    guard first.readsCPL else { return [Evaluation(step: first, cpl: nil)] }
    return [Evaluation(step: first, cpl: cpls[0])]
      + cpls.dropFirst().map { Evaluation(step: evaluate(i, from: s, cpl: $0), cpl: $0) }
  }

  /// What every state of a query satisfies: modelled, running, at the evaluation's CPL (or one
  /// of `cpls`), the IOPL assumed, the code in memory, memory below the machine's size, and the
  /// step retiring without vectoring through the IDT.
  func precondition(_ e: Evaluation, bytes: [UInt8], cpls: [UInt8], retiring: Bool = true) -> BoolExpr {
    let s = e.step.initial
    let rpl = s.segments[Int(SegmentRegister.cs.rawValue)].selector & 3
    let cpl: BoolExpr =
      if let c = e.cpl { rpl == UInt64(c) } else { BoolExpr.any(cpls.map { rpl == UInt64($0) }) }
    // The order of the facts is the order Z3 meets them: kept, since it can move where an
    // rlimit falls (docs/verifier.md).
    var facts = [SymbolicStep.modelled(s), !s.halted, cpl, s.iopl == UInt64(assumptions.iopl)]
    if retiring { facts.append(e.step.retires) }
    facts += [e.step.codeInMemory(bytes), e.step.accessesBelow(assumptions.memorySize)]
    facts += e.step.deliveries.map { !$0.condition }
    if let vmx = assumptions.vmx {
      // A state VM entry accepts (SDM Vol. 3C §26.3.1.1): CR0 and CR4 within the fixed bits.
      let cr0 = StatePartition.register(s, .cr0)
      let cr4 = StatePartition.register(s, .cr4)
      let one0 = UInt64(vmx.cr0MustBeOne)
      let one4 = UInt64(vmx.capabilities.cr4Fixed0)
      facts += [
        (cr0 & one0) == one0, (cr0 & UInt64(~vmx.capabilities.cr0Fixed1)) == 0,
        (cr4 & one4) == one4, (cr4 & UInt64(~vmx.capabilities.cr4Fixed1)) == 0,
      ]
    } else if !assumptions.pagingInSensitivityQueries {
      facts.append(!StatePartition.register(s, .cr0).bit(31))
    }
    facts.append(Self.reachableCaches(s))
    // The machine a witness replays on keeps its local APIC at 0xFEE00000, enabled (the engine
    // calls a move of IA32_APIC_BASE a model gap).
    if let k = ModelSpecificRegister.all.firstIndex(where: { $0.index == 0x1B }) {
      let low = s.msrs[k].low
      facts.append((low & 0xFFFF_F000) == 0xFEE0_0000 && low.bit(11))
    }
    if let ceiling = assumptions.segmentLimitCeiling {
      facts += s.segments.map { $0.limit.unsignedLessOrEqual($0.limit.constant(UInt64(ceiling))) }
    }
    return BoolExpr.all(facts)
  }

  /// Descriptor caches as loads leave them (SDM Vol. 3A §5.4–5.6): CS a present code segment,
  /// SS a present writable data segment, the other four present code-or-data or not usable
  /// (P = 0); LDTR not usable or an LDT, TR a 32-bit TSS. Other caches no instruction can
  /// produce, so no verdict should rest on them.
  static func reachableCaches(_ s: SymbolicState) -> BoolExpr {
    func seg(_ x: SegmentRegister) -> BitVector { s.segments[Int(x.rawValue)].attributes }
    let cs = seg(.cs)
    let ss = seg(.ss)
    var facts = [cs.bit(7) && cs.bit(4) && cs.bit(3), ss.bit(7) && ss.bit(4) && !ss.bit(3) && ss.bit(1)]
    for x in [SegmentRegister.es, .ds, .fs, .gs] {
      let a = seg(x)
      // Code segments are loaded into data registers only when readable.
      facts.append(!a.bit(7) || (a.bit(4) && (!a.bit(3) || a.bit(1))))
    }
    let ldtr = s.systemSegments[Int(SystemSegment.ldtr.rawValue)].attributes
    let tr = s.systemSegments[Int(SystemSegment.tr.rawValue)].attributes
    facts.append(!ldtr.bit(7) || (ldtr & 0x1F) == 0x02)
    facts.append(tr.bit(7) && ((tr & 0x1F) == 0x09 || (tr & 0x1F) == 0x0B))
    // Descriptor tables do not wrap around 4 GiB (an IRETD witness whose GDT wrapped did not
    // replay: docs/verifier.md, "Next").
    for (base, limit) in [(SystemRegister.gdtrBase, SystemRegister.gdtrLimit), (.idtrBase, .idtrLimit)] {
      let b = StatePartition.register(s, base)
      facts.append(b.unsignedLessOrEqual(b + (StatePartition.register(s, limit) & 0xFFFF)))
    }
    let ldt = s.systemSegments[Int(SystemSegment.ldtr.rawValue)]
    facts.append(ldt.base.unsignedLessOrEqual(ldt.base + ldt.limit))
    return BoolExpr.all(facts)
  }

  /// Solves one query under the resource limit. A relocation query (two states whose memories
  /// sit a displacement apart) goes to Z3's general solver, whose array strategy decides it;
  /// every other query to the SMT core alone (tactic `smt`), faster where the general solver's
  /// preprocessing bit-blasts whole states (figures in docs/verifier.md, "Solving").
  func solve(_ facts: [BoolExpr], relocated: Bool = false) throws -> CheckResult {
    // The same facts again (a row's user-mode retires query, asked once to classify and once
    // for the theorem): the same answer, and the model is this context's.
    let key = QueryKey(facts: facts.map(\.termID), relocated: relocated)
    // An id is unique among live terms only: the entry keeps its facts alive, and they are
    // compared as terms.
    if let known = answers[key], known.facts.count == facts.count,
      zip(known.facts, facts).allSatisfy({ $0.isSameTerm(as: $1) })
    {
      skipped += 1
      return known.result
    }
    let result = try check(facts, relocated: relocated)
    answers[key] = (facts, result)
    return result
  }

  struct QueryKey: Hashable {
    var facts: [UInt32]
    var relocated: Bool
  }

  /// Answers already given in this context, by the ids of their facts.
  private var answers: [QueryKey: (facts: [BoolExpr], result: CheckResult)] = [:]

  private func check(_ facts: [BoolExpr], relocated: Bool) throws -> CheckResult {
    let solver = relocated ? Solver(z3) : try Solver(z3, tactic: "smt")
    for f in facts { solver.assert(f) }
    if let smtDirectory {
      let name = currentQuery.map { $0.isLetter || $0.isNumber ? $0 : "_" }
      try (solver.smtlib2 + "(check-sat)\n").write(
        toFile: "\(smtDirectory)/\(timings.count)-\(String(name)).smt2", atomically: true, encoding: .utf8)
    }
    let clock = ContinuousClock()
    let start = clock.now
    let result = try solver.check(limits: QueryLimits(resourceLimit: assumptions.resourceLimit))
    let outcome: QueryTiming.Outcome =
      switch result {
      case .sat: .sat
      case .unsat: .unsat
      case .unknown: .unknown
      }
    timings.append(QueryTiming(query: currentQuery, duration: clock.now - start, outcome: outcome))
    return result
  }

  // MARK: Control-sensitivity

  /// For each owned resource: a non-trapping state whose step changes it, if any.
  public func controlSensitivity(_ i: Instruction) throws -> [ResourceFinding] {
    let bytes = try Encoder.encode(i)
    let initial = freeState()
    let evaluations = evaluations(i, from: initial, cpls: assumptions.cpls)
    if let stale = evaluations.first(where: { !$0.step.staleReads.isEmpty }) {
      let why = "the semantics read \(stale.step.staleReads.joined(separator: ", ")) after changing it"
      return assumptions.ownership.resources.sorted().map {
        ResourceFinding(resource: $0, kind: nil, answer: .unknown(why))
      }
    }
    var findings: [ResourceFinding] = []
    // Every step moves EIP: where the code runs is asked by `codeLocationDependence` instead.
    for r in ControlResource.allCases where assumptions.ownership.owns(r) && r != .eip {
      var answer = SensitivityAnswer.none
      for e in evaluations {
        let changed: [BoolExpr]
        switch r {
        case .ports: changed = e.step.ports.map(\.condition)
        case .paging: changed = e.step.invalidatedPages.map(\.condition)
        default:
          changed = zip(partition.parts(r, of: e.step.initial), partition.parts(r, of: e.step.final))
            .compactMap {
              SymbolicPart.identical($0.1, $1.1) ? nil : SymbolicPart.differ($0.1, $1.1)
            }
        }
        if changed.isEmpty {
          skipped += 1
          continue
        }
        currentQuery = "\(i) control \(r.rawValue) cpl \(e.cpl.map(String.init) ?? "any")"
        switch try solve([precondition(e, bytes: bytes, cpls: assumptions.cpls), BoolExpr.any(changed)]) {
        case .sat(let model):
          answer = .witness(
            try Witness(model, steps: [e.step], cpls: [e.cpl], instruction: i))
        case .unsat: continue
        case .unknown(let why): answer = .unknown(why)
        }
        if case .witness = answer { break }
      }
      findings.append(ResourceFinding(resource: r, kind: nil, answer: answer))
    }
    return findings
  }

  // MARK: Behaviour-sensitivity

  /// Pairs of non-trapping states, equal outside the control state but in one mode resource, or
  /// relocated, that the step takes to states differing outside the control state.
  public func behaviourSensitivity(_ i: Instruction) throws -> [ResourceFinding] {
    let bytes = try Encoder.encode(i)
    var findings: [ResourceFinding] = []
    let owned = ControlResource.allCases.filter { assumptions.ownership.owns($0) && !$0.isEvent }
    for r in owned where !r.isLocation {
      findings.append(
        ResourceFinding(resource: r, kind: .mode, answer: try modeQuery(i, bytes: bytes, varying: r)))
    }
    // The relocation moves the segment and table bases: a question for a monitor that owns
    // them (a VMX guest holds its own, and its memory moves under EPT or shadow paging unseen).
    if assumptions.ownership.owns(.segmentCaches) {
      findings.append(
        ResourceFinding(
          resource: nil, kind: .location, answer: try locationQuery(i, bytes: bytes, varying: nil)))
    }
    for r in owned where r.isLocation && r != .eip {
      findings.append(
        ResourceFinding(resource: r, kind: .location, answer: try locationQuery(i, bytes: bytes, varying: r)))
    }
    return findings
  }

  /// A second state: `s` with the parts of `r` replaced by fresh constants (`name.2`).
  func varied(_ s: SymbolicState, _ r: ControlResource) -> SymbolicState {
    var t = s
    func word(_ name: String) -> BitVector { z3.bitVectorConstant("\(name).2", width: 32) }
    func register(_ x: SystemRegister, keep: UInt32 = 0) {
      let k = SystemRegister.allCases.firstIndex(of: x)!
      t.systemRegisters[k] = (s.systemRegisters[k] & UInt64(keep)) | (word(x.name) & UInt64(~keep))
    }
    func flag(_ f: Flag) {
      t.flags[Flag.allCases.firstIndex(of: f)!] = z3.boolConstant("\(f.name.lowercased()).2")
    }
    let own = assumptions.ownership
    // Under identity translation the paging bits translate nothing: they vary like the others.
    let translation = assumptions.vmx == nil
    switch r {
    case .cr0: register(.cr0, keep: (translation ? TranslationBits.cr0 : 0) | ~own.cr0Mask)
    case .cr4: register(.cr4, keep: (translation ? TranslationBits.cr4 : 0) | ~own.cr4Mask)
    case .cr2: register(.cr2)
    case .cr3: register(.cr3)
    case .debugRegisters: for x in [SystemRegister.dr0, .dr1, .dr2, .dr3, .dr6, .dr7] { register(x) }
    case .interruptFlag: flag(.if)
    case .systemFlags: for f in StatePartition.systemFlags { flag(f) }
    case .msrs:
      for (k, m) in ModelSpecificRegister.all.enumerated() where m.kind != .timeStampCounter && own.ownsMSR(m)
      {
        t.msrs[k] = (word("\(m.name).low"), word("\(m.name).high"))
      }
    case .tsc: t.timeStampCounter = (word("tsc.low"), word("tsc.high"))
    case .activity: t.halted = z3.boolConstant("halted.2")
    case .interruptShadow: t.interruptsInhibited = z3.boolConstant("interrupts.inhibited.2")
    case .iopl: t.iopl = word("iopl")
    case .segmentCaches:
      for x in SegmentRegister.allCases {
        let k = Int(x.rawValue)
        t.segments[k].limit = word("\(x.name).limit")
        t.segments[k].attributes = word("\(x.name).attributes")
      }
    case .descriptorTables:
      register(.gdtrLimit)
      register(.idtrLimit)
    case .ldtr, .tr:
      let k = Int((r == .ldtr ? SystemSegment.ldtr : .tr).rawValue)
      let n = r.rawValue
      t.systemSegments[k].selector = word("\(n).selector")
      t.systemSegments[k].limit = word("\(n).limit")
      t.systemSegments[k].attributes = word("\(n).attributes")
    case .cpl, .eip, .paging, .ports: break
    }
    return Self.storedWidths(t)
  }

  /// Both states' visible parts after the step are the same terms, memory writes included:
  /// equal in every pair, no query needed. Relocated, the second state's write addresses are
  /// compared less the displacement, which Z3's simplifier cancels for a step that only moves
  /// with its segments; the memories then agree byte for byte through the relocation (the
  /// untouched bytes are the same array).
  func identicallyVisible(_ a: SymbolicStep, _ b: SymbolicStep, displacement: BitVector?) -> Bool {
    let pa = partition.visibleParts(of: a.final)
    let pb = partition.visibleParts(of: b.final)
    guard zip(pa, pb).allSatisfy({ SymbolicPart.identical($0.1, $1.1) }) else { return false }
    let wa = a.final.memory.writes
    let wb = b.final.memory.writes
    return wa.count == wb.count
      && zip(wa, wb).allSatisfy { x, y in
        SymbolicPart.identical(.word(x.address), .word(displacement.map { y.address - $0 } ?? y.address))
          && SymbolicPart.identical(.word(x.byte), .word(y.byte))
          && SymbolicPart.identical(.truth(x.condition), .truth(y.condition))
      }
  }

  /// The two steps end differing outside the control state (memory compared through the
  /// relocation: byte a of the first is byte a + displacement of the second).
  func visiblyDiffer(_ a: SymbolicStep, _ b: SymbolicStep, displacement: BitVector?) -> BoolExpr {
    let pa = partition.visibleParts(of: a.final)
    let pb = partition.visibleParts(of: b.final)
    let probe = z3.bitVectorConstant("probe", width: 32)
    let moved = displacement.map { probe + $0 } ?? probe
    let memory = a.final.memory.byte(at: probe) != b.final.memory.byte(at: moved)
    return BoolExpr.any(zip(pa, pb).map { SymbolicPart.differ($0.1, $1.1) } + [memory])
  }

  func pairQuery(
    _ i: Instruction, bytes: [UInt8], _ a: Evaluation, _ b: Evaluation, displacement: BitVector?,
    extra: [BoolExpr] = [], queryName: String
  ) throws -> SensitivityAnswer {
    for e in [a, b] where !e.step.staleReads.isEmpty {
      return .unknown("the semantics read \(e.step.staleReads.joined(separator: ", ")) after changing it")
    }
    if identicallyVisible(a.step, b.step, displacement: displacement) {
      skipped += 1
      return .none
    }
    let cpls = assumptions.cpls
    currentQuery =
      "\(i) \(queryName) cpl \(a.cpl.map(String.init) ?? "any")/\(b.cpl.map(String.init) ?? "any")"
    let facts =
      [
        precondition(a, bytes: bytes, cpls: cpls), precondition(b, bytes: bytes, cpls: cpls),
        visiblyDiffer(a.step, b.step, displacement: displacement),
      ] + extra
    switch try solve(facts, relocated: displacement != nil) {
    case .sat(let model):
      return .witness(
        try Witness(
          model, steps: [a.step, b.step], cpls: [a.cpl, b.cpl], instruction: i,
          displacement: displacement))
    case .unsat: return .none
    case .unknown(let why): return .unknown(why)
    }
  }

  func modeQuery(_ i: Instruction, bytes: [UInt8], varying r: ControlResource) throws -> SensitivityAnswer {
    let s = freeState()
    let cpls = assumptions.cpls
    if r == .cpl {
      // Two CPLs over one state: CS's and SS's RPL differ, nothing else.
      let probe = evaluate(i, from: s, cpl: cpls[0])
      var t = s
      for x in [SegmentRegister.cs, .ss] {
        let k = Int(x.rawValue)
        t.segments[k].selector =
          (s.segments[k].selector & 0xFFFC) | (z3.bitVectorConstant("\(x.name).rpl.2", width: 32) & 3)
      }
      var sawUnknown: String?
      for (m, a) in cpls.enumerated() {
        for b in cpls[(m + 1)...] {
          let ea = Evaluation(step: probe.readsCPL ? evaluate(i, from: s, cpl: a) : probe, cpl: a)
          let eb = Evaluation(step: evaluate(i, from: t, cpl: b), cpl: b)
          switch try pairQuery(i, bytes: bytes, ea, eb, displacement: nil, queryName: "mode cpl") {
          case .witness(let w): return .witness(w)
          case .unknown(let why): sawUnknown = why
          case .none: break
          }
        }
      }
      return sawUnknown.map { .unknown($0) } ?? .none
    }
    let t = varied(s, r)
    var sawUnknown: String?
    for a in evaluations(i, from: s, cpls: cpls) {
      let b = Evaluation(step: evaluate(i, from: t, cpl: a.cpl ?? cpls[0]), cpl: a.cpl)
      // The states share CS: at an unread CPL both range over the CPLs, the same one in each.
      switch try pairQuery(i, bytes: bytes, a, b, displacement: nil, queryName: "mode \(r.rawValue)") {
      case .witness(let w): return .witness(w)
      case .unknown(let why): sawUnknown = why
      case .none: break
      }
    }
    return sawUnknown.map { .unknown($0) } ?? .none
  }

  /// A location query: the second state relocated — memory and every segment and table base
  /// but CS's (the model covers CS based at 0 only) moved by one displacement — and, for a
  /// resource, its other parts (limits, attributes, selectors, CR3) free. Paging is off in both:
  /// two page-table layouts presenting the same memory are a relocation this query does not
  /// build (docs/popek-goldberg.md).
  func locationQuery(_ i: Instruction, bytes: [UInt8], varying r: ControlResource?) throws
    -> SensitivityAnswer
  {
    let s = freeState()
    var t = r.map { varied(s, $0) } ?? s
    let displacement: BitVector? = r == nil ? z3.bitVectorConstant("displacement", width: 32) : nil
    if let displacement {
      for x in SegmentRegister.allCases where x != .cs {
        t.segments[Int(x.rawValue)].base = s.segments[Int(x.rawValue)].base + displacement
      }
      for k in t.systemSegments.indices { t.systemSegments[k].base = s.systemSegments[k].base + displacement }
      for x in [SystemRegister.gdtrBase, .idtrBase] {
        let k = SystemRegister.allCases.firstIndex(of: x)!
        t.systemRegisters[k] = s.systemRegisters[k] + displacement
      }
      t.memory.displacement = displacement
    }
    let pagingOff =
      assumptions.vmx == nil
      ? [!StatePartition.register(s, .cr0).bit(31), !StatePartition.register(t, .cr0).bit(31)] : []
    var sawUnknown: String?
    for a in evaluations(i, from: s, cpls: assumptions.cpls) {
      let b = Evaluation(step: evaluate(i, from: t, cpl: a.cpl ?? assumptions.cpls[0]), cpl: a.cpl)
      switch try pairQuery(
        i, bytes: bytes, a, b, displacement: displacement,
        extra: pagingOff,
        queryName: "location \(r?.rawValue ?? "relocation")")
      {
      case .witness(let w): return .witness(w)
      case .unknown(let why): sawUnknown = why
      case .none: break
      }
    }
    return sawUnknown.map { .unknown($0) } ?? .none
  }
}
