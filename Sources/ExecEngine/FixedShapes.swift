/// The engine's hot path: common instructions executed through the one generic semantics,
/// instantiated for an instruction of fixed shape (ISAModel's `InstructionOperands`) — two
/// 32-bit registers, a register and an immediate, a register and a 32-bit memory operand… With
/// the shape fixed, the semantics' operand-kind and size dispatch folds away at compile time,
/// and each (mnemonic, shape) pair becomes a small handler of its own, chosen once at decode.
/// No behaviour is written here: every handler calls the `Semantics` function `execute` would.
import ISAModel

/// A handler runs one decoded entry on the core (its arguments: the core and the entry): it
/// executes the instruction and returns the next entry to run (the one after it, or after a
/// block's end or a branch the next block's first), or nil — when the instruction raised (the
/// interrupt is then in `Core.chain`), asked to leave the block, or the chain ends. A thin
/// function pointer, so that an entry stays plain data and calling one costs no reference
/// counting; the run loop is only `p = p.handler(…)`.
typealias Handler = @convention(thin) (UnsafeMutableRawPointer, UnsafeRawPointer) -> UnsafeRawPointer?

/// The operands of a fixed-shape instruction, extracted at decode time.
struct ShapeOperands {
  var a: GPR = .eax
  var b: GPR = .eax
  var immediate: UInt32 = 0
  var memory = MemoryOperand(
    segment: .ds, base: nil, index: nil, scale: 1, displacement: 0, size: .dword, addressSize: .a32)
  var mnemonic: Mnemonic = .nop
  var condition: Condition?
}

/// A 32-bit operand size and address size, no prefixes that change behaviour.
protocol FixedShape: InstructionOperands {
  /// The operands taken from the decoded entry; everything else is a constant of the shape.
  var o: ShapeOperands { get }
  init(o: ShapeOperands)
  /// Whether the instruction may touch memory (an operand, the stack), and so write decoded
  /// code or a device, or walk page tables that share a page with code: then it may ask to
  /// leave the block (`Core.leaveBlock`).
  static var accessesMemory: Bool { get }
}

extension FixedShape {
  @inline(__always) static var accessesMemory: Bool { true }
  @inline(__always) var mnemonic: Mnemonic { o.mnemonic }
  @inline(__always) var condition: Condition? { o.condition }
  @inline(__always) var op2: Operand { .none }
  @inline(__always) var operandSize: OperandSize { .dword }
  @inline(__always) var addressSize: AddressSize { .a32 }
  @inline(__always) var repeatPrefix: RepeatPrefix { .none }
}

extension ShapeOperands {
  /// The memory operand with its size and address size fixed, so they fold.
  @inline(__always) var memory32: Operand {
    .memory(
      MemoryOperand(
        segment: memory.segment, base: memory.base, index: memory.index, scale: memory.scale,
        displacement: memory.displacement, size: .dword, addressSize: .a32))
  }
}

/// r32, r32.
struct RegisterRegister: FixedShape {
  let o: ShapeOperands
  @inline(__always) static var accessesMemory: Bool { false }
  @inline(__always) var op0: Operand { .register(o.a, .dword) }
  @inline(__always) var op1: Operand { .register(o.b, .dword) }
}

/// r32, imm.
struct RegisterImmediate: FixedShape {
  let o: ShapeOperands
  @inline(__always) static var accessesMemory: Bool { false }
  @inline(__always) var op0: Operand { .register(o.a, .dword) }
  @inline(__always) var op1: Operand { .immediate(o.immediate) }
}

/// r32, m32.
struct RegisterMemory: FixedShape {
  let o: ShapeOperands
  @inline(__always) var op0: Operand { .register(o.a, .dword) }
  @inline(__always) var op1: Operand { o.memory32 }
}

/// m32, r32.
struct MemoryRegister: FixedShape {
  let o: ShapeOperands
  @inline(__always) var op0: Operand { o.memory32 }
  @inline(__always) var op1: Operand { .register(o.b, .dword) }
}

/// m32, imm.
struct MemoryImmediate: FixedShape {
  let o: ShapeOperands
  @inline(__always) var op0: Operand { o.memory32 }
  @inline(__always) var op1: Operand { .immediate(o.immediate) }
}

/// r32.
struct OneRegister: FixedShape {
  let o: ShapeOperands
  @inline(__always) var op0: Operand { .register(o.a, .dword) }
  @inline(__always) var op1: Operand { .none }
}

/// m32.
struct OneMemory: FixedShape {
  let o: ShapeOperands
  @inline(__always) var op0: Operand { o.memory32 }
  @inline(__always) var op1: Operand { .none }
}

/// imm (a relative target, or PUSH imm).
struct OneImmediate: FixedShape {
  let o: ShapeOperands
  @inline(__always) var op0: Operand { .immediate(o.immediate) }
  @inline(__always) var op1: Operand { .none }
}

/// r32, r32, imm (IMUL's three-operand form).
struct RegisterRegisterImmediate: FixedShape {
  let o: ShapeOperands
  @inline(__always) static var accessesMemory: Bool { false }
  @inline(__always) var op0: Operand { .register(o.a, .dword) }
  @inline(__always) var op1: Operand { .register(o.b, .dword) }
  @inline(__always) var op2: Operand { .immediate(o.immediate) }
}

/// A segment fixed at decode time, so that a shape's memory operand names it as a constant.
protocol SegmentChoice { static var segment: SegmentRegister { get } }
enum InDS: SegmentChoice { @inline(__always) static var segment: SegmentRegister { .ds } }
enum InSS: SegmentChoice { @inline(__always) static var segment: SegmentRegister { .ss } }

extension ShapeOperands {
  /// `memory32` with the segment a constant too.
  @inline(__always) func memory32<G: SegmentChoice>(in _: G.Type) -> Operand {
    .memory(
      MemoryOperand(
        segment: G.segment, base: memory.base, index: memory.index, scale: memory.scale,
        displacement: memory.displacement, size: .dword, addressSize: .a32))
  }
}

/// r32, m32 through segment `G`.
struct RegisterMemoryIn<G: SegmentChoice>: FixedShape {
  let o: ShapeOperands
  @inline(__always) var op0: Operand { .register(o.a, .dword) }
  @inline(__always) var op1: Operand { o.memory32(in: G.self) }
}

/// m32, r32 through segment `G`.
struct MemoryRegisterIn<G: SegmentChoice>: FixedShape {
  let o: ShapeOperands
  @inline(__always) var op0: Operand { o.memory32(in: G.self) }
  @inline(__always) var op1: Operand { .register(o.b, .dword) }
}

/// No operands.
struct NoOperands: FixedShape {
  let o: ShapeOperands
  @inline(__always) var op0: Operand { .none }
  @inline(__always) var op1: Operand { .none }
}

/// The handler contract (`Handler`) around `body`, for `Semantics.execute`: EIP past the
/// instruction (its start kept in `currentInstruction`, which REP string steps read), the
/// instruction, then the clock and the next entry — or nil with the interrupt in the chain.
/// EIP is stored before the instruction, since the entry before may have left it behind
/// (`perform`).
@inline(__always)
func step(
  _ core: UnsafeMutableRawPointer, _ entry: UnsafeRawPointer,
  _ body: (inout Core, DecodeCache.Decoded) throws(Interrupt) -> Void
) -> UnsafeRawPointer? {
  let c = core.assumingMemoryBound(to: Core.self)
  let d = entry.assumingMemoryBound(to: DecodeCache.Decoded.self)
  c.pointee.currentInstruction = d.pointee.start
  c.pointee.eip = d.pointee.next
  do throws(Interrupt) {
    try body(&c.pointee, d.pointee)
  } catch {
    raised(error, c, d)
    return nil
  }
  return retire(c, entry)
}

/// `step` with the instruction as a fixed shape built from the decoded entry's operands, for
/// any instruction but a branch. No such semantics reads EIP or `currentInstruction`, so
/// neither is stored: EIP stays behind while entries run one after another, and is set where
/// execution leaves the path (`Decoded.defersEIP`) — here when the instruction asks to leave,
/// and `currentInstruction` when it raised (the run loop rewinds EIP to it). A shape without
/// memory operands cannot ask to leave the block.
@inline(__always)
func perform<S: FixedShape>(
  _ core: UnsafeMutableRawPointer, _ entry: UnsafeRawPointer, _: S.Type,
  _ body: (inout Core, S) throws(Interrupt) -> Void
) -> UnsafeRawPointer? {
  let c = core.assumingMemoryBound(to: Core.self)
  let d = entry.assumingMemoryBound(to: DecodeCache.Decoded.self)
  do throws(Interrupt) {
    try body(&c.pointee, S(o: d.pointee.operands))
  } catch {
    raised(error, c, d)
    return nil
  }
  c.pointee.clock &+= 1
  if !S.accessesMemory || _fastPath(!c.pointee.leaveBlock) {
    return entry + MemoryLayout<DecodeCache.Decoded>.stride
  }
  c.pointee.eip = d.pointee.next
  return nil
}

/// What a handler does when its instruction raised: the interrupt goes in the chain, and
/// `currentInstruction` is where the instruction starts (the run loop rewinds EIP to it).
@inline(never)
func raised(_ error: Interrupt, _ c: UnsafeMutablePointer<Core>, _ d: UnsafePointer<DecodeCache.Decoded>) {
  c.pointee.currentInstruction = d.pointee.start
  c.pointee.chain!.pointee.interrupt = error
}

/// `perform` for a near branch: the next entry runs if the branch went where the block goes on
/// (`Decoded.expected`: past it, or where the block followed it, `DecodeCache.follow`), else
/// the block it went to, found as at a block's end, without running the end entry.
@inline(__always)
func stepBranch<S: FixedShape>(
  _ core: UnsafeMutableRawPointer, _ entry: UnsafeRawPointer, _: S.Type,
  _ body: (inout Core, S) throws(Interrupt) -> Void
) -> UnsafeRawPointer? {
  let c = core.assumingMemoryBound(to: Core.self)
  let d = entry.assumingMemoryBound(to: DecodeCache.Decoded.self)
  c.pointee.eip = d.pointee.next
  do throws(Interrupt) {
    try body(&c.pointee, S(o: d.pointee.operands))
  } catch {
    raised(error, c, d)
    return nil
  }
  c.pointee.clock &+= 1
  if _fastPath(c.pointee.eip == d.pointee.expected && !c.pointee.leaveBlock) {
    return entry + MemoryLayout<DecodeCache.Decoded>.stride
  }
  return c.pointee.leaveBlock ? nil : Handlers.mispredicted(c)
}

/// Whether an instruction needs none of the slow paths of its accesses: for a memory access
/// (`read` or `write`) paging off and the segment (SS for the stack, a constant of the shape
/// otherwise) flat for it, and for a branch CS flat. It reads the very fields the
/// semantics test, so that after it the compiler folds those tests, and the calls they guard,
/// out of the handler (`performChecked`).
@inline(__always)
func commonCase(
  _ c: UnsafeMutablePointer<Core>, segment: SegmentRegister, read: Bool, write: Bool, branch: Bool
) -> Bool {
  let bit: UInt8 = 1 << segment.rawValue
  return (!(read || write) || !c.pointee.paging) && (!read || c.pointee.uncheckedReads & bit != 0)
    && (!write || c.pointee.uncheckedWrites & bit != 0) && (!branch || c.pointee.flatCode)
}

/// `perform` (or for a branch `stepBranch`) when `commonCase` holds, else the entry's
/// `fallback` (the same with every check) as a tail call: the handler's body keeps only the RAM
/// and decoded-code checks, so it saves fewer registers (callgrind: PUSH 52 → 44 host
/// instructions).
@inline(__always)
func performChecked<S: FixedShape>(
  _ core: UnsafeMutableRawPointer, _ entry: UnsafeRawPointer, _: S.Type, segment: SegmentRegister = .ss,
  read: Bool, write: Bool, branch: Bool = false, _ body: (inout Core, S) throws(Interrupt) -> Void
) -> UnsafeRawPointer? {
  let c = core.assumingMemoryBound(to: Core.self)
  let d = entry.assumingMemoryBound(to: DecodeCache.Decoded.self)
  guard commonCase(c, segment: segment, read: read, write: write, branch: branch) else {
    return d.pointee.fallback(core, entry)
  }
  return branch ? stepBranch(core, entry, S.self, body) : perform(core, entry, S.self, body)
}

/// After an instruction retired: the clock moves on, and the next entry runs unless the
/// instruction asked to leave the block.
@inline(__always)
func retire(_ c: UnsafeMutablePointer<Core>, _ entry: UnsafeRawPointer) -> UnsafeRawPointer? {
  c.pointee.clock &+= 1
  return c.pointee.leaveBlock ? nil : entry + MemoryLayout<DecodeCache.Decoded>.stride
}

enum Handlers {
  /// Any instruction: `Semantics.execute` with the instruction as decoded.
  static let general: Handler = {
    step($0, $1) { c, d throws(Interrupt) in try Semantics.execute(&c, d.instruction) }
  }

  /// The entry after a block's last instruction: the block has run to its end. Returns the
  /// first entry of the next block when execution may go on there without the run loop looking
  /// again (`DecodeCache.Chain`), else nil.
  static let blockEnd: Handler = { core, _ in
    let c = core.assumingMemoryBound(to: Core.self)
    return end(c, c.pointee.chain!)
  }

  /// `blockEnd` after an entry that left EIP behind (`perform`): EIP is first set past it.
  static let blockEndSettingEIP: Handler = { core, entry in
    let c = core.assumingMemoryBound(to: Core.self)
    c.pointee.eip = entry.assumingMemoryBound(to: DecodeCache.Decoded.self).pointee.next
    return end(c, c.pointee.chain!)
  }

  @inline(__always)
  static func end(_ c: UnsafeMutablePointer<Core>, _ s: UnsafeMutablePointer<DecodeCache.Chain>)
    -> UnsafeRawPointer?
  {
    s.pointee.completed = true
    guard s.pointee.blocks[s.pointee.last].chains else { return nil }
    return enter(c, s)
  }

  /// A near branch went elsewhere than its block goes on (a wrong prediction, or a branch the
  /// block ends at taken): the block there, if it may run now, as at a block's end; the block
  /// that was running did not complete.
  @inline(never)
  static func mispredicted(_ c: UnsafeMutablePointer<Core>) -> UnsafeRawPointer? {
    enter(c, c.pointee.chain!)
  }

  /// The first entry of the block at EIP when execution may go on there without the run loop
  /// looking again: chaining on, time left for the whole block, no host code ahead.
  @inline(__always)
  static func enter(_ c: UnsafeMutablePointer<Core>, _ s: UnsafeMutablePointer<DecodeCache.Chain>)
    -> UnsafeRawPointer?
  {
    guard s.pointee.chaining else { return nil }
    let eip = c.pointee.eip
    let clock = c.pointee.clock
    guard clock < s.pointee.limitClock, eip &- s.pointee.hostStart >= s.pointee.hostSize else { return nil }
    let index = Int(s.pointee.table[DecodeCache.slot(eip)])
    guard index >= 0 && index < s.pointee.blockCount else { return nil }
    let b = s.pointee.blocks[index]
    guard b.start == eip && UInt64(b.count) <= s.pointee.limitClock &- clock else { return nil }
    s.pointee.last = index
    s.pointee.completed = false
    return UnsafeRawPointer(s.pointee.decoded + b.first)
  }

  /// The handler for the forms that test for the common case first (`performChecked`; their
  /// `fallback` is the one `select` gives), or nil: the stack forms, near branches, and MOV
  /// to or from memory through DS or SS. The segment must be a constant of the shape
  /// (`RegisterMemoryIn`): taken from the operands, the semantics' tests did not fold and the
  /// test cost more than it saved (mix: 521 → 528 M host instructions).
  static func checked(_ i: Instruction) -> Handler? {
    guard shapeable(i), i.op2.isAbsent else { return nil }
    switch (kind(i.op0), kind(i.op1), i.mnemonic) {
    case (.register, .none, .push):
      return {
        performChecked($0, $1, OneRegister.self, read: false, write: true) {
          c, i throws(Interrupt) in
          try Semantics.push(&c, i)
        }
      }
    case (.register, .none, .pop):
      return {
        performChecked($0, $1, OneRegister.self, read: true, write: false) {
          c, i throws(Interrupt) in
          try Semantics.pop(&c, i)
        }
      }
    case (.immediate, .none, .call):
      return {
        performChecked($0, $1, OneImmediate.self, read: false, write: true, branch: true) {
          c, i throws(Interrupt) in try Semantics.call(&c, i)
        }
      }
    case (.none, .none, .ret):
      return {
        performChecked($0, $1, NoOperands.self, read: true, write: false, branch: true) {
          c, i throws(Interrupt) in try Semantics.ret(&c, i)
        }
      }
    case (.immediate, .none, .jmp):
      return {
        performChecked($0, $1, OneImmediate.self, read: false, write: false, branch: true) {
          c, i throws(Interrupt) in try Semantics.jmp(&c, i)
        }
      }
    case (.immediate, .none, .jcc): return checkedJump(i.condition ?? .o)
    case (.register, .memory, .mov):
      guard case .memory(let m) = i.op1 else { return nil }
      switch m.segment {
      case .ds:
        return {
          performChecked($0, $1, RegisterMemoryIn<InDS>.self, segment: .ds, read: true, write: false) {
            c, i throws(Interrupt) in try Semantics.mov(&c, i)
          }
        }
      case .ss:
        return {
          performChecked($0, $1, RegisterMemoryIn<InSS>.self, segment: .ss, read: true, write: false) {
            c, i throws(Interrupt) in try Semantics.mov(&c, i)
          }
        }
      default: return nil
      }
    case (.memory, .register, .mov):
      guard case .memory(let m) = i.op0 else { return nil }
      switch m.segment {
      case .ds:
        return {
          performChecked($0, $1, MemoryRegisterIn<InDS>.self, segment: .ds, read: false, write: true) {
            c, i throws(Interrupt) in try Semantics.mov(&c, i)
          }
        }
      case .ss:
        return {
          performChecked($0, $1, MemoryRegisterIn<InSS>.self, segment: .ss, read: false, write: true) {
            c, i throws(Interrupt) in try Semantics.mov(&c, i)
          }
        }
      default: return nil
      }
    default: return nil
    }
  }

  /// The kind of one operand, as far as fixed shapes go.
  enum Kind { case none, register, immediate, memory, other }

  static func kind(_ o: Operand) -> Kind {
    switch o {
    case .none: .none
    case .register(_, let s): s == .dword ? .register : .other
    case .immediate: .immediate
    case .memory(let m): m.size == .dword && m.addressSize == .a32 ? .memory : .other
    default: .other
    }
  }

  /// Whether `i` may have a fixed-shape handler. Instruction-wide checks (CPL 0, VMX) are
  /// `execute`'s: forms that have them stay general, as do prefixes that change behaviour.
  static func shapeable(_ i: Instruction) -> Bool {
    !i.mnemonic.requiresCPL0 && i.operandSize == .dword && i.addressSize == .a32 && i.repeatPrefix == .none
      && !i.lock
  }

  /// The handler and operands for `i`: a fixed-shape one where there is one, else `general`.
  /// Near branches check where they went (`stepBranch`).
  static func select(_ i: Instruction) -> (Handler, ShapeOperands, defersEIP: Bool) {
    var o = ShapeOperands()
    o.mnemonic = i.mnemonic
    o.condition = i.condition
    guard shapeable(i) else { return (general, o, false) }
    let k0 = kind(i.op0)
    let k1 = kind(i.op1)
    if case .immediate(let v) = i.op2 {
      guard i.mnemonic == .imul, k0 == .register, k1 == .register, case .register(let a, _) = i.op0,
        case .register(let b, _) = i.op1
      else { return (general, o, false) }
      (o.a, o.b, o.immediate) = (a, b, v)
      return (
        {
          perform($0, $1, RegisterRegisterImmediate.self) { c, i throws(Interrupt) in
            try Semantics.multiplyTruncating(&c, i)
          }
        }, o, true
      )
    }
    guard i.op2.isAbsent else { return (general, o, false) }
    if case .register(let r, _) = i.op0 { o.a = r }
    if case .register(let r, _) = i.op1 { o.b = r }
    if case .immediate(let v) = i.op0 { o.immediate = v }
    if case .immediate(let v) = i.op1 { o.immediate = v }
    if case .memory(let m) = i.op0 { o.memory = m }
    if case .memory(let m) = i.op1 { o.memory = m }
    let h: Handler? =
      switch (k0, k1) {
      case (.register, .register): registerRegister(i.mnemonic)
      case (.register, .immediate): registerImmediate(i.mnemonic)
      case (.register, .memory): registerMemory(i.mnemonic)
      case (.memory, .register): memoryRegister(i.mnemonic)
      case (.memory, .immediate): memoryImmediate(i.mnemonic)
      case (.register, .none): oneRegister(i.mnemonic)
      case (.memory, .none): oneMemory(i.mnemonic)
      case (.immediate, .none): oneImmediate(i.mnemonic, i.condition)
      case (.none, .none): noOperands(i.mnemonic)
      default: nil
      }
    // Branches store EIP (`stepBranch`); every other fixed shape defers it (`perform`).
    guard let h else { return (general, o, false) }
    return (h, o, !i.mnemonic.isControlTransfer)
  }

  static func registerRegister(_ m: Mnemonic) -> Handler? {
    typealias S = RegisterRegister
    switch m {
    case .add: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.add(&c, i) } }
    case .or: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.or(&c, i) } }
    case .adc: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.adc(&c, i) } }
    case .sbb: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.sbb(&c, i) } }
    case .and: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.and(&c, i) } }
    case .sub: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.sub(&c, i) } }
    case .xor: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.xor(&c, i) } }
    case .cmp: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.cmp(&c, i) } }
    case .test: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.test(&c, i) } }
    case .mov: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.mov(&c, i) } }
    case .imul:
      return {
        perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.multiplyTruncating(&c, i) }
      }
    default: return nil
    }
  }

  static func registerImmediate(_ m: Mnemonic) -> Handler? {
    typealias S = RegisterImmediate
    switch m {
    case .add: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.add(&c, i) } }
    case .or: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.or(&c, i) } }
    case .adc: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.adc(&c, i) } }
    case .sbb: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.sbb(&c, i) } }
    case .and: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.and(&c, i) } }
    case .sub: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.sub(&c, i) } }
    case .xor: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.xor(&c, i) } }
    case .cmp: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.cmp(&c, i) } }
    case .test: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.test(&c, i) } }
    case .mov: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.mov(&c, i) } }
    case .shl:
      return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.shift(&c, i, .shl) } }
    case .shr:
      return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.shift(&c, i, .shr) } }
    case .sar:
      return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.shift(&c, i, .sar) } }
    case .rol:
      return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.rotate(&c, i, .rol) } }
    case .ror:
      return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.rotate(&c, i, .ror) } }
    default: return nil
    }
  }

  static func registerMemory(_ m: Mnemonic) -> Handler? {
    typealias S = RegisterMemory
    switch m {
    case .add: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.add(&c, i) } }
    case .or: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.or(&c, i) } }
    case .and: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.and(&c, i) } }
    case .sub: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.sub(&c, i) } }
    case .xor: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.xor(&c, i) } }
    case .cmp: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.cmp(&c, i) } }
    case .mov: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.mov(&c, i) } }
    case .lea: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.lea(&c, i) } }
    default: return nil
    }
  }

  static func memoryRegister(_ m: Mnemonic) -> Handler? {
    typealias S = MemoryRegister
    switch m {
    case .add: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.add(&c, i) } }
    case .sub: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.sub(&c, i) } }
    case .cmp: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.cmp(&c, i) } }
    case .mov: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.mov(&c, i) } }
    default: return nil
    }
  }

  static func memoryImmediate(_ m: Mnemonic) -> Handler? {
    typealias S = MemoryImmediate
    switch m {
    case .add: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.add(&c, i) } }
    case .cmp: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.cmp(&c, i) } }
    case .mov: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.mov(&c, i) } }
    default: return nil
    }
  }

  static func oneRegister(_ m: Mnemonic) -> Handler? {
    typealias S = OneRegister
    switch m {
    case .inc:
      return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.incDec(&c, i, .inc) } }
    case .dec:
      return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.incDec(&c, i, .dec) } }
    case .push: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.push(&c, i) } }
    case .pop: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.pop(&c, i) } }
    case .neg: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.neg(&c, i) } }
    case .not: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.not(&c, i) } }
    default: return nil
    }
  }

  static func oneMemory(_ m: Mnemonic) -> Handler? {
    typealias S = OneMemory
    switch m {
    case .inc:
      return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.incDec(&c, i, .inc) } }
    case .dec:
      return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.incDec(&c, i, .dec) } }
    case .push: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.push(&c, i) } }
    default: return nil
    }
  }

  static func oneImmediate(_ m: Mnemonic, _ cc: Condition?) -> Handler? {
    typealias S = OneImmediate
    switch m {
    case .jcc: return conditionalJump(cc ?? .o)
    case .jmp:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jmp(&c, i) } }
    case .call:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.call(&c, i) } }
    case .push: return { perform($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.push(&c, i) } }
    case .loop, .loope, .loopne:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.loop(&c, i) } }
    default: return nil
    }
  }

  static func noOperands(_ m: Mnemonic) -> Handler? {
    typealias S = NoOperands
    switch m {
    case .ret:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.ret(&c, i) } }
    case .nop: return { perform($0, $1, S.self) { _, _ in } }
    default: return nil
    }
  }

  /// Jcc with its condition fixed too, so that evaluating it folds to the flags it reads.
  static func conditionalJump(_ cc: Condition) -> Handler {
    typealias S = OneImmediate
    switch cc {
    case .o:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .o) } }
    case .no:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .no) } }
    case .b:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .b) } }
    case .ae:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .ae) } }
    case .e:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .e) } }
    case .ne:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .ne) } }
    case .be:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .be) } }
    case .a:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .a) } }
    case .s:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .s) } }
    case .ns:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .ns) } }
    case .p:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .p) } }
    case .np:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .np) } }
    case .l:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .l) } }
    case .ge:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .ge) } }
    case .le:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .le) } }
    case .g:
      return { stepBranch($0, $1, S.self) { c, i throws(Interrupt) in try Semantics.jcc(&c, i, .g) } }
    }
  }
  /// `conditionalJump` testing for flat CS first (`performChecked`).
  static func checkedJump(_ cc: Condition) -> Handler {
    typealias S = OneImmediate
    switch cc {
    case .o:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .o)
        }
      }
    case .no:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .no)
        }
      }
    case .b:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .b)
        }
      }
    case .ae:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .ae)
        }
      }
    case .e:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .e)
        }
      }
    case .ne:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .ne)
        }
      }
    case .be:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .be)
        }
      }
    case .a:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .a)
        }
      }
    case .s:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .s)
        }
      }
    case .ns:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .ns)
        }
      }
    case .p:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .p)
        }
      }
    case .np:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .np)
        }
      }
    case .l:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .l)
        }
      }
    case .ge:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .ge)
        }
      }
    case .le:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .le)
        }
      }
    case .g:
      return {
        performChecked($0, $1, S.self, read: false, write: false, branch: true) { c, i throws(Interrupt) in
          try Semantics.jcc(&c, i, .g)
        }
      }
    }
  }

}
