import ExecEngine
import Foundation

/// The guest kernels on the engine (best of `repeats`): a ring-3 compute loop with paging on,
/// against the same loop flat at CPL 0 without paging (the peer, in the same run); system-call
/// round trips and delivered exceptions per second of the whole run, and what one costs beyond
/// the run's instructions (at the flat loop's rate), in flat-instruction times.
func kernelBench(repeats: Int = 3) throws -> [String] {
  func best(_ binary: [UInt8]) throws -> (seconds: Double, outcome: RunOutcome, machine: Machine) {
    var result: (Double, RunOutcome, Machine)?
    for _ in 0..<repeats {
      let m = try Loader.machine(flat: binary)
      let start = DispatchTime.now().uptimeNanoseconds
      let out = m.run(budget: 2_000_000_000)
      let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      if result == nil || t < result!.0 { result = (t, out, m) }
    }
    return result!
  }
  func guest(_ name: String) throws -> [UInt8] {
    try Nasm.assemble(file: URL(fileURLWithPath: "models/guests/\(name).asm"))
  }
  var lines: [String] = []
  // The peer: compute.asm's loop, flat at CPL 0, no paging.
  let flat = try Nasm.assemble(
    source: """
      bits 32
      org 0x1000
        mov esi, 1
        xor ebx, ebx
        mov ecx, 250000
      r: imul esi, esi, 1103515245
        add esi, 12345
        mov eax, esi
        shr eax, 7
        xor ebx, eax
        rol ebx, 3
        dec ecx
        jnz r
        hlt
      """)
  // Interleaved rounds, so that neither side gets the warm caches (or the quiet moments) alone.
  let computeBinary = try guest("compute")
  var peer = try best(flat)
  var paged = try best(computeBinary)
  for _ in 0..<2 {
    let p = try best(flat)
    if p.seconds < peer.seconds { peer = p }
    let q = try best(computeBinary)
    if q.seconds < paged.seconds { paged = q }
  }
  let peerMIPS = Double(peer.outcome.instructionsRetired) / peer.seconds / 1e6
  let pagedMIPS = Double(paged.outcome.instructionsRetired) / paged.seconds / 1e6
  lines.append(
    String(
      format: "kernel  compute  %7.1f guest MIPS  (ring 3, paging on; %llu instructions in %.3f s)",
      pagedMIPS,
      paged.outcome.instructionsRetired, paged.seconds))
  lines.append(
    String(
      format: "peer    flat     %7.1f guest MIPS  (the same loop at CPL 0, no paging)", peerMIPS))
  lines.append(String(format: "ratio   compute  %7.2f× the flat loop", pagedMIPS / peerMIPS))
  let perInstruction = 1 / (peerMIPS * 1e6)
  for (name, what) in [
    ("syscall", "system calls"), ("divzero", "#DE delivered"), ("pgfault", "#PF delivered"),
  ] {
    let r = try best(try guest(name))
    let events =
      name == "syscall" ? 10_000 : Double(r.machine.events.exceptionsDelivered)
    let perSecond = events / r.seconds
    let beyond = max(0, r.seconds - Double(r.outcome.instructionsRetired) * perInstruction) / events
    lines.append(
      String(
        format:
          "kernel  %-8@ %10.0f %@ per second  (%.3f s, %llu instructions; one costs ≈ %.0f flat instructions more)",
        name, perSecond, what, r.seconds, r.outcome.instructionsRetired, beyond / perInstruction))
  }
  return lines
}
