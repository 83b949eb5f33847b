// `make bench`: performance figures, each against a peer measured in the same run.
// `virtlab-bench [engine] [z3]` runs a part; no argument runs all.
import Foundation

let parts = Set(CommandLine.arguments.dropFirst())
let all = parts.isEmpty
var failed = false

if all || parts.contains("engine") {
  for r in try engineBench(guests: ["mix", "callret"]) {
    print(
      String(
        format: "engine %-8@ %7.1f guest MIPS  (%llu instructions in %.3f s, eax=%08x)", r.name,
        Double(r.instructions) / r.seconds / 1e6, r.instructions, r.seconds, r.eax))
  }
}

if all || parts.contains("z3") {
  failed = try z3Bench() || failed
}

if failed { exit(1) }
