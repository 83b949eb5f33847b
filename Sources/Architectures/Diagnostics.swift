/// Problems found in a model file or declaration, each with its place (DESIGN.md decision 6):
/// validators collect every problem and report them together, never stopping at the first.

/// A place in a model: a file and a 1-based line, or a built-in declaration's name.
public struct ModelLocation: Hashable, Sendable, CustomStringConvertible {
  public let file: String
  public let line: Int?

  public init(file: String, line: Int? = nil) {
    self.file = file
    self.line = line
  }

  public var description: String { line.map { "\(file):\($0)" } ?? file }
}

/// One problem and where it is.
public struct ModelProblem: Hashable, Sendable, CustomStringConvertible {
  public let location: ModelLocation
  public let message: String

  public init(_ location: ModelLocation, _ message: String) {
    self.location = location
    self.message = message
  }

  public var description: String { "\(location): error: \(message)" }
}

/// Every problem of a validation, thrown together.
public struct ModelProblems: Error, Sendable, CustomStringConvertible {
  public let problems: [ModelProblem]
  public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Collects problems while a validator walks a model, then throws them all at once.
public struct ProblemCollector: Sendable {
  public private(set) var problems: [ModelProblem] = []

  public init() {}

  public mutating func report(_ location: ModelLocation, _ message: String) {
    problems.append(ModelProblem(location, message))
  }

  /// Throws every collected problem, ordered by place, if there are any.
  public func check() throws(ModelProblems) {
    guard !problems.isEmpty else { return }
    throw ModelProblems(
      problems: problems.sorted {
        ($0.location.file, $0.location.line ?? 0) < ($1.location.file, $1.location.line ?? 0)
      })
  }
}

/// Where a fact comes from: one line naming the paper, manual section or header.
public struct Citation: Hashable, Sendable, CustomStringConvertible {
  public let text: String
  public init(_ text: String) { self.text = text }
  public var description: String { text }
}
