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
      // The stack for the new privilege from the TSS: ESPn at 4 + 8n, SSn at 8 + 8n (Figure 7-2).
      let tr = c.systemSegment(.tr)
      let tssCode = d.or(c.selectorErrorCode(tr.selector), d.constant(ext))
      let at = d.add(d.constant(4), d.shiftLeft(dpl, d.constant(3)))
      try c.raise(.ts, code: tssCode, when: d.unsignedLess(tr.limit, d.add(at, d.constant(5))))
      let newESP = try c.readSystem(d.add(tr.base, at), .dword)
      let newSS = try c.readSystem(d.add(tr.base, d.add(at, d.constant(4))), .word)
      let ssCode = d.or(c.selectorErrorCode(newSS), d.constant(ext))
      try c.raise(.ts, code: d.constant(ext), when: c.isNull(newSS))
      let (ssAddress, ssInside) = c.descriptorAddress(newSS)
      try c.raise(.ts, code: ssCode, when: d.not(ssInside))
      let stack = try c.readDescriptor(at: ssAddress)
      try c.raise(.ts, code: ssCode, when: c.unfitStack(stack, selector: newSS, privilege: dpl))
      try c.raise(.ss, code: ssCode, when: d.not(stack.present(d)))
      let ss = c.cache(stack, selector: newSS)
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
    // The code segment: not null, inside its table, code, RPL ≥ CPL; non-conforming: DPL = RPL,
    // conforming: DPL ≤ RPL; present.
    let cpl = d.constant(UInt32(c.cpl))
    let rpl = d.and(selector, d.constant(3))
    let code = c.selectorErrorCode(selector)
    try c.raise(.gp, code: d.constant(0), when: c.isNull(selector))
    let (address, inside) = c.descriptorAddress(selector)
    try c.raise(.gp, code: code, when: d.not(inside))
    let target = try c.readDescriptor(at: address)
    let conforming = d.bit(target.type(d), 2)
    let dpl = target.dpl(d)
    let privilegeBad = d.select(conforming, d.unsignedLess(rpl, dpl), d.notEqual(dpl, rpl))
    let notCode = d.not(d.and(target.codeOrData(d), d.bit(target.type(d), 3)))
    try c.raise(.gp, code: code, when: d.or(d.or(notCode, d.unsignedLess(rpl, cpl)), privilegeBad))
    try c.raise(.np, code: code, when: d.not(target.present(d)))
    let flagMask = iretWritable(cpl: c.cpl, iopl: c.iopl, size: size)
    let outer = d.unsignedLess(cpl, rpl)
    try c.when(outer) { (c: inout C) throws(Interrupt) in
      let newESP = try c.read(.ss, at(3), size)
      let newSS = d.and(try c.read(.ss, at(4), size), d.constant(0xFFFF))
      let ssCode = c.selectorErrorCode(newSS)
      try c.raise(.gp, code: d.constant(0), when: c.isNull(newSS))
      let (ssAddress, ssInside) = c.descriptorAddress(newSS)
      try c.raise(.gp, code: ssCode, when: d.not(ssInside))
      let stack = try c.readDescriptor(at: ssAddress)
      try c.raise(.gp, code: ssCode, when: c.unfitStack(stack, selector: newSS, privilege: rpl))
      try c.raise(.ss, code: ssCode, when: d.not(stack.present(d)))
      try c.markAccessed(target, at: address)
      try c.setSegment(.cs, c.cache(target, selector: selector))
      c.setEflags(newFlags, mask: flagMask)
      try c.markAccessed(stack, at: ssAddress)
      try c.setSegment(.ss, c.cache(stack, selector: newSS))
      c.setGPR(.esp, size == .dword ? newESP : d.or(d.and(c.gpr(.esp), d.constant(0xFFFF_0000)), newESP))
      // Data segment registers the outer level may not use become null (SDM IRET, "Operation").
      for s in [SegmentRegister.es, .ds, .fs, .gs] {
        let a = c.segment(s).attributes
        let dataOrNonconforming = d.or(d.not(d.bit(a, 3)), d.not(d.bit(a, 2)))
        let segmentDPL = d.and(d.shiftRight(a, d.constant(5)), d.constant(3))
        try c.when(d.and(dataOrNonconforming, d.unsignedLess(segmentDPL, rpl))) {
          (c: inout C) throws(Interrupt) in
          try c.setSegment(s, .unusable(d.constant(0), d))
        }
      }
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
