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
  /// A GDT both emulators load selectors from: null, flat code (0x08), flat data (0x10), and a
  /// few others for MOV Sreg and POP Sreg to meet: read-only data (0x18), a DPL-3 data segment
  /// (0x20), a not-present data segment (0x28), a small expand-up data segment (0x30: base
  /// 0x100000, limit 0xFFF), an execute-only code segment (0x38), readable code (0x40), an LDT
  /// descriptor (0x48).
  public static let gdt: UInt32 = 0x0800
  public static let gdtBytes: [UInt8] = [
    0, 0, 0, 0, 0, 0, 0, 0,
    0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0,
    0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0,
    0xFF, 0xFF, 0, 0, 0, 0x91, 0xCF, 0,
    0xFF, 0xFF, 0, 0, 0, 0xF3, 0xCF, 0,
    0xFF, 0xFF, 0, 0, 0, 0x13, 0xCF, 0,
    0xFF, 0x0F, 0, 0, 0x10, 0x93, 0x40, 0,
    0xFF, 0xFF, 0, 0, 0, 0x99, 0xCF, 0,
    0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0,
    0x17, 0, 0, 0x08, 0, 0x82, 0, 0,
  ]

  /// What unicorn maps: the low 64 KiB (code and 16-bit data) and the 32-bit data.
  static let regions: [(address: UInt64, size: Int)] = [(0, 0x1_0000), (UInt64(data32), Int(dataSize))]

  /// Which instructions a runner draws: user-level ones, or the system instructions that run
  /// at CPL 0 in both emulators (with random control, debug and table registers).
  public enum Scope: Sendable { case user, system }

  let machine: Machine
  let unicorn: Unicorn
  let forms: [Form]
  let scope: Scope
  var generator = InstructionGenerator()

  /// The system instructions compared at CPL 0. Left out: HLT, IN/OUT and CPUID (see above),
  /// RDTSC and the TSC MSR (each emulator has its own clock), RDMSR/WRMSR (unicorn's Core 2
  /// has other MSRs), RDPMC (unicorn raises #UD; the model has no counters: #GP), INVEPT and
  /// INVVPID (unicorn raises #NM for 66 0F 38 80/81; docs/divergences.md).
  public static let comparedSystemMnemonics: Set<Mnemonic> = [
    .movControl, .movDebug, .lgdt, .lidt, .sgdt, .sidt, .smsw, .lmsw, .clts, .invd, .wbinvd, .invlpg, .cli,
    .sti, .pushf, .popf, .vmcall, .vmlaunch, .vmresume, .vmxoff, .vmxon, .vmclear, .vmptrld, .vmptrst,
    .vmread, .vmwrite,
  ]

  public init(scope: Scope = .user) throws {
    self.scope = scope
    machine = Machine(memorySize: 2 << 20)
    // One instruction's own fault is compared, not its delivery.
    machine.exceptionRouting = .stop
    unicorn = try Unicorn(regions: Self.regions)
    generator.allowSegmentOverrides = false
    // HLT ends unicorn's run in its own way; F6/F7 /1 (TEST's undocumented alias) is #UD in
    // unicorn but TEST on Intel processors (docs/divergences.md); everything else is compared.
    // IN and OUT need devices behind the ports, which the reference has not (DeviceTests);
    // CPUID describes each emulator's own CPU model (CPUIDTests).
    // System instructions have their own runner (SystemDifferentialRunner).
    let all = OpcodeTable.forms.indices.map { Form(index: UInt16($0)) }
    switch scope {
    case .user:
      forms = all.filter {
        !Self.systemMnemonics.contains($0.spec.mnemonic) && !$0.spec.opcode.hasPrefix("F6 /1")
          && !$0.spec.opcode.hasPrefix("F7 /1")
      }
    case .system:
      forms = all.filter { Self.comparedSystemMnemonics.contains($0.spec.mnemonic) }
    }
  }

  /// Instructions this runner leaves out: the system instructions, and CPUID. (INT n, INT3,
  /// INTO and IRET: unicorn hands interrupts to the host instead of delivering them through
  /// the IDT; InterruptTests check ours.)
  public static let systemMnemonics: Set<Mnemonic> = [
    .hlt, .input, .output, .cpuid, .movControl, .movDebug, .lgdt, .lidt, .sgdt, .sidt, .smsw, .lmsw, .clts,
    .invd, .wbinvd, .invlpg, .rdmsr, .wrmsr, .rdtsc, .rdpmc, .cli, .sti, .pushf, .popf, .vmcall, .vmlaunch,
    .vmresume, .vmxoff, .vmxon, .vmclear, .vmptrld, .vmptrst, .vmread, .vmwrite, .invept, .invvpid,
    .sldt, .str, .lldt, .ltr, .int, .int3, .into, .iret, .sysenter, .sysexit, .ins, .outs,
  ]

  /// Loads a case into `machine`: its registers, flat segments from the shared GDT, the case's
  /// system registers, the instruction (then HLT) at `code`, and the data. Returns the state.
  @discardableResult
  public static func load(_ c: Case, into machine: Machine) throws -> CPUState {
    var state = CPUState()
    for r in GPR.allCases { state[r] = c.registers[Int(r.rawValue)] }
    state.eip = Self.code
    state.eflags = c.eflags
    // Flat segments as the GDT's descriptors 0x08 and 0x10 load them (accessed bits set).
    for s in SegmentRegister.allCases {
      state[s] = .flat(selector: s == .cs ? 0x08 : 0x10, code: s == .cs)
      state[s].attributes |= 1
    }
    state.gdtr = TableRegister(base: Self.gdt, limit: UInt16(Self.gdtBytes.count - 1))
    if let sys = c.system {
      for r in SystemRegister.allCases { state[r] = sys[r] }
    }
    machine.state = state
    machine.load(Self.gdtBytes, at: PhysicalAddress(Self.gdt))
    machine.load(try Encoder.encode(c.instruction) + [0xF4], at: PhysicalAddress(Self.code))
    machine.load(c.data32, at: PhysicalAddress(Self.data32))
    machine.load(c.data16, at: PhysicalAddress(Self.data16))
    return state
  }

  /// One case. Returns a description of every difference (empty when they agree).
  public func run(seed: UInt64) throws -> [String] {
    let c = try makeCase(seed: seed)
    let (inst, regs, flags, data32, data16) = (c.instruction, c.registers, c.eflags, c.data32, c.data16)
    let bytes = try Encoder.encode(inst)
    let mnemonic = inst.mnemonic

    // The engine.
    let state = try Self.load(c, into: machine)
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
    // Flat selectors, loaded from the same GDT; then the case's own GDTR (system scope).
    try unicorn.writeMemory(Self.gdtBytes, at: UInt64(Self.gdt))
    try unicorn.setTableRegister(interrupt: false, base: Self.gdt, limit: UInt32(Self.gdtBytes.count - 1))
    for s in SegmentRegister.allCases {
      try unicorn.setSegmentSelector(Int(s.rawValue), UInt32(state[s].selector))
    }
    let sys = state
    try unicorn.setControlRegister(0, sys.cr0)
    try unicorn.setControlRegister(2, sys.cr2)
    try unicorn.setControlRegister(3, sys.cr3)
    try unicorn.setControlRegister(4, sys.cr4)
    for (k, n) in [0, 1, 2, 3, 6, 7].enumerated() { try unicorn.setDebugRegister(n, sys.debugRegisters[k]) }
    try unicorn.setTableRegister(interrupt: false, base: sys.gdtr.base, limit: UInt32(sys.gdtr.limit))
    try unicorn.setTableRegister(interrupt: true, base: sys.idtr.base, limit: UInt32(sys.idtr.limit))
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
      // SMSW r32 leaves bits 31:16 undefined, LAR r32 bits 19:16.
      var defined: UInt32 = inst.mnemonic == .smsw && inst.op0 == .register(r, .dword) ? 0xFFFF : ~0
      if inst.mnemonic == .lar && inst.op0 == .register(r, .dword) { defined = ~0xF_0000 }
      if (mine[r] ^ theirs) & defined != 0 {
        diffs.append("\(r.name(.dword)): \(hex32(mine[r])) vs \(hex32(theirs))")
      }
    }
    let theirEIP = try unicorn.eip
    if mine.eip != theirEIP { diffs.append("eip: \(hex32(mine.eip)) vs \(hex32(theirEIP))") }
    // System scope: every EFLAGS bit a CPL-0 instruction can change (not RF, which both clear).
    let compared = scope == .system ? Self.systemFlags : FlagMask.status | Flag.df.mask
    let mask = compared & ~Self.undefinedFlags(inst, regs: regs, flags: flags)
    let theirFlags = try unicorn.eflags
    if (mine.eflags ^ theirFlags) & mask != 0 {
      diffs.append(
        "eflags: \(hex32(mine.eflags & mask)) vs \(hex32(theirFlags & mask)) (mask \(hex32(mask)))")
    }
    if scope == .system {
      for (n, mineValue) in [(0, mine.cr0), (2, mine.cr2), (3, mine.cr3), (4, mine.cr4)] {
        let theirs = try unicorn.controlRegister(n)
        if mineValue != theirs { diffs.append("cr\(n): \(hex32(mineValue)) vs \(hex32(theirs))") }
      }
      for (k, n) in [0, 1, 2, 3, 6, 7].enumerated() {
        let theirs = try unicorn.debugRegister(n)
        if mine.debugRegisters[k] != theirs {
          diffs.append("dr\(n): \(hex32(mine.debugRegisters[k])) vs \(hex32(theirs))")
        }
      }
      for (interrupt, table, name) in [(false, mine.gdtr, "gdtr"), (true, mine.idtr, "idtr")] {
        let theirs = try unicorn.tableRegister(interrupt: interrupt)
        if table.base != theirs.base || UInt32(table.limit) != theirs.limit {
          diffs.append(
            "\(name): \(hex32(table.base))/\(table.limit) vs \(hex32(theirs.base))/\(theirs.limit)")
        }
      }
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

  /// EFLAGS bits compared in the system scope.
  static let systemFlags: UInt32 =
    FlagMask.status | Flag.tf.mask | Flag.if.mask | Flag.df.mask | FlagMask.iopl | Flag.nt.mask | Flag.ac.mask
    | Flag.vm.mask | Flag.vif.mask | Flag.vip.mask | Flag.id.mask

  /// What one seed stands for.
  public struct Case {
    public var instruction: Instruction
    public var registers: [UInt32]
    public var eflags: UInt32
    public var data32: [UInt8]
    public var data16: [UInt8]
    /// In the system scope: the control, debug and table registers (the rest is unused).
    public var system: CPUState?
  }

  /// The case a seed stands for: the instruction, registers, EFLAGS and the two data areas.
  public func makeCase(seed: UInt64) throws -> Case {
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
    if inst.mnemonic == .ret || inst.mnemonic == .retf, case .immediate(let v) = inst.op0, v >= 0x8000 {
      inst.op0 = .immediate(v & 0x7FFF)
    }
    if inst.mnemonic == .vmread || inst.mnemonic == .vmwrite {
      inst.operandSize = .dword
      inst.repeatPrefix = .none
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
    var flags =
      (UInt32(truncatingIfNeeded: rng.next()) & (FlagMask.status | Flag.df.mask)) | FlagMask.reservedOne
    var data32 = Self.randomBytes(Int(Self.dataSize), &rng)
    // Selectors that name the GDT's descriptors (with any RPL and TI), for segment loads and
    // for LAR, LSL, VERR and VERW.
    if [.lar, .lsl].contains(inst.mnemonic), case .register(let r, _) = inst.op1 {
      regs[Int(r.rawValue)] = (regs[Int(r.rawValue)] & 0xFFFF_0000) | UInt32(rng.next() % 0x58)
    }
    if [.verr, .verw].contains(inst.mnemonic), case .register(let r, _) = inst.op0 {
      regs[Int(r.rawValue)] = (regs[Int(r.rawValue)] & 0xFFFF_0000) | UInt32(rng.next() % 0x58)
    }
    // Far transfers: a selector of the GDT (the ptr16:32's, or the one RETF pops).
    if inst.mnemonic == .jmpFar || inst.mnemonic == .callFar, case .immediate = inst.op1 {
      inst.op1 = .immediate(UInt32(rng.next() % 0x58))
    }
    if inst.mnemonic == .retf {
      let offset = Int(regs[Int(GPR.esp.rawValue)] &- Self.data32) + Int(inst.operandSize.bytes)
      data32[offset] = UInt8(rng.next() % 0x58)
      data32[offset + 1] = 0
    }
    if case .segment = inst.op0 {
      let selector = UInt32(rng.next() % 0x58)
      if case .register(let r, _) = inst.op1 {
        regs[Int(r.rawValue)] = (regs[Int(r.rawValue)] & 0xFFFF_0000) | selector
      } else if inst.mnemonic == .pop {
        let offset = Int(regs[Int(GPR.esp.rawValue)] &- Self.data32)
        data32[offset] = UInt8(selector)
        data32[offset + 1] = 0
      }
    }
    let data16 = Self.randomBytes(Int(Self.dataSize), &rng)
    var system: CPUState?
    if scope == .system {
      system = Self.systemSetup(inst, &regs, &flags, &data32, &rng)
    }
    return Case(
      instruction: inst, registers: regs, eflags: flags, data32: data32, data16: data16, system: system)
  }

  /// A valid CR0 with PE set and PG clear: the model has neither real mode nor (yet) paging.
  static func randomCR0(_ rng: inout SplitMix64) -> UInt32 {
    let optional = CR0.mp | CR0.em | CR0.ts | CR0.ne | CR0.wp | CR0.am
    let cache = [0, CR0.cd, CR0.cd | CR0.nw][Int(rng.next() % 3)]
    return CR0.pe | CR0.et | (UInt32(truncatingIfNeeded: rng.next()) & optional) | cache
  }

  /// Random system registers, EFLAGS system bits, and register values that keep the
  /// instruction inside what both emulators model (no paging, no breakpoints, no single-step).
  static func systemSetup(
    _ inst: Instruction, _ regs: inout [UInt32], _ flags: inout UInt32, _ data32: inout [UInt8],
    _ rng: inout SplitMix64
  ) -> CPUState {
    var s = CPUState()
    s.cr0 = randomCR0(&rng)
    // unicorn decodes 0F 78/79 with 66/F2/F3 and 66 0F 38 80/81 as SSE-family instructions
    // (EXTRQ, INSERTQ …), which raise #NM under CR0.TS or EM and may execute; the modelled CPU
    // has none of them: they are VMX instructions, #UD outside VMX operation
    // (docs/divergences.md). Compare VMX instructions with TS and EM clear, without prefixes.
    if inst.mnemonic == .vmread || inst.mnemonic == .vmwrite { s.cr0 &= ~(CR0.ts | CR0.em) }
    s.cr2 = rng.edgyWord()
    s.cr3 = rng.edgyWord()
    s.cr4 = UInt32(truncatingIfNeeded: rng.next()) & CPUModel.core2.cr4Supported
    s[.dr0] = rng.edgyWord()
    s[.dr1] = rng.edgyWord()
    s[.dr2] = rng.edgyWord()
    s[.dr3] = rng.edgyWord()
    s[.dr6] =
      (UInt32(truncatingIfNeeded: rng.next()) & DebugRegisterBits.dr6Writable) | DebugRegisterBits.dr6Fixed
    s[.dr7] = Self.breakpointFreeDR7(&rng)
    s.gdtr = TableRegister(base: rng.edgyWord(), limit: UInt16(truncatingIfNeeded: rng.next()))
    s.idtr = TableRegister(base: rng.edgyWord(), limit: UInt16(truncatingIfNeeded: rng.next()))
    let systemBits = Flag.if.mask | FlagMask.iopl | Flag.nt.mask | Flag.ac.mask | Flag.id.mask
    flags |= UInt32(truncatingIfNeeded: rng.next()) & systemBits
    // A source register for MOV to CR or DR holds a value both emulators accept.
    if case .register(let r, _) = inst.op1 {
      switch inst.op0 {
      case .control(0): regs[Int(r.rawValue)] = randomCR0(&rng)
      case .control(4):
        regs[Int(r.rawValue)] = UInt32(truncatingIfNeeded: rng.next()) & CPUModel.core2.cr4Supported
      case .debug(let n) where n == 6 || n == 4:
        regs[Int(r.rawValue)] = UInt32(truncatingIfNeeded: rng.next()) & DebugRegisterBits.dr6Writable
      case .debug(let n) where n == 7 || n == 5:
        regs[Int(r.rawValue)] = Self.breakpointFreeDR7(&rng)
      default: break
      }
    }
    // POPF: no TF in the image popped (single-step is not modelled).
    if inst.mnemonic == .popf {
      let offset = Int(regs[Int(GPR.esp.rawValue)] &- Self.data32)
      if offset >= 0 && offset + 1 < data32.count { data32[offset + 1] &= ~UInt8(1) }
    }
    return s
  }

  /// DR7 with no breakpoint enabled and no general detect: breakpoints are not modelled.
  static func breakpointFreeDR7(_ rng: inout SplitMix64) -> UInt32 {
    (UInt32(truncatingIfNeeded: rng.next()) & DebugRegisterBits.dr7Writable & ~0xFF
      & ~DebugRegisterBits.generalDetect) | DebugRegisterBits.dr7Fixed
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
