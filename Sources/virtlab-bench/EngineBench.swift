import ExecEngine
import Foundation

struct EngineResult {
  let name: String
  let instructions: UInt64
  let seconds: Double
  /// The engine's best time with eager flags (computed after every instruction).
  let eagerSeconds: Double
  /// The engine's best time with every instruction through `Semantics.execute` (no fixed shapes).
  let generalSeconds: Double
  let eax: UInt32
  /// unicorn's best time on the same binary, and its EAX, when the peer could run.
  let peer: (seconds: Double, eax: UInt32, version: String)?
}

/// Guest MIPS of the native engine on the bench guests (best of `repeats`), and of unicorn
/// (PyPI, through scripts/unicorn-bench.py with the interpreter in $VIRTLAB_PYTHON) on the
/// same binaries in the same run.
func engineBench(guests: [String], repeats: Int = 3) throws -> [EngineResult] {
  try guests.map { name in
    let binary = try Nasm.assemble(file: URL(fileURLWithPath: "models/guests/\(name).asm"))
    var best = Double.infinity
    var eager = Double.infinity
    var general = Double.infinity
    var instructions: UInt64 = 0
    var eax: UInt32 = 0
    var stop: UInt32 = 0
    // Interleaved: lazy flags with fixed shapes (the default), eager flags, the general path.
    for round in 0..<(3 * repeats) {
      let m = try Loader.machine(flat: binary)
      m.flagEvaluation = round % 3 == 1 ? .eager : .lazy
      m.fixedShapes = round % 3 != 2
      let start = DispatchTime.now().uptimeNanoseconds
      let out = m.run(budget: 2_000_000_000)
      let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      switch round % 3 {
      case 0: best = min(best, t)
      case 1: eager = min(eager, t)
      default: general = min(general, t)
      }
      guard out.reason == .halted else {
        throw LoadError(message: "\(name) stopped with \(out.reason) at \(String(out.eip, radix: 16))")
      }
      instructions = out.instructionsRetired
      eax = m.state[.eax]
      stop = out.eip &- 1  // the HLT
    }
    return EngineResult(
      name: name, instructions: instructions, seconds: best, eagerSeconds: eager, generalSeconds: general,
      eax: eax,
      peer: unicornPeer(binary, stop: stop, repeats: repeats))
  }
}

func unicornPeer(_ binary: [UInt8], stop: UInt32, repeats: Int) -> (
  seconds: Double, eax: UInt32, version: String
)? {
  guard let python = ProcessInfo.processInfo.environment["VIRTLAB_PYTHON"] else { return nil }
  let file = FileManager.default.temporaryDirectory.appendingPathComponent(
    "virtlab-bench-\(UUID().uuidString).bin")
  defer { try? FileManager.default.removeItem(at: file) }
  guard (try? Data(binary).write(to: file)) != nil else { return nil }
  let p = Process()
  p.executableURL = URL(fileURLWithPath: python)
  p.arguments = ["scripts/unicorn-bench.py", file.path, "0x" + String(stop, radix: 16), String(repeats)]
  let out = Pipe()
  p.standardOutput = out
  guard (try? p.run()) != nil else { return nil }
  let data = out.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  let words = String(decoding: data, as: UTF8.self).split(separator: " ")
  guard p.terminationStatus == 0, words.count == 3, let s = Double(words[0]),
    let e = UInt32(words[1], radix: 16)
  else {
    return nil
  }
  return (s, e, words[2].trimmingCharacters(in: .whitespacesAndNewlines))
}
