import ArgumentParser
import ExecEngine
import Foundation

import enum ISAModel.Disassembler
import struct ISAModel.Fault
import func ISAModel.hex32

/// `virtlab run GUEST`: loads a guest and runs it on the engine, natively or under a monitor.
struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a guest on the engine, natively or under a monitor.",
    discussion: """
      GUEST is a NAME (models/guests/NAME.asm), a .asm file (assembled with nasm) or a flat \
      binary. It is loaded at 0x1000 and entered in 32-bit protected mode at CPL 0 \
      (docs/loading.md). Exceptions are delivered through the guest's IDT; one that cannot be \
      delivered ends as a triple-fault shutdown (the loader's IDT is empty), or with \
      --exceptions stop the first exception ends the run. The run ends at HLT (exit 0), a \
      fault or shutdown (2), the instruction budget (3) or an instruction the model does not \
      implement (4), and prints the final registers. With --mode trap it runs under \
      trap-and-emulate by ring compression (docs/monitors.md); --compare runs it natively too and \
      compares what the guest can see, --lockstep finds the first instruction after which the two \
      differ (exit 1 when they do).
      """)

  @Argument(help: "The guest: a NAME, GUEST.asm or GUEST.bin.")
  var guest: String

  @Option(help: "Stop after this many steps (instructions retired and exceptions delivered).")
  var budget: UInt64 = 1_000_000_000

  @Option(help: "Memory size in MiB (1…4096).")
  var memory: Int = 16

  @Option(help: "Physical load address (hex with 0x, or decimal).")
  var loadAddress: String = "0x1000"

  @Option(help: "Entry point (default: the load address).")
  var entry: String?

  @ArgumentParser.Flag(help: "Print the engine's event counts.")
  var stats = false

  enum Exceptions: String, ExpressibleByArgument, CaseIterable {
    case deliver, stop
  }

  @Option(help: "deliver: through the guest's IDT; stop: the first exception ends the run.")
  var exceptions: Exceptions = .deliver

  enum Mode: String, ExpressibleByArgument, CaseIterable {
    case native, trap
  }

  @Option(
    help: ArgumentHelp(
      "native: on the bare engine; trap: under trap-and-emulate by ring compression (docs/monitors.md).",
      valueName: Mode.allCases.map(\.rawValue).joined(separator: "|")))
  var mode: Mode = .native

  @ArgumentParser.Flag(
    help:
      "With --mode trap: run the guest natively too and compare what it can see (exit 1 when they differ).")
  var compare = false

  @ArgumentParser.Flag(
    help:
      "With --mode trap: run natively and under the monitor step by step and report the first instruction after which they differ (exit 1)."
  )
  var lockstep = false

  @Option(
    help: ArgumentHelp(
      "Write a Chrome/Perfetto trace of the run (trace-event JSON on the virtual clock) to FILE.",
      valueName: "FILE"))
  var trace: String?

  @OptionGroup var output: OutputOptions

  struct Registers: Encodable {
    let eax, ecx, edx, ebx, esp, ebp, esi, edi, eip, eflags: String
  }

  struct Result: Encodable {
    let guest: String
    let bytes: Int
    let stop: String
    let detail: String?
    let eip: String
    let instructions: UInt64
    /// What the guest wrote to the serial port (COM1), as text.
    let serial: String
    /// The value written to the debug-exit port, if the run ended that way.
    let debugExit: UInt32?
    /// With --compare: what differs from the native run (empty: equivalent).
    let differences: [String]?
    /// With --lockstep: culprits the run executed that the monitor declares it cannot show.
    let notes: [String]?
    let registers: Registers
    let events: [String: UInt64]
  }

  func run() throws {
    var reporter = Reporter(command: "run", resultSchema: "virtlab.run/1", json: output.json)
    reporter.inputs = [
      "guest": guest, "budget": String(budget), "memoryMiB": String(memory), "loadAddress": loadAddress,
      "entry": entry ?? loadAddress, "exceptions": exceptions.rawValue, "mode": mode.rawValue,
    ]
    func fail(_ message: String) -> ExitCode {
      reporter.finish(.inputError, result: NoResult?.none, error: "virtlab run: \(message)")
    }
    guard let load = Self.parseAddress(loadAddress) else {
      throw fail("--load-address \(loadAddress) is not an address")
    }
    guard let start = Self.parseAddress(entry ?? loadAddress) else {
      throw fail("--entry \(entry ?? "") is not an address")
    }
    guard (1...4096).contains(memory) else { throw fail("--memory \(memory) is outside 1…4096 MiB") }
    guard budget > 0 else { throw fail("--budget must be at least 1") }
    if let trace {
      reporter.inputs["trace"] = trace
      var isDirectory: ObjCBool = false
      let folder = URL(fileURLWithPath: trace).deletingLastPathComponent().path
      guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue
      else {
        throw fail("--trace \(trace): the folder \(folder) does not exist")
      }
    }

    let file: URL
    switch Self.resolve(guest) {
    case .success(let url): file = url
    case .failure(let message): throw fail(message)
    }
    let binary: [UInt8]
    if file.pathExtension == "asm" {
      do {
        binary = try Nasm.assemble(file: file)
      } catch {
        throw fail("\(file.path): nasm failed:\n\(error.message)")
      }
      reporter.tools["nasm"] = Nasm.version ?? "unknown"
    } else {
      guard let data = FileManager.default.contents(atPath: file.path) else {
        throw fail("\(file.path): cannot be read")
      }
      binary = [UInt8](data)
    }
    var convention = LoadConvention()
    convention.loadAddress = load
    convention.entry = start
    convention.memorySize = memory << 20
    let machine: Machine
    var monitor: (any Monitor)?
    do throws(LoadError) {
      switch mode {
      case .native: machine = try Loader.machine(flat: binary, convention)
      case .trap:
        guard exceptions == .deliver else {
          throw LoadError(
            message: "--exceptions stop needs --mode native (the monitor takes every exception)")
        }
        let m = try TrapAndEmulate(guest: binary, convention)
        monitor = m
        machine = m.machine
      }
    } catch {
      throw fail("\(file.path): \(error.message)")
    }
    if monitor == nil { machine.exceptionRouting = exceptions == .deliver ? .deliver : .stop }
    let recorder = trace.map { _ in TraceRecorder() }
    if let recorder, let monitor { monitor.observer = { recorder.record($0, at: $1) } }
    let outcome = monitor?.run(budget: budget) ?? machine.run(budget: budget)
    recorder?.span(
      track: 6, name: "run", from: 0, to: machine.clock,
      args: [("stop", "\(outcome.reason)"), ("instructions", String(outcome.instructionsRetired))])
    let s = monitor?.guestState ?? machine.state
    var differences: [String]?
    var divergence: Divergence?
    var notes: [String] = []
    if lockstep {
      guard monitor != nil else { throw fail("--lockstep needs a monitor (--mode trap)") }
      do throws(LoadError) {
        var seen: Set<String> = []
        divergence = try Equivalence.lockstep(
          binary, convention, budget: budget,
          executed: { eip, i in
            let form = i.form.spec.opcode
            guard !seen.contains(form),
              let u = TrapAndEmulate.unobservedCulprits.first(where: { $0.forms.contains(form) })
            else { return }
            seen.insert(form)
            notes.append(
              "\(Disassembler.text(i)) at \(hex32(eip)) is a ring-1 culprit this run cannot show: \(u.reason)"
            )
          },
          monitor: { b, c throws(LoadError) in try TrapAndEmulate(guest: b, c) })
      } catch {
        throw fail("\(file.path): \(error.message)")
      }
      differences = divergence.map { [$0.description] } ?? []
    }
    if compare {
      guard let monitor else { throw fail("--compare needs a monitor (--mode trap)") }
      do throws(LoadError) {
        let native = try Loader.machine(flat: binary, convention)
        let n = native.run(budget: budget)
        differences = Equivalence.compare(native: native, n, monitor: monitor, outcome)
      } catch {
        throw fail("\(file.path): \(error.message)")
      }
    }
    let (status, stop, detail): (ExitStatus, String, String?) =
      switch outcome.reason {
      case .halted: (.success, "halted", nil)
      case .fault(let f): (.guestFault, "fault", f.description)
      case .shutdown(let chain): (.guestFault, "shutdown", Self.tripleFault(chain))
      case .modelGap(let what): (.modelGap, "model-gap", what)
      // `virtlab run` never enters VMX non-root operation, so a VM exit would be a model bug.
      case .vmExit(let e): (.internalError, "vm-exit", e.description)
      case .hostCode(let eip): (.internalError, "host-code", hex32(eip))
      case .budgetExhausted: (.budgetExhausted, "budget-exhausted", "\(budget) instructions")
      case .debugExit(let value): (.success, "debug-exit", "0x" + String(value, radix: 16))
      }
    var events = Dictionary(uniqueKeysWithValues: machine.events.named.map { ($0.name, $0.value) })
    for (name, value) in monitor?.statistics.named ?? [] { events["monitor." + name] = value }
    let result = Result(
      guest: file.path, bytes: binary.count, stop: stop, detail: detail, eip: hex32(outcome.eip),
      instructions: outcome.instructionsRetired,
      serial: String(decoding: machine.serial.output, as: UTF8.self),
      debugExit: { if case .debugExit(let v) = outcome.reason { v } else { nil } }(),
      differences: differences,
      notes: lockstep ? notes : nil,
      registers: Registers(
        eax: hex32(s[.eax]), ecx: hex32(s[.ecx]), edx: hex32(s[.edx]), ebx: hex32(s[.ebx]),
        esp: hex32(s[.esp]),
        ebp: hex32(s[.ebp]), esi: hex32(s[.esi]), edi: hex32(s[.edi]), eip: hex32(s.eip),
        eflags: hex32(s.eflags)),
      events: events)
    if !output.json {
      print("guest: \(file.path) (\(binary.count) bytes at \(hex32(load)), entry \(hex32(start)))")
      if !machine.serial.output.isEmpty {
        print("serial:")
        let text = String(decoding: machine.serial.output, as: UTF8.self)
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
      }
      let why =
        switch outcome.reason {
        case .halted:
          s.eflags & 0x200 == 0
            ? "halted (HLT) with interrupts disabled: nothing can wake it"
            : "halted (HLT) with no interrupt pending or timer running"
        case .fault(let f): "fault \(f)"
        case .shutdown(let chain): "shutdown: triple fault (\(Self.tripleFault(chain)))"
        case .modelGap(let what): "model gap: \(what) is not modelled yet"
        case .vmExit(let e): e.description
        case .hostCode(let eip): "host code reached at \(hex32(eip)) (a monitor's handler)"
        case .budgetExhausted: "budget of \(budget) steps exhausted (the guest may run forever)"
        case .debugExit(let value): "debug exit with value 0x\(String(value, radix: 16))"
        }
      print(
        "stopped: \(why) at eip \(hex32(outcome.eip)), CPL \(s.cpl), after \(outcome.instructionsRetired) instructions"
      )
      let unclaimed = machine.events.portsUnclaimed
      if unclaimed > 0 { print("note: \(unclaimed) port accesses found no device (they read all ones)") }
      print("eax=\(hex32(s[.eax])) ecx=\(hex32(s[.ecx])) edx=\(hex32(s[.edx])) ebx=\(hex32(s[.ebx]))")
      print("esp=\(hex32(s[.esp])) ebp=\(hex32(s[.ebp])) esi=\(hex32(s[.esi])) edi=\(hex32(s[.edi]))")
      print("eip=\(hex32(s.eip)) eflags=\(hex32(s.eflags))")
      if lockstep {
        if let divergence {
          let text = divergence.instruction.map { Disassembler.text($0) } ?? "the end of the run"
          print("diverges at step \(divergence.step), eip \(hex32(divergence.eip)): \(text)")
          for d in divergence.differences.prefix(12) { print("  \(d)") }
        } else {
          print("no divergence: every step leaves the same state and memory natively and under the monitor")
        }
        for note in notes { print("note: \(note)") }
      } else if let differences {
        if differences.isEmpty {
          print("equivalent: the native run ends the same, with the same output, state and memory")
        } else {
          print("not equivalent to the native run (\(differences.count) differences), first:")
          for d in differences.prefix(12) { print("  \(d)") }
        }
      }
      if stats {
        for (name, value) in machine.events.named { print("\(name) \(value)") }
        for (name, value) in monitor?.statistics.named ?? [] { print("monitor.\(name) \(value)") }
      }
    }
    if let trace, let recorder {
      do {
        try recorder.json(guest: file.lastPathComponent, mode: mode.rawValue)
          .write(to: URL(fileURLWithPath: trace), atomically: true, encoding: .utf8)
      } catch {
        // The run's results are out already; the trace alone is lost.
        throw reporter.finish(
          .inputError, result: result,
          error: "virtlab run: --trace \(trace): cannot be written (\(error.localizedDescription))")
      }
    }
    let differs = differences.map { !$0.isEmpty } ?? false
    throw reporter.finish(differs ? .propertyFails : status, result: result)
  }

  static func parseAddress(_ text: String) -> UInt32? {
    let t = text.lowercased()
    return t.hasPrefix("0x") ? UInt32(t.dropFirst(2), radix: 16) : UInt32(t)
  }

  enum Resolution {
    case success(URL)
    case failure(String)
  }

  /// A path to an existing file, or a NAME under models/guests/ (from the current directory,
  /// then from the checkout the executable was built in).
  static func resolve(_ guest: String) -> Resolution {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    if fm.fileExists(atPath: guest, isDirectory: &isDirectory) {
      return isDirectory.boolValue
        ? .failure("\(guest) is a directory") : .success(URL(fileURLWithPath: guest))
    }
    if !guest.contains("/") && !guest.contains(".") {
      let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
      let checkout = executable.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
      for root in [
        URL(fileURLWithPath: fm.currentDirectoryPath), checkout, checkout.deletingLastPathComponent(),
      ] {
        let candidate = root.appendingPathComponent("models/guests/\(guest).asm")
        if fm.fileExists(atPath: candidate.path) { return .success(candidate) }
      }
      return .failure("no guest named \(guest) (looked for models/guests/\(guest).asm)")
    }
    return .failure("\(guest) does not exist")
  }

  /// The faults that led to a shutdown, first to last: "#DE → #GP(0x3) → #DF(0) → #GP(0x43)".
  static func tripleFault(_ chain: [Fault]) -> String {
    chain.map { f in f.errorCode.map { "\(f.vector)(0x\(String($0, radix: 16)))" } ?? f.vector.description }
      .joined(separator: " → ")
  }
}
