/// The I/O port address space (SDM Vol. 1 §19.2): 64 K byte-addressed ports; devices claim
/// ranges. A port nobody claims reads as all ones (the floating ISA bus) and ignores writes;
/// both are counted.
import ISAModel

/// A device on the port bus.
public protocol PortDevice: AnyObject {
  /// The ports it answers, as an offset from its base: `read(offset:size:)` gets 0 for the base.
  func read(offset: UInt16, size: OperandSize) -> UInt32
  func write(offset: UInt16, size: OperandSize, value: UInt32)
}

public final class PortBus {
  struct Claim {
    let base: UInt16
    let count: UInt16
    let device: PortDevice
  }
  var claims: [Claim] = []
  public internal(set) var reads: UInt64 = 0
  public internal(set) var writes: UInt64 = 0
  public internal(set) var unclaimed: UInt64 = 0
  /// Set by the debug-exit device: the value the guest asked to end the run with.
  public internal(set) var exitRequest: UInt32?

  public init() {}

  /// Attaches `device` at ports `base ..< base + count`.
  public func attach(_ device: PortDevice, at base: UInt16, count: UInt16) {
    claims.append(Claim(base: base, count: count, device: device))
  }

  func claim(_ port: UInt16) -> Claim? {
    claims.first { port >= $0.base && port - $0.base < $0.count }
  }

  public func read(_ port: UInt16, _ size: OperandSize) -> UInt32 {
    reads += 1
    guard let c = claim(port) else {
      unclaimed += 1
      return size.mask
    }
    return c.device.read(offset: port - c.base, size: size) & size.mask
  }

  public func write(_ port: UInt16, _ size: OperandSize, _ value: UInt32) {
    writes += 1
    guard let c = claim(port) else {
      unclaimed += 1
      return
    }
    c.device.write(offset: port - c.base, size: size, value: value & size.mask)
  }

  func requestExit(_ value: UInt32) { exitRequest = value }
}
