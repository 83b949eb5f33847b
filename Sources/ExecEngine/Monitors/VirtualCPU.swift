/// The virtual CPU state a monitor keeps for its guest: what the guest believes its processor
/// holds where the real processor holds the monitor's values (DESIGN.md decision 5: a value).
import ISAModel

public struct VirtualCPU: Hashable, Sendable, Codable {
  /// CR0, CR2, CR3, CR4, the debug registers, GDTR and IDTR as the guest set them, indexed by
  /// `SystemRegister.rawValue`.
  public var systemRegisters: [UInt32]
  public var ldtr: SegmentState
  public var tr: SegmentState
  /// EFLAGS.IF and IOPL as the guest set them (the real ones are the monitor's: IF = 1 and
  /// IOPL = 0 while the guest runs, so that interrupts reach the monitor and I/O traps).
  public var interruptFlag: Bool
  public var iopl: UInt8
  /// Stored MSRs as the guest wrote them (SYSENTER, the APIC base …), by index.
  public var msrs: [UInt32: UInt64]
  /// HLT executed: the guest waits for an interrupt.
  public var halted: Bool
  /// External interrupts accepted from the real APIC that wait for the guest's IF.
  public var pendingInterrupts: [UInt8]
  /// Virtual interrupts are held off until the clock reaches this (the shadow of an emulated
  /// STI, MOV SS or POP SS).
  public var inhibitUntil: UInt64

  /// The state the loader leaves (docs/loading.md), before the guest has run.
  public init(_ s: CPUState) {
    systemRegisters = SystemRegister.allCases.map { s[$0] }
    ldtr = s.ldtr
    tr = s.tr
    interruptFlag = s.eflags & Flag.if.mask != 0
    iopl = UInt8((s.eflags >> 12) & 3)
    msrs = s.msrs
    halted = s.halted
    pendingInterrupts = []
    inhibitUntil = s.interruptsInhibitedUntil
  }

  public subscript(r: SystemRegister) -> UInt32 {
    get { systemRegisters[Int(r.rawValue)] }
    set { systemRegisters[Int(r.rawValue)] = newValue }
  }
}
