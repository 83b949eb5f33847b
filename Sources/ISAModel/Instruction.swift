/// A decoded IA-32 instruction: which form of the opcode table it is and its operands, with the
/// prefixes that matter (SDM Vol. 2A §2.1). The byte length is not part of it (redundant
/// prefixes change the length, not the instruction); `Decoder` returns it beside.

/// An entry of the opcode table (`OpcodeTable.forms`), by index.
public struct Form: Hashable, Sendable, Codable, CustomStringConvertible {
  public let index: UInt16
  @inlinable public init(index: UInt16) { self.index = index }
  @inlinable public var spec: FormSpec { OpcodeTable.forms[Int(index)] }
  public var description: String { spec.description }
}

/// A memory operand: the effective address parts and the access size (SDM Vol. 2A §2.1.5).
public struct MemoryOperand: Hashable, Sendable, Codable {
  /// The segment the access uses: the override prefix if any, else the default (SS for
  /// ESP/EBP-based addresses, DS otherwise; SDM Vol. 1 §3.7.4).
  public var segment: SegmentRegister
  public var base: GPR?
  public var index: GPR?
  /// 1, 2, 4 or 8 (1 when there is no index).
  public var scale: UInt8
  /// The displacement, sign-extended to the address size (and masked to 16 bits at `.a16`).
  public var displacement: UInt32
  public var size: OperandSize
  public var addressSize: AddressSize

  public init(
    segment: SegmentRegister, base: GPR?, index: GPR?, scale: UInt8, displacement: UInt32,
    size: OperandSize, addressSize: AddressSize
  ) {
    self.segment = segment
    self.base = base
    self.index = index
    self.scale = scale
    self.displacement = displacement
    self.size = size
    self.addressSize = addressSize
  }
}

extension MemoryOperand {
  /// The string source DS:(E)SI, or another segment by override (SDM Vol. 1 §7.3.9).
  public static func stringSource(segment: SegmentRegister, size: OperandSize, addressSize: AddressSize)
    -> Self
  {
    MemoryOperand(
      segment: segment, base: .esi, index: nil, scale: 1, displacement: 0, size: size,
      addressSize: addressSize)
  }

  /// The string destination ES:(E)DI (never overridden).
  public static func stringDestination(size: OperandSize, addressSize: AddressSize) -> Self {
    MemoryOperand(
      segment: .es, base: .edi, index: nil, scale: 1, displacement: 0, size: size, addressSize: addressSize)
  }

  /// The base and index of each 16-bit ModRM r/m value (SDM Vol. 2A Table 2-1): BX+SI, BX+DI,
  /// BP+SI, BP+DI, SI, DI, BP (a bare disp16 when mod = 00), BX.
  public static let addressing16: [(base: GPR?, index: GPR?)] = [
    (.ebx, .esi), (.ebx, .edi), (.ebp, .esi), (.ebp, .edi), (.esi, nil), (.edi, nil), (.ebp, nil),
    (.ebx, nil),
  ]
}

/// An operand of a decoded instruction.
public enum Operand: Hashable, Sendable, Codable {
  case none
  case register(GPR, OperandSize)
  case memory(MemoryOperand)
  /// An immediate, already extended to 32 bits as the form says (relative offsets too).
  case immediate(UInt32)
  /// A control register CR0–CR4 (MOV to and from CR).
  case control(UInt8)
  /// A debug register DR0–DR7 (MOV to and from DR).
  case debug(UInt8)
  /// A segment register (MOV Sreg, PUSH and POP of segment registers).
  case segment(SegmentRegister)

  @inlinable public var isMemory: Bool {
    if case .memory = self { true } else { false }
  }
}

/// REP/REPE (F3) or REPNE (F2), as given.
public enum RepeatPrefix: UInt8, Hashable, Sendable, Codable {
  case none = 0
  case rep = 0xF3
  case repne = 0xF2
}

/// A condition code, the low four bits of Jcc, SETcc and CMOVcc (SDM Vol. 1 Appendix B).
public enum Condition: UInt8, CaseIterable, Hashable, Sendable, Codable {
  case o = 0
  case no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g

  public var name: String { String(describing: self) }
}

public struct Instruction: Hashable, Sendable, Codable, CustomStringConvertible {
  public var form: Form
  /// The form's mnemonic, kept here so that execution never consults the table.
  public let mnemonic: Mnemonic
  /// Up to three operands, in the SDM's order (destination first); `.none` where absent.
  /// Stored apart rather than in an array so that copying an instruction never allocates.
  public var op0: Operand
  public var op1: Operand
  public var op2: Operand
  /// The size of `v` operands: 16 with the 0x66 prefix, else 32.
  public var operandSize: OperandSize
  /// 16 with the 0x67 prefix, else 32.
  public var addressSize: AddressSize
  /// A segment-override prefix, if one was given (the last one counts).
  public var segmentOverride: SegmentRegister?
  public var repeatPrefix: RepeatPrefix
  public var lock: Bool
  /// For `+cc` forms.
  public var condition: Condition?

  public init(
    form: Form, operands: [Operand], operandSize: OperandSize = .dword,
    addressSize: AddressSize = .a32, segmentOverride: SegmentRegister? = nil,
    repeatPrefix: RepeatPrefix = .none, lock: Bool = false, condition: Condition? = nil
  ) {
    self.form = form
    mnemonic = form.spec.mnemonic
    precondition(operands.count <= 3, "an instruction has at most three operands")
    op0 = operands.count > 0 ? operands[0] : .none
    op1 = operands.count > 1 ? operands[1] : .none
    op2 = operands.count > 2 ? operands[2] : .none
    self.operandSize = operandSize
    self.addressSize = addressSize
    self.segmentOverride = segmentOverride
    self.repeatPrefix = repeatPrefix
    self.lock = lock
    self.condition = condition
  }

  /// The operands that are present.
  public var operands: [Operand] { [op0, op1, op2].filter { $0 != .none } }

  public var description: String { Disassembler.text(self) }
}

/// What the semantics read of a decoded instruction. `Instruction` is the general form. An
/// engine may pass a form of fixed shape instead (two 32-bit registers, say): specialised for
/// it, the one generic semantics loses its operand and size dispatch, which then folds away.
public protocol InstructionOperands {
  var mnemonic: Mnemonic { get }
  var op0: Operand { get }
  var op1: Operand { get }
  var op2: Operand { get }
  var operandSize: OperandSize { get }
  var addressSize: AddressSize { get }
  var repeatPrefix: RepeatPrefix { get }
  var condition: Condition? { get }
}

extension Instruction: InstructionOperands {}

extension Operand {
  /// Whether the operand is `.none`: a pattern match, which folds for a fixed shape where the
  /// derived `==` stays a call (measured on IMUL's three-operand handler).
  @inlinable @inline(__always) public var isAbsent: Bool {
    if case .none = self { return true }
    return false
  }
}
