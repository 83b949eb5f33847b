/// A 16550-compatible UART as a PC has at 0x3F8 (COM1), output only: what the guest writes to
/// THR is collected; the transmitter is always empty (LSR.THRE and TEMT set), no input arrives
/// (LSR.DR clear). Registers per the National Semiconductor PC16550D data sheet, Table 2.
import ISAModel

public final class Serial16550: PortDevice {
  /// Everything the guest transmitted.
  public private(set) var output: [UInt8] = []
  var interruptEnable: UInt8 = 0
  var lineControl: UInt8 = 0
  var modemControl: UInt8 = 0
  var scratch: UInt8 = 0
  var divisor: UInt16 = 12  // 9600 baud; stored only
  /// LCR bit 7: offsets 0 and 1 address the divisor latch.
  var dlab: Bool { lineControl & 0x80 != 0 }

  public init() {}

  public func read(offset: UInt16, size: OperandSize) -> UInt32 {
    let v: UInt8
    switch offset {
    case 0: v = dlab ? UInt8(divisor & 0xFF) : 0  // RBR: no input
    case 1: v = dlab ? UInt8(divisor >> 8) : interruptEnable
    case 2: v = 0x01  // IIR: no interrupt pending
    case 3: v = lineControl
    case 4: v = modemControl
    case 5: v = 0x60  // LSR: THRE | TEMT
    case 6: v = 0xB0  // MSR: DCD, DSR, CTS
    default: v = scratch
    }
    return UInt32(v)
  }

  public func write(offset: UInt16, size: OperandSize, value: UInt32) {
    let v = UInt8(truncatingIfNeeded: value)
    switch offset {
    case 0:
      if dlab { divisor = (divisor & 0xFF00) | UInt16(v) } else { output.append(v) }
    case 1:
      if dlab { divisor = (divisor & 0x00FF) | UInt16(v) << 8 } else { interruptEnable = v & 0x0F }
    case 2: break  // FCR: FIFOs need no model when transmission is instant
    case 3: lineControl = v
    case 4: modemControl = v & 0x1F
    case 7: scratch = v
    default: break  // LSR and MSR are read-only
    }
  }
}

/// A debug-exit port (as QEMU's isa-debug-exit, at 0x501): a write ends the run and the value
/// written is reported with it — in the run's output and JSON, never as the process's exit code.
public final class DebugExit: PortDevice {
  unowned let bus: PortBus
  public init(bus: PortBus) { self.bus = bus }
  public func read(offset: UInt16, size: OperandSize) -> UInt32 { size.mask }
  public func write(offset: UInt16, size: OperandSize, value: UInt32) { bus.requestExit(value) }
}
