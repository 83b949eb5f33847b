/// MOV MOVZX MOVSX LEA XCHG XADD CMPXCHG BSWAP CMOVcc SETcc PUSH POP PUSHA POPA LAHF SAHF
/// CBW/CWDE CWD/CDQ ENTER LEAVE (SDM Vol. 2A/2B).
extension Semantics {
  // 88–8B, A0–A3, B0+r, B8+r, C6/C7 /0: MOV.
  @inlinable @inline(__always)
  public static func mov<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    try c.write(i.op0, c.domain.masked(try c.read(i.op1), i.op0.size))
  }

  // 0F B6/B7: MOVZX; 0F BE/BF: MOVSX.
  @inlinable @inline(__always)
  public static func moveExtend<C: ExecutionContext, I: InstructionOperands>(
    _ c: inout C, _ i: I, signed: Bool
  ) throws(Interrupt) {
    let d = c.domain
    let v = try c.read(i.op1)
    try c.write(i.op0, d.masked(signed ? d.signExtend(v, from: i.op1.size) : v, i.op0.size))
  }

  // 8D: LEA — the offset only, truncated to the operand size.
  @inlinable @inline(__always)
  public static func lea<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    guard case .memory(let m) = i.op1 else { return }
    try c.write(i.op0, c.domain.masked(c.effectiveAddress(m), i.op0.size))
  }

  // 86/87, 90+r: XCHG. The memory operand (if any) is op0 and is written first.
  @inlinable @inline(__always)
  public static func xchg<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    let a = try c.read(i.op0)
    let b = try c.read(i.op1)
    try c.write(i.op0, b)
    try c.write(i.op1, a)
  }

  // 0F C0/C1: XADD — TEMP ← SRC + DEST; SRC ← DEST; DEST ← TEMP.
  @inlinable @inline(__always)
  static func xadd<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let size = i.op0.size
    let dest = try c.read(i.op0)
    let src = try c.read(i.op1)
    let sum = d.masked(d.add(dest, src), size)
    if i.op0.isMemory {
      try c.write(i.op0, sum)
      try c.write(i.op1, dest)
    } else {
      // Register destination: the SDM's order, so XADD r, r with one register keeps the sum.
      try c.write(i.op1, dest)
      try c.write(i.op0, sum)
    }
    c.setFlags(FlagRecord(.add, size, a: dest, b: src, result: sum, carry: d.constant(0)))
  }

  // 0F B0/B1: CMPXCHG — compare the accumulator with DEST; equal: DEST ← SRC, else
  // accumulator ← DEST. The destination is written either way (SDM: a locked RMW).
  @inlinable @inline(__always)
  static func cmpxchg<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let size = i.op0.size
    let dest = try c.read(i.op0)
    let src = try c.read(i.op1)
    let acc = c.register(.eax, size)
    let equal = d.equal(acc, dest)
    try c.write(i.op0, d.select(equal, src, dest))
    try c.when(d.not(equal)) { (c: inout C) throws(Interrupt) in c.setRegister(.eax, size, dest) }
    c.setFlags(
      FlagRecord(.sub, size, a: acc, b: dest, result: d.masked(d.sub(acc, dest), size), carry: d.constant(0)))
  }

  // 0F C8+r: BSWAP. With a 16-bit register the result is undefined (concretely 0, as Intel
  // processors give).
  @inlinable @inline(__always)
  static func bswap<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let v = try c.read(i.op0)
    let r =
      i.op0.size == .dword ? d.byteSwap(v) : d.undefined(Undefined("BSWAP r16"), concrete: d.constant(0))
    try c.write(i.op0, r)
  }

  // 0F 40+cc: CMOVcc. The source is read (and may fault) whatever the condition.
  @inlinable @inline(__always)
  public static func cmov<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I, _ cc: Condition)
    throws(Interrupt)
  {
    let d = c.domain
    let src = try c.read(i.op1)
    let old = try c.read(i.op0)
    try c.write(i.op0, d.select(c.condition(cc), src, old))
  }

  // 0F 90+cc: SETcc.
  @inlinable @inline(__always)
  public static func setcc<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I, _ cc: Condition)
    throws(Interrupt)
  {
    try c.write(i.op0, c.domain.value(c.condition(cc)))
  }

  // 50+r, 6A, 68, FF /6: PUSH. The operand is read before ESP moves (PUSH ESP pushes the old
  // value); the size is the operand size.
  @inlinable @inline(__always)
  public static func push<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    let v = try c.read(i.op0)
    try c.push(c.domain.masked(v, i.operandSize), i.operandSize)
  }

  // 58+r, 8F /0: POP. A memory destination's address is computed with the incremented ESP;
  // POP ESP leaves the popped value in ESP.
  @inlinable @inline(__always)
  public static func pop<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I) throws(Interrupt)
  {
    let d = c.domain
    let size = i.operandSize
    let v = try c.read(.ss, c.gpr(.esp), size)
    let esp = d.add(c.gpr(.esp), d.constant(size.bytes))
    if case .memory(let m) = i.op0 {
      try c.write(m.segment, c.effectiveAddress(m, esp: esp), size, v)
      c.setGPR(.esp, esp)
    } else if case .segment = i.op0 {
      // The segment load's checks come first: a fault leaves ESP as it was.
      try c.write(i.op0, v)
      c.setGPR(.esp, esp)
    } else {
      c.setGPR(.esp, esp)
      try c.write(i.op0, v)
    }
  }

  // 60: PUSHA/PUSHAD — EAX ECX EDX EBX (original) ESP EBP ESI EDI.
  @inlinable @inline(__always)
  static func pusha<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let size = i.operandSize
    let esp = c.gpr(.esp)
    for (k, r) in GPR.allCases.enumerated() {
      let at = d.sub(esp, d.constant(size.bytes &* UInt32(k + 1)))
      try c.write(.ss, at, size, c.register(r, size))
    }
    c.setGPR(.esp, d.sub(esp, d.constant(size.bytes &* 8)))
  }

  // 61: POPA/POPAD — EDI ESI EBP (skip) EBX EDX ECX EAX. All reads precede all writes.
  @inlinable @inline(__always)
  static func popa<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let size = i.operandSize
    let esp = c.gpr(.esp)
    var values: [C.Value] = []
    values.reserveCapacity(8)
    for k in 0..<8 {
      values.append(try c.read(.ss, d.add(esp, d.constant(size.bytes &* UInt32(k))), size))
    }
    for (k, r) in GPR.allCases.reversed().enumerated() where r != .esp {
      c.setRegister(r, size, values[k])
    }
    c.setGPR(.esp, d.add(esp, d.constant(size.bytes &* 8)))
  }

  // 9F: LAHF — AH ← SF:ZF:0:AF:0:PF:1:CF.
  @inlinable @inline(__always)
  static func lahf<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    var ah = d.constant(FlagMask.reservedOne)
    for f in [Flag.cf, .pf, .af, .zf, .sf] {
      ah = d.or(ah, d.shiftLeft(d.value(c.flag(f)), d.constant(f.rawValue)))
    }
    c.setRegister(.esp, .byte, ah)  // byte register 4 is AH
  }

  // 9E: SAHF — SF ZF AF PF CF ← AH.
  @inlinable @inline(__always)
  static func sahf<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let ah = c.register(.esp, .byte)
    for f in [Flag.cf, .pf, .af, .zf, .sf] { c.setFlag(f, d.bit(ah, f.rawValue)) }
  }

  // 98: CBW/CWDE; 99: CWD/CDQ.
  @inlinable @inline(__always)
  static func convert<C: ExecutionContext>(_ c: inout C, _ i: Instruction, wide: Bool) throws(Interrupt) {
    let d = c.domain
    let size = i.operandSize
    if wide {
      let fill = d.shiftRightArithmetic(d.signExtend(c.register(.eax, size), from: size), d.constant(31))
      c.setRegister(.edx, size, fill)
    } else {
      let half: OperandSize = size == .dword ? .word : .byte
      c.setRegister(.eax, size, d.masked(d.signExtend(c.register(.eax, half), from: half), size))
    }
  }

  // C8: ENTER imm16, imm8 — a stack frame with (imm8 mod 32) levels of display.
  @inlinable @inline(__always)
  static func enter<C: ExecutionContext>(_ c: inout C, _ i: Instruction) throws(Interrupt) {
    let d = c.domain
    let size = i.operandSize
    guard case .immediate(let allocation) = i.op0, case .immediate(let nesting) = i.op1 else { return }
    let level = nesting & 0x1F
    let step = d.constant(size.bytes)
    var esp = d.sub(c.gpr(.esp), step)
    try c.write(.ss, esp, size, c.register(.ebp, size))
    let frame = esp
    if level > 0 {
      var ebp = c.gpr(.ebp)
      for _ in 1..<level {
        ebp = d.sub(ebp, step)
        let v = try c.read(.ss, ebp, size)
        esp = d.sub(esp, step)
        try c.write(.ss, esp, size, v)
      }
      esp = d.sub(esp, step)
      try c.write(.ss, esp, size, d.masked(frame, size))
    }
    c.setRegister(.ebp, size, frame)
    c.setGPR(.esp, d.sub(esp, d.constant(allocation)))
  }

  // C9: LEAVE — ESP ← EBP; EBP ← POP.
  @inlinable @inline(__always)
  public static func leave<C: ExecutionContext, I: InstructionOperands>(_ c: inout C, _ i: I)
    throws(Interrupt)
  {
    let d = c.domain
    let size = i.operandSize
    let ebp = c.gpr(.ebp)
    let v = try c.read(.ss, ebp, size)
    c.setGPR(.esp, d.add(ebp, d.constant(size.bytes)))
    c.setRegister(.ebp, size, v)
  }
}
