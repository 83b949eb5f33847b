/// Intel-syntax text of decoded instructions, for traces and failing test cases.
public enum Disassembler {
  public static func text(_ i: Instruction) -> String {
    var name = i.mnemonic.name
    if let c = i.condition { name += c.name }
    let spec = i.form.spec
    switch i.mnemonic {
    case .movs, .stos, .lods, .cmps, .scas:
      let size =
        spec.operands.contains(.y(.b)) || spec.operands.contains(.x(.b)) ? OperandSize.byte : i.operandSize
      name += size == .byte ? "b" : size == .word ? "w" : "d"
      let rep: String
      switch i.repeatPrefix {
      case .none: rep = ""
      case .rep: rep = i.mnemonic == .cmps || i.mnemonic == .scas ? "repe " : "rep "
      case .repne: rep = "repne "
      }
      return rep + name
    case .cbw: return i.operandSize == .word ? "cbw" : "cwde"
    case .cwd: return i.operandSize == .word ? "cwd" : "cdq"
    case .pusha: return i.operandSize == .word ? "pusha" : "pushad"
    case .popa: return i.operandSize == .word ? "popa" : "popad"
    default: break
    }
    let ops = i.operands.map { operandText($0, i) }
    return ((i.lock ? "lock " : "") + name + (ops.isEmpty ? "" : " " + ops.joined(separator: ", ")))
  }

  static func operandText(_ o: Operand, _ i: Instruction) -> String {
    switch o {
    case .none: return ""
    case .register(let r, let s): return r.name(s)
    case .immediate(let v): return "0x" + String(v, radix: 16)
    case .memory(let m):
      let size = m.size == .byte ? "byte" : m.size == .word ? "word" : "dword"
      var parts: [String] = []
      let rs = m.addressSize.registerSize
      if let b = m.base { parts.append(b.name(rs)) }
      if let x = m.index { parts.append(m.scale == 1 ? x.name(rs) : "\(x.name(rs))*\(m.scale)") }
      if m.displacement != 0 || parts.isEmpty { parts.append("0x" + String(m.displacement, radix: 16)) }
      let seg = i.segmentOverride.map { "\($0.name):" } ?? ""
      return "\(size) [\(seg)\(parts.joined(separator: "+"))]"
    }
  }
}
