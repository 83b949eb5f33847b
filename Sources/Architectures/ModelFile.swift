/// The one model-file loader (DESIGN.md decision 13): YAML read with Yams into nodes that keep
/// their line, and a reader that turns them into values while collecting every problem with
/// its file:line — a wrong key, a wrong type, a missing `source:` — instead of stopping at the
/// first. Each model (a VT-x configuration, a BT rule table, an architecture) is read with it.
import Foundation
import Yams

/// A node of a model file: a scalar, a mapping or a sequence, with its place.
public struct ModelNode: Sendable {
  public enum Value: Sendable {
    case scalar(String)
    case mapping([(key: String, keyLocation: ModelLocation, value: ModelNode)])
    case sequence([ModelNode])
  }

  public let value: Value
  public let location: ModelLocation

  /// The node's kind as a user reads it, for messages.
  public var kind: String {
    switch value {
    case .scalar: "a scalar"
    case .mapping: "a mapping"
    case .sequence: "a list"
    }
  }

  public var scalar: String? { if case .scalar(let s) = value { s } else { nil } }

  /// The value under `key`, if this is a mapping that has it.
  public subscript(key: String) -> ModelNode? {
    guard case .mapping(let pairs) = value else { return nil }
    return pairs.first { $0.key == key }?.value
  }

  /// A node made by a reader (a part of a scalar, say), at `location`.
  public init(value: Value, location: ModelLocation) {
    self.value = value
    self.location = location
  }

  init(_ node: Node, file: String) {
    location = ModelLocation(file: file, line: node.mark?.line)
    switch node {
    case .scalar(let s): value = .scalar(s.string)
    case .sequence(let s): value = .sequence(s.map { ModelNode($0, file: file) })
    case .mapping(let m):
      value = .mapping(
        m.map {
          (
            key: $0.key.string ?? "", keyLocation: ModelLocation(file: file, line: $0.key.mark?.line),
            value: ModelNode($0.value, file: file)
          )
        })
    case .alias: value = .scalar("")
    }
  }
}

/// A parsed model file.
public struct ModelFile: Sendable {
  public let path: String
  public let root: ModelNode

  /// Reads and parses `path`; a file that cannot be read or is not YAML is one problem.
  public static func load(_ path: String) throws(ModelProblems) -> ModelFile {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw ModelProblems(problems: [
        ModelProblem(ModelLocation(file: path), "cannot read the file (\(error.localizedDescription))")
      ])
    }
    return try ModelFile(text: text, path: path)
  }

  public init(text: String, path: String) throws(ModelProblems) {
    self.path = path
    do {
      guard let node = try Yams.compose(yaml: text) else {
        throw ModelProblems(problems: [ModelProblem(ModelLocation(file: path, line: 1), "the file is empty")])
      }
      root = ModelNode(node, file: path)
    } catch let e as ModelProblems {
      throw e
    } catch let e as YamlError {
      throw ModelProblems(problems: [Self.problem(e, path: path)])
    } catch {
      throw ModelProblems(problems: [ModelProblem(ModelLocation(file: path), "not YAML: \(error)")])
    }
  }

  static func problem(_ e: YamlError, path: String) -> ModelProblem {
    switch e {
    case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
      .composer(_, let problem, let mark, _):
      ModelProblem(ModelLocation(file: path, line: mark.line), "not valid YAML: \(problem)")
    case .duplicatedKeysInMapping(let keys, let context):
      ModelProblem(
        ModelLocation(file: path, line: context.mark.line), "duplicate key \(keys.joined(separator: ", "))")
    default: ModelProblem(ModelLocation(file: path), "not valid YAML: \(e)")
    }
  }
}

/// Reads values out of nodes, recording a problem (with the node's place) for each one that is
/// missing or malformed, so that a whole file's problems come out together.
public struct ModelReader {
  public private(set) var problems = ProblemCollector()

  public init() {}

  public mutating func report(_ location: ModelLocation, _ message: String) {
    problems.report(location, message)
  }

  /// The pairs of a mapping node, every key checked against `allowed` (an unknown key is a
  /// problem: a misspelt field must never be silently ignored).
  public mutating func mapping(_ node: ModelNode, _ what: String, allowed: Set<String>) -> [String:
    ModelNode]?
  {
    guard case .mapping(let pairs) = node.value else {
      report(node.location, "\(what) must be a mapping, not \(node.kind)")
      return nil
    }
    var out: [String: ModelNode] = [:]
    for p in pairs {
      if !allowed.contains(p.key) {
        report(
          p.keyLocation,
          "unknown key '\(p.key)' in \(what) (expected one of: \(allowed.sorted().joined(separator: ", ")))")
      } else {
        out[p.key] = p.value
      }
    }
    return out
  }

  public mutating func string(_ node: ModelNode?, _ what: String, in parent: ModelNode) -> String? {
    guard let node else {
      report(parent.location, "missing \(what)")
      return nil
    }
    guard let s = node.scalar, !s.isEmpty else {
      report(node.location, "\(what) must be a non-empty scalar, not \(node.kind)")
      return nil
    }
    return s
  }

  /// An unsigned number, decimal or 0x-hexadecimal, at most `maximum`.
  public mutating func number(_ node: ModelNode, _ what: String, maximum: UInt64 = UInt64(UInt32.max))
    -> UInt64?
  {
    guard let s = node.scalar else {
      report(node.location, "\(what) must be a number, not \(node.kind)")
      return nil
    }
    let text = s.replacingOccurrences(of: "_", with: "")
    let v = text.lowercased().hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    guard let v, v <= maximum else {
      report(
        node.location,
        "\(what): '\(s)' is not a number from 0 to 0x\(String(maximum, radix: 16, uppercase: true))")
      return nil
    }
    return v
  }

  public mutating func list(_ node: ModelNode, _ what: String) -> [ModelNode]? {
    guard case .sequence(let items) = node.value else {
      report(node.location, "\(what) must be a list, not \(node.kind)")
      return nil
    }
    return items
  }

  /// A list of names, each one of `names` (a problem names the place and the valid names).
  public mutating func names<T>(_ node: ModelNode, _ what: String, _ names: [String: T]) -> [T]? {
    guard let items = list(node, what) else { return nil }
    var out: [T] = []
    for item in items {
      guard let s = item.scalar, let v = names[s] else {
        report(
          item.location,
          "\(what): '\(item.scalar ?? item.kind)' is not one of \(names.keys.sorted().joined(separator: ", "))"
        )
        continue
      }
      out.append(v)
    }
    return out
  }

  /// Checks the file's `schema:` against the one this reader understands.
  public mutating func schema(_ root: ModelNode, expected: String) {
    guard let s = root["schema"] else {
      return report(root.location, "missing schema: (expected '\(expected)')")
    }
    if s.scalar != expected { report(s.location, "schema '\(s.scalar ?? s.kind)' is not '\(expected)'") }
  }

  /// Throws every problem recorded, if any.
  public func check() throws(ModelProblems) { try problems.check() }
}
