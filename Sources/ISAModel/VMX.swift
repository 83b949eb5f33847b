/// VMX non-root operation as silicon implements it (SDM Vol. 3C chapters 24–26, Appendix A):
/// the VM-execution controls of a VMCS, the capability MSRs that constrain them, the VM-exit
/// decision for each instruction, and the instructions that behave differently without exiting.
/// Written over the semantic domain, like the semantics: the Verifier evaluates it on Z3 terms
/// and the engine on concrete values (DESIGN.md decision 3). Monitor policy — which controls a
/// VMM sets — is data (`VMCSControls`), checked by the Verifier.

/// Pin-based VM-execution controls (SDM Vol. 3C §24.6.1, Table 24-5).
public enum PinBasedControl: UInt32, CaseIterable, Codable, Sendable {
  case externalInterruptExiting = 0
  case nmiExiting = 3
  case virtualNMIs = 5
  case preemptionTimer = 6

  public var mask: UInt32 { 1 << rawValue }
}

/// Primary processor-based VM-execution controls (SDM Vol. 3C §24.6.2, Table 24-6).
public enum PrimaryControl: UInt32, CaseIterable, Codable, Sendable {
  case interruptWindowExiting = 2
  case useTSCOffsetting = 3
  case hltExiting = 7
  case invlpgExiting = 9
  case mwaitExiting = 10
  case rdpmcExiting = 11
  case rdtscExiting = 12
  case cr3LoadExiting = 15
  case cr3StoreExiting = 16
  case cr8LoadExiting = 19
  case cr8StoreExiting = 20
  case useTPRShadow = 21
  case nmiWindowExiting = 22
  case movDRExiting = 23
  case unconditionalIOExiting = 24
  case useIOBitmaps = 25
  case monitorTrapFlag = 27
  case useMSRBitmaps = 28
  case monitorExiting = 29
  case pauseExiting = 30
  case activateSecondaryControls = 31

  public var mask: UInt32 { 1 << rawValue }
}

/// Secondary processor-based VM-execution controls (SDM Vol. 3C §24.6.2, Table 24-7).
public enum SecondaryControl: UInt32, CaseIterable, Codable, Sendable {
  case virtualizeAPICAccesses = 0
  case enableEPT = 1
  case descriptorTableExiting = 2
  case enableRDTSCP = 3
  case virtualizeX2APIC = 4
  case enableVPID = 5
  case wbinvdExiting = 6
  case unrestrictedGuest = 7

  public var mask: UInt32 { 1 << rawValue }
}

/// Basic VM-exit reasons (SDM Vol. 3C Appendix C, Table C-1), those this model can produce.
public enum VMExitReason: UInt16, CaseIterable, Codable, Sendable, CustomStringConvertible {
  case exceptionOrNMI = 0
  case externalInterrupt = 1
  case tripleFault = 2
  case taskSwitch = 9
  case cpuid = 10
  case hlt = 12
  case invd = 13
  case invlpg = 14
  case rdpmc = 15
  case rdtsc = 16
  case vmcall = 18
  case vmclear = 19
  case vmlaunch = 20
  case vmptrld = 21
  case vmptrst = 22
  case vmread = 23
  case vmresume = 24
  case vmwrite = 25
  case vmxoff = 26
  case vmxon = 27
  case controlRegisterAccess = 28
  case movDR = 29
  case ioInstruction = 30
  case rdmsr = 31
  case wrmsr = 32
  case gdtrIdtrAccess = 46
  case ldtrTrAccess = 47
  case invept = 50
  case invvpid = 53
  case wbinvd = 54

  public var description: String {
    switch self {
    case .exceptionOrNMI: "exception or NMI"
    case .externalInterrupt: "external interrupt"
    case .tripleFault: "triple fault"
    case .taskSwitch: "task switch"
    case .controlRegisterAccess: "control-register access"
    case .movDR: "MOV DR"
    case .ioInstruction: "I/O instruction"
    case .gdtrIdtrAccess: "access to GDTR or IDTR"
    case .ldtrTrAccess: "access to LDTR or TR"
    default: String(describing: self).uppercased()
    }
  }
}

/// A VM exit: its basic reason and exit qualification (SDM Vol. 3C §27.2.1).
public struct VMExit: Hashable, Sendable, Codable, CustomStringConvertible {
  public var reason: VMExitReason
  public var qualification: UInt32
  /// For an exit caused by an exception: its vector and error code (the VM-exit
  /// interruption-information and error-code fields, SDM Vol. 3C §24.9.2).
  public var interruption: Fault?

  public init(_ reason: VMExitReason, qualification: UInt32 = 0, interruption: Fault? = nil) {
    self.reason = reason
    self.qualification = qualification
    self.interruption = interruption
  }

  public var description: String {
    let what = interruption.map { "\(reason) \($0)" } ?? "\(reason)"
    return "VM exit (\(what), qualification 0x\(String(qualification, radix: 16, uppercase: true)))"
  }
}

extension Optional where Wrapped == (Exception, UInt32) {
  /// The exception of a concrete exit, with its error code where the vector has one.
  @inlinable public var fault: Fault? {
    map { Fault($0.0, errorCode: $0.0.hasErrorCode ? $0.1 : nil) }
  }
}

/// One VMX capability MSR pair: the bits a control must have set (the allowed 0-settings' zeros)
/// and the bits it may have set (SDM Vol. 3C Appendix A.3: bits 31:0 and 63:32).
public struct AllowedSettings: Hashable, Sendable, Codable {
  /// Bits that must be 1.
  public var mustBeOne: UInt32
  /// Bits that may be 1 (`mustBeOne` among them).
  public var mayBeOne: UInt32

  public init(mustBeOne: UInt32, mayBeOne: UInt32) {
    self.mustBeOne = mustBeOne
    self.mayBeOne = mayBeOne | mustBeOne
  }

  /// The bits of `value` that break these settings: required bits clear, or forbidden bits set.
  public func violations(_ value: UInt32) -> (missing: UInt32, forbidden: UInt32) {
    (mustBeOne & ~value, value & ~mayBeOne)
  }
}

/// What a processor's VMX capability MSRs report (SDM Vol. 3C Appendix A): the allowed settings
/// of each control field, the CR0 and CR4 bits fixed in VMX operation, the CR3-target count.
public struct VMXCapabilities: Hashable, Sendable, Codable {
  /// IA32_VMX_PINBASED_CTLS (or IA32_VMX_TRUE_PINBASED_CTLS where IA32_VMX_BASIC bit 55 is set).
  public var pinBased: AllowedSettings
  /// IA32_VMX_PROCBASED_CTLS (or its TRUE variant).
  public var primary: AllowedSettings
  /// IA32_VMX_PROCBASED_CTLS2; all zero where the primary controls cannot activate it.
  public var secondary: AllowedSettings
  /// IA32_VMX_CR0_FIXED0 / FIXED1 and IA32_VMX_CR4_FIXED0 / FIXED1 (Appendix A.7, A.8): a bit
  /// set in FIXED0 must be 1, a bit clear in FIXED1 must be 0, in VMX operation.
  public var cr0Fixed0: UInt32
  public var cr0Fixed1: UInt32
  public var cr4Fixed0: UInt32
  public var cr4Fixed1: UInt32
  /// IA32_VMX_MISC bits 24:16: how many CR3-target values the processor supports.
  public var cr3TargetCount: Int

  public init(
    pinBased: AllowedSettings, primary: AllowedSettings, secondary: AllowedSettings, cr0Fixed0: UInt32,
    cr0Fixed1: UInt32, cr4Fixed0: UInt32, cr4Fixed1: UInt32, cr3TargetCount: Int
  ) {
    self.pinBased = pinBased
    self.primary = primary
    self.secondary = secondary
    self.cr0Fixed0 = cr0Fixed0
    self.cr0Fixed1 = cr0Fixed1
    self.cr4Fixed0 = cr4Fixed0
    self.cr4Fixed1 = cr4Fixed1
    self.cr3TargetCount = cr3TargetCount
  }

  /// The mask of a list of controls.
  public static func bits<C: RawRepresentable>(_ cs: [C]) -> UInt32 where C.RawValue == UInt32 {
    cs.reduce(0) { $0 | 1 << $1.rawValue }
  }

  /// The first processors with VT-x (Core 2, 2006): no secondary controls, so no EPT, VPID or
  /// unrestricted guest; CR3-load and CR3-store exiting can only be 1 — the default1 class of
  /// primary controls (bits 1, 4–6, 8, 13–16, 26) and of pin-based controls (bits 1, 2, 4)
  /// (SDM Vol. 3C §24.6.1, §24.6.2, Appendix A.2–A.3). CR0 fixes PE, NE and PG to 1, CR4
  /// fixes VMXE to 1 (Appendix A.7, A.8); FIXED1 allows what the modelled CPU has.
  public static let firstGeneration = VMXCapabilities(
    pinBased: AllowedSettings(
      mustBeOne: 0x16, mayBeOne: bits([PinBasedControl.externalInterruptExiting, .nmiExiting])),
    primary: AllowedSettings(
      mustBeOne: 0x0401_E172,
      mayBeOne: bits([
        PrimaryControl.interruptWindowExiting, .useTSCOffsetting, .hltExiting, .invlpgExiting, .mwaitExiting,
        .rdpmcExiting, .rdtscExiting, .cr3LoadExiting, .cr3StoreExiting, .movDRExiting,
        .unconditionalIOExiting, .useIOBitmaps, .useMSRBitmaps, .monitorExiting, .pauseExiting,
      ])),
    secondary: AllowedSettings(mustBeOne: 0, mayBeOne: 0),
    cr0Fixed0: CR0.pe | CR0.ne | CR0.pg, cr0Fixed1: 0xFFFF_FFFF,
    cr4Fixed0: CR4.vmxe, cr4Fixed1: CPUModel.core2.cr4Supported | CR4.vmxe, cr3TargetCount: 4)

  /// A later generation (Westmere, 2010): TRUE capability MSRs (IA32_VMX_BASIC bit 55) allow the
  /// 0-setting of CR3-load and CR3-store exiting; secondary controls with EPT and VPID
  /// (Nehalem) and unrestricted guest (Westmere); virtual NMIs, the preemption timer and the
  /// monitor trap flag. FIXED0 still reports PE and PG: unrestricted guest exempts them (§26.3.1.1).
  public static let later = VMXCapabilities(
    pinBased: AllowedSettings(
      mustBeOne: 0x16,
      mayBeOne: bits([PinBasedControl.externalInterruptExiting, .nmiExiting, .virtualNMIs, .preemptionTimer])),
    primary: AllowedSettings(
      mustBeOne: 0x0400_6172,
      mayBeOne: bits(PrimaryControl.allCases.filter { $0 != .cr8LoadExiting && $0 != .cr8StoreExiting })),
    secondary: AllowedSettings(mustBeOne: 0, mayBeOne: bits(SecondaryControl.allCases)),
    cr0Fixed0: CR0.pe | CR0.ne | CR0.pg, cr0Fixed1: 0xFFFF_FFFF,
    cr4Fixed0: CR4.vmxe, cr4Fixed1: CPUModel.core2.cr4Supported | CR4.vmxe, cr3TargetCount: 4)
}

/// The VM-execution controls of a VMCS (SDM Vol. 3C §24.6) that decide what exits and what the
/// guest sees instead. Bitmaps are held as the sets they describe: the ports (I/O bitmaps A
/// and B, §24.6.4) and MSRs (the MSR bitmap's read and write halves, §24.6.9) whose bit is 1.
public struct VMCSControls: Hashable, Sendable, Codable {
  public var pinBased: UInt32
  public var primary: UInt32
  public var secondary: UInt32
  /// Bit n set: exception n exits (§24.6.3); #PF also consults the error-code mask and match.
  public var exceptionBitmap: UInt32
  public var pageFaultErrorCodeMask: UInt32
  public var pageFaultErrorCodeMatch: UInt32
  /// CR0 and CR4 guest/host masks and read shadows (§24.6.6): a masked bit is the host's; the
  /// guest reads it from the shadow, and a write that would change it from the shadow exits.
  public var cr0GuestHostMask: UInt32
  public var cr0ReadShadow: UInt32
  public var cr4GuestHostMask: UInt32
  public var cr4ReadShadow: UInt32
  /// CR3-target values (§24.6.7): a MOV to CR3 of one of them does not exit.
  public var cr3Targets: [UInt32]
  /// Ports whose I/O-bitmap bit is 1.
  public var ioExitingPorts: [ClosedRange<UInt32>]
  /// MSRs whose read-bitmap (write-bitmap) bit is 1; only 0–1FFFH and C0000000H–C0001FFFH have bits.
  public var msrReadExiting: [ClosedRange<UInt32>]
  public var msrWriteExiting: [ClosedRange<UInt32>]
  /// The TSC offset (§24.6.5), added to the TSC the guest reads when "use TSC offsetting" is 1.
  public var tscOffset: UInt64

  public init(
    pinBased: UInt32 = 0, primary: UInt32 = 0, secondary: UInt32 = 0, exceptionBitmap: UInt32 = 0,
    pageFaultErrorCodeMask: UInt32 = 0, pageFaultErrorCodeMatch: UInt32 = 0, cr0GuestHostMask: UInt32 = 0,
    cr0ReadShadow: UInt32 = 0, cr4GuestHostMask: UInt32 = 0, cr4ReadShadow: UInt32 = 0,
    cr3Targets: [UInt32] = [], ioExitingPorts: [ClosedRange<UInt32>] = [],
    msrReadExiting: [ClosedRange<UInt32>] = [], msrWriteExiting: [ClosedRange<UInt32>] = [],
    tscOffset: UInt64 = 0
  ) {
    self.pinBased = pinBased
    self.primary = primary
    self.secondary = secondary
    self.exceptionBitmap = exceptionBitmap
    self.pageFaultErrorCodeMask = pageFaultErrorCodeMask
    self.pageFaultErrorCodeMatch = pageFaultErrorCodeMatch
    self.cr0GuestHostMask = cr0GuestHostMask
    self.cr0ReadShadow = cr0ReadShadow
    self.cr4GuestHostMask = cr4GuestHostMask
    self.cr4ReadShadow = cr4ReadShadow
    self.cr3Targets = cr3Targets
    self.ioExitingPorts = ioExitingPorts
    self.msrReadExiting = msrReadExiting
    self.msrWriteExiting = msrWriteExiting
    self.tscOffset = tscOffset
  }

  @inlinable public func has(_ c: PinBasedControl) -> Bool { pinBased & c.mask != 0 }
  @inlinable public func has(_ c: PrimaryControl) -> Bool { primary & c.mask != 0 }
  /// A secondary control counts only when the primary controls activate them (§24.6.2).
  @inlinable public func has(_ c: SecondaryControl) -> Bool {
    has(.activateSecondaryControls) && secondary & c.mask != 0
  }

  /// The MSR ranges the bitmap covers; an MSR outside them always exits (§24.6.9).
  public static let msrBitmapRanges: [ClosedRange<UInt32>] = [0...0x1FFF, 0xC000_0000...0xC000_1FFF]
}

/// The processor in VMX non-root operation: the current VMCS's controls and the capabilities
/// of the processor that runs it.
public struct VMXNonRoot: Hashable, Sendable, Codable {
  public var controls: VMCSControls
  public var capabilities: VMXCapabilities

  public init(controls: VMCSControls, capabilities: VMXCapabilities) {
    self.controls = controls
    self.capabilities = capabilities
  }

  /// CR0 bits fixed to 1 in the guest: FIXED0 but PE and PG under unrestricted guest (§26.3.1.1).
  public var cr0MustBeOne: UInt32 {
    controls.has(.unrestrictedGuest) ? capabilities.cr0Fixed0 & ~(CR0.pe | CR0.pg) : capabilities.cr0Fixed0
  }
}

/// The VM-exit decision and the behaviour of VMX non-root operation.
public enum VMX {
  /// Where an exit check stands among an instruction's checks (SDM Vol. 3C §25.1.1): #UD and
  /// CPL-based faults come first, except that MOV-DR exiting takes priority over both (§25.1.3).
  public enum Stage: Sendable { case beforePrivilegeChecks, afterPrivilegeChecks }

  /// Ends the step as a VM exit where the instruction `i` exits under `v` (SDM Vol. 3C §25.1.2
  /// unconditional, §25.1.3 conditional exits). The one definition of "does this exit": the
  /// semantics call it at both stages, the engine and the Verifier through them.
  @inlinable
  public static func instructionExit<C: ExecutionContext>(
    _ c: inout C, _ i: Instruction, _ v: VMXNonRoot, _ stage: Stage
  ) throws(Interrupt) {
    let d = c.domain
    let k = v.controls
    if stage == .beforePrivilegeChecks {
      if i.mnemonic == .movDebug, k.has(.movDRExiting) {
        // Table 27-4: DR number, direction (1 = MOV from DR), the general register.
        var q: UInt32 = 0
        if case .debug(let n) = i.op0, case .register(let r, _) = i.op1 {
          q = UInt32(n) | UInt32(r.rawValue) << 8
        }
        if case .debug(let n) = i.op1, case .register(let r, _) = i.op0 {
          q = UInt32(n) | 1 << 4 | UInt32(r.rawValue) << 8
        }
        try c.exitVM(.movDR, qualification: d.constant(q), when: d.truth(true))
      }
      return
    }
    func always(_ reason: VMExitReason, _ yes: Bool = true) throws(Interrupt) {
      if yes { try c.exitVM(reason, qualification: d.constant(0), when: d.truth(true)) }
    }
    switch i.mnemonic {
    // §25.1.2: instructions that cause VM exits unconditionally.
    case .cpuid: try always(.cpuid)
    case .invd: try always(.invd)
    case .vmcall: try always(.vmcall)
    case .vmclear: try always(.vmclear)
    case .vmlaunch: try always(.vmlaunch)
    case .vmptrld: try always(.vmptrld)
    case .vmptrst: try always(.vmptrst)
    case .vmread: try always(.vmread)
    case .vmresume: try always(.vmresume)
    case .vmwrite: try always(.vmwrite)
    case .vmxoff: try always(.vmxoff)
    case .vmxon: try always(.vmxon)
    case .invept: try always(.invept)
    case .invvpid: try always(.invvpid)
    // §25.1.3: by control.
    case .hlt: try always(.hlt, k.has(.hltExiting))
    case .invlpg:
      // The qualification is the linear-address operand.
      guard k.has(.invlpgExiting), case .memory(let m) = i.op0 else { return }
      try c.exitVM(
        .invlpg, qualification: d.add(c.segmentBase(m.segment), c.effectiveAddress(m)), when: d.truth(true))
    case .rdpmc:
      // The CPL-based #GP (CR4.PCE clear above CPL 0) has priority (§25.1.1).
      let gp = d.and(d.truth(c.cpl != 0), d.not(d.bit(c.systemRegister(.cr4), 8)))
      if k.has(.rdpmcExiting) { try c.exitVM(.rdpmc, qualification: d.constant(0), when: d.not(gp)) }
    case .rdtsc:
      let gp = d.and(d.truth(c.cpl != 0), d.bit(c.systemRegister(.cr4), 2))
      if k.has(.rdtscExiting) { try c.exitVM(.rdtsc, qualification: d.constant(0), when: d.not(gp)) }
    case .wbinvd: try always(.wbinvd, k.has(.wbinvdExiting))
    case .lgdt, .lidt, .sgdt, .sidt: try always(.gdtrIdtrAccess, k.has(.descriptorTableExiting))
    case .lldt, .ltr, .sldt, .str: try always(.ldtrTrAccess, k.has(.descriptorTableExiting))
    case .clts:
      // Table 27-3 access type 2; exits when TS is the host's and its shadow is 1.
      let exits = k.cr0GuestHostMask & k.cr0ReadShadow & CR0.ts != 0
      try c.exitVM(.controlRegisterAccess, qualification: d.constant(2 << 4), when: d.truth(exits))
    case .lmsw:
      // Source operand faults come first (§25.1.1). Exits when a host-owned bit among PE, MP,
      // EM, TS would change from its shadow, PE only when being set (LMSW cannot clear it).
      let src = try c.read(i.op0)
      let m = k.cr0GuestHostMask
      let s = k.cr0ReadShadow
      let pe = m & CR0.pe != 0 && s & CR0.pe == 0 ? d.bit(src, 0) : d.truth(false)
      let others = d.notEqual(d.and(d.xor(src, d.constant(s)), d.constant(m & 0xE)), d.constant(0))
      let memory: UInt32 = i.op0.isMemory ? 1 << 6 : 0
      try c.exitVM(
        .controlRegisterAccess,
        qualification: d.or(
          d.constant(3 << 4 | memory), d.shiftLeft(d.and(src, d.constant(0xFFFF)), d.constant(16))),
        when: d.or(pe, others))
    case .movControl:
      if case .control(let n) = i.op1, case .register(let r, _) = i.op0 {
        // MOV from CR3 exits with CR3-store exiting; CR0 and CR4 read their shadows instead.
        let q = d.constant(UInt32(n) | 1 << 4 | UInt32(r.rawValue) << 8)
        if n == 3, k.has(.cr3StoreExiting) {
          try c.exitVM(.controlRegisterAccess, qualification: q, when: d.truth(true))
        }
        return
      }
      guard case .control(let n) = i.op0, case .register(let r, _) = i.op1 else { return }
      let src = c.gpr(r)
      let q = d.constant(UInt32(n) | UInt32(r.rawValue) << 8)
      switch n {
      case 0, 4:
        let mask = n == 0 ? k.cr0GuestHostMask : k.cr4GuestHostMask
        let shadow = n == 0 ? k.cr0ReadShadow : k.cr4ReadShadow
        let differs = d.notEqual(d.and(d.xor(src, d.constant(shadow)), d.constant(mask)), d.constant(0))
        try c.exitVM(.controlRegisterAccess, qualification: q, when: differs)
      case 3:
        guard k.has(.cr3LoadExiting) else { return }
        var target = d.truth(false)
        for t in k.cr3Targets.prefix(v.capabilities.cr3TargetCount) {
          target = d.or(target, d.equal(src, d.constant(t)))
        }
        try c.exitVM(.controlRegisterAccess, qualification: q, when: d.not(target))
      default: return
      }
    case .input, .output, .ins, .outs:
      try ioExit(&c, i, k)
    case .rdmsr, .wrmsr:
      // Without MSR bitmaps every RDMSR and WRMSR exits; with them, an MSR outside the bitmap's
      // ranges exits, and one inside by its bit (§25.1.3). Exits come before the #GP of an
      // unknown MSR (§25.1.1).
      let read = i.mnemonic == .rdmsr
      let reason: VMExitReason = read ? .rdmsr : .wrmsr
      guard k.has(.useMSRBitmaps) else { return try always(reason) }
      let ecx = c.gpr(.ecx)
      func within(_ ranges: [ClosedRange<UInt32>]) -> C.Truth {
        var t = d.truth(false)
        for r in ranges {
          t = d.or(
            t,
            d.and(
              d.unsignedLessOrEqual(d.constant(r.lowerBound), ecx),
              d.unsignedLessOrEqual(ecx, d.constant(r.upperBound))))
        }
        return t
      }
      let exiting = within(read ? k.msrReadExiting : k.msrWriteExiting)
      try c.exitVM(
        reason, qualification: d.constant(0), when: d.or(d.not(within(VMCSControls.msrBitmapRanges)), exiting)
      )
    case .int3:
      // INT3 and INTO raise #BP and #OF, which the exception bitmap intercepts (§25.2); INT n is a
      // software interrupt, which it does not.
      try c.exitVM(
        .exceptionOrNMI, qualification: d.constant(0), interruption: (.bp, d.constant(0)),
        when: d.truth(k.exceptionBitmap & 1 << 3 != 0))
    case .into:
      try c.exitVM(
        .exceptionOrNMI, qualification: d.constant(0), interruption: (.of, d.constant(0)),
        when: d.and(c.flag(.of), d.truth(k.exceptionBitmap & 1 << 4 != 0)))
    default: return
    }
  }

  /// I/O instructions: the TSS I/O-permission check has priority (§25.1.1); then with I/O
  /// bitmaps any port of the access with its bit set exits (and an access wrapping past FFFFH),
  /// without them "unconditional I/O exiting" decides (§25.1.3). Qualification: Table 27-5.
  @inlinable
  static func ioExit<C: ExecutionContext>(_ c: inout C, _ i: Instruction, _ k: VMCSControls) throws(Interrupt)
  {
    let d = c.domain
    let port: C.Value
    let size: OperandSize
    var q: UInt32
    switch i.mnemonic {
    case .input:
      port = d.and(try c.read(i.op1), d.constant(0xFFFF))
      size = i.op0.size
      q = 1 << 3 | (i.op1 == .register(.edx, .word) ? 0 : 1 << 6)
    case .output:
      port = d.and(try c.read(i.op0), d.constant(0xFFFF))
      size = i.op1.size
      q = i.op0 == .register(.edx, .word) ? 0 : 1 << 6
    default:
      port = d.and(c.gpr(.edx), d.constant(0xFFFF))
      size = i.mnemonic == .outs ? i.op1.size : i.op0.size
      q = 1 << 4 | (i.mnemonic == .ins ? 1 << 3 : 0) | (i.repeatPrefix == .none ? 0 : 1 << 5)
    }
    q |= size.bytes &- 1
    try Semantics.checkIOPermission(&c, port, size)
    let qualification = d.or(d.constant(q), d.shiftLeft(port, d.constant(16)))
    guard k.has(.useIOBitmaps) else {
      return try c.exitVM(
        .ioInstruction, qualification: qualification, when: d.truth(k.has(.unconditionalIOExiting)))
    }
    let last = d.add(port, d.constant(size.bytes &- 1))
    var exits = d.unsignedLess(d.constant(0xFFFF), last)
    for r in k.ioExitingPorts {
      // The access [port, last] meets the range.
      exits = d.or(
        exits,
        d.and(
          d.unsignedLessOrEqual(port, d.constant(r.upperBound)),
          d.unsignedLessOrEqual(d.constant(r.lowerBound), last)))
    }
    try c.exitVM(.ioInstruction, qualification: qualification, when: exits)
  }

  /// Whether an exception exits rather than being delivered through the guest's IDT (§25.2):
  /// its bit in the exception bitmap; for #PF, bit 14 set exits when (PFEC & mask) = match and
  /// bit 14 clear exits when it is not.
  @inlinable
  public static func exceptionExits<D: SemanticDomain>(
    _ vector: Exception, errorCode: D.Value, _ k: VMCSControls, _ d: D
  )
    -> D.Truth
  {
    let bit = k.exceptionBitmap & 1 << UInt32(vector.rawValue) != 0
    guard vector == .pf else { return d.truth(bit) }
    let matches = d.equal(
      d.and(errorCode, d.constant(k.pageFaultErrorCodeMask)), d.constant(k.pageFaultErrorCodeMatch))
    return bit ? matches : d.not(matches)
  }

  /// What MOV from CR0 or CR4 and SMSW read in VMX non-root operation: host-owned bits from the
  /// read shadow, the others from the register (§25.3).
  @inlinable
  public static func guestView<C: ExecutionContext>(_ c: C, _ r: SystemRegister, _ v: VMXNonRoot) -> C.Value {
    guestView(c.systemRegister(r), r, v.controls, c.domain)
  }

  /// `value` of CR0 or CR4 as the guest reads it under `k`: host-owned bits from the shadow.
  @inlinable
  public static func guestView<D: SemanticDomain>(
    _ value: D.Value, _ r: SystemRegister, _ k: VMCSControls, _ d: D
  )
    -> D.Value
  {
    let (mask, shadow) =
      r == .cr0 ? (k.cr0GuestHostMask, k.cr0ReadShadow) : (k.cr4GuestHostMask, k.cr4ReadShadow)
    return d.or(d.and(value, d.constant(~mask)), d.constant(shadow & mask))
  }

  /// A write of CR0 or CR4 that did not exit: host-owned bits keep their value (§25.3), and
  /// the result must respect the bits VMX operation fixes, else #GP(0) (SDM Vol. 3C §23.8).
  @inlinable
  public static func guestWrite<C: ExecutionContext>(
    _ c: inout C, _ r: SystemRegister, _ value: C.Value, _ v: VMXNonRoot
  )
    throws(Interrupt) -> C.Value
  {
    let d = c.domain
    let mask = r == .cr0 ? v.controls.cr0GuestHostMask : v.controls.cr4GuestHostMask
    let merged = d.or(d.and(value, d.constant(~mask)), d.and(c.systemRegister(r), d.constant(mask)))
    let one = r == .cr0 ? v.cr0MustBeOne : v.capabilities.cr4Fixed0
    let allowed = r == .cr0 ? v.capabilities.cr0Fixed1 : v.capabilities.cr4Fixed1
    let bad = d.or(
      d.notEqual(d.and(merged, d.constant(one)), d.constant(one)),
      d.notEqual(d.and(merged, d.constant(~allowed)), d.constant(0)))
    try c.raise(Fault(.gp, errorCode: 0), when: bad)
    return merged
  }

  /// The TSC the guest reads (RDTSC, RDMSR of IA32_TIME_STAMP_COUNTER): plus the TSC offset
  /// when "use TSC offsetting" is 1 (§25.3).
  @inlinable
  public static func guestTimeStampCounter<C: ExecutionContext>(_ c: C) -> (low: C.Value, high: C.Value) {
    let tsc = c.timeStampCounter
    guard let v = c.vmx, v.controls.has(.useTSCOffsetting), v.controls.tscOffset != 0 else { return tsc }
    let d = c.domain
    let offLow = d.constant(UInt32(truncatingIfNeeded: v.controls.tscOffset))
    let offHigh = d.constant(UInt32(truncatingIfNeeded: v.controls.tscOffset >> 32))
    let low = d.add(tsc.low, offLow)
    let carry = d.value(d.unsignedLess(low, offLow))
    return (low, d.add(d.add(tsc.high, offHigh), carry))
  }
}
