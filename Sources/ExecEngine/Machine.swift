/// The concrete machine: a CPU, its RAM, and the run loop with a decode cache.
///
/// Instructions are decoded once into blocks (straight-line runs ending at a control transfer)
/// and executed from there; a write to a page holding decoded code flushes the cache. A fault
/// ends the run with EIP at the faulting instruction (exception delivery through the IDT comes
/// with the protection model).
import ISAModel

/// Why a run stopped.
public enum StopReason: Hashable, Sendable, Codable {
  case halted
  case fault(Fault)
  case modelGap(String)
  case budgetExhausted
}

/// The end of a run: why, where, and how far it got.
public struct RunOutcome: Hashable, Sendable, Codable {
  public var reason: StopReason
  /// EIP of the instruction that faulted or was not modelled; after HLT, of the next one.
  public var eip: UInt32
  public var instructionsRetired: UInt64
}

public final class Machine {
  public let memory: PhysicalMemory
  var core: Core
  let code = CodePages()
  var counts = EventCounts()

  // The decode cache: blocks of decoded instructions in one flat array, found by start EIP
  // through a direct-mapped table of block indices.
  struct Decoded {
    let instruction: Instruction
    let next: UInt32
  }
  struct Block {
    let start: UInt32
    let first: Int
    let count: Int
    /// What stopped decoding past the block's last instruction, if it was not a transfer.
    let stop: DecodeOutcome?
    let stopEIP: UInt32
  }
  var decoded: ContiguousArray<Decoded> = []
  var blocks: ContiguousArray<Block> = []
  var table: [Int32]
  let tableMask: Int = (1 << 14) - 1
  var cacheGeneration: UInt64 = 0
  static let maximumBlockLength = 64

  public init(memorySize: Int) {
    memory = PhysicalMemory(size: memorySize)
    core = Core(memory: memory, code: code)
    table = Array(repeating: -1, count: (1 << 14))
  }

  /// The CPU state as a value.
  public var state: CPUState {
    get {
      var s = CPUState()
      for r in GPR.allCases { s[r] = core.gpr(r) }
      s.eip = core.eip
      s.eflags = core.eflags
      s.segments = segments
      for seg in SegmentRegister.allCases { s.segments[Int(seg.rawValue)].base = core.segmentBase(seg) }
      s.gdtr = gdtr
      s.idtr = idtr
      s.cr0 = cr0
      s.halted = core.halted
      return s
    }
    set {
      for r in GPR.allCases { core.setGPR(r, newValue[r]) }
      core.eip = newValue.eip
      core.flagBits = newValue.eflags | FlagMask.reservedOne
      core.pendingMask = 0
      segments = newValue.segments
      for seg in SegmentRegister.allCases { core.segmentBases[Int(seg.rawValue)] = newValue[seg].base }
      core.cpl = newValue.cpl
      gdtr = newValue.gdtr
      idtr = newValue.idtr
      cr0 = newValue.cr0
      core.halted = newValue.halted
    }
  }
  var segments = CPUState().segments
  var gdtr = CPUState().gdtr
  var idtr = CPUState().idtr
  var cr0: UInt32 = CPUState().cr0

  /// The events counted so far.
  public var events: EventCounts {
    var e = counts
    e.codeInvalidations = code.invalidations
    e.openBusReads = UInt64(memory.openBusReads)
    e.openBusWrites = UInt64(memory.openBusWrites)
    return e
  }

  /// Runs until HLT, a fault, a model gap, or `budget` retired instructions.
  public func run(budget: UInt64) -> RunOutcome {
    var c = core
    defer { core = c }
    var retired: UInt64 = 0
    defer { counts.instructionsRetired &+= retired }
    if c.halted { return RunOutcome(reason: .halted, eip: c.eip, instructionsRetired: 0) }
    while retired < budget {
      let b = block(at: c.eip)
      let generation = code.generation
      let n = min(b.count, Int(clamping: budget - retired))
      var k = 0
      while k < n {
        let d = decoded[b.first + k]
        c.currentInstruction = c.eip
        c.eip = d.next
        do {
          try Semantics.execute(&c, d.instruction)
        } catch {
          c.eip = c.currentInstruction
          switch error {
          case .fault(let f): return RunOutcome(reason: .fault(f), eip: c.eip, instructionsRetired: retired)
          case .modelGap(let what):
            return RunOutcome(reason: .modelGap(what), eip: c.eip, instructionsRetired: retired)
          }
        }
        retired &+= 1
        k += 1
        if c.halted { return RunOutcome(reason: .halted, eip: c.eip, instructionsRetired: retired) }
        // A REP string step or a taken branch leaves the straight line; so does a write to code.
        if c.eip != d.next || code.generation != generation { break }
      }
      if k == b.count, let stop = b.stop, c.eip == b.stopEIP {
        switch stop {
        case .fault(let f): return RunOutcome(reason: .fault(f), eip: c.eip, instructionsRetired: retired)
        case .modelGap(let what):
          return RunOutcome(reason: .modelGap(what), eip: c.eip, instructionsRetired: retired)
        case .truncated, .instruction:
          // Decoding ran off the end of the fetchable bytes: open bus supplies 0xFF, so this
          // cannot happen without paging; treat it as the #GP the length limit gives.
          return RunOutcome(
            reason: .fault(Fault(.gp, errorCode: 0)), eip: c.eip, instructionsRetired: retired)
        }
      }
    }
    return RunOutcome(reason: .budgetExhausted, eip: c.eip, instructionsRetired: retired)
  }

  /// The block starting at `eip`, decoding it if needed.
  func block(at eip: UInt32) -> Block {
    if cacheGeneration != code.generation {
      decoded.removeAll(keepingCapacity: true)
      blocks.removeAll(keepingCapacity: true)
      table = Array(repeating: -1, count: tableMask + 1)
      cacheGeneration = code.generation
    }
    let slot = Int((eip ^ (eip >> 14)) & UInt32(tableMask))
    let index = table[slot]
    if index >= 0 && blocks[Int(index)].start == eip { return blocks[Int(index)] }
    let b = decodeBlock(at: eip)
    table[slot] = Int32(blocks.count)
    blocks.append(b)
    return b
  }

  func decodeBlock(at start: UInt32) -> Block {
    counts.blocksDecoded &+= 1
    let first = decoded.count
    var eip = start
    var stop: DecodeOutcome?
    while decoded.count - first < Self.maximumBlockLength {
      // Fetch: paging is off, so the linear address is the physical one.
      let bytes = memory.bytes(at: PhysicalAddress(eip), count: Decoder.maximumLength)
      let outcome = Decoder.decode(bytes)
      guard case .instruction(let inst, let length) = outcome else {
        stop = outcome
        break
      }
      for k in 0..<UInt32(length) { code.mark(eip &+ k) }
      counts.instructionsDecoded &+= 1
      let next = eip &+ UInt32(length)
      decoded.append(Decoded(instruction: inst, next: next))
      eip = next
      if Self.endsBlock(inst) { break }
    }
    return Block(start: start, first: first, count: decoded.count - first, stop: stop, stopEIP: eip)
  }

  static func endsBlock(_ i: Instruction) -> Bool {
    switch i.mnemonic {
    case .jmp, .jcc, .call, .ret, .loop, .loope, .loopne, .jecxz, .hlt: true
    case .movs, .stos, .lods, .cmps, .scas: i.repeatPrefix != .none
    default: false
    }
  }
}
