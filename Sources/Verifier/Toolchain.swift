/// The versions of the external references the Verifier uses, for reports.
import Z3

public enum Toolchain {
  /// The linked Z3 library's version.
  public static var z3Version: String { Z3Context.version }
}
