/// Interrupt and exception delivery through the IDT, INT n / INT3 / INTO, and IRET (SDM Vol. 3A
/// §6.10–6.14, Vol. 2A INT n/INTO/INT3 and IRET "Operation"). Protected mode, 32-bit interrupt
/// and trap gates; task gates, 16-bit gates, task returns (NT) and virtual-8086 returns are
/// model gaps.

/// Where an event comes from: software (INT n, INT3, INTO) is checked against the gate's DPL
/// and sets no EXT bit; an exception or external interrupt sets EXT in the error codes of faults
/// met while delivering it (SDM Vol. 3A §6.12.1.1, §6.13).
public enum EventSource: Hashable, Sendable {
  case software, exception, external
}

extension Exception {
  /// The classes of SDM Vol. 3A Table 6-4, which decide when a second exception becomes #DF.
  public enum DoubleFaultClass: Hashable, Sendable { case benign, contributory, pageFault }

  public var doubleFaultClass: DoubleFaultClass {
    switch self {
    case .de, .ts, .np, .ss, .gp: .contributory
    case .pf: .pageFault
    default: .benign
    }
  }

  /// Whether `second`, raised while delivering `self`, becomes a double fault (Table 6-5).
  public func makesDoubleFault(with second: Exception) -> Bool {
    switch (doubleFaultClass, second.doubleFaultClass) {
    case (.contributory, .contributory), (.pageFault, .contributory), (.pageFault, .pageFault): true
    default: false
    }
  }
}

extension Semantics {
  /// Delivers `vector` through the IDT: the gate's checks, the code segment's, the stack switch
  /// through the TSS when the handler is more privileged, the frame (SS ESP when switching,
  /// EFLAGS CS EIP, the error code), then CS:EIP from the gate; TF, NT, RF and VM are cleared,
  /// and IF too through an interrupt gate. `returnAddress` is the EIP the frame holds. Nothing
  /// changes unless every check and every push succeeds.
  @inlinable
  public static func deliver<C: ExecutionContext>(
    _ c: inout C, vector: UInt8, errorCode: UInt32?, source: EventSource, returnAddress: C.Value
  ) throws(Interrupt) {
    let d = c.domain
    try c.vectoring(vector, source: source)
    let ext: UInt32 = source == .software ? 0 : 1
    // The IDT entry: #GP(vector × 8 + 2 + EXT) past the limit, for a wrong type or (software
    // only) a gate DPL below the CPL; #NP for a gate that is not present.
    let idtCode = d.constant(UInt32(vector) << 3 | 2 | ext)
    let entry = UInt32(vector) << 3
    try c.raise(.gp, code: idtCode, when: d.unsignedLess(c.systemRegister(.idtrLimit), d.constant(entry | 7)))
    let gate = try c.readDescriptor(at: d.add(c.systemRegister(.idtrBase), d.constant(entry)))
    let gateType = gate.type(d)
    let system = d.not(gate.codeOrData(d))
    try c.modelGap(
      "task gate in the IDT (task switch)", when: d.and(system, d.equal(gateType, d.constant(5))))
    try c.modelGap(
      "16-bit interrupt or trap gate",
      when: d.and(system, d.equal(d.and(gateType, d.constant(0xE)), d.constant(6))))
    let gate32 = d.and(system, d.equal(d.and(gateType, d.constant(0xE)), d.constant(0xE)))
    try c.raise(.gp, code: idtCode, when: d.not(gate32))
    let cpl = d.constant(UInt32(c.cpl))
    if source == .software { try c.raise(.gp, code: idtCode, when: d.unsignedLess(gate.dpl(d), cpl)) }
    try c.raise(.np, code: idtCode, when: d.not(gate.present(d)))

    // The handler's code segment: not null, inside its table, code with DPL ≤ CPL, present.
    let selector = d.shiftRight(gate.low, d.constant(16))
    let offset = d.or(d.and(gate.low, d.constant(0xFFFF)), d.and(gate.high, d.constant(0xFFFF_0000)))
    let selectorCode = d.or(c.selectorErrorCode(selector), d.constant(ext))
    try c.raise(.gp, code: d.constant(ext), when: c.isNull(selector))
    let (address, inside) = c.descriptorAddress(selector)
    try c.raise(.gp, code: selectorCode, when: d.not(inside))
    let target = try c.readDescriptor(at: address)
    let targetCode = d.and(target.codeOrData(d), d.bit(target.type(d), 3))
    let dpl = target.dpl(d)
    try c.raise(.gp, code: selectorCode, when: d.or(d.not(targetCode), d.unsignedLess(cpl, dpl)))
    try c.raise(.np, code: selectorCode, when: d.not(target.present(d)))

    let inner = d.and(d.not(d.bit(target.type(d), 2)), d.unsignedLess(dpl, cpl))
    var frame = [c.eflagsValue(), c.segment(.cs).selector, returnAddress]
    if let errorCode { frame.append(d.constant(errorCode)) }
    try c.when(inner) { (c: inout C) throws(Interrupt) in
      let (ss, newESP, ssCode, stack, ssAddress) = try c.innerStack(privilege: dpl, ext: ext)
      let esp = try c.pushFrame(
        [c.segment(.ss).selector, c.gpr(.esp)] + frame, on: ss, at: newESP, faultCode: ssCode,
        supervisor: true)
      try c.markAccessed(stack, at: ssAddress)
      try c.setSegment(.ss, ss)
      c.setGPR(.esp, esp)
      try c.markAccessed(target, at: address)
      try c.setSegment(.cs, c.cache(target, selector: d.or(d.and(selector, d.constant(0xFFFC)), dpl)))
    }
    try c.when(d.not(inner)) { (c: inout C) throws(Interrupt) in
      let esp = try c.pushFrame(
        frame, on: c.segment(.ss), at: c.gpr(.esp), faultCode: d.constant(ext), supervisor: false)
      c.setGPR(.esp, esp)
      try c.markAccessed(target, at: address)
      try c.setSegment(.cs, c.cache(target, selector: d.or(d.and(selector, d.constant(0xFFFC)), cpl)))
    }
    c.eip = offset
    for f in [Flag.tf, .nt, .rf, .vm] { c.setFlag(f, d.truth(false)) }
    // An interrupt gate (type E) clears IF; a trap gate (F) leaves it.
    c.setFlag(.if, d.and(c.flag(.if), d.bit(gateType, 0)))
  }

  // CD ib: INT imm8; CC: INT3 (vector 3); CE: INTO (vector 4 when OF is set). Software
  // interrupts: the frame returns to the next instruction.
  @inlinable
  static func softwareInterrupt<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    switch i.mnemonic {
    case .int3: try deliver(&c, vector: 3, errorCode: nil, source: .software, returnAddress: c.eip)
    case .into:
      try c.when(c.flag(.of)) { (c: inout C) throws(Interrupt) in
        try deliver(&c, vector: 4, errorCode: nil, source: .software, returnAddress: c.eip)
      }
    default:
      guard case .immediate(let v) = i.op0 else { return }
      try deliver(
        &c, vector: UInt8(truncatingIfNeeded: v), errorCode: nil, source: .software, returnAddress: c.eip)
    }
  }

  /// The EFLAGS bits IRET restores at a CPL and IOPL (SDM Vol. 2A IRET "Operation"): all but VM
  /// (a return to virtual-8086 mode is a model gap); IOPL, VIF and VIP only at CPL 0; IF only at
  /// CPL ≤ IOPL. The old CPL decides, as in the SDM.
  @inlinable
  public static func iretWritable(cpl: UInt8, iopl: UInt8, size: OperandSize) -> UInt32 {
    var mask: UInt32 =
      FlagMask.status | Flag.tf.mask | Flag.if.mask | Flag.df.mask | FlagMask.iopl
      | Flag.nt.mask | Flag.rf.mask | Flag.ac.mask | Flag.vif.mask | Flag.vip.mask | Flag.id.mask
    if cpl != 0 { mask &= ~(FlagMask.iopl | Flag.vif.mask | Flag.vip.mask) }
    if cpl > iopl { mask &= ~Flag.if.mask }
    return mask & size.mask
  }

  // CF: IRET/IRETD — to the same privilege, or to an outer one (popping ESP and SS too, and
  // nulling data segment registers the new CPL may not use).
  @inlinable
  static func interruptReturn<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let size = i.operandSize
    try c.modelGap("task return (IRET with EFLAGS.NT = 1)", when: c.flag(.nt))
    let esp = c.gpr(.esp)
    func at(_ k: UInt32) -> C.Value { d.add(esp, d.constant(k &* size.bytes)) }
    let newEIP = try c.read(.ss, at(0), size)
    let selector = d.and(try c.read(.ss, at(1), size), d.constant(0xFFFF))
    let newFlags = try c.read(.ss, at(2), size)
    try c.modelGap(
      "return to virtual-8086 mode", when: d.and(d.bit(newFlags, 17), d.truth(c.cpl == 0 && size == .dword)))
    let rpl = d.and(selector, d.constant(3))
    let (target, address) = try c.returnCodeSegment(selector)
    let flagMask = iretWritable(cpl: c.cpl, iopl: c.iopl, size: size)
    let outer = d.unsignedLess(d.constant(UInt32(c.cpl)), rpl)
    try c.when(outer) { (c: inout C) throws(Interrupt) in
      let newESP = try c.read(.ss, at(3), size)
      let newSS = d.and(try c.read(.ss, at(4), size), d.constant(0xFFFF))
      let (stack, ssAddress) = try c.outerStack(newSS, privilege: rpl)
      try c.markAccessed(target, at: address)
      try c.setSegment(.cs, c.cache(target, selector: selector))
      c.setEflags(newFlags, mask: flagMask)
      try c.markAccessed(stack, at: ssAddress)
      try c.setSegment(.ss, c.cache(stack, selector: newSS))
      c.setGPR(.esp, size == .dword ? newESP : d.or(d.and(c.gpr(.esp), d.constant(0xFFFF_0000)), newESP))
      try c.nullInaccessibleDataSegments(privilege: rpl)
    }
    try c.when(d.not(outer)) { (c: inout C) throws(Interrupt) in
      try c.markAccessed(target, at: address)
      try c.setSegment(.cs, c.cache(target, selector: selector))
      c.setEflags(newFlags, mask: flagMask)
      c.setGPR(.esp, d.add(esp, d.constant(3 &* size.bytes)))
    }
    c.eip = size == .dword ? newEIP : d.and(newEIP, d.constant(0xFFFF))
  }
}

extension ExecutionContext {
  /// The stack for an inner privilege level from the 32-bit TSS: ESPn at 4 + 8n, SSn at 8 + 8n
  /// (SDM Vol. 3A Figure 7-2, §6.12.1): #TS(TSS selector + EXT) past the TSS limit; #TS(EXT) for
  /// a null SS; #TS(SS selector + EXT) outside its table or unfit for `privilege`; #SS(SS
  /// selector + EXT) when not present. Returns the cache to load, ESP, the fault code for pushes,
  /// and the descriptor with its address (to mark it accessed).
  @inlinable
  public mutating func innerStack(privilege: Value, ext: UInt32) throws(Interrupt) -> (
    ss: SegmentCache<Value>, esp: Value, faultCode: Value, descriptor: Descriptor<Domain>, address: Value
  ) {
    let d = domain
    let tr = systemSegment(.tr)
    let tssCode = d.or(selectorErrorCode(tr.selector), d.constant(ext))
    let at = d.add(d.constant(4), d.shiftLeft(privilege, d.constant(3)))
    try raise(.ts, code: tssCode, when: d.unsignedLess(tr.limit, d.add(at, d.constant(5))))
    let newESP = try readSystem(d.add(tr.base, at), .dword)
    let newSS = try readSystem(d.add(tr.base, d.add(at, d.constant(4))), .word)
    let ssCode = d.or(selectorErrorCode(newSS), d.constant(ext))
    try raise(.ts, code: d.constant(ext), when: isNull(newSS))
    let (ssAddress, ssInside) = descriptorAddress(newSS)
    try raise(.ts, code: ssCode, when: d.not(ssInside))
    let stack = try readDescriptor(at: ssAddress)
    try raise(.ts, code: ssCode, when: unfitStack(stack, selector: newSS, privilege: privilege))
    try raise(.ss, code: ssCode, when: d.not(stack.present(d)))
    return (cache(stack, selector: newSS), newESP, ssCode, stack, ssAddress)
  }

  /// Pushes `values` (first pushed first) as dwords onto the stack `ss` from `esp`, checking the
  /// whole frame against the segment first (#SS with `faultCode`); returns the new ESP. An inner
  /// stack is written with supervisor rights (`supervisor`), whatever the CPL still is.
  @inlinable
  public mutating func pushFrame(
    _ values: [Value], on ss: SegmentCache<Value>, at esp: Value, faultCode: Value, supervisor: Bool
  )
    throws(Interrupt) -> Value
  {
    let d = domain
    let bytes = UInt32(values.count) * 4
    let top = d.sub(esp, d.constant(bytes))
    try raise(.ss, code: faultCode, when: segmentAccessRefused(ss, top, .dword, write: true))
    try raise(
      .ss, code: faultCode,
      when: segmentAccessRefused(ss, d.sub(esp, d.constant(4)), .dword, write: true))
    for (k, v) in values.enumerated() {
      let at = d.add(ss.base, d.add(top, d.constant(bytes - 4 * UInt32(k + 1))))
      if supervisor { try writeSystem(at, .dword, v) } else { try writeLinear(at, .dword, v) }
    }
    return top
  }
}

extension Semantics {
  // 0F 34: SYSENTER, 0F 35: SYSEXIT (SDM Vol. 2B) — flat CS and SS from IA32_SYSENTER_CS: CS
  // at ring 0 and SS = CS + 8 (SYSENTER), CS + 16 and SS + 24 at ring 3 (SYSEXIT); ESP and EIP
  // from IA32_SYSENTER_ESP/EIP, or from ECX and EDX. #GP(0) when IA32_SYSENTER_CS[15:2] is 0
  // (and for SYSEXIT above CPL 0: `requiresCPL0`). SYSENTER clears VM, IF and RF.
  @inlinable
  static func fastSystemCall<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    guard let csMSR = ModelSpecificRegister.at(0x174), let espMSR = ModelSpecificRegister.at(0x175),
      let eipMSR = ModelSpecificRegister.at(0x176)
    else { return }
    let base = d.and(c.msr(csMSR).low, d.constant(0xFFFC))
    try c.raise(generalProtection, when: d.isZero(d.and(base, d.constant(0xFFF8))))
    // Flat 4 GiB segments: code execute/read accessed (B), data read/write accessed (3); G, D/B.
    func flat(_ selector: C.Value, code: Bool, ring: UInt32) -> SegmentCache<C.Value> {
      SegmentCache(
        selector: selector, base: d.constant(0), limit: d.constant(0xFFFF_FFFF),
        attributes: d.constant(0xC090 | ring << 5 | (code ? 0xB : 0x3)))
    }
    if i.mnemonic == .sysenter {
      try c.setSegment(.cs, flat(base, code: true, ring: 0))
      try c.setSegment(.ss, flat(d.add(base, d.constant(8)), code: false, ring: 0))
      c.setGPR(.esp, c.msr(espMSR).low)
      c.eip = c.msr(eipMSR).low
      for f in [Flag.vm, .if, .rf] { c.setFlag(f, d.truth(false)) }
    } else {
      try c.setSegment(.cs, flat(d.or(d.add(base, d.constant(16)), d.constant(3)), code: true, ring: 3))
      try c.setSegment(.ss, flat(d.or(d.add(base, d.constant(24)), d.constant(3)), code: false, ring: 3))
      c.setGPR(.esp, c.gpr(.ecx))
      c.eip = c.gpr(.edx)
    }
  }
}

extension ExecutionContext {
  /// The code segment a return (IRET, RETF) goes to: not null (#GP(0)), inside its table, code
  /// with RPL ≥ CPL — non-conforming: DPL = RPL; conforming: DPL ≤ RPL — (#GP(selector)), and
  /// present (#NP(selector)). SDM Vol. 2A IRET, Vol. 2B RET, "Operation".
  @inlinable
  public mutating func returnCodeSegment(_ selector: Value) throws(Interrupt) -> (Descriptor<Domain>, Value) {
    let d = domain
    let rpl = d.and(selector, d.constant(3))
    let code = selectorErrorCode(selector)
    try raise(.gp, code: d.constant(0), when: isNull(selector))
    let (address, inside) = descriptorAddress(selector)
    try raise(.gp, code: code, when: d.not(inside))
    let target = try readDescriptor(at: address)
    let conforming = d.bit(target.type(d), 2)
    let dpl = target.dpl(d)
    let privilegeBad = d.select(conforming, d.unsignedLess(rpl, dpl), d.notEqual(dpl, rpl))
    let notCode = d.not(d.and(target.codeOrData(d), d.bit(target.type(d), 3)))
    try raise(
      .gp, code: code, when: d.or(d.or(notCode, d.unsignedLess(rpl, d.constant(UInt32(cpl)))), privilegeBad))
    try raise(.np, code: code, when: d.not(target.present(d)))
    return (target, address)
  }

  /// The stack segment a return to an outer level loads: not null (#GP(0)), inside its table and
  /// fit for `privilege` (#GP(selector)), present (#SS(selector)).
  @inlinable
  public mutating func outerStack(_ selector: Value, privilege: Value) throws(Interrupt) -> (
    Descriptor<Domain>, Value
  ) {
    let d = domain
    let code = selectorErrorCode(selector)
    try raise(.gp, code: d.constant(0), when: isNull(selector))
    let (address, inside) = descriptorAddress(selector)
    try raise(.gp, code: code, when: d.not(inside))
    let stack = try readDescriptor(at: address)
    try raise(.gp, code: code, when: unfitStack(stack, selector: selector, privilege: privilege))
    try raise(.ss, code: code, when: d.not(stack.present(d)))
    return (stack, address)
  }

  /// After a return to an outer level: ES, DS, FS, GS holding data or non-conforming code more
  /// privileged than `privilege` become null (SDM Vol. 2A IRET, Vol. 2B RET).
  @inlinable
  public mutating func nullInaccessibleDataSegments(privilege: Value) throws(Interrupt) {
    let d = domain
    for s in [SegmentRegister.es, .ds, .fs, .gs] {
      let a = segment(s).attributes
      let dataOrNonconforming = d.or(d.not(d.bit(a, 3)), d.not(d.bit(a, 2)))
      let segmentDPL = d.and(d.shiftRight(a, d.constant(5)), d.constant(3))
      try when(d.and(dataOrNonconforming, d.unsignedLess(segmentDPL, privilege))) {
        (c: inout Self) throws(Interrupt) in
        try c.setSegment(s, .unusable(d.constant(0), d))
      }
    }
  }
}

/// Far JMP, far CALL and far RET (SDM Vol. 2A CALL, JMP; Vol. 2B RET; Vol. 3A §5.8): to a code
/// segment at the same privilege (conforming: DPL ≤ CPL; non-conforming: DPL = CPL, RPL ≤ CPL),
/// or through a 32-bit call gate (gate DPL ≥ CPL and RPL), a CALL through one also to an inner
/// level with the TSS stack switch; a far RET to the same or an outer level. Task switches and
/// 16-bit call gates are model gaps.
extension Semantics {
  @inlinable
  static func farTransfer<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let size = i.operandSize
    let offset: C.Value
    let selector: C.Value
    if case .immediate(let o) = i.op0, case .immediate(let s) = i.op1 {
      (offset, selector) = (d.constant(o), d.constant(s))
    } else if case .memory(let m) = i.op0 {
      let ea = c.effectiveAddress(m)
      offset = try c.read(m.segment, ea, size)
      selector = try c.read(m.segment, d.add(ea, d.constant(size.bytes)), .word)
    } else {
      return
    }
    let cpl = d.constant(UInt32(c.cpl))
    let call = i.mnemonic == .callFar
    let code = c.selectorErrorCode(selector)
    try c.raise(.gp, code: d.constant(0), when: c.isNull(selector))
    let (address, inside) = c.descriptorAddress(selector)
    try c.raise(.gp, code: code, when: d.not(inside))
    let desc = try c.readDescriptor(at: address)
    let type = desc.type(d)
    let system = d.not(desc.codeOrData(d))
    let tss = d.or(d.equal(d.and(type, d.constant(0x5)), d.constant(1)), d.equal(type, d.constant(5)))
    try c.modelGap("task switch (far JMP or CALL to a TSS or a task gate)", when: d.and(system, tss))
    try c.modelGap("16-bit call gate", when: d.and(system, d.equal(type, d.constant(4))))
    let isCode = d.and(desc.codeOrData(d), d.bit(type, 3))
    let isGate = d.and(system, d.equal(type, d.constant(0xC)))
    try c.raise(.gp, code: code, when: d.not(d.or(isCode, isGate)))
    let rpl = d.and(selector, d.constant(3))
    try c.when(isCode) { (c: inout C) throws(Interrupt) in
      let conforming = d.bit(type, 2)
      let dpl = desc.dpl(d)
      let bad = d.select(
        conforming, d.unsignedLess(cpl, dpl), d.or(d.unsignedLess(cpl, rpl), d.notEqual(dpl, cpl)))
      try c.raise(.gp, code: code, when: bad)
      try c.raise(.np, code: code, when: d.not(desc.present(d)))
      try enterCodeSegment(
        &c, desc, at: address, selector: selector, offset: d.masked(offset, size), push: call ? size : nil,
        cpl: cpl)
    }
    try c.when(isGate) { (c: inout C) throws(Interrupt) in
      let gateDPL = desc.dpl(d)
      try c.raise(.gp, code: code, when: d.or(d.unsignedLess(gateDPL, cpl), d.unsignedLess(gateDPL, rpl)))
      try c.raise(.np, code: code, when: d.not(desc.present(d)))
      let target = d.shiftRight(desc.low, d.constant(16))
      let gateOffset = d.or(d.and(desc.low, d.constant(0xFFFF)), d.and(desc.high, d.constant(0xFFFF_0000)))
      let targetCode = c.selectorErrorCode(target)
      try c.raise(.gp, code: d.constant(0), when: c.isNull(target))
      let (targetAddress, targetInside) = c.descriptorAddress(target)
      try c.raise(.gp, code: targetCode, when: d.not(targetInside))
      let segment = try c.readDescriptor(at: targetAddress)
      let dpl = segment.dpl(d)
      let conforming = d.bit(segment.type(d), 2)
      let notCode = d.not(d.and(segment.codeOrData(d), d.bit(segment.type(d), 3)))
      try c.raise(.gp, code: targetCode, when: d.or(notCode, d.unsignedLess(cpl, dpl)))
      let inner = d.and(d.not(conforming), d.unsignedLess(dpl, cpl))
      // JMP never changes privilege: a non-conforming target must be at the CPL.
      if !call { try c.raise(.gp, code: targetCode, when: inner) }
      try c.raise(.np, code: targetCode, when: d.not(segment.present(d)))
      try c.when(inner) { (c: inout C) throws(Interrupt) in
        let count = d.and(desc.high, d.constant(0x1F))
        try callInner(&c, segment, at: targetAddress, selector: target, offset: gateOffset, parameters: count)
      }
      // A 32-bit gate: a 32-bit target and 32-bit pushes, whatever the operand size.
      try c.when(d.not(inner)) { (c: inout C) throws(Interrupt) in
        try enterCodeSegment(
          &c, segment, at: targetAddress, selector: target, offset: gateOffset, push: call ? .dword : nil,
          cpl: cpl)
      }
    }
  }

  /// A far CALL through a 32-bit call gate to a more privileged non-conforming code segment
  /// (SDM Vol. 2A CALL, "MORE-PRIVILEGE"; Vol. 3A §5.8.5, Figure 5-13): the inner stack from the
  /// TSS, on it the caller's SS and ESP, `parameters` dwords copied from the caller's stack
  /// (the gate's parameter count, 0–31), then CS and EIP; CPL becomes the target's DPL. Every
  /// check — the TSS, the new stack's room for the whole frame (#SS(SS selector)), the target
  /// offset (#GP(0)) — comes before anything changes.
  @inlinable
  static func callInner<C: ExecutionContext>(
    _ c: inout C, _ desc: Descriptor<C.Domain>, at address: C.Value, selector: C.Value, offset: C.Value,
    parameters count: C.Value
  ) throws(Interrupt) {
    let d = c.domain
    let dpl = desc.dpl(d)
    let (ss, newESP, ssCode, stack, ssAddress) = try c.innerStack(privilege: dpl, ext: 0)
    let bytes = d.shiftLeft(d.add(count, d.constant(4)), d.constant(2))
    let top = d.sub(newESP, bytes)
    try c.raise(.ss, code: ssCode, when: c.segmentAccessRefused(ss, top, .dword, write: true))
    try c.raise(
      .ss, code: ssCode, when: c.segmentAccessRefused(ss, d.sub(newESP, d.constant(4)), .dword, write: true))
    try c.raise(Fault(.gp, errorCode: 0), when: d.unsignedLess(desc.limit(d), offset))
    // The caller's parameters keep their order: parameter k (at caller ESP + 4k) lands at
    // top + 8 + 4k, above the return CS:EIP.
    let oldESP = c.gpr(.esp)
    for k in UInt32(0)..<32 {
      try c.when(d.unsignedLess(d.constant(k), count)) { (c: inout C) throws(Interrupt) in
        let parameter = try c.read(.ss, d.add(oldESP, d.constant(4 &* k)), .dword)
        try c.writeSystem(d.add(ss.base, d.add(top, d.constant(8 &+ 4 &* k))), .dword, parameter)
      }
    }
    try c.writeSystem(d.add(ss.base, d.sub(newESP, d.constant(4))), .dword, c.segment(.ss).selector)
    try c.writeSystem(d.add(ss.base, d.sub(newESP, d.constant(8))), .dword, oldESP)
    try c.writeSystem(d.add(ss.base, d.add(top, d.constant(4))), .dword, c.segment(.cs).selector)
    try c.writeSystem(d.add(ss.base, top), .dword, c.eip)
    try c.markAccessed(stack, at: ssAddress)
    try c.setSegment(.ss, ss)
    c.setGPR(.esp, top)
    try c.markAccessed(desc, at: address)
    try c.setSegment(.cs, c.cache(desc, selector: d.or(d.and(selector, d.constant(0xFFFC)), dpl)))
    c.eip = offset
  }

  /// Loads CS from `desc` with the CPL as RPL and jumps to `offset` (#GP(0) past the segment's
  /// limit); a call first pushes CS and EIP at `push` size. `cpl` is the CPL the transfer began
  /// at: a sibling branch (the call gate's inner call) may already have loaded CS.
  @inlinable
  static func enterCodeSegment<C: ExecutionContext>(
    _ c: inout C, _ desc: Descriptor<C.Domain>, at address: C.Value, selector: C.Value, offset: C.Value,
    push: OperandSize?, cpl: C.Value
  ) throws(Interrupt) {
    let d = c.domain
    try c.raise(Fault(.gp, errorCode: 0), when: d.unsignedLess(desc.limit(d), offset))
    if let size = push {
      try c.push(d.masked(c.segment(.cs).selector, size), size)
      try c.push(d.masked(c.eip, size), size)
    }
    try c.markAccessed(desc, at: address)
    try c.setSegment(.cs, c.cache(desc, selector: d.or(d.and(selector, d.constant(0xFFFC)), cpl)))
    c.eip = offset
  }

  // CB: RETF; CA iw: RETF imm16 — pops EIP and CS; to an outer level also ESP and SS (after
  // releasing imm16 bytes on each stack).
  @inlinable
  static func farReturn<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let size = i.operandSize
    var release: UInt32 = 0
    if case .immediate(let v) = i.op0 { release = v }
    let esp = c.gpr(.esp)
    let newEIP = try c.read(.ss, esp, size)
    let selector = d.and(try c.read(.ss, d.add(esp, d.constant(size.bytes)), size), d.constant(0xFFFF))
    let rpl = d.and(selector, d.constant(3))
    let (target, address) = try c.returnCodeSegment(selector)
    try c.raise(Fault(.gp, errorCode: 0), when: d.unsignedLess(target.limit(d), d.masked(newEIP, size)))
    let outer = d.unsignedLess(d.constant(UInt32(c.cpl)), rpl)
    let above = d.add(esp, d.constant(2 * size.bytes + release))
    try c.when(outer) { (c: inout C) throws(Interrupt) in
      let newESP = try c.read(.ss, above, size)
      let newSS = d.and(try c.read(.ss, d.add(above, d.constant(size.bytes)), size), d.constant(0xFFFF))
      let (stack, ssAddress) = try c.outerStack(newSS, privilege: rpl)
      try c.markAccessed(target, at: address)
      try c.setSegment(.cs, c.cache(target, selector: selector))
      try c.markAccessed(stack, at: ssAddress)
      try c.setSegment(.ss, c.cache(stack, selector: newSS))
      c.setGPR(.esp, d.add(newESP, d.constant(release)))
      try c.nullInaccessibleDataSegments(privilege: rpl)
    }
    try c.when(d.not(outer)) { (c: inout C) throws(Interrupt) in
      try c.markAccessed(target, at: address)
      try c.setSegment(.cs, c.cache(target, selector: selector))
      c.setGPR(.esp, above)
    }
    c.eip = d.masked(newEIP, size)
  }
}
