/// The equivalence runner: a guest run on the bare machine and under a monitor, compared where
/// the guest can tell — how the run ended, its serial output, the processor state it sees and
/// its memory. Popek and Goldberg's equivalence property, checked on one run.
import ISAModel

public struct EquivalenceReport: Sendable {
  public var native: RunOutcome
  public var monitored: RunOutcome
  /// What differs, most telling first: the end of the run, the serial output, registers and
  /// system state ("name: native → monitored"), then memory.
  public var differences: [String]
  public var equivalent: Bool { differences.isEmpty }
}

/// The first guest step after which a monitored run differs from the native one.
public struct Divergence: Hashable, Sendable, CustomStringConvertible {
  /// Guest steps before it (instructions and deliveries).
  public var step: UInt64
  /// Where the guest was: the culprit instruction's address and the instruction.
  public var eip: UInt32
  public var instruction: Instruction?
  public var differences: [String]

  public var description: String {
    let text = instruction.map { Disassembler.text($0) } ?? "(no instruction)"
    return "step \(step), eip \(hex32(eip)): \(text) — " + differences.joined(separator: "; ")
  }
}

public enum Equivalence {
  /// Runs `binary` natively and under a monitor one guest step at a time, comparing after each
  /// step the state the guest sees and the memory the step could have written (its stack, its
  /// memory operand, its string destination), and returns the first step that differs — the
  /// culprit — or nil if the runs stay equal to their end (then memory is compared whole).
  /// `executed` sees each instruction before it runs.
  public static func lockstep(
    _ binary: [UInt8], _ convention: LoadConvention = LoadConvention(), budget: UInt64,
    executed: ((UInt32, Instruction) -> Void)? = nil,
    monitor makeMonitor: ([UInt8], LoadConvention) throws(LoadError) -> any Monitor
  ) throws(LoadError) -> Divergence? {
    let native = try Loader.machine(flat: binary, convention)
    let monitor = try makeMonitor(binary, convention)
    var step: UInt64 = 0
    var n = RunOutcome(reason: .budgetExhausted, eip: 0, instructionsRetired: 0)
    var m = n
    while step < budget {
      let eip = native.core.eip
      let instruction = monitor.peekInstruction(at: eip)
      if let executed, let instruction { executed(eip, instruction) }
      let watched = watchedRanges(native, instruction)
      n = native.run(budget: 1)
      m = monitor.run(budget: 1)
      var differences: [String] = []
      if n.reason != m.reason { differences.append("stop: \(n.reason) → \(m.reason)") }
      differences += native.state.differences(from: monitor.guestState)
      for (linear, count) in watched + watchedRanges(native, nil) {
        for k in 0..<count {
          let a = linear &+ UInt32(k)
          guard let p = monitor.peekTranslate(a), Int(p.value) < native.memory.size else { continue }
          let x = native.memory.read(PhysicalAddress(p.value))
          let y = monitor.guestMemory(at: p, count: 1)[0]
          let line = "memory at \(hex32(a)) (\(p)): \(hex8(x)) → \(hex8(y))"
          if x != y {
            if !differences.contains(line) { differences.append(line) }
            break
          }
        }
      }
      if !differences.isEmpty {
        return Divergence(step: step, eip: eip, instruction: instruction, differences: differences)
      }
      step += 1
      if n.reason != .budgetExhausted { break }
    }
    let rest = compare(native: native, n, monitor: monitor, m).filter { !$0.hasPrefix("instructions:") }
    return rest.isEmpty
      ? nil : Divergence(step: step, eip: native.core.eip, instruction: nil, differences: rest)
  }

  /// Linear ranges a step of `instruction` may write, from the registers before it: the stack
  /// around ESP, its memory operand, ES:EDI. (nil: just the stack.)
  static func watchedRanges(_ native: Machine, _ instruction: Instruction?) -> [(UInt32, Int)] {
    let c = native.core
    let esp = c.segmentBase(.ss) &+ c.gpr(.esp)
    var out: [(UInt32, Int)] = [(esp &- 32, 48)]
    guard let instruction else { return out }
    for op in [instruction.op0, instruction.op1] {
      if case .memory(let m) = op { out.append((c.segmentBase(m.segment) &+ c.effectiveAddress(m), 16)) }
    }
    out.append((c.segmentBase(.es) &+ c.gpr(.edi) &- 4, 12))
    return out
  }

  /// Runs `binary` natively and under the monitor `makeMonitor` builds, each for `budget`
  /// steps, and compares them.
  public static func run(
    _ binary: [UInt8], _ convention: LoadConvention = LoadConvention(), budget: UInt64,
    monitor makeMonitor: ([UInt8], LoadConvention) throws(LoadError) -> any Monitor
  ) throws(LoadError) -> (EquivalenceReport, Machine, any Monitor) {
    let native = try Loader.machine(flat: binary, convention)
    let n = native.run(budget: budget)
    let monitor = try makeMonitor(binary, convention)
    let m = monitor.run(budget: budget)
    let report = EquivalenceReport(
      native: n, monitored: m, differences: compare(native: native, n, monitor: monitor, m))
    return (report, native, monitor)
  }

  /// The differences between a native machine and a monitored guest after their runs.
  public static func compare(native: Machine, _ n: RunOutcome, monitor: any Monitor, _ m: RunOutcome)
    -> [String]
  {
    var out: [String] = []
    if n.reason != m.reason { out.append("stop: \(n.reason) → \(m.reason)") }
    if n.eip != m.eip { out.append("stop eip: \(hex32(n.eip)) → \(hex32(m.eip))") }
    if n.instructionsRetired != m.instructionsRetired {
      out.append("instructions: \(n.instructionsRetired) → \(m.instructionsRetired)")
    }
    let serialN = native.serial.output
    let serialM = monitor.machine.serial.output
    if serialN != serialM {
      let k = zip(serialN, serialM).prefix { $0 == $1 }.count
      out.append(
        "serial: differs from byte \(k) (\(serialN.count) bytes → \(serialM.count)): "
          + "\(String(decoding: serialN.dropFirst(k).prefix(24), as: UTF8.self).debugDescription) → "
          + "\(String(decoding: serialM.dropFirst(k).prefix(24), as: UTF8.self).debugDescription)")
    }
    out += native.state.differences(from: monitor.guestState)
    out += memoryDifferences(native: native, monitor: monitor)
    return out
  }

  /// The first differing byte of guest RAM, and how many pages differ.
  static func memoryDifferences(native: Machine, monitor: any Monitor) -> [String] {
    let size = min(native.memory.size, monitor.guestMemorySize)
    var first: (address: Int, native: UInt8, monitored: UInt8)?
    var pages = 0
    var page = 0
    while page < size {
      let a = native.memory.bytes(at: PhysicalAddress(UInt32(page)), count: 4096)
      let b = monitor.guestMemory(at: GuestPhysicalAddress(UInt32(page)), count: 4096)
      if a != b {
        pages += 1
        if first == nil, let k = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
        {
          first = (page + k, a[k], b[k])
        }
      }
      page += 4096
    }
    var out: [String] = []
    if let first {
      out.append(
        "memory: first difference at gphys:\(hex32(UInt32(first.address))) "
          + "(\(hex8(first.native)) → \(hex8(first.monitored))), \(pages) page\(pages == 1 ? "" : "s") differ"
      )
    }
    if native.memory.size != monitor.guestMemorySize {
      out.append("memory size: \(native.memory.size) → \(monitor.guestMemorySize)")
    }
    return out
  }

  static func hex8(_ v: UInt8) -> String {
    let d = String(v, radix: 16)
    return d.count == 1 ? "0" + d : d
  }
}
