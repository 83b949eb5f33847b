/// Popek and Goldberg's "privileged" (CACM 1974, §3): an instruction form traps in every
/// user-mode state in which the model defines it, and does not trap in some supervisor-mode
/// state. Computed by Z3 from the one semantics (DESIGN.md decision 2): "traps" means the step
/// raises a fault or vectors through the IDT — the monitor owns the IDT, so either hands it
/// control. States the model does not cover (`SymbolicStep.modelled`) and model gaps are
/// excluded from every query, never counted as traps.
import ISAModel
import Z3

/// A query's answer.
public enum QueryAnswer {
  /// No state satisfies the query (Z3: unsat).
  case none
  /// A state that does, as Z3's model.
  case witness(Model)
  /// Z3 gave up within its resource limit, or the step read state it had changed.
  case unknown(String)
}

/// Whether a form is privileged, with the two queries it rests on.
public struct PrivilegeVerdict {
  public let instruction: Instruction
  /// A user-mode (CPL 3) state in which the instruction does not trap, if any.
  public let userRetires: QueryAnswer
  /// A supervisor-mode (CPL 0) state in which it does not trap, if any.
  public let supervisorRetires: QueryAnswer

  /// `nil` when a query's answer is unknown.
  public var privileged: Bool? {
    switch (userRetires, supervisorRetires) {
    case (.none, .witness): true
    case (.witness, _), (.none, .none): false
    default: nil
    }
  }
}

/// Runs classification queries over one Z3 context.
public final class PrivilegeClassifier {
  public let z3: Z3Context
  public let domain: TermDomain
  /// Z3's deterministic resource limit per query (`rlimit`): a busy machine cannot change an
  /// answer to `unknown`.
  public let resourceLimit: UInt32
  /// EFLAGS.IOPL assumed in every query (a guest kernel's usual 0 by default).
  public let iopl: UInt8

  public init(resourceLimit: UInt32 = 20_000_000, iopl: UInt8 = 0) throws {
    z3 = try Z3Context()
    domain = TermDomain(z3)
    self.resourceLimit = resourceLimit
    self.iopl = iopl
  }

  public func classify(_ i: Instruction) throws -> PrivilegeVerdict {
    PrivilegeVerdict(
      instruction: i, userRetires: try retiresWithoutTrap(i, cpl: 3),
      supervisorRetires: try retiresWithoutTrap(i, cpl: 0))
  }

  /// A state at `cpl` in which `i` retires without trapping, if one exists.
  public func retiresWithoutTrap(_ i: Instruction, cpl: UInt8) throws -> QueryAnswer {
    let length = try Encoder.encode(i).count
    let initial = SymbolicState.unconstrained(z3)
    let assumptions = StepAssumptions(cpl: cpl, iopl: iopl)
    let step = SymbolicStep(i, length: length, from: initial, assumptions: assumptions, domain: domain)
    if !step.staleReads.isEmpty {
      return .unknown("the semantics read \(step.staleReads.joined(separator: ", ")) after changing it")
    }
    let solver = Solver(z3)
    solver.assert(SymbolicStep.modelled(initial))
    solver.assert(SymbolicStep.assumptionsHold(assumptions, in: initial))
    solver.assert(step.retires)
    for d in step.deliveries { solver.assert(!d.condition) }
    switch try solver.check(limits: QueryLimits(resourceLimit: resourceLimit)) {
    case .sat(let model): return .witness(model)
    case .unsat: return .none
    case .unknown(let reason): return .unknown(reason)
    }
  }
}
