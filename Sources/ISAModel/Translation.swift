/// A binary translator's rule table (Adams and Agesen, ASPLOS 2006, §3): for each instruction,
/// whether guest kernel code is copied into the translation cache unchanged, rewritten (its
/// effect depends on where the code runs: control flow, return addresses), or replaced by a
/// callout into the monitor (sensitive). The table is the monitor's declared policy, data the
/// Verifier checks against the computed classification and the BT monitor will use as is.

public enum TranslationClass: String, CaseIterable, Codable, Sendable, Comparable {
  /// Copied unchanged (IDENT).
  case ident
  /// Rewritten: relative and indirect control flow, CALL's return address, RET.
  case rewrite
  /// Replaced by a call into the monitor, which emulates it.
  case callout

  public static func < (a: Self, b: Self) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }
}

public struct TranslationRules: Codable, Sendable, Hashable {
  public var name: String
  public var source: String
  /// The class of each mnemonic (`String(describing:)` of `Mnemonic`: `jcc`, `movControl`).
  public var mnemonics: [String: TranslationClass]
  /// Per form (its opcode text, as `FormSpec.opcode` prints it), overriding the mnemonic's.
  public var forms: [String: TranslationClass]
  /// The class of an instruction no rule names; nil: such an instruction is a missing rule.
  public var fallback: TranslationClass?

  public init(
    name: String, source: String, mnemonics: [String: TranslationClass],
    forms: [String: TranslationClass] = [:],
    fallback: TranslationClass? = nil
  ) {
    self.name = name
    self.source = source
    self.mnemonics = mnemonics
    self.forms = forms
    self.fallback = fallback
  }

  /// The class the table gives `i`, or nil when no rule covers it.
  public func rule(for i: Instruction) -> TranslationClass? {
    forms[i.form.spec.opcode] ?? mnemonics[String(describing: i.mnemonic)] ?? fallback
  }
}
