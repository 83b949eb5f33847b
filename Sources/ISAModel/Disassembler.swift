/// Intel-syntax text of decoded instructions, for traces and failing test cases. The text is
/// nasm's syntax (`a16`/`o16` where nothing else shows the size, `nosplit` for scaled indexes
/// without a base), so that nasm assembles it back to the same instruction (NasmTests).
public enum Disassembler {
  public static func text(_ i: Instruction) -> String {
    var name = i.mnemonic.name
    if let c = i.condition { name += c.name }
    let spec = i.form.spec
    let hasMemory = [i.op0, i.op1, i.op2].contains { $0.isMemory }
    let a16 = i.addressSize == .a16 && (hasMemory || i.mnemonic.isString) ? "a16 " : ""
    switch i.mnemonic {
    case .movs, .stos, .lods, .cmps, .scas, .ins, .outs:
      let size =
        spec.operands.contains(.y(.b)) || spec.operands.contains(.x(.b)) ? OperandSize.byte : i.operandSize
      name += size == .byte ? "b" : size == .word ? "w" : "d"
      let rep: String
      switch i.repeatPrefix {
      case .none: rep = ""
      case .rep: rep = i.mnemonic == .cmps || i.mnemonic == .scas ? "repe " : "rep "
      case .repne: rep = "repne "
      }
      let seg = i.segmentOverride.map { "\($0.name) " } ?? ""
      return rep + a16 + seg + name
    case .cbw: return i.operandSize == .word ? "cbw" : "cwde"
    case .cwd: return i.operandSize == .word ? "cwd" : "cdq"
    case .pusha: return i.operandSize == .word ? "pushaw" : "pushad"
    case .popa: return i.operandSize == .word ? "popaw" : "popad"
    case .pushf: return i.operandSize == .word ? "pushfw" : "pushfd"
    case .popf: return i.operandSize == .word ? "popfw" : "popfd"
    case .iret: return i.operandSize == .word ? "iretw" : "iretd"
    case .jmpFar, .callFar:
      if case .immediate(let offset) = i.op0, case .immediate(let selector) = i.op1 {
        return "\(name) \(i.operandSize == .word ? "word" : "dword") 0x\(String(selector, radix: 16)):0x"
          + String(offset, radix: 16)
      }
      let memory = operandText(i.op0, i, width: i.operandSize)
      return "\(name) far \(i.operandSize == .word ? "word " : "")" + memory
    default: break
    }
    // Where no operand shows a 16-bit operand size, say it.
    let sizeShown = [i.op0, i.op1, i.op2].contains {
      if case .register(_, .word) = $0 { return true }
      if case .memory(let m) = $0 { return m.size == .word }
      return false
    }
    let o16 =
      i.operandSize == .word && !sizeShown
        && [.ret, .retf, .enter, .leave, .lgdt, .lidt, .sgdt, .sidt].contains(i.mnemonic) ? "o16 " : ""
    if i.mnemonic == .push, case .immediate(let v) = i.op0 {
      return "push \(i.operandSize == .word ? "word" : "dword") 0x"
        + String(v & i.operandSize.mask, radix: 16)
    }
    let width = i.op0 == .none || isImmediate(i.op0) ? i.operandSize : i.op0.size
    let ops = [i.op0, i.op1, i.op2].filter { $0 != .none }.map { operandText($0, i, width: width) }
    return (i.lock ? "lock " : "") + a16 + o16 + name + (ops.isEmpty ? "" : " " + ops.joined(separator: ", "))
  }

  static let sizeless: Set<Mnemonic> = [
    .sgdt, .sidt, .lgdt, .lidt, .invlpg, .jmpFar, .callFar, .vmxon, .vmclear, .vmptrld, .vmptrst, .invept,
    .invvpid,
  ]

  static func isImmediate(_ o: Operand) -> Bool {
    if case .immediate = o { true } else { false }
  }

  static func operandText(_ o: Operand, _ i: Instruction, width: OperandSize) -> String {
    switch o {
    case .none: return ""
    case .register(let r, let s): return r.name(s)
    case .immediate(let v):
      // Shown at the destination's width (sign-extended imm8 forms hold 32-bit patterns);
      // ENTER's and RET's immediates have their own sizes.
      let shown = i.mnemonic == .enter || i.mnemonic == .ret || i.mnemonic == .retf ? v : v & width.mask
      return "0x" + String(shown, radix: 16)
    case .control(let n): return "cr\(n)"
    case .debug(let n): return "dr\(n)"
    case .segment(let s): return s.name
    case .memory(let m):
      // Pseudo-descriptors, VMCS pointers and INVLPG's byte have no size in nasm's syntax.
      let size =
        sizeless.contains(i.mnemonic)
        ? "" : m.size == .byte ? "byte " : m.size == .word ? "word " : "dword "
      var parts: [String] = []
      let rs = m.addressSize.registerSize
      if let b = m.base { parts.append(b.name(rs)) }
      // An index without a base keeps its "*scale" (even *1: it is not a base, and it selects DS
      // where EBP as a base would select SS).
      if let x = m.index {
        parts.append(m.scale == 1 && m.base != nil ? x.name(rs) : "\(x.name(rs))*\(m.scale)")
      }
      if m.displacement != 0 || parts.isEmpty { parts.append("0x" + String(m.displacement, radix: 16)) }
      let seg = i.segmentOverride.map { "\($0.name):" } ?? ""
      let nosplit = m.base == nil && m.index != nil ? "nosplit " : ""
      return "\(size)[\(nosplit)\(seg)\(parts.joined(separator: "+"))]"
    }
  }
}
