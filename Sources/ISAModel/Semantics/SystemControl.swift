/// MOV to and from control and debug registers, LGDT LIDT SGDT SIDT SMSW LMSW CLTS INVD WBINVD
/// INVLPG RDMSR WRMSR RDTSC RDPMC (SDM Vol. 2A–2B, each instruction's "Operation" and
/// "Protected Mode Exceptions"). CPL 0 checks are `Mnemonic.requiresCPL0`, applied before these.
extension Semantics {
  @inlinable static var generalProtection: Fault { Fault(.gp, errorCode: 0) }

  @inlinable static func controlRegister(_ n: UInt8) -> SystemRegister {
    switch n {
    case 0: .cr0
    case 2: .cr2
    case 3: .cr3
    default: .cr4
    }
  }

  // 0F 20 /r: MOV r32, CRn; 0F 22 /r: MOV CRn, r32.
  // "The OF, SF, ZF, AF, PF, and CF flags are undefined" after MOV to or from CR and DR.
  @inlinable
  static func moveControl<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    c.undefineStatusFlags(Undefined("MOV CR status flags"))
    if case .control(let n) = i.op1 {
      let r = controlRegister(n)
      // In VMX non-root operation host-owned bits of CR0 and CR4 read from their shadows.
      if let vmx = c.vmx, r == .cr0 || r == .cr4 { return try c.write(i.op0, VMX.guestView(c, r, vmx)) }
      try c.write(i.op0, c.systemRegister(r))
      return
    }
    guard case .control(let n) = i.op0 else { return }
    let v = try c.read(i.op1)
    switch n {
    case 0:
      // "#GP(0) if an attempt is made to write invalid bit combinations in CR0 (such as setting
      // PG with PE clear, or NW with CD clear)".
      let pgWithoutPE = d.and(d.bit(v, 31), d.not(d.bit(v, 0)))
      let nwWithoutCD = d.and(d.bit(v, 29), d.not(d.bit(v, 30)))
      try c.raise(generalProtection, when: d.or(pgWithoutPE, nwWithoutCD))
      // Reserved bits read as 0 and ET is hardwired to 1 (SDM Vol. 3A §2.5).
      var value = d.or(d.and(v, d.constant(CR0.defined)), d.constant(CR0.et))
      if let vmx = c.vmx { value = try VMX.guestWrite(&c, .cr0, value, vmx) }
      try c.modelGap("real-address mode (MOV to CR0 clearing PE)", when: d.not(d.bit(value, 0)))
      try c.setSystemRegister(.cr0, value)
    case 2: try c.setSystemRegister(.cr2, v)
    case 3: try c.setSystemRegister(.cr3, v)
    default:
      // "#GP(0) if an attempt is made to write a 1 to any reserved bit in CR4": the bits of
      // features the modelled CPU does not report are reserved.
      // In VMX operation CR4.VMXE exists (and is fixed to 1: SDM Vol. 3C §23.8).
      let supported = c.cpuModel.cr4Supported | (c.vmx == nil ? 0 : CR4.vmxe)
      let reserved = d.and(v, d.constant(~supported))
      try c.raise(generalProtection, when: d.notEqual(reserved, d.constant(0)))
      if let vmx = c.vmx { return try c.setSystemRegister(.cr4, VMX.guestWrite(&c, .cr4, v, vmx)) }
      try c.setSystemRegister(.cr4, v)
    }
  }

  @inlinable static func debugRegister(_ n: UInt8) -> SystemRegister {
    switch n {
    case 0: .dr0
    case 1: .dr1
    case 2: .dr2
    case 3: .dr3
    case 4, 6: .dr6
    default: .dr7
    }
  }

  // 0F 21 /r: MOV r32, DRn; 0F 23 /r: MOV DRn, r32. DR4 and DR5 alias DR6 and DR7 unless
  // CR4.DE is set, when they raise #UD (SDM Vol. 3A §17.2.2).
  @inlinable
  static func moveDebug<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let toDebug: Bool
    let n: UInt8
    if case .debug(let k) = i.op0 {
      toDebug = true
      n = k
    } else if case .debug(let k) = i.op1 {
      toDebug = false
      n = k
    } else {
      return
    }
    c.undefineStatusFlags(Undefined("MOV DR status flags"))
    if n == 4 || n == 5 { try c.raise(Fault(.ud), when: d.bit(c.systemRegister(.cr4), 3)) }
    try c.modelGap(
      "debug exception for DR7.GD (general detect)",
      when: d.bit(c.systemRegister(.dr7), 13))
    let r = debugRegister(n)
    guard toDebug else {
      try c.write(i.op0, c.systemRegister(r))
      return
    }
    let v = try c.read(i.op1)
    switch r {
    case .dr6:
      try c.setSystemRegister(
        r, d.or(d.and(v, d.constant(DebugRegisterBits.dr6Writable)), d.constant(DebugRegisterBits.dr6Fixed)))
    case .dr7:
      try c.setSystemRegister(
        r, d.or(d.and(v, d.constant(DebugRegisterBits.dr7Writable)), d.constant(DebugRegisterBits.dr7Fixed)))
    default: try c.setSystemRegister(r, v)
    }
  }

  // 0F 01 /2: LGDT m16&32; 0F 01 /3: LIDT. With a 16-bit operand size only 24 bits of the
  // base are loaded.
  @inlinable
  static func loadTableRegister<C: ExecutionContext>(_ c: inout C, _ i: Instruction, interrupt: Bool)
    throws(Interrupt)
  {
    guard case .memory(let m) = i.op0 else { return }
    let d = c.domain
    let ea = c.effectiveAddress(m)
    let limit = try c.read(m.segment, ea, .word)
    var base = try c.read(m.segment, d.add(ea, d.constant(2)), .dword)
    if i.operandSize == .word { base = d.and(base, d.constant(0x00FF_FFFF)) }
    try c.setSystemRegister(interrupt ? .idtrBase : .gdtrBase, base)
    try c.setSystemRegister(interrupt ? .idtrLimit : .gdtrLimit, limit)
  }

  // 0F 01 /0: SGDT m; 0F 01 /1: SIDT m — the limit, then the base, at any CPL (no UMIP on the
  // modelled CPU). With a 16-bit operand size the SDM of the modelled CPU's era (Vol. 2B, 2007)
  // stores a 24-bit base with the sixth byte 0; unicorn agrees.
  @inlinable
  static func storeTableRegister<C: ExecutionContext>(_ c: inout C, _ i: Instruction, interrupt: Bool)
    throws(Interrupt)
  {
    guard case .memory(let m) = i.op0 else { return }
    let d = c.domain
    let ea = c.effectiveAddress(m)
    var base = c.systemRegister(interrupt ? .idtrBase : .gdtrBase)
    if i.operandSize == .word { base = d.and(base, d.constant(0x00FF_FFFF)) }
    try c.write(m.segment, ea, .word, c.systemRegister(interrupt ? .idtrLimit : .gdtrLimit))
    try c.write(m.segment, d.add(ea, d.constant(2)), .dword, base)
  }

  // 0F 01 /4: SMSW r/m16, r32/m16 — CR0[15:0]; into a 32-bit register the high half is
  // undefined (concretely: CR0's high half, as Intel processors store the whole register).
  @inlinable
  static func storeMachineStatus<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let cr0 = c.vmx.map { VMX.guestView(c, .cr0, $0) } ?? c.systemRegister(.cr0)
    if case .register(_, .dword) = i.op0 {
      let high = d.undefined(Undefined("SMSW r32 bits 31:16"), concrete: cr0)
      try c.write(i.op0, d.or(d.and(cr0, d.constant(0xFFFF)), d.and(high, d.constant(0xFFFF_0000))))
    } else {
      try c.write(i.op0, d.and(cr0, d.constant(0xFFFF)))
    }
  }

  // 0F 01 /6: LMSW r/m16 — loads PE MP EM TS; PE can be set, never cleared.
  @inlinable
  static func loadMachineStatus<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let src = try c.read(i.op0)
    let cr0 = c.systemRegister(.cr0)
    // In VMX non-root operation host-owned bits keep their value (SDM Vol. 3C §25.3).
    let owned = c.vmx?.controls.cr0GuestHostMask ?? 0
    let loaded = d.or(d.and(cr0, d.constant(~UInt32(0xE))), d.and(src, d.constant(0xF)))
    try c.setSystemRegister(.cr0, d.or(d.and(loaded, d.constant(~owned)), d.and(cr0, d.constant(owned))))
  }

  // 0F 01 /7: INVLPG m — the linear address of the operand (no access is made).
  @inlinable
  static func invalidatePage<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    guard case .memory(let m) = i.op0 else { return }
    c.invalidatePage(c.domain.add(c.segmentBase(m.segment), c.effectiveAddress(m)))
  }

  /// Whether ECX names an MSR of the model, and that MSR's value (EDX:EAX).
  @inlinable
  static func selectMSR<C: ExecutionContext>(_ c: C, _ index: C.Value)
    -> (known: C.Truth, low: C.Value, high: C.Value)
  {
    let d = c.domain
    var known = d.truth(false)
    var low = d.constant(0)
    var high = d.constant(0)
    for m in ModelSpecificRegister.all {
      let hit = d.equal(index, d.constant(m.index))
      let v = m.kind == .timeStampCounter ? VMX.guestTimeStampCounter(c) : c.msr(m)
      known = d.or(known, hit)
      low = d.select(hit, v.low, low)
      high = d.select(hit, v.high, high)
    }
    return (known, low, high)
  }

  // 0F 32: RDMSR — EDX:EAX ← MSR[ECX]; #GP(0) for an MSR the model does not have.
  @inlinable
  static func readMSR<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let (known, low, high) = selectMSR(c, c.gpr(.ecx))
    try c.raise(generalProtection, when: d.not(known))
    c.setGPR(.eax, low)
    c.setGPR(.edx, high)
  }

  // 0F 30: WRMSR — MSR[ECX] ← EDX:EAX; #GP(0) for an unknown MSR or a reserved bit set. Bits
  // that are neither writable nor reserved (read-only ones) keep their value.
  @inlinable
  static func writeMSR<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let index = c.gpr(.ecx)
    let low = c.gpr(.eax)
    let high = c.gpr(.edx)
    var known = d.truth(false)
    var reservedSet = d.truth(false)
    for m in ModelSpecificRegister.all {
      let hit = d.equal(index, d.constant(m.index))
      let reserved = ~(m.writable | m.readOnly)
      let bad = d.or(
        d.notEqual(d.and(low, d.constant(UInt32(truncatingIfNeeded: reserved))), d.constant(0)),
        d.notEqual(d.and(high, d.constant(UInt32(truncatingIfNeeded: reserved >> 32))), d.constant(0)))
      known = d.or(known, hit)
      reservedSet = d.or(reservedSet, d.and(hit, bad))
    }
    try c.raise(generalProtection, when: d.or(d.not(known), reservedSet))
    for m in ModelSpecificRegister.all {
      try c.when(d.equal(index, d.constant(m.index))) { (c: inout C) throws(Interrupt) in
        if m.kind == .timeStampCounter {
          c.setTimeStampCounter(low: low, high: high)
          return
        }
        let old = c.msr(m)
        let wl = d.constant(UInt32(truncatingIfNeeded: m.writable))
        let wh = d.constant(UInt32(truncatingIfNeeded: m.writable >> 32))
        try c.setMSR(
          m, low: d.or(d.and(low, wl), d.and(old.low, d.not(wl))),
          high: d.or(d.and(high, wh), d.and(old.high, d.not(wh))))
      }
    }
  }

  // 0F 31: RDTSC — #GP(0) when CR4.TSD is set and CPL > 0.
  @inlinable
  static func readTimeStampCounter<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    try c.raise(generalProtection, when: d.and(d.truth(c.cpl != 0), d.bit(c.systemRegister(.cr4), 2)))
    let tsc = VMX.guestTimeStampCounter(c)
    c.setGPR(.eax, tsc.low)
    c.setGPR(.edx, tsc.high)
  }

  // 0F 33: RDPMC — #GP(0) when CR4.PCE is clear and CPL > 0, and for an ECX that names no
  // counter. CPUID reports no performance monitoring (no leaf 0AH), so no ECX names one.
  @inlinable
  static func readPerformanceCounter<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    try c.raise(generalProtection, when: d.and(d.truth(c.cpl != 0), d.not(d.bit(c.systemRegister(.cr4), 8))))
    try c.raise(generalProtection, when: d.truth(true))
  }
}

/// CLI STI PUSHF POPF (SDM Vol. 2A CLI, Vol. 2B STI, PUSHF, POPF; protected mode, VM = 0).
extension Semantics {
  // FA: CLI; FB: STI — allowed when CPL ≤ IOPL, else #GP(0) (no VME/PVI on the modelled CPU).
  @inlinable
  static func setInterruptFlag<C: ExecutionContext>(_ c: inout C, _ i: Instruction, _ value: Bool)
    throws(Interrupt)
  {
    let d = c.domain
    try c.raise(generalProtection, when: d.truth(c.cpl > c.iopl))
    // STI that sets IF holds interrupts off for one more instruction.
    if value { try c.when(d.not(c.flag(.if))) { (c: inout C) throws(Interrupt) in c.inhibitInterrupts() } }
    c.setFlag(.if, d.truth(value))
  }

  /// The EFLAGS bits PUSHF stores: VM and RF read as 0 in the image (SDM: "EFLAGS AND 00FCFFFFH").
  public static let pushfMask: UInt32 = 0x00FC_FFFF

  // 9C: PUSHF/PUSHFD.
  @inlinable
  static func pushFlags<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    try c.push(d.and(c.eflagsValue(), d.constant(pushfMask & i.operandSize.mask)), i.operandSize)
  }

  /// The EFLAGS bits POPF may change at a CPL and IOPL (SDM Vol. 2B POPF, Operation): all the
  /// defined ones but VM, VIF and VIP (and RF, which it clears); IOPL only at CPL 0; IF only at
  /// CPL ≤ IOPL — silently, without a fault, otherwise.
  @inlinable
  public static func popfWritable(cpl: UInt8, iopl: UInt8, size: OperandSize) -> UInt32 {
    var mask: UInt32 =
      FlagMask.status | Flag.tf.mask | Flag.if.mask | Flag.df.mask | FlagMask.iopl
      | Flag.nt.mask | Flag.ac.mask | Flag.id.mask
    if cpl != 0 { mask &= ~FlagMask.iopl }
    if cpl > iopl { mask &= ~Flag.if.mask }
    return mask & size.mask
  }

  // 9D: POPF/POPFD.
  @inlinable
  static func popFlags<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let v = try c.pop(i.operandSize)
    c.setEflags(v, mask: popfWritable(cpl: c.cpl, iopl: c.iopl, size: i.operandSize))
    if i.operandSize == .dword { c.setFlag(.rf, c.domain.truth(false)) }
  }
}

/// The VMX instructions (SDM Vol. 3C Chapter 31). VMX operation is not modelled yet: VMXON
/// raises #UD while CR4.VMXE = 0 and is a model gap otherwise; every other VMX instruction
/// raises #UD, as it does outside VMX operation ("#UD if not in VMX operation").
extension Semantics {
  @inlinable
  static func vmx<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let vmxe = d.bit(c.systemRegister(.cr4), 13)
    if i.mnemonic == .vmxon {
      try c.raise(Fault(.ud), when: d.not(vmxe))
      try c.modelGap("VMX operation (VMXON with CR4.VMXE = 1)", when: d.truth(true))
    } else {
      try c.raise(Fault(.ud), when: d.truth(true))
    }
  }
}

/// SLDT STR LLDT LTR (SDM Vol. 2A LLDT, LTR; Vol. 2B SLDT, STR).
extension Semantics {
  // 0F 00 /0: SLDT, 0F 00 /1: STR — the selector; into a 32-bit register zero-extended.
  @inlinable
  static func storeSystemSegment<C: ExecutionContext>(_ c: inout C, _ i: Instruction, _ s: SystemSegment)
    throws(Interrupt)
  {
    try c.write(i.op0, c.domain.and(c.systemSegment(s).selector, c.domain.constant(0xFFFF)))
  }

  // 0F 00 /2: LLDT r/m16 — a null selector makes LDTR unusable; otherwise a present LDT
  // descriptor in the GDT: #GP(selector) for TI = 1 or another type, #NP(selector) if absent.
  // 0F 00 /3: LTR r/m16 — an available TSS (type 1 or 9), which becomes busy in the GDT; a null
  // selector is #GP(0).
  @inlinable
  static func loadSystemSegment<C: ExecutionContext>(_ c: inout C, _ i: Instruction, _ s: SystemSegment)
    throws(Interrupt)
  {
    let d = c.domain
    let selector = d.and(try c.read(i.op0), d.constant(0xFFFF))
    let null = c.isNull(selector)
    if s == .tr { try c.raise(generalProtection, when: null) }
    try c.when(null) { (c: inout C) throws(Interrupt) in try c.setSystemSegment(s, .unusable(selector, d)) }
    try c.when(d.not(null)) { (c: inout C) throws(Interrupt) in
      let code = c.selectorErrorCode(selector)
      try c.raise(.gp, code: code, when: d.bit(selector, 2))
      let (desc, address) = try c.fetchDescriptor(selector)
      let type = desc.type(d)
      let wanted =
        s == .ldtr
        ? d.equal(type, d.constant(2))
        : d.or(d.equal(type, d.constant(1)), d.equal(type, d.constant(9)))
      try c.raise(.gp, code: code, when: d.or(desc.codeOrData(d), d.not(wanted)))
      try c.raise(.np, code: code, when: d.not(desc.present(d)))
      var attributes = desc.attributes(d)
      if s == .tr {
        // Busy: type bit 1, in the GDT and in TR's cache.
        try c.writeSystem(d.add(address, d.constant(4)), .dword, d.or(desc.high, d.constant(0x200)))
        attributes = d.or(attributes, d.constant(2))
      }
      try c.setSystemSegment(
        s, SegmentCache(selector: selector, base: desc.base(d), limit: desc.limit(d), attributes: attributes))
    }
  }
}

/// LAR LSL VERR VERW ARPL (SDM Vol. 2A ARPL, LAR; Vol. 2B LSL, VERR/VERW): questions about a
/// selector that never fault on its value — they answer in ZF. Not privileged, so a guest can
/// ask them anywhere (which makes them sensitive; the Verifier says so).
extension Semantics {
  /// The descriptor a selector names if it is usable for the question: not null, inside its
  /// table, of a type in `types` (bit n for system type n; code and data always qualify), and —
  /// unless conforming code — with DPL ≥ CPL and DPL ≥ RPL.
  @inlinable
  static func visibleDescriptor<C: ExecutionContext>(_ c: inout C, _ selector: C.Value, systemTypes: UInt32)
    throws(Interrupt) -> (ok: C.Truth, descriptor: Descriptor<C.Domain>)
  {
    let d = c.domain
    let (address, inside) = c.descriptorAddress(selector)
    let found = d.and(inside, d.not(c.isNull(selector)))
    // The descriptor is read only where it exists: elsewhere GDT entry 0 stands in, unused.
    let desc = try c.readDescriptor(at: d.select(found, address, c.systemRegister(.gdtrBase)))
    let type = desc.type(d)
    let systemOK = d.notEqual(
      d.and(d.shiftLeft(d.constant(1), type), d.constant(systemTypes)), d.constant(0))
    let typeOK = d.or(desc.codeOrData(d), systemOK)
    let conforming = d.and(desc.codeOrData(d), d.equal(d.and(type, d.constant(0xC)), d.constant(0xC)))
    let dpl = desc.dpl(d)
    let rpl = d.and(selector, d.constant(3))
    let privilegeOK = d.or(
      conforming,
      d.and(d.unsignedLessOrEqual(d.constant(UInt32(c.cpl)), dpl), d.unsignedLessOrEqual(rpl, dpl)))
    return (d.and(found, d.and(typeOK, privilegeOK)), desc)
  }

  // 0F 02 /r: LAR — the access rights (descriptor dword 2 AND 00FxFF00H; the x bits 19:16 are
  // undefined: concretely 0). 0F 03 /r: LSL — the byte-granular limit.
  // Valid system types: LAR 1 2 3 4 5 9 B C; LSL 1 2 3 9 B.
  @inlinable
  static func loadSegmentQuery<C: ExecutionContext>(_ c: inout C, _ i: Instruction, limit: Bool)
    throws(Interrupt)
  {
    let d = c.domain
    let selector = d.and(try c.read(i.op1), d.constant(0xFFFF))
    let types: UInt32 = limit ? 0b0000_1010_0000_1110 : 0b0001_1010_0011_1110
    let (ok, desc) = try visibleDescriptor(&c, selector, systemTypes: types)
    let undefinedBits = d.and(
      d.undefined(Undefined("LAR bits 19:16"), concrete: d.constant(0)), d.constant(0xF_0000))
    let value = limit ? desc.limit(d) : d.or(d.and(desc.high, d.constant(0x00F0_FF00)), undefinedBits)
    let old = try c.read(i.op0)
    try c.write(i.op0, d.select(ok, d.masked(value, i.op0.size), old))
    c.setFlag(.zf, ok)
  }

  // 0F 00 /4: VERR, /5: VERW — ZF = the segment is readable (data or readable code) or
  // writable (writable data) at the CPL and the selector's RPL.
  @inlinable
  static func verify<C: ExecutionContext>(_ c: inout C, _ i: Instruction, write: Bool) throws(Interrupt) {
    let d = c.domain
    let selector = d.and(try c.read(i.op0), d.constant(0xFFFF))
    let (ok, desc) = try visibleDescriptor(&c, selector, systemTypes: 0)
    let type = desc.type(d)
    let code = d.bit(type, 3)
    let rw = d.bit(type, 1)
    let usable = write ? d.and(d.not(code), rw) : d.or(d.not(code), rw)
    c.setFlag(.zf, d.and(ok, d.and(desc.codeOrData(d), usable)))
  }

  // 63 /r: ARPL r/m16, r16 — raises the destination's RPL to the source's (ZF = 1), else ZF = 0.
  @inlinable
  static func adjustRPL<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let dest = try c.read(i.op0)
    let src = try c.read(i.op1)
    let raise = d.unsignedLess(d.and(dest, d.constant(3)), d.and(src, d.constant(3)))
    let adjusted = d.or(d.and(dest, d.constant(0xFFFC)), d.and(src, d.constant(3)))
    try c.when(raise) { (c: inout C) throws(Interrupt) in try c.write(i.op0, adjusted) }
    c.setFlag(.zf, raise)
  }
}
