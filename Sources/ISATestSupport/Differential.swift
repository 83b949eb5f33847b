import ExecEngine
import ISAModel
import UnicornReference

/// Runs one random instruction on the engine and on unicorn from the same state and compares
/// registers, the flags the SDM defines for that case, memory, EIP and faults. Undefined
/// results are masked case by case, exactly as the SDM leaves them (and as FlagSemantics and
/// the semantics' `undefined` calls say).
public final class DifferentialRunner {
  public static let code: UInt32 = 0x1000
  /// Data for 32-bit addresses (and the stack), and for 16-bit addresses (below 64 KiB).
  public static let data32: UInt32 = 0x10_0000
  public static let data16: UInt32 = 0xC000
  public static let dataSize: UInt32 = 0x4000

  /// What unicorn maps: the low 64 KiB (code and 16-bit data) and the 32-bit data.
  static let regions: [(address: UInt64, size: Int)] = [(0, 0x1_0000), (UInt64(data32), Int(dataSize))]

  let machine: Machine
  let unicorn: Unicorn
  let forms: [Form]
  var generator = InstructionGenerator()

  public init() throws {
    machine = Machine(memorySize: 2 << 20)
    unicorn = try Unicorn(regions: Self.regions)
    generator.allowSegmentOverrides = false
    // HLT ends unicorn's run in its own way; F6/F7 /1 (TEST's undocumented alias) is #UD in
    // unicorn but TEST on Intel processors (docs/divergences.md); everything else is compared.
    // IN and OUT need devices behind the ports, which the reference has not (DeviceTests);
    // CPUID describes each emulator's own CPU model (CPUIDTests).
    forms = OpcodeTable.forms.indices.map { Form(index: UInt16($0)) }.filter {
      ![.hlt, .input, .output, .cpuid].contains($0.spec.mnemonic) && !$0.spec.opcode.hasPrefix("F6 /1")
        && !$0.spec.opcode.hasPrefix("F7 /1")
    }
  }

  /// One case. Returns a description of every difference (empty when they agree).
  public func run(seed: UInt64) throws -> [String] {
    let (inst, regs, flags, data32, data16) = try makeCase(seed: seed)
    let bytes = try Encoder.encode(inst)
    let mnemonic = inst.mnemonic

    // The engine.
    var state = CPUState()
    for r in GPR.allCases { state[r] = regs[Int(r.rawValue)] }
    state.eip = Self.code
    state.eflags = flags
    for s in SegmentRegister.allCases { state[s] = .flat(selector: s == .cs ? 0x08 : 0x10, code: s == .cs) }
    machine.state = state
    machine.load(bytes + [0xF4], at: PhysicalAddress(Self.code))
    machine.load(data32, at: PhysicalAddress(Self.data32))
    machine.load(data16, at: PhysicalAddress(Self.data16))
    var outcome = machine.run(budget: 1)
    var steps = 1
    let repeats = mnemonic.isString && inst.repeatPrefix != .none
    while repeats && outcome.reason == .budgetExhausted && outcome.eip == Self.code && steps < 64 {
      outcome = machine.run(budget: 1)
      steps += 1
    }
    let mine = machine.state

    // The reference.
    for r in 0..<8 { try unicorn.setRegister(r, regs[r]) }
    try unicorn.setEFLAGS(flags)
    try unicorn.writeCode(bytes + [0xF4], at: UInt64(Self.code))
    try unicorn.writeMemory(data32, at: UInt64(Self.data32))
    try unicorn.writeMemory(data16, at: UInt64(Self.data16))
    let next = Self.code &+ UInt32(bytes.count)
    // Control transfers run one instruction; everything else runs until EIP reaches the next
    // instruction (unicorn reports an exception only when it runs to completion that way).
    let stop =
      mnemonic.isControlTransfer
      ? unicorn.run(from: Self.code, until: 0xFFFF_FFFF, count: 1)
      : unicorn.run(from: Self.code, until: next, count: 0)

    // unicorn stays "inside" an exception it reported (the next one would become #DF).
    defer { if stop != .completed { try? unicorn.resetCPU() } }
    var diffs: [String] = []
    let context = "seed \(seed): \(inst) [\(bytes.map { hexByte($0) }.joined(separator: " "))]"
    // Faults.
    let myFault: UInt32? = if case .fault(let f) = outcome.reason { UInt32(f.vector.rawValue) } else { nil }
    let theirFault: UInt32?
    switch stop {
    case .interrupt(let v): theirFault = v
    case .error(let code, let message):
      // UC_ERR_INSN_INVALID (10) is unicorn's #UD; UC_ERR_FETCH_UNMAPPED (8) after a transfer
      // to an unmapped target means the transfer itself completed.
      if code == 10 {
        theirFault = 6
      } else if code == 8 && mnemonic.isControlTransfer {
        theirFault = nil
      } else {
        return ["\(context): unicorn error \(message)"]
      }
    case .completed: theirFault = nil
    }
    if case .modelGap(let what) = outcome.reason { return ["\(context): model gap \(what)"] }
    if myFault != theirFault {
      diffs.append(
        "fault: \(myFault.map { "vector \($0)" } ?? "none") vs \(theirFault.map { "vector \($0)" } ?? "none")"
      )
    }
    // Registers, with results the SDM leaves undefined masked.
    let (skip, skipMemory) = Self.undefinedResults(inst, regs: regs)
    for r in GPR.allCases where !skip.contains(r) {
      let theirs = try unicorn.register(Int(r.rawValue))
      if mine[r] != theirs { diffs.append("\(r.name(.dword)): \(hex32(mine[r])) vs \(hex32(theirs))") }
    }
    let theirEIP = try unicorn.eip
    if mine.eip != theirEIP { diffs.append("eip: \(hex32(mine.eip)) vs \(hex32(theirEIP))") }
    let mask = (FlagMask.status | Flag.df.mask) & ~Self.undefinedFlags(inst, regs: regs, flags: flags)
    let theirFlags = try unicorn.eflags
    if (mine.eflags ^ theirFlags) & mask != 0 {
      diffs.append(
        "eflags: \(hex32(mine.eflags & mask)) vs \(hex32(theirFlags & mask)) (mask \(hex32(mask)))")
    }
    for (base, label) in [(Self.data32, "data32"), (Self.data16, "data16")] where !skipMemory {
      let a = machine.memory.bytes(at: PhysicalAddress(base), count: Int(Self.dataSize))
      let b = try unicorn.readMemory(at: UInt64(base), count: Int(Self.dataSize))
      if a != b, let k = a.indices.first(where: { a[$0] != b[$0] }) {
        diffs.append("\(label)+\(String(k, radix: 16)): \(hexByte(a[k])) vs \(hexByte(b[k]))")
      }
    }
    return diffs.isEmpty ? [] : ["\(context): " + diffs.joined(separator: "; ")]
  }

  static func isImmediate(_ o: Operand) -> Bool {
    if case .immediate = o { true } else { false }
  }

  static func resized(_ o: Operand, _ size: OperandSize) -> Operand {
    switch o {
    case .register(let r, _): return .register(r, size)
    case .memory(var m):
      m.size = size
      return .memory(m)
    default: return o
    }
  }

  static func randomBytes(_ count: Int, _ rng: inout SplitMix64) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    out.withUnsafeMutableBytes { buf in
      let words = buf.bindMemory(to: UInt64.self)
      for k in words.indices { words[k] = rng.next() }
    }
    return out
  }

  /// The case a seed stands for: the instruction, registers, EFLAGS and the two data areas.
  public func makeCase(seed: UInt64) throws -> (
    instruction: Instruction, registers: [UInt32], eflags: UInt32, data32: [UInt8], data16: [UInt8]
  ) {
    var rng = SplitMix64(seed: seed)
    let form = forms[Int(rng.next() % UInt64(forms.count))]
    var inst = generator.instance(of: form, using: &rng)
    // unicorn's Core 2 model decodes F3 0F BC/BD as TZCNT/LZCNT, which the modelled CPU does
    // not have (docs/divergences.md): compare BSF/BSR without the prefix.
    if inst.mnemonic == .bsf || inst.mnemonic == .bsr, inst.repeatPrefix == .rep { inst.repeatPrefix = .none }
    // unicorn computes wrong flags for LOCK NEG, and sign-extends RET's imm16
    // (docs/divergences.md): compare NEG unlocked and RET with releases below 32 KiB.
    if inst.mnemonic == .neg { inst.lock = false }
    // unicorn 2.0.1 aborts the whole process (tcg.c:3073, "tcg fatal error") on a 16-bit
    // CALL/JMP through r/m in 32-bit code (docs/divergences.md): draw those at 32 bits.
    if inst.mnemonic == .call || inst.mnemonic == .jmp, inst.operandSize == .word, !Self.isImmediate(inst.op0)
    {
      inst.operandSize = .dword
      inst.op0 = Self.resized(inst.op0, .dword)
    }
    if inst.mnemonic == .ret, case .immediate(let v) = inst.op0, v >= 0x8000 {
      inst.op0 = .immediate(v & 0x7FFF)
    }
    var regs = (0..<8).map { _ in rng.edgyWord() }
    let mnemonic = inst.mnemonic
    // Pointers that must land in mapped data.
    func into(_ base: UInt32, _ span: UInt32) -> UInt32 { base &+ 0x400 &+ UInt32(rng.next() % UInt64(span)) }
    regs[Int(GPR.esp.rawValue)] = into(Self.data32 &+ 0x1000, 0x1000) & ~3
    if mnemonic == .enter || mnemonic == .leave {
      regs[Int(GPR.ebp.rawValue)] = into(Self.data32 &+ 0x1000, 0x1000) & ~3
    }
    if mnemonic.isString {
      let base = inst.addressSize == .a16 ? Self.data16 : Self.data32
      for r in [GPR.esi, .edi] {
        let p = into(base, 0x2000)
        regs[Int(r.rawValue)] = inst.addressSize == .a16 ? (regs[Int(r.rawValue)] & 0xFFFF_0000) | p : p
      }
      if inst.repeatPrefix != .none {
        let n = UInt32(rng.next() % 6)
        regs[Int(GPR.ecx.rawValue)] =
          inst.addressSize == .a16 ? (regs[Int(GPR.ecx.rawValue)] & 0xFFFF_0000) | n : n
      }
    }
    if [.bt, .bts, .btr, .btc].contains(mnemonic), inst.op0.isMemory, case .register(let r, _) = inst.op1 {
      regs[Int(r.rawValue)] = UInt32(bitPattern: Int32(rng.next() % 513) - 256)
    }
    // Memory operands: choose the displacement that puts the address in the data area.
    func place(_ o: Operand) -> Operand {
      guard case .memory(var m) = o, mnemonic.isString == false else { return o }
      let target = into(m.addressSize == .a16 ? Self.data16 : Self.data32, 0x2000)
      var sum: UInt32 = 0
      if let b = m.base { sum &+= regs[Int(b.rawValue)] }
      if let x = m.index { sum &+= regs[Int(x.rawValue)] &* UInt32(m.scale) }
      m.displacement = (target &- sum) & m.addressSize.mask
      if m.addressSize == .a32 && m.base == nil && m.index == nil { m.displacement = target }
      return .memory(m)
    }
    inst.op0 = place(inst.op0)
    inst.op1 = place(inst.op1)
    inst.op2 = place(inst.op2)
    let flags =
      (UInt32(truncatingIfNeeded: rng.next()) & (FlagMask.status | Flag.df.mask)) | FlagMask.reservedOne
    let data32 = Self.randomBytes(Int(Self.dataSize), &rng)
    let data16 = Self.randomBytes(Int(Self.dataSize), &rng)

    return (inst, regs, flags, data32, data16)
  }

  /// Registers (or the memory destination) whose value the SDM leaves undefined in this case.
  static func undefinedResults(_ i: Instruction, regs: [UInt32]) -> (Set<GPR>, memory: Bool) {
    let registers = undefinedRegisters(i, regs: regs)
    if case .memory = i.op0, i.mnemonic == .shld || i.mnemonic == .shrd {
      let count: UInt32? =
        switch i.op2 {
        case .register(let r, let s): regs[Int(r.rawValue)] & s.mask
        case .immediate(let v): v
        default: nil
        }
      if let count, (count & 0x1F) > i.op0.size.bits { return (registers, true) }
    }
    return (registers, false)
  }

  static func undefinedRegisters(_ i: Instruction, regs: [UInt32]) -> Set<GPR> {
    func value(_ o: Operand) -> UInt32? {
      switch o {
      case .register(let r, let s): return regs[Int(r.rawValue)] & s.mask
      case .immediate(let v): return v
      default: return nil
      }
    }
    guard case .register(let dest, let size) = i.op0 else { return [] }
    switch i.mnemonic {
    case .bswap where size == .word: return [dest]
    case .shld, .shrd:
      guard let count = value(i.op2) else { return [] }
      return (count & 0x1F) > size.bits ? [dest] : []
    default: return []
    }
  }

  /// Status flags the SDM leaves undefined in this case (value-dependent where it says so).
  static func undefinedFlags(_ i: Instruction, regs: [UInt32], flags: UInt32) -> UInt32 {
    let m = i.mnemonic
    var undefined = m.flagsUndefined
    func count(_ o: Operand) -> UInt32? {
      switch o {
      case .register(let r, let s): return regs[Int(r.rawValue)] & s.mask & 0x1F
      case .immediate(let v): return v & 0x1F
      default: return nil
      }
    }
    let size = i.op0.size
    switch m {
    case .shl, .shr, .sar, .rol, .ror, .rcl, .rcr, .shld, .shrd:
      guard let n = count(m == .shld || m == .shrd ? i.op2 : i.op1) else { return FlagMask.status }
      if n == 0 { return 0 }  // flags unchanged: all compared
      if n == 1 { undefined &= ~Flag.of.mask }
      if (m == .shl || m == .shr) && n >= size.bits { undefined |= Flag.cf.mask }
      if (m == .shld || m == .shrd) && n > size.bits { undefined |= FlagMask.status }
    default: break
    }
    return undefined
  }
}

func hexByte(_ b: UInt8) -> String {
  let s = String(b, radix: 16)
  return s.count == 1 ? "0" + s : s
}
