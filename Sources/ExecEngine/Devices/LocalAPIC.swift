import ISAModel

/// The local APIC in xAPIC mode at physical 0xFEE00000 (SDM Vol. 3A Chapter 10): ID, version,
/// TPR/PPR, EOI, the ISR and IRR, the spurious-interrupt vector register, the LVT with its timer
/// (one-shot and periodic, divide configuration, initial and current count), ESR and the ICR
/// (stored; a single-processor machine sends no IPIs). Its time is the machine's virtual clock
/// (retired instructions): one timer tick per instruction before the divider (DESIGN.md
/// decision 10), so an interrupt lands at the same instruction on every run.
final class LocalAPIC {
  static let base: UInt32 = 0xFEE0_0000
  static let size: UInt32 = 0x1000

  var id: UInt32 = 0
  var tpr: UInt32 = 0
  /// Spurious-interrupt vector register: bit 8 enables the APIC (0xFF after reset, disabled).
  var svr: UInt32 = 0xFF
  var ldr: UInt32 = 0
  var dfr: UInt32 = 0xFFFF_FFFF
  var esr: UInt32 = 0
  var icr: (low: UInt32, high: UInt32) = (0, 0)
  /// LVT: timer, thermal, performance, LINT0, LINT1, error (all masked after reset).
  var lvt: [UInt32] = Array(repeating: 0x1_0000, count: 6)
  var isr = [UInt32](repeating: 0, count: 8)
  var irr = [UInt32](repeating: 0, count: 8)
  var initialCount: UInt32 = 0
  var divideConfiguration: UInt32 = 0
  /// The clock when the current count was last loaded, or nil when the timer is stopped.
  var timerStart: UInt64?
  /// Interrupts raised (timer expirations).
  var timerInterrupts: UInt64 = 0
  /// Accesses the model does not implement (a register that does not exist, a misaligned or
  /// non-dword access): they read 0 and are ignored, and counted.
  var unmodelledAccesses: UInt64 = 0

  var enabled: Bool { svr & 0x100 != 0 }

  /// The registers as a value (`CPUState.apic`), and back.
  var state: APICState {
    get {
      var s = APICState()
      (s.id, s.tpr, s.svr, s.ldr, s.dfr, s.esr) = (id, tpr, svr, ldr, dfr, esr)
      s.icr = [icr.low, icr.high]
      (s.lvt, s.isr, s.irr) = (lvt, isr, irr)
      (s.initialCount, s.divideConfiguration, s.timerStart) = (initialCount, divideConfiguration, timerStart)
      return s
    }
    set {
      (id, tpr, svr, ldr, dfr, esr) = (
        newValue.id, newValue.tpr, newValue.svr, newValue.ldr, newValue.dfr, newValue.esr
      )
      icr = (newValue.icr.first ?? 0, newValue.icr.last ?? 0)
      lvt = newValue.lvt.count == 6 ? newValue.lvt : Array(repeating: 0x1_0000, count: 6)
      isr = newValue.isr.count == 8 ? newValue.isr : Array(repeating: 0, count: 8)
      irr = newValue.irr.count == 8 ? newValue.irr : Array(repeating: 0, count: 8)
      (initialCount, divideConfiguration, timerStart) = (
        newValue.initialCount, newValue.divideConfiguration, newValue.timerStart
      )
    }
  }
  var timerLVT: UInt32 { lvt[0] }
  var timerMasked: Bool { timerLVT & 0x1_0000 != 0 }
  var periodic: Bool { (timerLVT >> 17) & 3 == 1 }

  /// The divide value of the divide configuration register (bits 0, 1, 3; SDM Figure 10-10).
  var divisor: UInt64 {
    let code = (divideConfiguration & 3) | ((divideConfiguration >> 1) & 4)
    return code == 7 ? 1 : 2 << UInt64(code)
  }

  /// Ticks of the clock per count.
  var period: UInt64 { UInt64(initialCount) * divisor }

  /// The current count at `clock`.
  func currentCount(at clock: UInt64) -> UInt32 {
    guard let start = timerStart, initialCount != 0 else { return 0 }
    let elapsed = (clock - start) / divisor
    if periodic { return initialCount - UInt32(elapsed % UInt64(initialCount)) }
    return elapsed >= UInt64(initialCount) ? 0 : initialCount - UInt32(elapsed)
  }

  /// When the timer next expires, if it runs.
  var deadline: UInt64? {
    guard let start = timerStart, initialCount != 0 else { return nil }
    return start + period
  }

  /// Advances the timer to `clock`: an expiration at or before it sets the timer vector in the
  /// IRR (unless masked) and re-arms a periodic timer.
  func advance(to clock: UInt64) {
    while let d = deadline, d <= clock {
      if !timerMasked && enabled { request(UInt8(truncatingIfNeeded: timerLVT)) }
      timerInterrupts &+= 1
      timerStart = periodic ? d : nil
    }
  }

  func request(_ vector: UInt8) {
    irr[Int(vector >> 5)] |= 1 << UInt32(vector & 31)
  }

  static func highest(_ bits: [UInt32]) -> Int? {
    for k in stride(from: 7, through: 0, by: -1) where bits[k] != 0 {
      return k * 32 + 31 - bits[k].leadingZeroBitCount
    }
    return nil
  }

  /// The processor priority: the higher of TPR and the in-service class (SDM §10.8.3.1).
  var ppr: UInt32 {
    let isrv = Self.highest(isr).map { UInt32($0) & 0xF0 } ?? 0
    return tpr & 0xF0 >= isrv ? tpr & 0xFF : isrv
  }

  /// The vector to deliver now, if one in the IRR outranks the processor priority.
  var deliverable: UInt8? {
    guard enabled, let v = Self.highest(irr), UInt32(v) & 0xF0 > ppr & 0xF0 else { return nil }
    return UInt8(v)
  }

  /// The processor accepted `vector`: IRR → ISR.
  func accept(_ vector: UInt8) {
    irr[Int(vector >> 5)] &= ~(1 << UInt32(vector & 31))
    isr[Int(vector >> 5)] |= 1 << UInt32(vector & 31)
  }

  func read(offset: UInt32, size: OperandSize, clock: UInt64) -> UInt32 {
    guard size == .dword, offset & 0xF == 0 else {
      unmodelledAccesses &+= 1
      return 0
    }
    advance(to: clock)
    switch offset {
    case 0x20: return id << 24
    // Version 0x14 (an integrated APIC), six LVT entries (max LVT 5).
    case 0x30: return 0x0005_0014
    case 0x80: return tpr
    case 0xA0: return ppr
    case 0xD0: return ldr
    case 0xE0: return dfr
    case 0xF0: return svr
    case 0x100..<0x180: return isr[Int((offset - 0x100) >> 4)]
    case 0x180..<0x200: return 0  // TMR: edge-triggered only
    case 0x200..<0x280: return irr[Int((offset - 0x200) >> 4)]
    case 0x280: return esr
    case 0x300: return icr.low
    case 0x310: return icr.high
    case 0x320..<0x380: return lvt[Int((offset - 0x320) >> 4)]
    case 0x380: return initialCount
    case 0x390: return currentCount(at: clock)
    case 0x3E0: return divideConfiguration
    default:
      unmodelledAccesses &+= 1
      return 0
    }
  }

  func write(offset: UInt32, size: OperandSize, _ v: UInt32, clock: UInt64) {
    guard size == .dword, offset & 0xF == 0 else {
      unmodelledAccesses &+= 1
      return
    }
    advance(to: clock)
    switch offset {
    case 0x20: id = v >> 24
    case 0x80: tpr = v & 0xFF
    // EOI: the highest in-service vector is done.
    case 0xB0:
      if let v = Self.highest(isr) { isr[v >> 5] &= ~(1 << UInt32(v & 31)) }
    case 0xD0: ldr = v & 0xFF00_0000
    case 0xE0: dfr = v | 0x0FFF_FFFF
    case 0xF0: svr = v & 0x3FF
    case 0x280: esr = 0
    case 0x300: icr.low = v  // no other processor: nothing is sent
    case 0x310: icr.high = v
    case 0x320..<0x380: lvt[Int((offset - 0x320) >> 4)] = v
    // Writing the initial count (re)starts the timer; 0 stops it.
    case 0x380:
      initialCount = v
      timerStart = v == 0 ? nil : clock
    case 0x3E0: divideConfiguration = v & 0xB
    default: unmodelledAccesses &+= 1
    }
  }
}
