/// A block device that moves whole 512-byte sectors by DMA between its disk image and physical
/// memory, on the port bus at `Machine.blockPort` (0xB000). The model's own device — no real
/// controller's register set — with the essentials an I/O path needs (a command, a transfer
/// done by the device rather than by the CPU, a status):
///
/// | port | register |
/// |---|---|
/// | +0 | sector number (dword) |
/// | +4 | physical address of the buffer (dword) |
/// | +8 | sector count (dword) |
/// | +C | write: command (1 read disk → memory, 2 write memory → disk); read: status (0 done, 1 bad sector range, 2 bad command, 3 buffer outside RAM) |
///
/// A transfer completes before the OUT that starts it retires. Writes into memory go through
/// the machine's loader path, so decoded code they overwrite is dropped.
import ISAModel

public final class BlockDevice: PortDevice {
  public static let sectorSize = 512
  /// The disk's contents: whole sectors.
  public private(set) var image: [UInt8]
  var sector: UInt32 = 0
  var address: UInt32 = 0
  var count: UInt32 = 0
  var status: UInt32 = 0
  public private(set) var sectorsRead: UInt64 = 0
  public private(set) var sectorsWritten: UInt64 = 0
  let memory: PhysicalMemory
  /// Stores bytes in physical memory as a device does (`Machine.load`).
  let store: ([UInt8], PhysicalAddress) -> Void

  init(sectors: Int, memory: PhysicalMemory, store: @escaping ([UInt8], PhysicalAddress) -> Void) {
    image = [UInt8](repeating: 0, count: sectors * Self.sectorSize)
    self.memory = memory
    self.store = store
  }

  /// Replaces the disk image (padded with zeros to whole sectors).
  public func insert(_ data: [UInt8]) {
    let sectors = (data.count + Self.sectorSize - 1) / Self.sectorSize
    image = data + [UInt8](repeating: 0, count: sectors * Self.sectorSize - data.count)
  }

  public func read(offset: UInt16, size: OperandSize) -> UInt32 {
    switch offset & ~3 {
    case 0: sector
    case 4: address
    case 8: count
    default: status
    }
  }

  public func write(offset: UInt16, size: OperandSize, value: UInt32) {
    switch offset & ~3 {
    case 0: sector = value
    case 4: address = value
    case 8: count = value
    default: run(value)
    }
  }

  func run(_ command: UInt32) {
    let bytes = Int(count) * Self.sectorSize
    let start = Int(sector) * Self.sectorSize
    guard command == 1 || command == 2 else {
      status = 2
      return
    }
    guard UInt64(sector) + UInt64(count) <= UInt64(image.count / Self.sectorSize) else {
      status = 1
      return
    }
    guard memory.isBacked(PhysicalAddress(address), count: UInt32(clamping: bytes)) else {
      status = 3
      return
    }
    if command == 1 {
      store(Array(image[start..<start + bytes]), PhysicalAddress(address))
      sectorsRead &+= UInt64(count)
    } else {
      image.replaceSubrange(
        start..<start + bytes, with: memory.bytes(at: PhysicalAddress(address), count: bytes))
      sectorsWritten &+= UInt64(count)
    }
    status = 0
  }
}
