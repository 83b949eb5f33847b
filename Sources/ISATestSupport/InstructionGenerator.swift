import ISAModel

/// Draws random, well-formed instructions of a given form.
public struct InstructionGenerator {
  /// Address-size and segment-override variety; the differential test turns these off where
  /// its flat memory layout needs 32-bit addresses.
  public var allowAddressSize16 = true
  public var allowSegmentOverrides = true
  public var allowRepeatPrefixes = true

  public init() {}

  /// A random instance of `form`, or nil when the form cannot be instantiated that way.
  public func instance(of form: Form, using rng: inout some RandomNumberGenerator) -> Instruction {
    let spec = form.spec
    var operandSize: OperandSize = Bool.random(using: &rng) ? .dword : .word
    let addressSize: AddressSize = allowAddressSize16 && Int.random(in: 0..<4, using: &rng) == 0 ? .a16 : .a32
    let segment: SegmentRegister? =
      allowSegmentOverrides && Int.random(in: 0..<5, using: &rng) == 0
      ? SegmentRegister.allCases.randomElement(using: &rng) : nil
    var rep = RepeatPrefix.none
    if allowRepeatPrefixes && Int.random(in: 0..<4, using: &rng) == 0 {
      rep = Bool.random(using: &rng) ? .rep : .repne
    }
    // Mandatory prefixes are part of the opcode; without one, 66 and F3 would select another
    // form of 0F C7 /6 (VMCLEAR, VMXON instead of VMPTRLD).
    switch spec.mandatoryPrefix {
    case 0x66:
      operandSize = .word
      rep = .none
    case 0xF3: rep = .rep
    case 0xF2: rep = .repne
    default:
      if spec.opcode == "0F C7 /6" {
        operandSize = .dword
        rep = .none
      }
    }
    var operands: [Operand] = []
    var rmChoice: Operand?
    for o in spec.operands {
      if let implied = o.implied(operandSize: operandSize, addressSize: addressSize, segment: segment) {
        operands.append(implied)
        continue
      }
      switch o {
      case .e(let s), .m(let s):
        let size = s.resolve(operandSize)
        if rmChoice == nil {
          rmChoice =
            (!spec.memoryOnly && Bool.random(using: &rng))
            ? .register(GPR.allCases.randomElement(using: &rng)!, size)
            : .memory(memoryOperand(size: size, addressSize: addressSize, segment: segment, using: &rng))
        }
        operands.append(rmChoice!)
      case .g(let s):
        operands.append(.register(GPR.allCases.randomElement(using: &rng)!, s.resolve(operandSize)))
      case .i(let s): operands.append(.immediate(rng.edgyWord() & s.resolve(operandSize).mask))
      case .ibs:
        operands.append(.immediate(UInt32(bitPattern: Int32(Int8.random(in: .min ... .max, using: &rng)))))
      case .j(let s):
        let size = s.resolve(operandSize)
        let v: UInt32 =
          switch size {
          case .byte: UInt32(bitPattern: Int32(Int8.random(in: .min ... .max, using: &rng)))
          case .word: UInt32(bitPattern: Int32(Int16.random(in: .min ... .max, using: &rng)))
          case .dword: rng.edgyWord()
          }
        operands.append(.immediate(v))
      case .z(let s):
        // 90+r with EAX is the NOP form, not XCHG.
        let choices = spec.opcode.hasPrefix("90+r") ? Array(GPR.allCases.dropFirst()) : GPR.allCases
        operands.append(.register(choices.randomElement(using: &rng)!, s.resolve(operandSize)))
      case .o(let s):
        operands.append(
          .memory(
            MemoryOperand(
              segment: segment ?? .ds, base: nil, index: nil, scale: 1,
              displacement: rng.edgyWord() & addressSize.mask, size: s.resolve(operandSize),
              addressSize: addressSize)))
      case .fixed, .fixedSegment, .one, .x, .y: break  // implied, above
      case .r(let s):
        operands.append(.register(GPR.allCases.randomElement(using: &rng)!, s.resolve(operandSize)))
      case .c: operands.append(.control([0, 2, 3, 4].randomElement(using: &rng)!))
      case .d: operands.append(.debug(UInt8.random(in: 0...7, using: &rng)))
      case .s: operands.append(.segment(SegmentRegister.allCases.randomElement(using: &rng)!))
      case .mwRv:
        operands.append(
          Bool.random(using: &rng)
            ? .register(GPR.allCases.randomElement(using: &rng)!, operandSize)
            : .memory(memoryOperand(size: .word, addressSize: addressSize, segment: segment, using: &rng)))
      }
    }
    let lock =
      spec.mnemonic.lockable && operands.first?.isMemory == true && Int.random(in: 0..<3, using: &rng) == 0
    let condition = spec.embedded == .condition ? Condition.allCases.randomElement(using: &rng) : nil
    return Instruction(
      form: form, operands: operands, operandSize: operandSize, addressSize: addressSize,
      segmentOverride: segment, repeatPrefix: rep, lock: lock, condition: condition)
  }

  /// A random memory operand in canonical form.
  public func memoryOperand(
    size: OperandSize, addressSize: AddressSize, segment: SegmentRegister?,
    using rng: inout some RandomNumberGenerator
  ) -> MemoryOperand {
    var base: GPR?
    var index: GPR?
    var scale: UInt8 = 1
    var disp: UInt32
    if addressSize == .a16 {
      let combos = MemoryOperand.addressing16 + [(nil, nil)]
      (base, index) = combos.randomElement(using: &rng)!
      disp = rng.edgyWord() & 0xFFFF
    } else {
      base = Int.random(in: 0..<6, using: &rng) == 0 ? nil : GPR.allCases.randomElement(using: &rng)
      if Bool.random(using: &rng) {
        index = GPR.allCases.filter { $0 != .esp }.randomElement(using: &rng)
        scale = [1, 2, 4, 8].randomElement(using: &rng)!
      }
      disp =
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: 0
        case 1: UInt32(bitPattern: Int32(Int8.random(in: .min ... .max, using: &rng)))
        default: rng.edgyWord()
        }
    }
    let stackBased = base == .ebp || base == .esp
    return MemoryOperand(
      segment: segment ?? (stackBased ? .ss : .ds), base: base, index: index, scale: scale,
      displacement: disp, size: size, addressSize: addressSize)
  }
}
