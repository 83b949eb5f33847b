// `make difftest N=…`: the engine against unicorn on N seeded cases (release build), the long
// form of ExecEngineTests' DifferentialTests. Prints every mismatch with its seed; exits 1 on any.
import Foundation
import ISAModel
import ISATestSupport

var arguments = CommandLine.arguments
// `--system`: the system instructions at CPL 0 instead of the user-level ones.
let scope: DifferentialRunner.Scope = arguments.contains("--system") ? .system : .user
arguments.removeAll { $0 == "--system" }
// `virtlab-difftest show SEED`: the case a seed stands for, without running it.
if arguments.count == 3, arguments[1] == "show", let seed = UInt64(arguments[2]) {
  let runner = try DifferentialRunner(scope: scope)
  let c = try runner.makeCase(seed: seed)
  let bytes = try Encoder.encode(c.instruction).map { String($0, radix: 16) }.joined(separator: " ")
  print("seed \(seed): \(c.instruction) [\(bytes)]")
  print("registers: " + c.registers.map { String($0, radix: 16) }.joined(separator: " "))
  print("eflags: " + String(c.eflags, radix: 16))
  if let sys = c.system {
    print(SystemRegister.allCases.map { "\($0.name)=\(String(sys[$0], radix: 16))" }.joined(separator: " "))
  }
  exit(0)
}
let count = arguments.count > 1 ? Int(arguments[1]) : 100_000
let first = arguments.count > 2 ? UInt64(arguments[2]) : 0xD1FF_0000_0000
guard let count, let first, count > 0 else {
  FileHandle.standardError.write(
    Data("usage: virtlab-difftest [--system] [CASES] [FIRST-SEED] | [--system] show SEED\n".utf8))
  exit(64)
}
let runner = try DifferentialRunner(scope: scope)
var failures = 0
let start = Date()
for k in 0..<count {
  for line in try runner.run(seed: first &+ UInt64(k)) {
    print(line)
    failures += 1
  }
}
let seconds = Date().timeIntervalSince(start)
print("\(count - failures) passed, \(failures) failed")
print(
  String(
    format: "difftest: %d cases from seed %llu in %.1f s (%.0f cases/s)", count, first, seconds,
    Double(count) / seconds))
exit(failures == 0 ? 0 : 1)
