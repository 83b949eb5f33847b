/// The machine's RAM: a byte store of configurable size at physical address 0.
///
/// What lies above the RAM is backed by nothing. On a PC such an access is open bus (reads
/// float high, writes go nowhere): reads return all ones and writes are dropped, and each is
/// counted, never a Swift trap.
import ISAModel

public struct PhysicalMemory: Sendable {
  public private(set) var bytes: [UInt8]
  /// Reads and writes that hit no backing store.
  public private(set) var openBusReads = 0
  public private(set) var openBusWrites = 0

  /// RAM of `size` bytes, zero-filled.
  public init(size: Int) {
    precondition(size >= 0 && UInt64(size) <= 1 << 32, "physical memory of \(size) bytes")
    bytes = [UInt8](repeating: 0, count: size)
  }

  public var size: Int { bytes.count }

  @inlinable func isBacked(_ a: PhysicalAddress) -> Bool { Int(a.value) < bytes.count }

  /// The byte at `address`, or 0xFF (open bus) above RAM.
  public mutating func read(_ address: PhysicalAddress) -> UInt8 {
    guard isBacked(address) else {
      openBusReads += 1
      return 0xFF
    }
    return bytes[Int(address.value)]
  }

  /// Stores a byte; above RAM the write is dropped.
  public mutating func write(_ address: PhysicalAddress, _ value: UInt8) {
    guard isBacked(address) else {
      openBusWrites += 1
      return
    }
    bytes[Int(address.value)] = value
  }

  /// Copies `data` in at `address` (a loader's job); bytes above RAM are dropped and counted.
  public mutating func load(_ data: some Sequence<UInt8>, at address: PhysicalAddress) {
    var a = address
    for b in data {
      write(a, b)
      a = a.advanced(by: 1)
    }
  }
}
