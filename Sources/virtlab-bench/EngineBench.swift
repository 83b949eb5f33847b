import ExecEngine
import Foundation

/// Guest MIPS of the native engine on the bench guests.
func engineBench(guests: [String]) throws -> [(
  name: String, instructions: UInt64, seconds: Double, eax: UInt32
)] {
  try guests.map { name in
    let binary = try Nasm.assemble(file: URL(fileURLWithPath: "models/guests/\(name).asm"))
    let m = try Loader.machine(flat: binary)
    let start = DispatchTime.now().uptimeNanoseconds
    let out = m.run(budget: 2_000_000_000)
    let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    guard out.reason == .halted else {
      throw LoadError(message: "\(name) stopped with \(out.reason) at \(String(out.eip, radix: 16))")
    }
    return (name, out.instructionsRetired, t, m.state[.eax])
  }
}
