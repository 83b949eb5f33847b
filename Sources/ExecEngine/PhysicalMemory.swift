/// The machine's RAM: a byte store of configurable size at physical address 0.
///
/// What lies above the RAM is backed by nothing. On a PC such an access is open bus (reads
/// float high, writes go nowhere): reads return all ones and writes are dropped, and each is
/// counted, never a Swift trap. The store is a reference (the machine and its devices share
/// it) over one raw allocation, so the hot path pays no copy-on-write or exclusivity checks;
/// `snapshot()` gives a value to compare.
import ISAModel

public final class PhysicalMemory {
  public let size: Int
  let base: UnsafeMutableRawPointer
  /// Reads and writes that hit no backing store.
  public internal(set) var openBusReads = 0
  public internal(set) var openBusWrites = 0

  /// RAM of `size` bytes, zero-filled (at most 4 GiB: the 32-bit physical address space).
  public init(size: Int) {
    precondition(size >= 0 && UInt64(size) <= 1 << 32, "physical memory of \(size) bytes")
    self.size = size
    base = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 4096)
    base.initializeMemory(as: UInt8.self, repeating: 0, count: max(size, 1))
  }

  deinit { base.deallocate() }

  /// Whether `count` bytes from `address` are all RAM.
  @inline(__always)
  public func isBacked(_ address: PhysicalAddress, count: UInt32 = 1) -> Bool {
    UInt64(address.value) + UInt64(count) <= UInt64(size)
  }

  /// The byte at `address`, or 0xFF (open bus) above RAM.
  public func read(_ address: PhysicalAddress) -> UInt8 {
    guard isBacked(address) else {
      openBusReads += 1
      return 0xFF
    }
    return base.load(fromByteOffset: Int(address.value), as: UInt8.self)
  }

  /// Stores a byte; above RAM the write is dropped.
  public func write(_ address: PhysicalAddress, _ value: UInt8) {
    guard isBacked(address) else {
      openBusWrites += 1
      return
    }
    base.storeBytes(of: value, toByteOffset: Int(address.value), as: UInt8.self)
  }

  /// `size` bytes little-endian at offset `o` of RAM at `base` (the caller checked the bounds).
  @inline(__always)
  static func load(_ base: UnsafeMutableRawPointer, _ o: Int, _ size: OperandSize) -> UInt32 {
    switch size {
    case .byte: UInt32(base.load(fromByteOffset: o, as: UInt8.self))
    case .word: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
    case .dword: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }
  }

  /// Stores `size` bytes little-endian at offset `o` of RAM at `base` (bounds checked by the caller).
  @inline(__always)
  static func store(_ base: UnsafeMutableRawPointer, _ o: Int, _ size: OperandSize, _ v: UInt32) {
    switch size {
    case .byte: base.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: o, as: UInt8.self)
    case .word:
      base.storeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian, toByteOffset: o, as: UInt16.self)
    case .dword: base.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt32.self)
    }
  }

  /// `size` bytes little-endian; bytes above RAM read as 0xFF.
  @inline(__always)
  public func read(_ address: PhysicalAddress, _ size: OperandSize) -> UInt32 {
    if isBacked(address, count: size.bytes) { return Self.load(base, Int(address.value), size) }
    var v: UInt32 = 0
    for k in 0..<size.bytes { v |= UInt32(read(address.advanced(by: k))) << (8 * k) }
    return v
  }

  /// Stores `size` bytes little-endian; bytes above RAM are dropped.
  @inline(__always)
  public func write(_ address: PhysicalAddress, _ size: OperandSize, _ v: UInt32) {
    if isBacked(address, count: size.bytes) {
      Self.store(base, Int(address.value), size, v)
      return
    }
    for k in 0..<size.bytes { write(address.advanced(by: k), UInt8(truncatingIfNeeded: v >> (8 * k))) }
  }

  /// Copies `data` in at `address` (a loader's job); bytes above RAM are dropped and counted.
  public func load(_ data: [UInt8], at address: PhysicalAddress) {
    if isBacked(address, count: UInt32(clamping: data.count)) {
      data.withUnsafeBytes {
        base.advanced(by: Int(address.value)).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
      }
      return
    }
    var a = address
    for b in data {
      write(a, b)
      a = a.advanced(by: 1)
    }
  }

  /// `count` bytes from `address` (open bus above RAM), without counting anything.
  public func bytes(at address: PhysicalAddress, count: Int) -> [UInt8] {
    if isBacked(address, count: UInt32(clamping: count)) {
      return [UInt8](UnsafeRawBufferPointer(start: base.advanced(by: Int(address.value)), count: count))
    }
    return (0..<count).map { k in
      let a = UInt64(address.value) + UInt64(k)
      return a < UInt64(size) ? base.load(fromByteOffset: Int(a), as: UInt8.self) : 0xFF
    }
  }

  /// The whole RAM as a value.
  public func snapshot() -> [UInt8] { bytes(at: PhysicalAddress(0), count: size) }
}
