/// Decoded instructions, grouped in blocks (straight-line runs that end at a control transfer),
/// found by start EIP through a direct-mapped table. A value type, so that the run loop holds
/// it in a local and pays no exclusivity checks; flushed when code is written (`CodePages`).
import ISAModel

struct DecodeCache {
  struct Decoded {
    let instruction: Instruction
    /// The instruction's (linear) address.
    let start: UInt32
    /// The address after the instruction's bytes.
    let next: UInt32
    /// Where the next entry's instruction is: `next`, or the target of a followed branch.
    let expected: UInt32
    /// How it runs (`Handlers.select`): a fixed-shape handler or the general one, or for the
    /// stack forms one that tests for the common case first (`Handlers.checked`).
    let handler: Handler
    /// The handler `select` gives, which one that tests first falls back to.
    let fallback: Handler
    let operands: ShapeOperands
    /// Whether the handler leaves EIP behind, to be set to `next` where execution leaves the
    /// block's path (`perform`).
    let defersEIP: Bool

    /// `followed`: the block goes on at the branch's predicted target (`expected`).
    init(instruction: Instruction, start: UInt32, next: UInt32, fixedShapes: Bool, followed: UInt32? = nil) {
      self.instruction = instruction
      self.start = start
      self.next = next
      expected = followed ?? next
      if fixedShapes {
        (fallback, operands, defersEIP) = Handlers.select(instruction)
        handler = Handlers.checked(instruction) ?? fallback
      } else {
        (handler, operands, defersEIP) = (Handlers.general, ShapeOperands(), false)
        fallback = handler
      }
    }

    /// The entry that ends a block (`Handlers.blockEnd`), at `next`; `settingEIP` when the
    /// entry before it defers EIP.
    init(end next: UInt32, settingEIP: Bool) {
      instruction = DecodeCache.nop
      start = next
      self.next = next
      expected = next
      handler = settingEIP ? Handlers.blockEndSettingEIP : Handlers.blockEnd
      fallback = handler
      operands = ShapeOperands()
      defersEIP = false
    }
  }

  /// What a block's end entry holds in place of an instruction (it never executes).
  static let nop: Instruction = {
    guard case .instruction(let i, _) = Decoder.decode([0x90]) else { preconditionFailure("NOP decodes") }
    return i
  }()

  /// What the handlers of one run share (`Core.chain`): where an instruction's interrupt goes,
  /// the cache's tables for chaining, and when to stop.
  struct Chain {
    var interrupt: Interrupt?
    let table: UnsafePointer<Int32>
    let blocks: UnsafePointer<Block>
    let blockCount: Int
    let decoded: UnsafePointer<Decoded>
    /// Chaining stops before a block that would run the clock past this.
    let limitClock: UInt64
    let chaining: Bool
    let hostStart: UInt32
    let hostSize: UInt32
    /// The block running now.
    var last: Int
    /// Whether that block ran to its end entry.
    var completed = false
  }

  /// What ended decoding past a block's last instruction.
  enum Stop {
    case decoded(DecodeOutcome)
    /// The next bytes lie on a page whose fetch would fault now: the fault is raised (and CR2
    /// set) when execution reaches it.
    case fetchFault(linear: UInt32)
  }

  /// Plain data (no references), so that reading one costs a copy of a few words. A block may
  /// run on through direct jumps and calls and through returns to a call it holds (`follow`):
  /// a trace, whose instructions lie wherever the branches go.
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
  /// Whether instructions of a fixed shape get their own handler (`Handlers.select`); off, every
  /// instruction runs through `Semantics.execute` (for comparing the two).
  var fixedShapes = true
  /// Linear addresses of host code (`Machine.hostCode`), where no block follows a branch.
  var host: Range<UInt32>?
  /// In VMX non-root operation every instruction runs through `Semantics.execute`, where the
  /// exit decision is made (fixed-shape handlers bypass it).
  var nonRoot = false

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
    // Return addresses of the calls the block followed, for predicting its returns.
    var returns: [UInt32] = []
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
      let shapes = fixedShapes && !nonRoot
      let followed = shapes ? follow(inst, next: next, returns: &returns) : nil
      decoded.append(
        Decoded(instruction: inst, start: eip, next: next, fixedShapes: shapes, followed: followed))
      if let followed {
        eip = followed
        continue
      }
      eip = next
      if Self.endsBlock(inst) { break }
    }
    let count = decoded.count - first
    let chains = stop < 0 && count > 0 && Self.chains(after: decoded[decoded.count - 1].instruction)
    // The entry after the last instruction: it ends the block, or chains to the next one.
    decoded.append(Decoded(end: eip, settingEIP: count > 0 && decoded[decoded.count - 1].defersEIP))
    return Block(start: start, first: first, count: count, stop: stop, stopEIP: eip, chains: chains)
  }

  /// Where the block goes on after `i` (ending at `next`), if it follows the branch: a direct
  /// JMP or CALL (its target; a CALL's return address is remembered), a backward Jcc (taken),
  /// or a RET to a call the block followed. Only forms with a fixed-shape handler are followed,
  /// since that handler checks the prediction (`stepBranch`; the general one does not), and
  /// never into host code.
  func follow(_ i: Instruction, next: UInt32, returns: inout [UInt32]) -> UInt32? {
    guard Handlers.shapeable(i) else { return nil }
    let target: UInt32
    switch (i.mnemonic, i.op0) {
    case (.jmp, .immediate(let rel)): target = next &+ rel
    case (.call, .immediate(let rel)): target = next &+ rel
    // A backward conditional branch closes a loop: predicted taken, the block unrolls it.
    case (.jcc, .immediate(let rel)) where Int32(bitPattern: rel) < 0: target = next &+ rel
    case (.ret, .none):
      guard let r = returns.last else { return nil }
      target = r
    default: return nil
    }
    if let host, host.contains(target) { return nil }
    if i.mnemonic == .call { returns.append(next) }
    if i.mnemonic == .ret { returns.removeLast() }
    return target
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
  /// and each block `chains`, the blocks that follow (`Handlers.blockEnd`), none beyond `limit`
  /// instructions in all. A block not yet decoded, a request to leave (`Core.leaveBlock`) or
  /// host code ahead ends the chain. Returns the last block's index, whether it ran to its end,
  /// the instructions retired in all, and what an instruction raised, if one did (EIP is then
  /// past it: the caller rewinds).
  @inline(__always)
  func run(
    _ first: Int, count n: Int, limit: Int, chaining: Bool, core: UnsafeMutablePointer<Core>,
    host: (start: UInt32, size: UInt32)
  ) -> (last: Int, completed: Bool, retired: Int, raised: Interrupt?) {
    decoded.withUnsafeBufferPointer { all in
      blocks.withUnsafeBufferPointer { blocks in
        table.withUnsafeBufferPointer { table in
          let start = core.pointee.clock
          // Part of a block runs entry by entry, below: nothing chains from inside it.
          var chain = Chain(
            interrupt: nil, table: table.baseAddress!, blocks: blocks.baseAddress!, blockCount: blocks.count,
            decoded: all.baseAddress!, limitClock: start &+ UInt64(limit),
            chaining: chaining && n == blocks[first].count,
            hostStart: host.start, hostSize: host.size, last: first)
          withUnsafeMutablePointer(to: &chain) { chain in
            core.pointee.chain = chain
            defer { core.pointee.chain = nil }
            let b = blocks[first]
            if n == b.count {
              var p: UnsafeRawPointer? = UnsafeRawPointer(all.baseAddress! + b.first)
              while let entry = p {
                p = entry.assumingMemoryBound(to: Decoded.self).pointee.handler(core, entry)
              }
            } else {
              // Part of a block (the budget or a CS limit ends it early): counted.
              var k = 0
              while k < n {
                let d = all.baseAddress! + (b.first + k)
                let next = d.pointee.handler(core, d)
                if chain.pointee.interrupt != nil { break }
                if d.pointee.defersEIP { core.pointee.eip = d.pointee.next }
                k += 1
                // A branch that leaves the block's path, or a REP step, ends it; HLT and writes
                // to code leave the block too.
                if next == nil || core.pointee.eip != d.pointee.expected { break }
              }
              chain.pointee.completed = k == b.count
            }
          }
          return (chain.last, chain.completed, Int(core.pointee.clock &- start), chain.interrupt)
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
