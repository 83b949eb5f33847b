/// Decoded instructions, grouped in blocks (straight-line runs that end at a control transfer),
/// found by start EIP through a direct-mapped table. A value type, so that the run loop holds
/// it in a local and pays no exclusivity checks; flushed when code is written (`CodePages`).
import ISAModel

struct DecodeCache {
  struct Decoded {
    let instruction: Instruction
    let next: UInt32
    /// How it runs (`Handlers.select`): a fixed-shape handler or the general one.
    let handler: Handler
    let operands: ShapeOperands

    init(instruction: Instruction, next: UInt32) {
      self.instruction = instruction
      self.next = next
      (handler, operands) = Handlers.select(instruction)
    }
  }

  /// What ended decoding past a block's last instruction.
  enum Stop {
    case decoded(DecodeOutcome)
    /// The next bytes lie on a page whose fetch would fault now: the fault is raised (and CR2
    /// set) when execution reaches it.
    case fetchFault(linear: UInt32)
  }

  /// Plain data (no references), so that reading one costs a copy of a few words.
  struct Block {
    let start: UInt32
    let first: Int
    let count: Int
    /// Index into `stops` of what ended decoding past the last instruction, or -1.
    let stop: Int
    let stopEIP: UInt32
    /// Whether the next block may follow without a return to the run loop: the last
    /// instruction changes nothing the loop looks at between blocks (a near branch, a string
    /// instruction, or any instruction that does not end a block) and nothing stopped decoding.
    let chains: Bool
  }

  static let tableBits = 14
  static let maximumBlockLength = 64

  var decoded: ContiguousArray<Decoded> = []
  var blocks: ContiguousArray<Block> = []
  var stops: [Stop] = []
  var table = [Int32](repeating: -1, count: 1 << tableBits)
  var generation: UInt64 = 0

  /// The index of the block starting at linear `eip`, decoding it if needed; `fetchPage` gives
  /// the physical page of a linear address, or nil where a fetch would fault.
  @inline(__always)
  mutating func block(
    at eip: UInt32, memory: PhysicalMemory, code: CodePages, counts: inout EventCounts,
    fetchPage: (UInt32) -> UInt32?
  )
    -> Int
  {
    if generation != code.generation { flush(to: code.generation) }
    let slot = Self.slot(eip)
    let index = Int(table[slot])
    // A flush empties `blocks` without clearing the table: stale indices fail the bound check.
    if index >= 0 && index < blocks.count && blocks[index].start == eip { return index }
    let b = decodeBlock(at: eip, memory: memory, code: code, counts: &counts, fetchPage: fetchPage)
    table[slot] = Int32(blocks.count)
    blocks.append(b)
    return blocks.count - 1
  }

  mutating func flush(to generation: UInt64) {
    decoded.removeAll(keepingCapacity: true)
    blocks.removeAll(keepingCapacity: true)
    stops.removeAll(keepingCapacity: true)
    self.generation = generation
  }

  mutating func decodeBlock(
    at start: UInt32, memory: PhysicalMemory, code: CodePages, counts: inout EventCounts,
    fetchPage: (UInt32) -> UInt32?
  )
    -> Block
  {
    counts.blocksDecoded &+= 1
    let first = decoded.count
    var eip = start
    var stop = -1
    func end(_ s: Stop) {
      stop = stops.count
      stops.append(s)
    }
    while decoded.count - first < Self.maximumBlockLength {
      // Fetch through the translation: up to 15 bytes, from this page and the next.
      guard let page = fetchPage(eip) else {
        end(.fetchFault(linear: eip))
        break
      }
      let here = Int(0x1000 - (eip & 0xFFF))
      var bytes = memory.bytes(
        at: PhysicalAddress(page | (eip & 0xFFF)), count: min(here, Decoder.maximumLength))
      var nextPage: UInt32?
      if here < Decoder.maximumLength, let next = fetchPage(eip &+ UInt32(here)) {
        nextPage = next
        bytes += memory.bytes(at: PhysicalAddress(next), count: Decoder.maximumLength - here)
      }
      let outcome = Decoder.decode(bytes)
      if case .truncated = outcome {
        end(.fetchFault(linear: eip &+ UInt32(here)))
        break
      }
      guard case .instruction(let inst, let length) = outcome else {
        end(.decoded(outcome))
        break
      }
      // Marks on the physical pages, where writes land.
      code.mark(page | (eip & 0xFFF))
      if length > here, let nextPage { code.mark(nextPage) }
      counts.instructionsDecoded &+= 1
      let next = eip &+ UInt32(length)
      decoded.append(Decoded(instruction: inst, next: next))
      eip = next
      if Self.endsBlock(inst) { break }
    }
    let chains =
      stop < 0 && decoded.count > first && Self.chains(after: decoded[decoded.count - 1].instruction)
    return Block(
      start: start, first: first, count: decoded.count - first, stop: stop, stopEIP: eip, chains: chains)
  }

  /// Whether execution may go on to the next block without the run loop looking again.
  static func chains(after i: Instruction) -> Bool {
    guard endsBlock(i) else { return true }
    switch i.mnemonic {
    case .jmp, .jcc, .call, .ret, .loop, .loope, .loopne, .jecxz: return true
    default: return i.mnemonic.isString
    }
  }

  /// Runs the block at index `first` (its first `count` instructions), then, while `chaining`
  /// and each block `chains`, the blocks that follow, up to `limit` instructions in all. A
  /// block not yet decoded, a request to leave (`Core.leaveBlock`) or host code ahead
  /// (`isHost`) ends the chain. Returns the instructions retired in the last block, that
  /// block's index and the instructions retired in all; a raising instruction stores its
  /// interrupt in `out` and ends the run with EIP past it (the caller rewinds).
  @inline(__always)
  func run(
    _ first: Int, count: Int, limit: Int, chaining: Bool, core: UnsafeMutablePointer<Core>,
    out: UnsafeMutablePointer<Interrupt?>, isHost: (UInt32) -> Bool
  ) -> (Int, Int, Int) {
    decoded.withUnsafeBufferPointer { all in
      blocks.withUnsafeBufferPointer { blocks in
        table.withUnsafeBufferPointer { table in
          var current = first
          var n = count
          var total = 0
          while true {
            let b = blocks[current]
            var k = 0
            while k < n {
              let d = all.baseAddress! + (b.first + k)
              core.pointee.currentInstruction = core.pointee.eip
              core.pointee.eip = d.pointee.next
              if !d.pointee.handler(core, d, out) { return (k, current, total + k) }
              k += 1
              core.pointee.clock &+= 1
              // A taken branch or REP step leaves the straight line; HLT and writes to code
              // leave the block too.
              if core.pointee.eip != d.pointee.next || core.pointee.leaveBlock { break }
            }
            total += k
            guard chaining && b.chains && k == b.count && !core.pointee.leaveBlock && total < limit else {
              return (k, current, total)
            }
            let eip = core.pointee.eip
            let index = Int(table[Self.slot(eip)])
            guard index >= 0 && index < blocks.count && blocks[index].start == eip && !isHost(eip) else {
              return (k, current, total)
            }
            current = index
            n = min(blocks[index].count, limit - total)
          }
        }
      }
    }
  }

  @inline(__always) static func slot(_ eip: UInt32) -> Int {
    Int((eip ^ (eip >> UInt32(tableBits))) & UInt32((1 << tableBits) - 1))
  }

  static func endsBlock(_ i: Instruction) -> Bool {
    i.mnemonic.isControlTransfer || i.mnemonic == .hlt || (i.mnemonic.isString && i.repeatPrefix != .none)
      || changesExecution.contains(i.mnemonic)
  }

  /// Instructions after which the run loop must look at the machine again: they can change
  /// EFLAGS.TF and IF or the translation of the next fetch.
  static let changesExecution: Set<Mnemonic> = [
    .movControl, .lmsw, .clts, .popf, .cli, .sti, .wrmsr, .invlpg,
  ]
}
