/// Instruction → bytes, the inverse of `Decoder` (SDM Vol. 2A Chapter 2). Encodings are
/// canonical: prefixes in a fixed order, the shortest displacement, SIB only when needed, so
/// that `decode(encode(i)) == i` for every instruction the table can express.

public struct EncodeError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public var description: String { "cannot encode: \(message)" }
}

public enum Encoder {
  public static func encode(_ i: Instruction) throws(EncodeError) -> [UInt8] {
    let spec = i.form.spec
    var out: [UInt8] = []
    if i.lock { out.append(0xF0) }
    if i.repeatPrefix != .none { out.append(i.repeatPrefix.rawValue) }
    if let s = i.segmentOverride { out.append(s.overridePrefix) }
    if i.operandSize == .word { out.append(0x66) }
    if i.addressSize == .a16 { out.append(0x67) }

    let ops = [i.op0, i.op1, i.op2]
    guard ops.filter({ $0 != .none }).count == spec.operands.count,
      ops.prefix(spec.operands.count).allSatisfy({ $0 != .none })
    else { throw EncodeError(message: "\(spec): expects \(spec.operands.count) operand(s)") }

    var low: UInt8 = 0
    var reg: UInt8?
    var rm: Operand?
    var tail: [UInt8] = []
    func little(_ v: UInt32, _ n: Int) -> [UInt8] {
      (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) }
    }

    for (k, o) in spec.operands.enumerated() {
      let op = ops[k]
      switch o {
      case .e(let s), .m(let s):
        let size = s.resolve(i.operandSize)
        switch op {
        case .register(_, let rs) where rs == size && !spec.memoryOnly: rm = op
        case .memory(let m) where m.size == size && m.addressSize == i.addressSize: rm = op
        default: throw EncodeError(message: "\(spec): operand \(k) must be r/m of \(size)")
        }
      case .g(let s):
        guard case .register(let r, let rs) = op, rs == s.resolve(i.operandSize) else {
          throw EncodeError(message: "\(spec): operand \(k) must be a register")
        }
        reg = r.rawValue
      case .i(let s):
        guard case .immediate(let v) = op else {
          throw EncodeError(message: "\(spec): operand \(k) must be immediate")
        }
        let size = s.resolve(i.operandSize)
        guard v & ~size.mask == 0 else {
          throw EncodeError(message: "\(spec): immediate 0x\(String(v, radix: 16)) exceeds \(size)")
        }
        tail += little(v, Int(size.bytes))
      case .ibs:
        guard case .immediate(let v) = op, Int32(bitPattern: v) >= -128, Int32(bitPattern: v) <= 127 else {
          throw EncodeError(message: "\(spec): operand \(k) must be a sign-extended imm8")
        }
        tail.append(UInt8(truncatingIfNeeded: v))
      case .j(let s):
        guard case .immediate(let v) = op else {
          throw EncodeError(message: "\(spec): operand \(k) must be an offset")
        }
        let size = s.resolve(i.operandSize)
        let sv = Int32(bitPattern: v)
        let fits =
          switch size {
          case .byte: sv >= -128 && sv <= 127
          case .word: sv >= -32768 && sv <= 32767
          case .dword: true
          }
        guard fits else { throw EncodeError(message: "\(spec): offset \(sv) does not fit \(size)") }
        tail += little(v, Int(size.bytes))
      case .fixed(let r, let s):
        guard op == .register(r, s.resolve(i.operandSize)) else {
          throw EncodeError(message: "\(spec): operand \(k) must be \(r.name(s.resolve(i.operandSize)))")
        }
      case .z(let s):
        guard case .register(let r, let rs) = op, rs == s.resolve(i.operandSize) else {
          throw EncodeError(message: "\(spec): operand \(k) must be a register")
        }
        low = r.rawValue
      case .o(let s):
        guard case .memory(let m) = op, m.base == nil, m.index == nil, m.size == s.resolve(i.operandSize),
          m.addressSize == i.addressSize, m.segment == (i.segmentOverride ?? .ds)
        else { throw EncodeError(message: "\(spec): operand \(k) must be a memory offset") }
        tail += little(m.displacement, Int(i.addressSize.registerSize.bytes))
      case .one:
        guard op == .immediate(1) else { throw EncodeError(message: "\(spec): operand \(k) must be 1") }
      case .x(let s):
        let source = MemoryOperand.stringSource(
          segment: i.segmentOverride ?? .ds, size: s.resolve(i.operandSize), addressSize: i.addressSize)
        guard op == .memory(source) else {
          throw EncodeError(message: "\(spec): operand \(k) must be the string source")
        }
      case .y(let s):
        guard op == .memory(.stringDestination(size: s.resolve(i.operandSize), addressSize: i.addressSize))
        else {
          throw EncodeError(message: "\(spec): operand \(k) must be the string destination")
        }
      case .mwRv:
        switch op {
        case .register(_, let rs) where rs == i.operandSize: rm = op
        case .memory(let m) where m.size == .word && m.addressSize == i.addressSize: rm = op
        default: throw EncodeError(message: "\(spec): operand \(k) must be r\(i.operandSize.bits) or m16")
        }
      case .fixedSegment(let sreg):
        guard op == .segment(sreg) else {
          throw EncodeError(message: "\(spec): operand \(k) must be \(sreg.name)")
        }
      case .r(let s):
        guard case .register(_, let rs) = op, rs == s.resolve(i.operandSize) else {
          throw EncodeError(message: "\(spec): operand \(k) must be a register")
        }
        rm = op
      case .c:
        guard case .control(let n) = op, [0, 2, 3, 4].contains(n) else {
          throw EncodeError(message: "\(spec): operand \(k) must be CR0, CR2, CR3 or CR4")
        }
        reg = n
      case .d:
        guard case .debug(let n) = op, n < 8 else {
          throw EncodeError(message: "\(spec): operand \(k) must be a debug register")
        }
        reg = n
      case .s:
        guard case .segment(let sr) = op else {
          throw EncodeError(message: "\(spec): operand \(k) must be a segment register")
        }
        reg = sr.rawValue
      }
    }
    if i.lock && !(spec.mnemonic.lockable && i.op0.isMemory) {
      throw EncodeError(message: "LOCK is not allowed on \(spec)")
    }
    if spec.embedded == .condition {
      guard let c = i.condition else { throw EncodeError(message: "\(spec): needs a condition") }
      low = c.rawValue
    }
    switch spec.mandatoryPrefix {
    case 0x66: guard i.operandSize == .word else { throw EncodeError(message: "\(spec) needs the 66 prefix") }
    case 0xF3: guard i.repeatPrefix == .rep else { throw EncodeError(message: "\(spec) needs the F3 prefix") }
    case 0xF2:
      guard i.repeatPrefix == .repne else { throw EncodeError(message: "\(spec) needs the F2 prefix") }
    default: break
    }
    out += spec.bytes.dropLast()
    out.append(spec.bytes.last! &+ low)
    if case .digit(let d) = spec.modrm { reg = d }
    if spec.modrm != .none {
      guard let reg else { throw EncodeError(message: "\(spec): no ModRM.reg") }
      switch rm {
      case .register(let r, _): out.append(0xC0 | reg << 3 | r.rawValue)
      case .memory(let m): out += try memory(m, reg: reg, segmentOverride: i.segmentOverride)
      default:
        // /r forms with only a reg operand do not exist in this table.
        throw EncodeError(message: "\(spec): no r/m operand")
      }
    }
    return out + tail
  }

  /// ModRM (with the given reg), SIB and displacement for a memory operand.
  static func memory(_ m: MemoryOperand, reg: UInt8, segmentOverride: SegmentRegister?) throws(EncodeError)
    -> [UInt8]
  {
    let defaultSegment: SegmentRegister = (m.base == .ebp || m.base == .esp) ? .ss : .ds
    guard m.segment == (segmentOverride ?? defaultSegment) else {
      throw EncodeError(message: "memory segment \(m.segment.name) needs an override prefix")
    }
    func modrm(_ mod: UInt8, _ rm: UInt8) -> UInt8 { mod << 6 | reg << 3 | rm }
    func little(_ v: UInt32, _ n: Int) -> [UInt8] {
      (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) }
    }
    if m.addressSize == .a16 {
      guard m.scale == 1, m.displacement <= 0xFFFF else {
        throw EncodeError(message: "16-bit address with scale or wide displacement")
      }
      if m.base == nil && m.index == nil { return [modrm(0, 6)] + little(m.displacement, 2) }
      guard
        let rm = MemoryOperand.addressing16.firstIndex(where: { $0.base == m.base && $0.index == m.index })
      else {
        throw EncodeError(message: "no 16-bit addressing form for this base and index")
      }
      let d = Int16(bitPattern: UInt16(m.displacement))
      if d == 0 && rm != 6 { return [modrm(0, UInt8(rm))] }
      if d >= -128 && d <= 127 { return [modrm(1, UInt8(rm)), UInt8(truncatingIfNeeded: d)] }
      return [modrm(2, UInt8(rm))] + little(m.displacement, 2)
    }
    guard m.index != .esp else { throw EncodeError(message: "ESP cannot be an index") }
    guard [1, 2, 4, 8].contains(m.scale), m.index != nil || m.scale == 1 else {
      throw EncodeError(message: "scale \(m.scale)")
    }
    let d = Int32(bitPattern: m.displacement)
    func mod(for base: GPR) -> (UInt8, [UInt8]) {
      if d == 0 && base != .ebp { return (0, []) }
      if d >= -128 && d <= 127 { return (1, [UInt8(truncatingIfNeeded: d)]) }
      return (2, little(m.displacement, 4))
    }
    let ss = UInt8(m.scale.trailingZeroBitCount)
    switch (m.base, m.index) {
    case (nil, nil):
      return [modrm(0, 5)] + little(m.displacement, 4)
    case (nil, let x?):
      return [modrm(0, 4), ss << 6 | x.rawValue << 3 | 5] + little(m.displacement, 4)
    case (let b?, nil) where b != .esp:
      let (md, disp) = mod(for: b)
      return [modrm(md, b.rawValue)] + disp
    case (let b?, let x):
      let (md, disp) = mod(for: b)
      return [modrm(md, 4), ss << 6 | (x?.rawValue ?? 4) << 3 | b.rawValue] + disp
    }
  }
}
