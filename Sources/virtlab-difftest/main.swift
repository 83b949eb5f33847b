// `make difftest N=…`: the engine against unicorn on N seeded cases (release build), the long
// form of ExecEngineTests' DifferentialTests. Prints every mismatch with its seed; exits 1 on any.
import Foundation
import ISATestSupport

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) : 100_000
let first = arguments.count > 2 ? UInt64(arguments[2]) : 0xD1FF_0000_0000
guard let count, let first, count > 0 else {
  FileHandle.standardError.write(Data("usage: virtlab-difftest [CASES] [FIRST-SEED]\n".utf8))
  exit(64)
}
let runner = try DifferentialRunner()
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
