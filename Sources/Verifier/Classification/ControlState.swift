/// Popek and Goldberg's control state mapped onto IA-32 (docs/popek-goldberg.md): the resources a
/// monitor must own, each a set of parts of a `SymbolicState` or a kind of event the step makes.
/// Which of them a monitor owns is part of its configuration (`ControlOwnership`).
import ISAModel
import Z3

/// One resource of the control state.
public enum ControlResource: String, CaseIterable, Codable, Sendable, Comparable {
  /// The CPL: the RPL of CS and of SS (SDM Vol. 3A §5.5).
  case cpl
  /// The hidden descriptor caches (base, limit, attributes) of the six segment registers.
  case segmentCaches = "segment-caches"
  case cr0, cr2, cr3, cr4
  case debugRegisters = "debug-registers"
  /// EFLAGS.IF.
  case interruptFlag = "if"
  case iopl
  /// TF, NT, RF, VM, AC, VIF, VIP and ID (SDM Vol. 1 §3.4.3.3, IF and IOPL aside).
  case systemFlags = "system-flags"
  /// GDTR and IDTR.
  case descriptorTables = "gdtr-idtr"
  /// LDTR and TR, selectors and caches.
  case ldtr, tr
  /// What the TLB holds: INVLPG drops translations (CR0, CR3 and CR4 are resources of their own).
  case paging
  case msrs
  /// An I/O port read or written.
  case ports
  case tsc
  /// Running or halted.
  case activity
  /// Interrupts held off for one instruction (after STI, MOV SS, POP SS).
  case interruptShadow = "interrupt-shadow"
  /// Where the code runs: owned by a binary translator, whose guest code runs elsewhere.
  case eip

  public static func < (a: Self, b: Self) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }

  /// Resources that say where the real machine's tables and memory are: the guest sees a
  /// relocation through them (location-sensitivity); the others set its mode.
  public var isLocation: Bool {
    switch self {
    case .segmentCaches, .descriptorTables, .ldtr, .tr, .cr3, .eip: true
    default: false
    }
  }

  /// A resource the step acts on (an event), not a part of the state.
  public var isEvent: Bool { self == .ports || self == .paging }
}

/// Which resources a monitor owns, and which bits of CR0 and CR4 (a monitor may leave CR0.TS or
/// the TSC to the guest).
public struct ControlOwnership: Sendable, Hashable, Codable {
  public var resources: Set<ControlResource>
  public var cr0Mask: UInt32
  public var cr4Mask: UInt32
  /// The MSRs owned when `msrs` is (nil: all; a VMM lets the guest keep those VM entry and
  /// exit switch, such as the SYSENTER MSRs).
  public var msrIndices: [UInt32]?

  public init(
    resources: Set<ControlResource>, cr0Mask: UInt32 = ~0, cr4Mask: UInt32 = ~0, msrIndices: [UInt32]? = nil
  ) {
    self.resources = resources
    self.cr0Mask = cr0Mask
    self.cr4Mask = cr4Mask
    self.msrIndices = msrIndices
  }

  /// Whether MSR `m` is part of the owned state.
  public func ownsMSR(_ m: ModelSpecificRegister) -> Bool {
    owns(.msrs) && (msrIndices.map { $0.contains(m.index) } ?? true)
  }

  /// Everything Popek and Goldberg's definition names, but where the code runs.
  public static let classic = ControlOwnership(resources: Set(ControlResource.allCases).subtracting([.eip]))

  public func owns(_ r: ControlResource) -> Bool { resources.contains(r) }
}

/// The bits of CR0 and CR4 that decide translation: a mode-sensitivity query keeps them equal in
/// both states, since two page-table configurations over the same memory are a relocation.
enum TranslationBits {
  static let cr0: UInt32 = CR0.pg | CR0.wp
  static let cr4: UInt32 = 1 << 4 | 1 << 5  // PSE, PAE
}

/// The parts of a state by resource; every part not in an owned resource is guest-visible state.
struct StatePartition {
  let ownership: ControlOwnership

  static let systemFlags: [Flag] = [.tf, .nt, .rf, .vm, .ac, .vif, .vip, .id]
  static let userFlags: [Flag] = [.cf, .pf, .af, .zf, .sf, .of, .df]

  static func flag(_ s: SymbolicState, _ f: Flag) -> BoolExpr { s.flags[Flag.allCases.firstIndex(of: f)!] }
  static func register(_ s: SymbolicState, _ r: SystemRegister) -> BitVector {
    s.systemRegisters[SystemRegister.allCases.firstIndex(of: r)!]
  }

  /// The terms of resource `r` in `s`, named (empty for events).
  func parts(_ r: ControlResource, of s: SymbolicState) -> [(String, SymbolicPart)] {
    func seg(_ x: SegmentRegister) -> SegmentCache<BitVector> { s.segments[Int(x.rawValue)] }
    switch r {
    case .cpl:
      return [("cs.rpl", .word(seg(.cs).selector & 3)), ("ss.rpl", .word(seg(.ss).selector & 3))]
    case .segmentCaches:
      return SegmentRegister.allCases.flatMap { x -> [(String, SymbolicPart)] in
        let c = seg(x)
        return [
          ("\(x.name).base", .word(c.base)), ("\(x.name).limit", .word(c.limit)),
          ("\(x.name).attributes", .word(c.attributes)),
        ]
      }
    case .cr0: return [("cr0", .word(Self.register(s, .cr0) & UInt64(ownership.cr0Mask)))]
    case .cr2: return [("cr2", .word(Self.register(s, .cr2)))]
    case .cr3: return [("cr3", .word(Self.register(s, .cr3)))]
    case .cr4: return [("cr4", .word(Self.register(s, .cr4) & UInt64(ownership.cr4Mask)))]
    case .debugRegisters:
      return [SystemRegister.dr0, .dr1, .dr2, .dr3, .dr6, .dr7].map { ($0.name, .word(Self.register(s, $0))) }
    case .interruptFlag: return [("IF", .truth(Self.flag(s, .if)))]
    case .iopl: return [("iopl", .word(s.iopl))]
    case .systemFlags: return Self.systemFlags.map { ($0.name, .truth(Self.flag(s, $0))) }
    case .descriptorTables:
      return [SystemRegister.gdtrBase, .gdtrLimit, .idtrBase, .idtrLimit].map {
        ($0.name, .word(Self.register(s, $0)))
      }
    case .ldtr, .tr:
      let c = s.systemSegments[Int((r == .ldtr ? SystemSegment.ldtr : .tr).rawValue)]
      let n = r.rawValue
      return [
        ("\(n).selector", .word(c.selector)), ("\(n).base", .word(c.base)), ("\(n).limit", .word(c.limit)),
        ("\(n).attributes", .word(c.attributes)),
      ]
    case .msrs:
      return zip(ModelSpecificRegister.all, s.msrs).filter {
        $0.0.kind != .timeStampCounter && ownership.ownsMSR($0.0)
      }
      .flatMap {
        [("\($0.0.name).low", SymbolicPart.word($0.1.low)), ("\($0.0.name).high", .word($0.1.high))]
      }
    case .tsc:
      return [("tsc.low", .word(s.timeStampCounter.low)), ("tsc.high", .word(s.timeStampCounter.high))]
    case .activity: return [("halted", .truth(s.halted))]
    case .interruptShadow: return [("interrupts.inhibited", .truth(s.interruptsInhibited))]
    case .eip: return [("eip", .word(s.eip))]
    case .paging, .ports: return []
    }
  }

  /// The guest-visible parts of `s` but memory: general registers, EIP (unless owned), the
  /// status flags and DF, the selectors (CS's and SS's RPL is the CPL), and every part of a
  /// resource the monitor does not own.
  func visibleParts(of s: SymbolicState) -> [(String, SymbolicPart)] {
    var p: [(String, SymbolicPart)] = GPR.allCases.map { ($0.name(.dword), .word(s.gprs[Int($0.rawValue)])) }
    for f in Self.userFlags { p.append((f.name, .truth(Self.flag(s, f)))) }
    for x in SegmentRegister.allCases {
      let selector = s.segments[Int(x.rawValue)].selector
      let owned = ownership.owns(.cpl) && (x == .cs || x == .ss)
      p.append(("\(x.name).selector", .word(owned ? selector & 0xFFFC : selector)))
    }
    for r in ControlResource.allCases where !ownership.owns(r) && r != .cpl { p += parts(r, of: s) }
    if ownership.owns(.cr0) {
      p.append(("cr0.unowned", .word(Self.register(s, .cr0) & UInt64(~ownership.cr0Mask))))
    }
    if ownership.owns(.cr4) {
      p.append(("cr4.unowned", .word(Self.register(s, .cr4) & UInt64(~ownership.cr4Mask))))
    }
    if ownership.owns(.msrs) {
      for (m, v) in zip(ModelSpecificRegister.all, s.msrs)
      where m.kind != .timeStampCounter && !ownership.ownsMSR(m) {
        p += [("\(m.name).low", .word(v.low)), ("\(m.name).high", .word(v.high))]
      }
    }
    return p
  }
}

extension SymbolicPart {
  /// The two parts differ.
  static func differ(_ a: SymbolicPart, _ b: SymbolicPart) -> BoolExpr {
    switch (a, b) {
    case (.word(let x), .word(let y)): x != y
    case (.truth(let x), .truth(let y)): x != y
    default: preconditionFailure("parts of different kinds compared")
    }
  }

  /// The two parts are the same term (after simplification): equal in every state, no query
  /// needed.
  static func identical(_ a: SymbolicPart, _ b: SymbolicPart) -> Bool {
    switch (a, b) {
    case (.word(let x), .word(let y)): x.isSameTerm(as: y) || x.simplified().isSameTerm(as: y.simplified())
    case (.truth(let x), .truth(let y)): x.isSameTerm(as: y) || x.simplified().isSameTerm(as: y.simplified())
    default: false
    }
  }
}
