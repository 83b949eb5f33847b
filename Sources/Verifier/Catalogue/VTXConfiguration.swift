/// A VT-x monitor configuration checked for trap-completeness: the VMCS controls a VMM sets
/// (declared policy, `VMCSControls`), the processor's capabilities, and the control state the
/// VMM declares it owns. The check runs every instruction in VMX non-root operation — the one
/// exit decision and non-root behaviour of ISAModel's `VMX` — and asks of each owned resource
/// whether a step that does not exit changes it or lets the guest see it (Popek and Goldberg's
/// sensitivity, with VM exits as the traps), and whether the guest faults where the bare machine
/// would not or the reverse.
import Foundation
import ISAModel
import Z3

public struct VTXConfiguration: Codable, Sendable, Hashable {
  public var name: String
  /// Where its facts come from (a manual section, a VMM's source).
  public var source: String
  public var nonRoot: VMXNonRoot
  /// What the VMM declares it owns; the check holds the controls to it.
  public var ownership: ControlOwnership

  public init(name: String, source: String, nonRoot: VMXNonRoot, ownership: ControlOwnership) {
    self.name = name
    self.source = source
    self.nonRoot = nonRoot
    self.ownership = ownership
  }

  var controls: VMCSControls { nonRoot.controls }

  /// A shadow-paging VMM on the first VT-x processors (Core 2): it owns CR3 and the TLB (shadow
  /// page tables), so CR3 loads and stores and INVLPG exit and every #PF exits; the CR0 bits
  /// shadow paging depends on (PE, NE, WP, NW, CD, PG) and CR4's paging bits and VMXE are
  /// host-owned, read from shadows; every port and MSR exits but the SYSENTER MSRs, which VM
  /// entry and exit switch (SDM Vol. 3C §24.4.1); HLT exits; the TSC is offset, not trapped.
  public static let firstGeneration: VTXConfiguration = {
    let primary: [PrimaryControl] = [
      .useTSCOffsetting, .hltExiting, .invlpgExiting, .mwaitExiting, .rdpmcExiting, .cr3LoadExiting,
      .cr3StoreExiting, .movDRExiting, .useIOBitmaps, .useMSRBitmaps, .monitorExiting,
    ]
    let cr0Mask = CR0.pe | CR0.ne | CR0.wp | CR0.nw | CR0.cd | CR0.pg
    let cr4Mask = CR4.vme | CR4.pvi | CR4.pse | CR4.pae | CR4.pge | CR4.vmxe
    let controls = VMCSControls(
      pinBased: VMXCapabilities.firstGeneration.pinBased.mustBeOne
        | PinBasedControl.externalInterruptExiting.mask
        | PinBasedControl.nmiExiting.mask,
      primary: VMXCapabilities.firstGeneration.primary.mustBeOne | VMXCapabilities.bits(primary),
      exceptionBitmap: 1 << 14 | 1 << 18, cr0GuestHostMask: cr0Mask, cr0ReadShadow: CR0.pe | CR0.ne | CR0.pg,
      cr4GuestHostMask: cr4Mask, cr4ReadShadow: 0, ioExitingPorts: [0...0xFFFF],
      msrReadExiting: [0...0x173, 0x177...0x1FFF, 0xC000_0000...0xC000_1FFF],
      msrWriteExiting: [0...0x173, 0x177...0x1FFF, 0xC000_0000...0xC000_1FFF], tscOffset: 0x1000)
    return VTXConfiguration(
      name: "first-generation",
      source: "Intel SDM Vol. 3C §24.6, §25.1, Appendix A; shadow paging as in KVM's vmx.c of 2007",
      nonRoot: VMXNonRoot(controls: controls, capabilities: .firstGeneration),
      ownership: ControlOwnership(
        resources: [.cr0, .cr3, .cr4, .paging, .msrs, .ports, .tsc, .activity, .debugRegisters],
        cr0Mask: cr0Mask, cr4Mask: cr4Mask,
        msrIndices: ModelSpecificRegister.all.map(\.index).filter { !(0x174...0x176).contains($0) }))
  }()

  /// A VMM on a later processor (Westmere): EPT, VPID and unrestricted guest, so the guest owns
  /// CR3, its page tables, PE and PG; no CR3 or INVLPG exiting and no #PF intercept. The VMM
  /// still owns NE, NW, CD and VMXE, the ports, the MSRs, the TSC (offset) and HLT.
  public static let later: VTXConfiguration = {
    let primary: [PrimaryControl] = [
      .useTSCOffsetting, .hltExiting, .mwaitExiting, .rdpmcExiting, .movDRExiting, .useIOBitmaps,
      .useMSRBitmaps,
      .monitorExiting, .activateSecondaryControls,
    ]
    let cr0Mask = CR0.ne | CR0.nw | CR0.cd
    let cr4Mask = CR4.vmxe
    let controls = VMCSControls(
      pinBased: VMXCapabilities.later.pinBased.mustBeOne | PinBasedControl.externalInterruptExiting.mask
        | PinBasedControl.nmiExiting.mask | PinBasedControl.virtualNMIs.mask,
      primary: VMXCapabilities.later.primary.mustBeOne | VMXCapabilities.bits(primary),
      secondary: VMXCapabilities.bits([SecondaryControl.enableEPT, .enableVPID, .unrestrictedGuest]),
      exceptionBitmap: 1 << 18, cr0GuestHostMask: cr0Mask, cr0ReadShadow: CR0.ne, cr4GuestHostMask: cr4Mask,
      cr4ReadShadow: 0, ioExitingPorts: [0...0xFFFF],
      msrReadExiting: [0...0x173, 0x177...0x1FFF, 0xC000_0000...0xC000_1FFF],
      msrWriteExiting: [0...0x173, 0x177...0x1FFF, 0xC000_0000...0xC000_1FFF], tscOffset: 0x1000)
    return VTXConfiguration(
      name: "later",
      source:
        "Intel SDM Vol. 3C §24.6, §25.1, §26.3.1.1, Appendix A; EPT, VPID (Nehalem), unrestricted guest (Westmere)",
      nonRoot: VMXNonRoot(controls: controls, capabilities: .later),
      ownership: ControlOwnership(
        resources: [.cr0, .cr4, .msrs, .ports, .tsc, .activity, .debugRegisters], cr0Mask: cr0Mask,
        cr4Mask: cr4Mask,
        msrIndices: ModelSpecificRegister.all.map(\.index).filter { !(0x174...0x176).contains($0) }))
  }()

  public static let presets: [VTXConfiguration] = [.firstGeneration, .later]

  public static func preset(named name: String) -> VTXConfiguration? { presets.first { $0.name == name } }

  // MARK: Validity

  /// Every way the controls break the processor's capability MSRs or the rules of VM entry
  /// (SDM Vol. 3C §26.2.1.1, Appendix A): each names the control and the MSR.
  public func problems() -> [String] {
    var out: [String] = []
    let caps = nonRoot.capabilities
    func check<C: RawRepresentable & CaseIterable>(
      _ field: String, _ msr: String, _ value: UInt32, _ allowed: AllowedSettings, _ names: C.Type
    ) where C.RawValue == UInt32 {
      func name(_ bit: UInt32) -> String {
        C.allCases.first { $0.rawValue == bit }.map { "\($0) (bit \(bit))" } ?? "bit \(bit)"
      }
      let (missing, forbidden) = allowed.violations(value)
      for b in 0..<32 where missing & 1 << b != 0 {
        out.append("\(field) control \(name(UInt32(b))) must be 1 on this processor (\(msr) bit \(b))")
      }
      for b in 0..<32 where forbidden & 1 << b != 0 {
        out.append("\(field) control \(name(UInt32(b))) cannot be 1 on this processor (\(msr) bit \(32 + b))")
      }
    }
    check("pin-based", "IA32_VMX_PINBASED_CTLS", controls.pinBased, caps.pinBased, PinBasedControl.self)
    check(
      "primary processor-based", "IA32_VMX_PROCBASED_CTLS", controls.primary, caps.primary,
      PrimaryControl.self)
    if controls.has(.activateSecondaryControls) {
      check(
        "secondary processor-based", "IA32_VMX_PROCBASED_CTLS2", controls.secondary, caps.secondary,
        SecondaryControl.self)
    } else if controls.secondary != 0 {
      out.append(
        "secondary controls are set but the primary control activateSecondaryControls (bit 31) is 0: they have no effect"
      )
    }
    if controls.has(.unrestrictedGuest) && !controls.has(.enableEPT) {
      out.append("unrestrictedGuest requires enableEPT (SDM Vol. 3C §26.2.1.1)")
    }
    if controls.cr3Targets.count > caps.cr3TargetCount {
      out.append(
        "\(controls.cr3Targets.count) CR3-target values, but the processor supports \(caps.cr3TargetCount) (IA32_VMX_MISC bits 24:16)"
      )
    }
    for r in controls.ioExitingPorts where r.upperBound > 0xFFFF {
      out.append("I/O bitmap range \(hex(r.lowerBound))...\(hex(r.upperBound)) goes past port FFFFH")
    }
    for (what, ranges) in [("read", controls.msrReadExiting), ("write", controls.msrWriteExiting)] {
      for r in ranges
      where !VMCSControls.msrBitmapRanges.contains(where: {
        $0.contains(r.lowerBound) && $0.contains(r.upperBound)
      }) {
        out.append(
          "MSR \(what)-bitmap range \(hex(r.lowerBound))...\(hex(r.upperBound)) lies outside the bitmap (0–1FFFH, C0000000H–C0001FFFH)"
        )
      }
    }
    return out
  }

  // MARK: The check

  /// Resources the hardware virtualizes without an exit, with how: left out of the queries.
  public var virtualizedByHardware: [(ControlResource, String)] {
    var out: [(ControlResource, String)] = []
    if ownership.owns(.tsc), controls.has(.useTSCOffsetting), !controls.has(.rdtscExiting) {
      out.append((.tsc, "the guest reads TSC + the VMCS TSC offset, which the VMM sets (SDM Vol. 3C §25.3)"))
    }
    return out
  }

  /// The assumptions the queries run under.
  public var assumptions: ClassificationAssumptions {
    var a = ClassificationAssumptions()
    var owned = ownership
    for (r, _) in virtualizedByHardware { owned.resources.remove(r) }
    a.ownership = owned
    a.vmx = nonRoot
    a.cpls = [0, 1, 2, 3]
    return a
  }

  public var statedAssumptions: [String] {
    var s = [
      "the guest runs in VMX non-root operation at its own CPL (0–3); a VM exit is the trap",
      "the VMM owns: " + ownership.resources.sorted().map(\.rawValue).joined(separator: ", ")
        + " (CR0 bits \(hex(ownership.cr0Mask)), CR4 bits \(hex(ownership.cr4Mask)))",
      "EFLAGS.IOPL = 0; CR0 and CR4 within the bits VMX fixes (IA32_VMX_CR0/CR4_FIXED0/1)",
      "linear addresses are physical in the queries: translation (shadow paging or EPT) is the VMM's, "
        + "checked through its exits and the #PF intercept",
      "faults that do not exit are delivered through the guest's IDT, touching guest state only",
    ]
    if let msrs = ownership.msrIndices {
      let guest = ModelSpecificRegister.all.filter {
        !msrs.contains($0.index) && $0.kind != .timeStampCounter
      }
      if !guest.isEmpty { s.append("MSRs left to the guest: " + guest.map(\.name).joined(separator: ", ")) }
    }
    for (r, how) in virtualizedByHardware { s.append("\(r.rawValue) virtualized by hardware: \(how)") }
    return s
  }

  /// Checks `instructions` and the configuration's events; the verdict is "holds" when every
  /// owned resource is protected by an exit or by hardware virtualization.
  public func check(_ instructions: [Instruction], smtDirectory: String? = nil) throws -> ConfigurationReport
  {
    let interruptsExit = controls.has(.externalInterruptExiting)
    let (outcomes, cost) = try eachWithFreshClassifier(
      instructions, assumptions, smtDirectory: smtDirectory
    ) { i, c in
      let row = try c.classifyNonRoot(i)
      var out = RowOutcome(row)
      let found =
        row.controlSensitive.map { "control:\($0)" } + row.behaviourSensitive.map { "behaviour:\($0)" }
        + (row.equivalence ?? []).map { "bare-machine:\($0)" }
      guard !found.isEmpty else { return out }
      // A halt the VMM does not intercept still ends at the next external interrupt, which exits.
      if found == ["control:activity"], interruptsExit {
        out.notes.append(
          "\(row.instruction) halts the guest without exiting; control returns at the next external interrupt, "
            + "which exits (pin-based external-interrupt exiting)")
        return out
      }
      guard let first = row.witnesses[found[0]] else { return out }
      out.culprits.append(
        Culprit(
          instruction: row.instruction, sensitivity: found, retiresAtCPL: first.states.first?.cpl ?? 0,
          witness: first))
      return out
    }
    var (rows, culprits, unknown, notes) = gather(outcomes)
    var events = eventHoles()
    if ownership.owns(.paging) {
      switch try pageFaultDelivered() {
      case .unknown(let why): unknown.append("#PF exception-bitmap query (\(why))")
      case .witness(let code):
        events.append(
          EventHole(
            event: "#PF", resource: "paging",
            detail: "a page fault with error code \(hex(code)) is delivered to the guest without exiting: "
              + "the VMM's shadow page tables never see it (exception bitmap bit 14, PFEC mask/match)"))
      case .none: break
      }
    }
    let verdict = !culprits.isEmpty || !events.isEmpty ? "fails" : unknown.isEmpty ? "holds" : "unknown"
    var report = ConfigurationReport(
      configuration: "vtx=\(name)",
      theorem: "trap-completeness (every sensitive step exits or is virtualized)",
      assumptions: statedAssumptions, verdict: verdict, rows: rows, culprits: culprits, unknown: unknown,
      queries: 0, seconds: 0)
    cost.record(in: &report)
    report.notes = notes
    report.events = events
    return report
  }

  /// Events the VMM must intercept for what it owns, decided by their controls.
  func eventHoles() -> [EventHole] {
    var out: [EventHole] = []
    if ownership.owns(.activity) && !controls.has(.externalInterruptExiting) {
      out.append(
        EventHole(
          event: "external interrupt", resource: "activity",
          detail: "external interrupts go to the guest's IDT (pin-based external-interrupt exiting is 0): "
            + "a guest that never exits keeps the processor"))
    }
    return out
  }

  /// An error code for which #PF is delivered to the guest rather than exiting, if any (Z3 over
  /// the one exit decision `VMX.exceptionExits`).
  func pageFaultDelivered() throws -> ErrorCodeAnswer {
    let z3 = try Z3Context()
    let d = TermDomain(z3)
    let code = z3.bitVectorConstant("pfec", width: 32)
    let solver = Solver(z3)
    solver.assert(!VMX.exceptionExits(.pf, errorCode: code, controls, d))
    switch try solver.check(limits: QueryLimits(resourceLimit: 1_000_000)) {
    case .sat(let model): return .witness(UInt32(truncatingIfNeeded: try model.evaluate(code)))
    case .unsat: return .none
    case .unknown(let why): return .unknown(why)
    }
  }

  enum ErrorCodeAnswer {
    case none
    case witness(UInt32)
    case unknown(String)
  }
}

/// An event a VMM owns that reaches the guest without an exit.
public struct EventHole: Codable, Sendable, Hashable {
  public var event: String
  public var resource: String
  public var detail: String
}

extension SensitivityClassifier {
  /// A row under VMX non-root operation: sensitivity of the steps that do not exit, and the
  /// states where the guest faults and the bare machine (from the guest's view of CR0 and CR4)
  /// retires, or the reverse.
  public func classifyNonRoot(_ i: Instruction) throws -> CatalogueRow {
    let bytes = try Encoder.encode(i)
    var (row, answered) = startRow(i, bytes: bytes)
    row.equivalence = []
    if answered { return row }
    try addSensitivity(i, to: &row)
    for (name, answer) in try bareMachineDivergence(i, bytes: bytes) {
      switch answer {
      case .witness(let w):
        row.equivalence?.append(name)
        row.witnesses["bare-machine:\(name)"] = try WitnessSummary(w, in: z3)
      case .unknown: row.unknown.append("bare-machine:\(name)")
      case .none: break
      }
    }
    return row
  }

  /// Per CPL: a state where the step faults in non-root operation (without exiting) and retires
  /// on the bare machine from the guest's view, and one where it is the other way round.
  func bareMachineDivergence(_ i: Instruction, bytes: [UInt8]) throws -> [(String, SensitivityAnswer)] {
    guard let vmx = assumptions.vmx else { return [] }
    let s = freeState()
    // The bare machine the guest believes in: host-owned CR0 and CR4 bits are the shadows.
    var view = s
    for r in [SystemRegister.cr0, .cr4] {
      let k = SystemRegister.allCases.firstIndex(of: r)!
      let c = SymbolicContext(domain, state: s, assumptions: StepAssumptions(cpl: 0, iopl: assumptions.iopl))
      view.systemRegisters[k] = VMX.guestView(c, r, vmx)
    }
    var faults = SensitivityAnswer.none
    var retires = SensitivityAnswer.none
    for cpl in assumptions.cpls {
      let guest = evaluate(i, from: s, cpl: cpl)
      let bare = SymbolicStep(
        i, length: bytes.count, from: view,
        assumptions: StepAssumptions(
          cpl: cpl, iopl: assumptions.iopl, identityTranslation: true), domain: domain)
      let guestFaults = BoolExpr.any(guest.faults.map(\.condition))
      let bareFaults = BoolExpr.any(bare.faults.map(\.condition))
      if SymbolicPart.identical(.truth(guestFaults), .truth(bareFaults)) {
        skipped += 1
        continue
      }
      let e = Evaluation(step: guest, cpl: cpl)
      let common = [
        precondition(e, bytes: bytes, cpls: [cpl], retiring: false),
        BoolExpr.all([domain.context.true] + bare.gaps.map { !$0.condition }),
        bare.accessesBelow(assumptions.memorySize),
      ]
      if case .none = faults {
        currentQuery = "\(i) bare-machine faults cpl \(cpl)"
        switch try solve(common + [guestFaults, bare.retires]) {
        case .sat(let model):
          faults = .witness(try Witness(model, steps: [guest, bare], cpls: [cpl, cpl], instruction: i))
        case .unsat: break
        case .unknown(let why): faults = .unknown(why)
        }
      }
      if case .none = retires {
        currentQuery = "\(i) bare-machine retires cpl \(cpl)"
        switch try solve(common + [guest.retires, bareFaults]) {
        case .sat(let model):
          retires = .witness(try Witness(model, steps: [guest, bare], cpls: [cpl, cpl], instruction: i))
        case .unsat: break
        case .unknown(let why): retires = .unknown(why)
        }
      }
    }
    return [("faults", faults), ("retires", retires)]
  }
}
