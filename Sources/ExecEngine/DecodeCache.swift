/// Decoded instructions, grouped in blocks (straight-line runs that end at a control transfer),
/// found by start EIP through a direct-mapped table. A value type, so that the run loop holds
/// it in a local and pays no exclusivity checks; flushed when code is written (`CodePages`).
import ISAModel

struct DecodeCache {
  struct Decoded {
    let instruction: Instruction
    let next: UInt32
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
    let slot = Int((eip ^ (eip >> UInt32(Self.tableBits))) & UInt32((1 << Self.tableBits) - 1))
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
    return Block(start: start, first: first, count: decoded.count - first, stop: stop, stopEIP: eip)
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
