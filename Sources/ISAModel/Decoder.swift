/// Bytes → instruction, as the modelled Core 2-era CPU decodes them in 32-bit protected mode
/// (SDM Vol. 2A Chapter 2: prefixes, opcode, ModRM, SIB, displacement, immediate).

/// What decoding produced.
public enum DecodeOutcome: Hashable, Sendable {
  case instruction(Instruction, length: Int)
  /// #UD for an invalid opcode or LOCK where it is not allowed; #GP(0) past 15 bytes.
  case fault(Fault)
  /// A valid instruction the model does not implement, by name.
  case modelGap(String)
  /// The bytes ran out after `available`: the engine turns that into the fetch fault.
  case truncated(available: Int)
}

public enum Decoder {
  /// The architectural limit on instruction length (SDM Vol. 2A §2.3.11).
  public static let maximumLength = 15

  /// Decodes one instruction from `bytes` (at most the first 15 are looked at).
  public static func decode(_ bytes: some Collection<UInt8>) -> DecodeOutcome {
    var reader = ByteReader(Array(bytes.prefix(maximumLength + 1)))
    do {
      return try decode(&reader)
    } catch let stop {
      return stop.outcome
    }
  }

  struct Stop: Error {
    let outcome: DecodeOutcome
  }

  struct ByteReader {
    let bytes: [UInt8]
    var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func next() throws(Stop) -> UInt8 {
      if position >= Decoder.maximumLength { throw Stop(outcome: .fault(Fault(.gp, errorCode: 0))) }
      guard position < bytes.count else { throw Stop(outcome: .truncated(available: bytes.count)) }
      defer { position += 1 }
      return bytes[position]
    }

    mutating func peek() throws(Stop) -> UInt8 {
      let b = try next()
      position -= 1
      return b
    }

    mutating func little(_ count: Int) throws(Stop) -> UInt32 {
      var v: UInt32 = 0
      for k in 0..<count { v |= UInt32(try next()) << (8 * UInt32(k)) }
      return v
    }
  }

  static func decode(_ r: inout ByteReader) throws(Stop) -> DecodeOutcome {
    var operandSize = OperandSize.dword
    var addressSize = AddressSize.a32
    var segment: SegmentRegister?
    var rep = RepeatPrefix.none
    var lock = false
    var opcode: UInt8
    // Prefixes, any number and order (SDM Vol. 2A §2.1.1); the last of a group counts.
    prefixes: while true {
      opcode = try r.next()
      switch opcode {
      case 0x66: operandSize = .word
      case 0x67: addressSize = .a16
      case 0xF0: lock = true
      case 0xF2: rep = .repne
      case 0xF3: rep = .rep
      case 0x26: segment = .es
      case 0x2E: segment = .cs
      case 0x36: segment = .ss
      case 0x3E: segment = .ds
      case 0x64: segment = .fs
      case 0x65: segment = .gs
      default: break prefixes
      }
    }
    var slot: OpcodeSlot
    if opcode == 0x0F {
      opcode = try r.next()
      if opcode == 0x38 {
        opcode = try r.next()
        slot = OpcodeTable.threeByte38[Int(opcode)]
      } else {
        slot = OpcodeTable.twoByte[Int(opcode)]
      }
    } else {
      slot = OpcodeTable.oneByte[Int(opcode)]
    }
    var modrm: UInt8?
    while true {
      switch slot {
      case .invalid, .prefix, .escape:
        throw Stop(outcome: .fault(Fault(.ud)))
      case .gap(let name):
        throw Stop(outcome: .modelGap(name))
      case .group(let memory, let register):
        let m = try r.next()
        modrm = m
        slot = (m >> 6) == 3 ? register[Int((m >> 3) & 7)] : memory[Int((m >> 3) & 7)]
        continue
      case .special(let special):
        let m = try r.peek()
        slot = specialSlot(special, modrm: m, rep: rep, operandSize: operandSize)
        if case .form = slot {
          modrm = try r.next()
        }
        continue
      case .form(let index):
        let spec = OpcodeTable.forms[Int(index)]
        return try finish(
          &r, Form(index: index), spec, opcode: opcode, modrm: modrm, operandSize: operandSize,
          addressSize: addressSize, segment: segment, rep: rep, lock: lock)
      }
    }
  }

  /// 0F 01 (group 7) and 0F C7 (group 9) depend on the whole ModRM byte and on prefixes.
  static func specialSlot(
    _ s: OpcodeSlot.Special, modrm m: UInt8, rep: RepeatPrefix, operandSize: OperandSize
  )
    -> OpcodeSlot
  {
    let mod = m >> 6
    let reg = (m >> 3) & 7
    let form = OpcodeTable.special
    switch s {
    case .group7:
      if mod != 3 {
        if reg == 5 { return .invalid }
        return form(
          ["0F 01 /0", "0F 01 /1", "0F 01 /2", "0F 01 /3", "0F 01 /4", "", "0F 01 /6", "0F 01 /7"][Int(reg)])
      }
      switch m {
      case 0xC1: return form("0F 01 C1")
      case 0xC2: return form("0F 01 C2")
      case 0xC3: return form("0F 01 C3")
      case 0xC4: return form("0F 01 C4")
      // MONITOR and MWAIT (C8, C9): #UD, as CPUID.1:ECX.MONITOR is not reported.
      default:
        if reg == 4 { return form("0F 01 /4 r32") }
        if reg == 6 { return form("0F 01 /6") }
        return .invalid
      }
    case .group9:
      guard mod != 3 else { return .invalid }
      switch reg {
      case 1: return .gap("CMPXCHG8B")
      case 6:
        if rep == .rep { return form("F3 0F C7 /6") }
        if operandSize == .word { return form("66 0F C7 /6") }
        return form("0F C7 /6")
      case 7: return form("0F C7 /7")
      default: return .invalid
      }
    }
  }

  static func finish(
    _ r: inout ByteReader, _ form: Form, _ spec: FormSpec, opcode: UInt8, modrm given: UInt8?,
    operandSize: OperandSize, addressSize: AddressSize, segment: SegmentRegister?, rep: RepeatPrefix,
    lock: Bool
  ) throws(Stop) -> DecodeOutcome {
    var modrm = given
    if spec.modrm != .none && modrm == nil { modrm = try r.next() }
    let low = opcode &- spec.bytes.last!
    var rm: Operand = .none
    if let m = modrm,
      spec.operands.contains(where: {
        switch $0 {
        case .e, .m, .mwRv: true
        default: false
        }
      })
    {
      let size = spec.operands.lazy.compactMap { o -> OperandSize? in
        if case .e(let s) = o { return s.resolve(operandSize) }
        if case .m(let s) = o { return s.resolve(operandSize) }
        if case .mwRv = o { return m >> 6 == 3 ? operandSize : .word }
        return nil
      }.first!
      rm = try decodeRM(&r, modrm: m, size: size, addressSize: addressSize, segment: segment)
      if spec.memoryOnly && !rm.isMemory { throw Stop(outcome: .fault(Fault(.ud))) }
    }
    var operands: [Operand] = []
    for o in spec.operands {
      if let implied = o.implied(operandSize: operandSize, addressSize: addressSize, segment: segment) {
        operands.append(implied)
        continue
      }
      switch o {
      case .e, .m, .mwRv: operands.append(rm)
      case .g(let s): operands.append(.register(GPR(rawValue: (modrm! >> 3) & 7)!, s.resolve(operandSize)))
      case .i(let s):
        let size = s.resolve(operandSize)
        operands.append(.immediate(try r.little(Int(size.bytes))))
      case .ibs:
        operands.append(.immediate(UInt32(bitPattern: Int32(Int8(bitPattern: try r.next())))))
      case .j(let s):
        let size = s.resolve(operandSize)
        let raw = try r.little(Int(size.bytes))
        let extended: UInt32 =
          switch size {
          case .byte: UInt32(bitPattern: Int32(Int8(truncatingIfNeeded: raw)))
          case .word: UInt32(bitPattern: Int32(Int16(truncatingIfNeeded: raw)))
          case .dword: raw
          }
        operands.append(.immediate(extended))
      case .z(let s): operands.append(.register(GPR(rawValue: low & 7)!, s.resolve(operandSize)))
      case .o(let s):
        let offset = try r.little(Int(addressSize.registerSize.bytes))
        operands.append(
          .memory(
            MemoryOperand(
              segment: segment ?? .ds, base: nil, index: nil, scale: 1, displacement: offset,
              size: s.resolve(operandSize), addressSize: addressSize)))
      case .fixed, .fixedSegment, .one, .x, .y: break  // implied, above
      case .r(let s): operands.append(.register(GPR(rawValue: modrm! & 7)!, s.resolve(operandSize)))
      case .c:
        // CR1 and CR5–CR7 do not exist (CR8 only in 64-bit mode): #UD.
        let n = (modrm! >> 3) & 7
        guard [0, 2, 3, 4].contains(n) else { throw Stop(outcome: .fault(Fault(.ud))) }
        operands.append(.control(n))
      case .d: operands.append(.debug((modrm! >> 3) & 7))
      case .s:
        guard let sreg = SegmentRegister(rawValue: (modrm! >> 3) & 7) else {
          throw Stop(outcome: .fault(Fault(.ud)))
        }
        operands.append(.segment(sreg))
      }
    }
    // A mandatory prefix must be there (0F 38 80 without 66 is not INVEPT).
    if let p = spec.mandatoryPrefix,
      !(p == 0x66 && operandSize == .word || p == 0xF3 && rep == .rep || p == 0xF2 && rep == .repne)
    {
      throw Stop(outcome: .fault(Fault(.ud)))
    }
    // LOCK only on the listed instructions with a memory destination (SDM Vol. 2A, LOCK).
    if lock && !(spec.mnemonic.lockable && operands.first?.isMemory == true) {
      throw Stop(outcome: .fault(Fault(.ud)))
    }
    let condition: Condition? = spec.embedded == .condition ? Condition(rawValue: low & 0xF) : nil
    let inst = Instruction(
      form: form, operands: operands, operandSize: operandSize, addressSize: addressSize,
      segmentOverride: segment, repeatPrefix: rep, lock: lock, condition: condition)
    return .instruction(inst, length: r.position)
  }

  /// The r/m operand of a ModRM byte, with SIB and displacement (SDM Vol. 2A Tables 2-1 to 2-3).
  static func decodeRM(
    _ r: inout ByteReader, modrm: UInt8, size: OperandSize, addressSize: AddressSize,
    segment: SegmentRegister?
  ) throws(Stop) -> Operand {
    let mod = modrm >> 6
    let rm = modrm & 7
    if mod == 3 { return .register(GPR(rawValue: rm)!, size) }
    var base: GPR?
    var index: GPR?
    var scale: UInt8 = 1
    var disp: UInt32 = 0
    if addressSize == .a16 {
      (base, index) = MemoryOperand.addressing16[Int(rm)]
      if mod == 0 && rm == 6 {
        base = nil
        disp = try r.little(2)
      } else if mod == 1 {
        disp = UInt32(UInt16(bitPattern: Int16(Int8(bitPattern: try r.next()))))
      } else if mod == 2 {
        disp = try r.little(2)
      }
    } else {
      if rm == 4 {
        let sib = try r.next()
        scale = 1 << (sib >> 6)
        let i = (sib >> 3) & 7
        index = i == 4 ? nil : GPR(rawValue: i)
        if index == nil { scale = 1 }
        let b = sib & 7
        if b == 5 && mod == 0 {
          base = nil
          disp = try r.little(4)
        } else {
          base = GPR(rawValue: b)
        }
      } else if rm == 5 && mod == 0 {
        disp = try r.little(4)
      } else {
        base = GPR(rawValue: rm)
      }
      if mod == 1 {
        disp = UInt32(bitPattern: Int32(Int8(bitPattern: try r.next())))
      } else if mod == 2 {
        disp = try r.little(4)
      }
    }
    let stackBased = base == .ebp || base == .esp
    return .memory(
      MemoryOperand(
        segment: segment ?? (stackBased ? .ss : .ds), base: base, index: index, scale: scale,
        displacement: disp, size: size, addressSize: addressSize))
  }
}
