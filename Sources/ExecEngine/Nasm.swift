/// Assembles guest programs with nasm (DESIGN.md decision 11: guests are real nasm code).
import Foundation

public enum Nasm {
  public struct Failure: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
  }

  /// The nasm on PATH, if any.
  public static var executable: URL? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
      let url = URL(fileURLWithPath: String(dir)).appendingPathComponent("nasm")
      if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return nil
  }

  /// nasm's version, e.g. "2.16.01".
  public static var version: String? {
    guard let out = try? run(["-v"]).output else { return nil }
    // "NASM version 2.16.01"
    let words = out.split(separator: " ")
    guard let i = words.firstIndex(of: "version"), i + 1 < words.count else { return nil }
    return String(words[i + 1]).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// Assembles `source` (a path) as a flat binary (`-f bin`); nasm's messages name the file and line.
  public static func assemble(file source: URL) throws(Failure) -> [UInt8] {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent(
      "virtlab-\(UUID().uuidString).bin")
    defer { try? FileManager.default.removeItem(at: out) }
    // Includes resolve next to the source (models/guests/lib/kernel.inc).
    let result = try run([
      "-f", "bin", "-I", source.deletingLastPathComponent().path + "/", "-o", out.path, source.path,
    ])
    guard result.status == 0 else {
      throw Failure(message: result.errors.isEmpty ? "nasm failed on \(source.path)" : result.errors)
    }
    guard let data = FileManager.default.contents(atPath: out.path) else {
      throw Failure(message: "nasm produced no output for \(source.path)")
    }
    return [UInt8](data)
  }

  /// Assembles source text (written to a temporary file first).
  public static func assemble(source: String) throws(Failure) -> [UInt8] {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "virtlab-\(UUID().uuidString).asm")
    defer { try? FileManager.default.removeItem(at: file) }
    do {
      try source.write(to: file, atomically: true, encoding: .utf8)
    } catch {
      throw Failure(message: "cannot write a temporary file: \(error)")
    }
    return try assemble(file: file)
  }

  static func run(_ arguments: [String]) throws(Failure) -> (status: Int32, output: String, errors: String) {
    guard let exe = executable else {
      throw Failure(message: "nasm is not installed (scripts/setup installs it)")
    }
    let p = Process()
    p.executableURL = exe
    p.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    do {
      try p.run()
    } catch {
      throw Failure(message: "cannot run nasm: \(error)")
    }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }
}
