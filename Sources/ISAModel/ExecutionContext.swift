/// What the semantics of an instruction runs against: the machine as seen by one instruction.
/// The engine implements it with concrete values and real memory; the Verifier with Z3 terms.
/// Everything architectural — sub-registers, effective addresses, the stack, segmentation —
/// is written once, below, on top of these few primitives.
public protocol ExecutionContext {
  associatedtype Domain: SemanticDomain
  typealias Value = Domain.Value
  typealias Truth = Domain.Truth

  var domain: Domain { get }

  /// A whole 32-bit general-purpose register.
  func gpr(_ r: GPR) -> Value
  mutating func setGPR(_ r: GPR, _ v: Value)

  /// While an instruction executes, the address of the next one; writing it transfers control.
  var eip: Value { get set }
  /// The address of the executing instruction's first byte (REP restarts there).
  var currentInstruction: Value { get }

  func flag(_ f: Flag) -> Truth
  mutating func setFlag(_ f: Flag, _ v: Truth)
  /// Sets the status flags `r.op.writes` from a record (eagerly or lazily: the context's choice).
  mutating func setFlags(_ r: FlagRecord<Value>)

  /// The current privilege level (concrete: a monitor configuration fixes it per query).
  var cpl: UInt8 { get }
  /// EFLAGS.IOPL (concrete, like the CPL).
  var iopl: UInt8 { get }
  /// The processor CPUID describes.
  var cpuModel: CPUModel { get }
  /// The base address of a segment (hidden descriptor cache; SDM Vol. 3A §3.4.3).
  func segmentBase(_ s: SegmentRegister) -> Value
  /// A segment register's selector and descriptor cache.
  func segment(_ s: SegmentRegister) -> SegmentCache<Value>
  /// Loads a segment register (the checks were made by the caller; loading CS sets the CPL to
  /// the selector's RPL).
  mutating func setSegment(_ s: SegmentRegister, _ v: SegmentCache<Value>) throws(Interrupt)
  func systemSegment(_ s: SystemSegment) -> SegmentCache<Value>
  mutating func setSystemSegment(_ s: SystemSegment, _ v: SegmentCache<Value>) throws(Interrupt)
  /// Checks an access through a segment (`checkedSegmentAccess` is the definition; a context
  /// may skip it where it knows every offset passes).
  mutating func checkSegment(_ s: SegmentRegister, _ offset: Value, _ size: OperandSize, write: Bool)
    throws(Interrupt)
  /// Checks a near branch target against the CS limit when `taken` (`checkedBranchTarget` is
  /// the definition; a context may skip it where it knows every target passes).
  mutating func checkBranchTarget(_ target: Value, when taken: Truth) throws(Interrupt)

  /// Reads `size` bytes at a linear address, little-endian, with the CPL's rights (paging —
  /// `walkPages` and any TLB — is the context's).
  mutating func readLinear(_ address: Value, _ size: OperandSize) throws(Interrupt) -> Value
  /// Linear accesses the processor makes with supervisor rights whatever the CPL: descriptor
  /// tables, the TSS, an inner stack while delivering an interrupt (SDM Vol. 3A §4.6).
  mutating func readSystem(_ address: Value, _ size: OperandSize) throws(Interrupt) -> Value
  mutating func writeSystem(_ address: Value, _ size: OperandSize, _ v: Value) throws(Interrupt)
  /// Physical memory, for the page walk.
  mutating func readPhysical(_ address: Value, _ size: OperandSize) throws(Interrupt) -> Value
  mutating func writePhysical(_ address: Value, _ size: OperandSize, _ v: Value) throws(Interrupt)
  mutating func writeLinear(_ address: Value, _ size: OperandSize, _ v: Value) throws(Interrupt)

  /// Reads `size` bytes from an I/O port (SDM Vol. 1 §19.2, the 64 K I/O address space).
  mutating func readPort(_ port: Value, _ size: OperandSize) throws(Interrupt) -> Value
  mutating func writePort(_ port: Value, _ size: OperandSize, _ v: Value) throws(Interrupt)

  /// A system register as stored (`SystemRegister`; GDTR and IDTR limits in the low 16 bits).
  func systemRegister(_ r: SystemRegister) -> Value
  /// Writes a system register, reacting as the hardware does (a CR3 write flushes non-global
  /// translations; a change of CR0.PG or CR4's paging bits flushes all). The value has passed
  /// the SDM's checks already; the context may end the step as a model gap.
  mutating func setSystemRegister(_ r: SystemRegister, _ v: Value) throws(Interrupt)
  /// A stored model-specific register's value, low and high halves.
  func msr(_ m: ModelSpecificRegister) -> (low: Value, high: Value)
  mutating func setMSR(_ m: ModelSpecificRegister, low: Value, high: Value) throws(Interrupt)
  /// The time-stamp counter (SDM Vol. 3B §18.17): the virtual clock plus the offset a write set.
  var timeStampCounter: (low: Value, high: Value) { get }
  mutating func setTimeStampCounter(low: Value, high: Value)
  /// Writes EFLAGS.IOPL from bits 12–13 of `v`.
  mutating func setIOPL(_ v: Value)
  /// Drops any cached translation of the page that holds `linear` (INVLPG).
  mutating func invalidatePage(_ linear: Value)

  /// Raises `fault` when `condition` holds; the instruction then has no effect.
  mutating func raise(_ fault: Fault, when condition: Truth) throws(Interrupt)
  /// Raises `vector` with an error code that is a value (a selector's, say).
  mutating func raise(_ vector: Exception, code: Value, when condition: Truth) throws(Interrupt)
  /// Ends the step as a model gap named `what` when `condition` holds: a case the model does
  /// not implement (the Verifier excludes it from its queries and says so).
  mutating func modelGap(_ what: String, when condition: Truth) throws(Interrupt)
  /// Runs `body` only when `condition` holds (symbolically: under that path condition).
  mutating func when(_ condition: Truth, _ body: (inout Self) throws(Interrupt) -> Void) throws(Interrupt)
  /// Called as an event starts vectoring through the IDT (DESIGN.md decision 3: delivery passes
  /// one intercept point). Natively nothing happens; the Verifier records that control went to
  /// whoever owns the IDT, and a monitor will claim the event here.
  mutating func vectoring(_ vector: UInt8, source: EventSource) throws(Interrupt)
  /// Whether the instruction-wide CPL 0 check applies (`Mnemonic.requiresCPL0`, the definition).
  /// Only a mutation test varies it — to show a verdict depends on the check, without a second
  /// copy of any semantics.
  func checksCPL0(_ m: Mnemonic) -> Bool
  /// The processor in VMX non-root operation (the current VMCS's controls), or nil outside it.
  var vmx: VMXNonRoot? { get }
  /// Ends the step as a VM exit when `condition` holds (SDM Vol. 3C §27.1); only ever called
  /// when `vmx` is set.
  /// `interruption` is the exception that caused it, with its error code (§24.9.2).
  mutating func exitVM(
    _ reason: VMExitReason, qualification: Value, interruption: (Exception, Value)?, when condition: Truth
  ) throws(Interrupt)
  /// Enters the halt state after this instruction retires.
  mutating func halt()
  /// Holds off interrupts until the next instruction has retired (STI that sets IF, MOV SS,
  /// POP SS: SDM Vol. 3A §6.8.3).
  mutating func inhibitInterrupts()
}

extension ExecutionContext {
  @inlinable @inline(__always)
  public mutating func checkBranchTarget(_ target: Value, when taken: Truth) throws(Interrupt) {
    try checkedBranchTarget(target, when: taken)
  }

  /// #GP(0) for a taken near branch to a target past the CS limit (SDM Vol. 2A JMP, Jcc, CALL;
  /// Vol. 2B RET, LOOP "Operation").
  @inlinable @inline(__always)
  public mutating func checkedBranchTarget(_ target: Value, when taken: Truth) throws(Interrupt) {
    let d = domain
    try raise(Fault(.gp, errorCode: 0), when: d.and(taken, d.unsignedLess(segment(.cs).limit, target)))
  }

  @inlinable @inline(__always)
  public mutating func vectoring(_ vector: UInt8, source: EventSource) throws(Interrupt) {}

  @inlinable @inline(__always)
  public func checksCPL0(_ m: Mnemonic) -> Bool { m.requiresCPL0 }

  @inlinable @inline(__always)
  public var vmx: VMXNonRoot? { nil }

  /// A VM exit not caused by an exception.
  @inlinable
  public mutating func exitVM(_ reason: VMExitReason, qualification: Value, when condition: Truth)
    throws(Interrupt)
  {
    try exitVM(reason, qualification: qualification, interruption: nil, when: condition)
  }

  @inlinable
  public mutating func checkSegment(_ s: SegmentRegister, _ offset: Value, _ size: OperandSize, write: Bool)
    throws(Interrupt)
  {
    try checkedSegmentAccess(s, offset, size, write: write)
  }
}

extension Operand {
  /// The operand's size (immediates take their destination's; `.dword` is returned for them).
  @inlinable public var size: OperandSize {
    switch self {
    case .register(_, let s): s
    case .memory(let m): m.size
    case .none, .immediate, .control, .debug: .dword
    case .segment: .word
    }
  }
}

// MARK: - Architectural helpers, written once for every domain

extension ExecutionContext {
  /// A register at `size`: AL–BL and AH–BH for bytes (SDM Vol. 1 §3.4.1).
  @inlinable @inline(__always)
  public func register(_ r: GPR, _ size: OperandSize) -> Value {
    let d = domain
    switch size {
    case .dword: return gpr(r)
    case .word: return d.and(gpr(r), d.constant(0xFFFF))
    case .byte:
      if r.rawValue < 4 { return d.and(gpr(r), d.constant(0xFF)) }
      return d.and(d.shiftRight(gpr(GPR(rawValue: r.rawValue &- 4)!), d.constant(8)), d.constant(0xFF))
    }
  }

  /// Writes a register at `size`, keeping the bits outside it.
  @inlinable @inline(__always)
  public mutating func setRegister(_ r: GPR, _ size: OperandSize, _ v: Value) {
    let d = domain
    switch size {
    case .dword: setGPR(r, v)
    case .word:
      setGPR(r, d.or(d.and(gpr(r), d.constant(0xFFFF_0000)), d.and(v, d.constant(0xFFFF))))
    case .byte:
      if r.rawValue < 4 {
        setGPR(r, d.or(d.and(gpr(r), d.constant(0xFFFF_FF00)), d.and(v, d.constant(0xFF))))
      } else {
        let full = GPR(rawValue: r.rawValue &- 4)!
        setGPR(
          full,
          d.or(
            d.and(gpr(full), d.constant(0xFFFF_00FF)), d.shiftLeft(d.and(v, d.constant(0xFF)), d.constant(8)))
        )
      }
    }
  }

  /// The offset a memory operand addresses (SDM Vol. 1 §3.7.5), wrapped to the address size.
  /// `esp` replaces ESP's value (POP r/m computes its address after incrementing ESP).
  @inlinable @inline(__always)
  public func effectiveAddress(_ m: MemoryOperand, esp: Value? = nil) -> Value {
    let d = domain
    var ea = d.constant(m.displacement)
    if let b = m.base { ea = d.add(ea, b == .esp ? (esp ?? gpr(.esp)) : gpr(b)) }
    if let x = m.index {
      let v = gpr(x)
      ea = d.add(ea, m.scale == 1 ? v : d.shiftLeft(v, d.constant(UInt32(m.scale.trailingZeroBitCount))))
    }
    return m.addressSize == .a16 ? d.and(ea, d.constant(0xFFFF)) : ea
  }

  /// Reads through a segment: the limit and type checks, then base + offset.
  @inlinable @inline(__always)
  public mutating func read(_ s: SegmentRegister, _ offset: Value, _ size: OperandSize) throws(Interrupt)
    -> Value
  {
    try checkSegment(s, offset, size, write: false)
    return try readLinear(domain.add(segmentBase(s), offset), size)
  }

  @inlinable @inline(__always)
  public mutating func write(_ s: SegmentRegister, _ offset: Value, _ size: OperandSize, _ v: Value)
    throws(Interrupt)
  {
    try checkSegment(s, offset, size, write: true)
    try writeLinear(domain.add(segmentBase(s), offset), size, v)
  }

  /// An operand's value (immediates as decoded: already extended to 32 bits).
  @inlinable @inline(__always)
  public mutating func read(_ o: Operand) throws(Interrupt) -> Value {
    // Tested in turn rather than switched: conditional branches predict better here than the
    // jump table a switch becomes (measured with make bench).
    if case .register(let r, let s) = o { return register(r, s) }
    if case .memory(let m) = o { return try read(m.segment, effectiveAddress(m), m.size) }
    if case .immediate(let v) = o { return domain.constant(v) }
    if case .segment(let s) = o { return segment(s).selector }
    return domain.constant(0)
  }

  @inlinable @inline(__always)
  public mutating func write(_ o: Operand, _ v: Value) throws(Interrupt) {
    if case .register(let r, let s) = o {
      setRegister(r, s, v)
    } else if case .memory(let m) = o {
      try write(m.segment, effectiveAddress(m), m.size, v)
    } else if case .segment(let s) = o {
      // MOV Sreg and POP Sreg: loading CS that way is #UD (a far transfer loads CS).
      try raise(Fault(.ud), when: domain.truth(s == .cs))
      try loadSegment(s, selector: v)
    }
  }

  /// Pushes `size` bytes (the stack is 32-bit: SS.B = 1 in the flat model).
  @inlinable @inline(__always)
  public mutating func push(_ v: Value, _ size: OperandSize) throws(Interrupt) {
    let d = domain
    let esp = d.sub(gpr(.esp), d.constant(size.bytes))
    try write(.ss, esp, size, v)
    setGPR(.esp, esp)
  }

  /// Pops `size` bytes.
  @inlinable @inline(__always)
  public mutating func pop(_ size: OperandSize) throws(Interrupt) -> Value {
    let d = domain
    let v = try read(.ss, gpr(.esp), size)
    setGPR(.esp, d.add(gpr(.esp), d.constant(size.bytes)))
    return v
  }

  /// Evaluates a condition code from the flags (SDM Vol. 1 Appendix B, Table B-1).
  @inlinable @inline(__always)
  public func condition(_ cc: Condition) -> Truth {
    let d = domain
    let base: Truth
    switch cc.rawValue >> 1 {
    case 0: base = flag(.of)
    case 1: base = flag(.cf)
    case 2: base = flag(.zf)
    case 3: base = d.or(flag(.cf), flag(.zf))
    case 4: base = flag(.sf)
    case 5: base = flag(.pf)
    case 6: base = d.xor(flag(.sf), flag(.of))
    default: base = d.or(flag(.zf), d.xor(flag(.sf), flag(.of)))
    }
    return cc.rawValue & 1 == 0 ? base : d.not(base)
  }

  /// EFLAGS as one value: every flag of `Flag`, IOPL and the reserved 1 in bit 1.
  @inlinable
  public func eflagsValue() -> Value {
    let d = domain
    var v = d.constant(FlagMask.reservedOne | UInt32(iopl) << 12)
    for f in Flag.allCases {
      v = d.or(v, d.shiftLeft(d.value(flag(f)), d.constant(f.rawValue)))
    }
    return v
  }

  /// Writes the flags of `Flag` in `mask` (and IOPL when `mask` has its bits) from `v`.
  @inlinable
  public mutating func setEflags(_ v: Value, mask: UInt32) {
    let d = domain
    for f in Flag.allCases where mask & f.mask != 0 { setFlag(f, d.bit(v, f.rawValue)) }
    if mask & FlagMask.iopl != 0 { setIOPL(v) }
  }

  /// Sets the six status flags to their "undefined" value: concretely unchanged.
  @inlinable
  public mutating func undefineStatusFlags(_ why: Undefined) {
    for f in [Flag.cf, .pf, .af, .zf, .sf, .of] {
      setFlag(f, domain.undefined(why, concrete: flag(f)))
    }
  }
}
