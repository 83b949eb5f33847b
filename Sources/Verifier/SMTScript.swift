/// Runs SMT-LIB2 scripts (SMT-LIB v2.6 §3, commands) through Z3's interpreter one top-level
/// command at a time, so each answer, model and error is tied to the command and the line
/// that produced it.
import Z3

extension SMTScript {
  /// One top-level command of a script and where it starts (1-based line and column).
  public struct Command: Sendable, Equatable {
    public let text: String
    public let line: Int
    public let column: Int
    /// The command's head symbol: `check-sat`, `assert`, `declare-const`, ….
    public var name: String {
      let body = text.dropFirst().drop { $0.isWhitespace }
      return String(body.prefix { !$0.isWhitespace && $0 != "(" && $0 != ")" })
    }
  }
}

/// A script the reader cannot split into commands: unbalanced parentheses, an unterminated
/// string or quoted symbol, or text outside any command.
public struct SMTScriptError: Error, CustomStringConvertible, Sendable, Equatable {
  public let line: Int
  public let column: Int
  public let message: String
  public var description: String { "line \(line) column \(column): \(message)" }

  public init(line: Int, column: Int, message: String) {
    self.line = line
    self.column = column
    self.message = message
  }
}

/// What one command did.
public struct SMTOutcome: Sendable, Equatable {
  public enum Answer: String, Sendable, Codable { case sat, unsat, unknown }

  public let command: SMTScript.Command
  /// What Z3 printed, with error positions rewritten to the script's own lines.
  public let output: String
  /// The answer of a `check-sat` (or `check-sat-assuming`).
  public let answer: Answer?
  /// The model after a `sat` answer, when models were asked for.
  public let model: String?
  /// Z3's error for this command, positioned in the script; `nil` if it ran cleanly.
  public let error: String?
}

/// A parsed SMT-LIB2 script, ready to run.
public struct SMTScript: Sendable {
  public let commands: [SMTScript.Command]

  /// Splits `text` into top-level commands, honouring `;` comments, `"…"` strings (with `""`
  /// escapes) and `|…|` quoted symbols.
  public init(_ text: String) throws(SMTScriptError) {
    var commands: [SMTScript.Command] = []
    var depth = 0
    var line = 1
    var column = 0
    var start: (index: String.Index, line: Int, column: Int)?
    var open: [(line: Int, column: Int)] = []
    var i = text.startIndex
    func advance(_ c: Character) {
      if c == "\n" {
        line += 1
        column = 0
      } else {
        column += 1
      }
    }
    while i < text.endIndex {
      let c = text[i]
      advance(c)
      switch c {
      case ";":
        while let n = text.index(i, offsetBy: 1, limitedBy: text.endIndex), n < text.endIndex, text[n] != "\n"
        {
          i = n
          advance(text[n])
        }
      case "\"", "|":
        let (l0, c0) = (line, column)
        var closed = false
        while let n = text.index(i, offsetBy: 1, limitedBy: text.endIndex), n < text.endIndex {
          i = n
          advance(text[n])
          if text[n] == c {
            // In strings a doubled quote is an escaped quote.
            if c == "\"", let m = text.index(n, offsetBy: 1, limitedBy: text.endIndex), m < text.endIndex,
              text[m] == "\""
            {
              i = m
              advance(text[m])
              continue
            }
            closed = true
            break
          }
        }
        guard closed else {
          throw SMTScriptError(
            line: l0, column: c0, message: c == "\"" ? "unterminated string" : "unterminated quoted symbol")
        }
        if depth == 0 {
          throw SMTScriptError(line: l0, column: c0, message: "text outside a command")
        }
      case "(":
        if depth == 0 { start = (i, line, column) }
        open.append((line, column))
        depth += 1
      case ")":
        guard depth > 0, let s = start else {
          throw SMTScriptError(line: line, column: column, message: "unexpected ')'")
        }
        depth -= 1
        open.removeLast()
        if depth == 0 {
          commands.append(SMTScript.Command(text: String(text[s.index...i]), line: s.line, column: s.column))
          start = nil
        }
      default:
        if depth == 0 && !c.isWhitespace {
          throw SMTScriptError(line: line, column: column, message: "text outside a command: '\(c)'")
        }
      }
      i = text.index(after: i)
    }
    if let o = open.last {
      throw SMTScriptError(line: o.line, column: o.column, message: "'(' is never closed")
    }
    self.commands = commands
  }

  /// Runs every command in one fresh Z3 interpreter, as the z3 command does (it goes on after
  /// an error). With `models`, a `sat` answer is followed by the model.
  public func run(models: Bool = false) throws -> [SMTOutcome] {
    let z3 = try Z3Context()
    return try commands.map { command in
      let raw = try z3.evaluateSMTLIB2(command.text)
      let output = Self.reposition(raw, to: command)
      let error = Self.firstError(in: output)
      let first = output.split(separator: "\n").first.map(String.init)
      let isCheck = command.name == "check-sat" || command.name == "check-sat-assuming"
      let answer = isCheck && error == nil ? first.flatMap(SMTOutcome.Answer.init(rawValue:)) : nil
      var model: String?
      if models, answer == .sat {
        model = try z3.evaluateSMTLIB2("(get-model)")
      }
      return SMTOutcome(command: command, output: output, answer: answer, model: model, error: error)
    }
  }

  /// Z3 numbers lines and columns from the start of the text it was given, here one command;
  /// shift them to the script's own.
  static func reposition(_ output: String, to command: SMTScript.Command) -> String {
    var result = ""
    var rest = Substring(output)
    while let r = rest.firstRange(of: "(error \"line ") {
      result += rest[..<r.upperBound]
      rest = rest[r.upperBound...]
      let lineDigits = rest.prefix { $0.isNumber }
      let afterLine = rest.dropFirst(lineDigits.count)
      guard let l = Int(lineDigits), afterLine.hasPrefix(" column ") else { continue }
      let colPart = afterLine.dropFirst(" column ".count)
      let colDigits = colPart.prefix { $0.isNumber }
      guard let c = Int(colDigits) else { continue }
      let line = command.line + l - 1
      let column = l == 1 ? command.column + c - 1 : c
      result += "\(line) column \(column)"
      rest = colPart.dropFirst(colDigits.count)
    }
    return result + rest
  }

  /// The message of the first `(error "…")` in `output`.
  static func firstError(in output: String) -> String? {
    guard let r = output.firstRange(of: "(error \"") else { return nil }
    let rest = output[r.upperBound...]
    guard let end = rest.firstRange(of: "\")") else { return String(rest) }
    return String(rest[..<end.lowerBound])
  }
}
