import ExecEngine
import Foundation

/// The guest kernels under trap-and-emulate against the same guests on the bare engine (the
/// peer, in the same run, best of `repeats` each): guest instructions, monitor events by kind,
/// guest MIPS under the monitor next to native, and whether the runs are equivalent.
func monitorBench(repeats: Int = 3) throws -> [String] {
  let workloads = [
    "syscall", "pgfault", "ptemod", "divzero", "in", "timer", "forkwait", "compute", "callret3",
  ]
  var lines: [String] = []
  for name in workloads {
    let binary = try Nasm.assemble(file: URL(fileURLWithPath: "models/guests/\(name).asm"))
    var native = (seconds: Double.infinity, outcome: RunOutcome?.none, machine: Machine?.none)
    var trap = (seconds: Double.infinity, outcome: RunOutcome?.none, monitor: TrapAndEmulate?.none)
    for _ in 0..<repeats {
      let m = try Loader.machine(flat: binary)
      var start = DispatchTime.now().uptimeNanoseconds
      let n = m.run(budget: 2_000_000_000)
      var t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      if t < native.seconds { native = (t, n, m) }
      let monitor = try TrapAndEmulate(guest: binary)
      start = DispatchTime.now().uptimeNanoseconds
      let o = monitor.run(budget: 2_000_000_000)
      t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      if t < trap.seconds { trap = (t, o, monitor) }
    }
    guard let n = native.outcome, let machine = native.machine, let o = trap.outcome,
      let monitor = trap.monitor
    else { continue }
    let equivalent = Equivalence.compare(native: machine, n, monitor: monitor, o).isEmpty
    let nativeMIPS = Double(n.instructionsRetired) / native.seconds / 1e6
    let trapMIPS = Double(o.instructionsRetired) / trap.seconds / 1e6
    lines.append(
      String(
        format: "trap    %-9@ %7.1f guest MIPS  native %7.1f  (%.2f× native; %llu instructions; %@)",
        name, trapMIPS, nativeMIPS, trapMIPS / nativeMIPS, o.instructionsRetired,
        equivalent ? "equivalent" : "NOT EQUIVALENT"))
    let s = monitor.statistics
    let kinds = [
      "entries", "traps.#GP", "traps.#PF", "interrupts.external", "emulated.privileged",
      "emulated.software-interrupt", "emulated.traced-write", "pagefaults.hidden", "pagefaults.true",
      "shadow.build", "shadow.cache-hit", "shadow.table-build", "shadow.invalidate",
      "interrupts.virtual.delivered",
    ]
    let counts = kinds.filter { s[$0] > 0 }.map { "\($0)=\(s[$0])" }.joined(separator: " ")
    lines.append("        \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(counts)")
  }
  return lines
}
