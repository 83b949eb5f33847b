/// Exceptions and the one step result (SDM Vol. 3A §6.3, Table 6-1; DESIGN.md decision 4).

/// An exception vector.
public enum Exception: UInt8, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
  case de = 0
  case db = 1
  case nmi = 2
  case bp = 3
  case of = 4
  case br = 5
  case ud = 6
  case nm = 7
  case df = 8
  case ts = 10
  case np = 11
  case ss = 12
  case gp = 13
  case pf = 14
  case mf = 16
  case ac = 17
  case mc = 18
  case xm = 19

  /// The mnemonic the SDM uses (#DE, #UD, #GP …).
  public var description: String {
    switch self {
    case .de: "#DE"
    case .db: "#DB"
    case .nmi: "NMI"
    case .bp: "#BP"
    case .of: "#OF"
    case .br: "#BR"
    case .ud: "#UD"
    case .nm: "#NM"
    case .df: "#DF"
    case .ts: "#TS"
    case .np: "#NP"
    case .ss: "#SS"
    case .gp: "#GP"
    case .pf: "#PF"
    case .mf: "#MF"
    case .ac: "#AC"
    case .mc: "#MC"
    case .xm: "#XM"
    }
  }

  /// Whether the exception pushes an error code (SDM Vol. 3A Table 6-1).
  public var hasErrorCode: Bool {
    switch self {
    case .df, .ts, .np, .ss, .gp, .pf, .ac: true
    default: false
    }
  }
}

/// An architectural fault: a vector and, where the vector has one, an error code.
public struct Fault: Hashable, Sendable, Codable, CustomStringConvertible {
  public var vector: Exception
  public var errorCode: UInt32?

  @inlinable public init(_ vector: Exception, errorCode: UInt32? = nil) {
    self.vector = vector
    self.errorCode = errorCode ?? (vector.hasErrorCode ? 0 : nil)
  }

  public var description: String {
    errorCode.map { "\(vector)(\($0))" } ?? vector.description
  }
}

/// What stops an instruction before it retires: an architectural fault, or something the model
/// does not implement (never reported as a fault).
public enum Interrupt: Error, Hashable, Sendable {
  case fault(Fault)
  /// VMX non-root operation left for the VMM (DESIGN.md decision 4).
  case vmExit(VMExit)
  case modelGap(String)
}

/// How one step ended.
public enum StepResult: Hashable, Sendable, Codable {
  case retired
  /// The instruction faulted (and, if the machine delivers exceptions, the fault was delivered).
  case fault(Fault)
  case halted
  /// In VMX non-root operation, the step ended in a VM exit.
  case vmExit(VMExit)
  /// A triple fault: the processor shut down.
  case shutdown
  case modelGap(String)
}
