/// The instructions the catalogue classifies: for every form of the opcode table, fixed
/// representative instances — 32-bit operands, a register and a memory variant of an r/m
/// operand, and one instance per control, debug or segment register where the form names one
/// (MOV CR0 and MOV CR3 differ in what they change). Registers and memory are free in every
/// query, so a register choice stands for all; an immediate is one fixed value.
import ISAModel

public enum Representatives {
  /// Every form's representatives, in table order, each checked to encode and decode back.
  public static func all() -> [Instruction] {
    OpcodeTable.forms.indices.flatMap { instances(of: Form(index: UInt16($0))) }
  }

  public static func instances(of form: Form) -> [Instruction] {
    let spec = form.spec
    let operandSize: OperandSize = spec.mandatoryPrefix == 0x66 ? .word : .dword
    let rep: RepeatPrefix =
      switch spec.mandatoryPrefix {
      case 0xF3: .rep
      case 0xF2: .repne
      default: .none
      }
    // The choices an operand offers; the instances are their product (at most a few).
    var choices: [[Operand?]] = []
    var rmVariants: [Operand] = []
    for o in spec.operands {
      if let implied = o.implied(operandSize: operandSize, addressSize: .a32, segment: nil) {
        choices.append([implied])
        continue
      }
      switch o {
      case .e(let s), .m(let s):
        let size = s.resolve(operandSize)
        let memory = Operand.memory(
          MemoryOperand(
            segment: .ds, base: .ebx, index: nil, scale: 1, displacement: 0, size: size, addressSize: .a32))
        if rmVariants.isEmpty {
          rmVariants = spec.memoryOnly ? [memory] : [.register(.ecx, size), memory]
        }
        choices.append(rmVariants)
      case .mwRv:
        let memory = Operand.memory(
          MemoryOperand(
            segment: .ds, base: .ebx, index: nil, scale: 1, displacement: 0, size: .word, addressSize: .a32))
        choices.append([.register(.ecx, operandSize), memory])
      case .g(let s): choices.append([.register(.eax, s.resolve(operandSize))])
      case .r(let s): choices.append([.register(.eax, s.resolve(operandSize))])
      case .z(let s): choices.append([.register(.ecx, s.resolve(operandSize))])
      case .i(let s): choices.append([.immediate(0x12 & s.resolve(operandSize).mask)])
      case .ibs: choices.append([.immediate(0x12)])
      case .j: choices.append([.immediate(0x10)])
      case .o(let s):
        choices.append([
          .memory(
            MemoryOperand(
              segment: .ds, base: nil, index: nil, scale: 1, displacement: 0x100,
              size: s.resolve(operandSize),
              addressSize: .a32))
        ])
      case .c: choices.append([0, 2, 3, 4].map { .control($0) })
      case .d: choices.append([0, 6, 7].map { .debug($0) })
      case .s: choices.append(SegmentRegister.allCases.map { .segment($0) })
      case .fixed, .fixedSegment, .one, .x, .y: choices.append([nil])
      }
    }
    var rows: [[Operand]] = [[]]
    for c in choices {
      rows = rows.flatMap { row in c.map { row + ($0.map { [$0] } ?? []) } }
    }
    let condition: Condition? = spec.embedded == .condition ? .e : nil
    return rows.compactMap { operands in
      let i = Instruction(
        form: form, operands: operands, operandSize: operandSize, addressSize: .a32, segmentOverride: nil,
        repeatPrefix: rep, lock: false, condition: condition)
      guard let bytes = try? Encoder.encode(i), case .instruction(let back, _) = Decoder.decode(bytes),
        back == i
      else { return nil }
      return i
    }
  }
}
