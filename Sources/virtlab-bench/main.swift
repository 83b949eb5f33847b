// `make bench`: performance figures, each against a peer measured in the same run.
// `virtlab-bench [engine] [kernels] [monitors] [z3] [catalogue]` runs a part; no argument runs all.
import Foundation

let parts = Set(CommandLine.arguments.dropFirst())
let all = parts.isEmpty
var failed = false

/// Each part in turn; a part that cannot run (nasm missing, a guest that does not halt) ends the
/// bench with its message, after the figures already printed.
@MainActor func runParts() throws {
  if all || parts.contains("engine") {
    // The VM this runs in is noisy (one run in three can be a third slower): the best of 7.
    let repeats = 7
    for r in try engineBench(guests: ["mix", "callret"], repeats: repeats) {
      let mips = Double(r.instructions) / r.seconds / 1e6
      print(
        String(
          format: "engine  %-8@ %7.1f guest MIPS  (%llu instructions in %.3f s, best of %d, eax=%08x)",
          r.name, mips, r.instructions, r.seconds, repeats, r.eax))
      print(
        String(
          format:
            "eager   %-8@ %7.1f guest MIPS  (flags computed after every instruction: lazy is %.2f× faster)",
          r.name, Double(r.instructions) / r.eagerSeconds / 1e6, r.eagerSeconds / r.seconds))
      print(
        String(
          format:
            "general %-8@ %7.1f guest MIPS  (every instruction through Semantics.execute: fixed shapes are %.2f× faster)",
          r.name, Double(r.instructions) / r.generalSeconds / 1e6, r.generalSeconds / r.seconds))
      if let peer = r.peer {
        let peerMIPS = Double(r.instructions) / peer.seconds / 1e6
        print(
          String(
            format: "unicorn %-8@ %7.1f guest MIPS  (%.3f s, unicorn %@, eax=%08x%@)", r.name, peerMIPS,
            peer.seconds, peer.version, peer.eax, peer.eax == r.eax ? "" : " DIFFERS"))
        print(String(format: "ratio   %-8@ %7.2f× unicorn", r.name, mips / peerMIPS))
        if peer.eax != r.eax { failed = true }
      } else {
        print("unicorn %-8@ (peer not run: set VIRTLAB_PYTHON to a python with unicorn; make bench does)")
      }
    }
  }

  if all || parts.contains("kernels") {
    for line in try kernelBench() { print(line) }
  }

  if all || parts.contains("monitors") {
    for line in try monitorBench() { print(line) }
  }

  if all || parts.contains("z3") {
    failed = try z3Bench() || failed
  }

  if all || parts.contains("catalogue") {
    for line in try catalogueBench() { print(line) }
  }
}

do {
  try runParts()
} catch {
  FileHandle.standardError.write(Data("virtlab-bench: \(error)\n".utf8))
  exit(1)
}
if failed { exit(1) }
