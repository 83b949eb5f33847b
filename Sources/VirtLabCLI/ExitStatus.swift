/// The one exit-code table every `virtlab` subcommand shares (docs/cli.md).
/// 64, 69 and 70 follow BSD sysexits.h (EX_USAGE, EX_UNAVAILABLE, EX_SOFTWARE); 64 is also what
/// swift-argument-parser returns for a bad option, so usage errors agree everywhere.
public enum ExitStatus: Int32, CaseIterable, Sendable {
  case success = 0
  /// A property was refuted: a proof failed, an equivalence check diverged.
  case propertyFails = 1
  /// The guest ended in an architectural fault or a shutdown (triple fault).
  case guestFault = 2
  /// An instruction budget ran out, or a solver limit left a query `unknown`.
  case budgetExhausted = 3
  /// The guest needed something the model does not implement.
  case modelGap = 4
  /// Bad usage or bad input: an option, a missing or malformed file.
  case inputError = 64
  /// The subcommand exists but its issue has not landed yet.
  case notAvailable = 69
  /// A bug in VirtLab itself.
  case internalError = 70

  /// The stable name used in JSON reports.
  public var name: String {
    switch self {
    case .success: "success"
    case .propertyFails: "property-fails"
    case .guestFault: "guest-fault"
    case .budgetExhausted: "budget-exhausted"
    case .modelGap: "model-gap"
    case .inputError: "input-error"
    case .notAvailable: "not-available"
    case .internalError: "internal-error"
    }
  }

  /// One line for `--help` and docs.
  public var meaning: String {
    switch self {
    case .success: "success"
    case .propertyFails: "a property fails (proof refuted, runs diverge)"
    case .guestFault: "the guest faulted or shut down"
    case .budgetExhausted: "an instruction budget or solver limit ran out"
    case .modelGap: "the guest needs something the model lacks"
    case .inputError: "usage or input error"
    case .notAvailable: "subcommand not available yet"
    case .internalError: "internal error in virtlab"
    }
  }

  /// The table as text, for `virtlab --help`.
  static var table: String {
    allCases.map { "  \(String($0.rawValue).padding(3))\($0.meaning)" }.joined(separator: "\n")
  }
}

extension String {
  func padding(_ width: Int) -> String {
    count >= width ? self + " " : self + String(repeating: " ", count: width - count)
  }
}
