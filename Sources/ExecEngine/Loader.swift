/// Loading a flat binary guest (docs/loading.md): the state a guest finds at its first
/// instruction, as a boot loader that switched to protected mode would leave it.
import ISAModel

public struct LoadConvention: Hashable, Sendable, Codable {
  /// Where the binary's first byte goes, and where execution starts.
  public var loadAddress: UInt32 = 0x1000
  public var entry: UInt32? = nil
  /// RAM size in bytes.
  public var memorySize: Int = 16 << 20
  /// Where the loader's GDT is placed (null, flat code 0x08, flat data 0x10).
  public var gdtAddress: UInt32 = 0x0800
  public var stackPointer: UInt32 = 0x0009_0000

  public init() {}

  public var entryPoint: UInt32 { entry ?? loadAddress }
}

public struct LoadError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public init(message: String) { self.message = message }
  public var description: String { message }
}

public enum Loader {
  /// A machine with `binary` loaded per `convention`, ready to run at the entry point.
  public static func machine(flat binary: [UInt8], _ convention: LoadConvention = LoadConvention())
    throws(LoadError)
    -> Machine
  {
    try validate(binary, convention)
    let m = Machine(memorySize: convention.memorySize)
    m.memory.load(gdt, at: PhysicalAddress(convention.gdtAddress))
    m.memory.load(binary, at: PhysicalAddress(convention.loadAddress))
    m.state = initialState(convention)
    return m
  }

  /// The problems of loading `binary` per `convention`, as the error a user gets.
  public static func validate(_ binary: [UInt8], _ convention: LoadConvention) throws(LoadError) {
    guard !binary.isEmpty else { throw LoadError(message: "the guest binary is empty") }
    guard convention.memorySize >= 1 << 20, UInt64(convention.memorySize) <= 1 << 32 else {
      throw LoadError(message: "memory size \(convention.memorySize) is outside 1 MiB … 4 GiB")
    }
    let end = UInt64(convention.loadAddress) + UInt64(binary.count)
    guard end <= UInt64(convention.memorySize) else {
      throw LoadError(
        message:
          "the guest (\(binary.count) bytes at \(hex32(convention.loadAddress))) does not fit in \(convention.memorySize >> 20) MiB of memory"
      )
    }
    let gdtEnd = UInt64(convention.gdtAddress) + 24
    if UInt64(convention.gdtAddress) < end && gdtEnd > UInt64(convention.loadAddress) {
      throw LoadError(message: "the guest overlaps the loader GDT at \(hex32(convention.gdtAddress))")
    }
  }

  /// The loader's GDT: null; code: base 0, limit 4 GiB, execute/read, DPL 0, 32-bit; data:
  /// read/write. Both accessed: the loader loaded them (its far jump and data moves).
  public static let gdt: [UInt8] = [
    0, 0, 0, 0, 0, 0, 0, 0,
    0xFF, 0xFF, 0x00, 0x00, 0x00, 0x9B, 0xCF, 0x00,
    0xFF, 0xFF, 0x00, 0x00, 0x00, 0x93, 0xCF, 0x00,
  ]

  /// The processor state at the guest's first instruction.
  public static func initialState(_ convention: LoadConvention) -> CPUState {
    var s = CPUState()
    s.eip = convention.entryPoint
    s[.esp] = convention.stackPointer
    s.eflags = FlagMask.reservedOne
    s.cr0 = 0x11  // PE | ET
    for seg in SegmentRegister.allCases {
      s[seg] = .flat(selector: seg == .cs ? 0x08 : 0x10, code: seg == .cs)
      s[seg].attributes |= UInt16(SegmentAttribute.accessed)
    }
    s.gdtr = TableRegister(base: convention.gdtAddress, limit: 23)
    s.idtr = TableRegister(base: 0, limit: 0)
    return s
  }
}
