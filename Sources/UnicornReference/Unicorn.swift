/// unicorn as a reference IA-32 CPU for differential tests: 32-bit protected mode with flat
/// segments, its CPU model pinned to a Core 2 Duo to match the modelled CPU (DESIGN.md decision 9).
import CUnicorn

public struct UnicornError: Error, CustomStringConvertible, Sendable {
  public let code: UInt32
  public let message: String
  public var description: String { "unicorn: \(message)" }
}

/// How a unicorn run ended.
public enum UnicornStop: Equatable, Sendable {
  /// It ran to the stopping point.
  case completed
  /// An interrupt or exception was raised with this vector.
  case interrupt(UInt32)
  /// unicorn reported an error (invalid instruction, unmapped access …).
  case error(UInt32, String)
}

public final class Unicorn {
  let uc: OpaquePointer
  var hook: uc_hook = 0
  /// The CPU as it was after creation, to return to after an exception.
  var pristine: OpaquePointer?
  /// Set by the interrupt hook.
  var interrupt: UInt32?

  public static var version: String {
    var major: UInt32 = 0
    var minor: UInt32 = 0
    _ = uc_version(&major, &minor)
    return "\(major).\(minor)"
  }

  /// A 32-bit x86 unicorn with `regions` (address, size) mapped read/write/execute.
  public init(regions: [(address: UInt64, size: Int)]) throws {
    var handle: OpaquePointer?
    try Self.check(uc_open(UC_ARCH_X86, UC_MODE_32, &handle))
    uc = handle!
    try Self.check(vl_set_cpu_model(uc, Int32(UC_CPU_X86_CORE2DUO.rawValue)))
    for r in regions {
      try Self.check(uc_mem_map(uc, r.address, r.size, UInt32(UC_PROT_ALL.rawValue)))
    }
    let callback: uc_cb_hookintr_t = { uc, intno, user in
      let me = Unmanaged<Unicorn>.fromOpaque(user!).takeUnretainedValue()
      me.interrupt = intno
      uc_emu_stop(uc)
    }
    try Self.check(vl_hook_interrupts(uc, &hook, callback, Unmanaged.passUnretained(self).toOpaque()))
    try Self.check(uc_context_alloc(uc, &pristine))
    try Self.check(uc_context_save(uc, pristine))
  }

  /// Returns the CPU (not memory) to its state after creation. After reporting an exception
  /// unicorn is still "inside" it, and the next exception would become a double fault.
  public func resetCPU() throws {
    try Self.check(uc_context_restore(uc, pristine))
  }

  deinit {
    if let pristine { uc_context_free(pristine) }
    uc_hook_del(uc, hook)
    uc_close(uc)
  }

  static func check(_ e: uc_err) throws {
    guard e == UC_ERR_OK else {
      throw UnicornError(code: e.rawValue, message: String(cString: uc_strerror(e)))
    }
  }

  /// The eight GPRs in ModRM order, then EIP and EFLAGS.
  static let registerIDs: [uc_x86_reg] = [
    UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX, UC_X86_REG_ESP, UC_X86_REG_EBP,
    UC_X86_REG_ESI, UC_X86_REG_EDI,
  ]

  public func register(_ index: Int) throws -> UInt32 { try read(Self.registerIDs[index]) }
  public func setRegister(_ index: Int, _ v: UInt32) throws { try write(Self.registerIDs[index], v) }
  public var eip: UInt32 { get throws { try read(UC_X86_REG_EIP) } }
  public func setEIP(_ v: UInt32) throws { try write(UC_X86_REG_EIP, v) }
  public var eflags: UInt32 { get throws { try read(UC_X86_REG_EFLAGS) } }
  public func setEFLAGS(_ v: UInt32) throws { try write(UC_X86_REG_EFLAGS, v) }

  /// CR0, CR2, CR3, CR4 by number.
  public func controlRegister(_ n: Int) throws -> UInt32 { try read(Self.controlIDs[n]) }
  public func setControlRegister(_ n: Int, _ v: UInt32) throws { try write(Self.controlIDs[n], v) }
  static let controlIDs: [uc_x86_reg] = [
    UC_X86_REG_CR0, UC_X86_REG_CR1, UC_X86_REG_CR2, UC_X86_REG_CR3, UC_X86_REG_CR4,
  ]

  /// DR0–DR7 by number.
  public func debugRegister(_ n: Int) throws -> UInt32 {
    try read(uc_x86_reg(rawValue: UC_X86_REG_DR0.rawValue + UInt32(n)))
  }
  public func setDebugRegister(_ n: Int, _ v: UInt32) throws {
    try write(uc_x86_reg(rawValue: UC_X86_REG_DR0.rawValue + UInt32(n)), v)
  }

  /// A segment register's selector, ES CS SS DS FS GS by number (writing one in protected mode
  /// loads its descriptor from unicorn's GDT).
  public func segmentSelector(_ n: Int) throws -> UInt32 { try read(Self.segmentIDs[n]) }
  public func setSegmentSelector(_ n: Int, _ v: UInt32) throws { try write(Self.segmentIDs[n], v) }
  static let segmentIDs: [uc_x86_reg] = [
    UC_X86_REG_ES, UC_X86_REG_CS, UC_X86_REG_SS, UC_X86_REG_DS, UC_X86_REG_FS, UC_X86_REG_GS,
  ]

  /// GDTR or IDTR as (base, limit).
  public func tableRegister(interrupt: Bool) throws -> (base: UInt32, limit: UInt32) {
    var mmr = uc_x86_mmr()
    try Self.check(uc_reg_read(uc, Int32((interrupt ? UC_X86_REG_IDTR : UC_X86_REG_GDTR).rawValue), &mmr))
    return (UInt32(truncatingIfNeeded: mmr.base), mmr.limit)
  }
  public func setTableRegister(interrupt: Bool, base: UInt32, limit: UInt32) throws {
    var mmr = uc_x86_mmr(selector: 0, base: UInt64(base), limit: limit, flags: 0)
    try Self.check(uc_reg_write(uc, Int32((interrupt ? UC_X86_REG_IDTR : UC_X86_REG_GDTR).rawValue), &mmr))
  }

  func read(_ r: uc_x86_reg) throws -> UInt32 {
    var v: UInt32 = 0
    try Self.check(uc_reg_read(uc, Int32(r.rawValue), &v))
    return v
  }

  func write(_ r: uc_x86_reg, _ value: UInt32) throws {
    var v = value
    try Self.check(uc_reg_write(uc, Int32(r.rawValue), &v))
  }

  public func writeMemory(_ bytes: [UInt8], at address: UInt64) throws {
    try bytes.withUnsafeBytes { try Self.check(uc_mem_write(uc, address, $0.baseAddress, $0.count)) }
  }

  /// Writes code: the bytes, and unicorn forgets what it translated from that range.
  public func writeCode(_ bytes: [UInt8], at address: UInt64) throws {
    try writeMemory(bytes, at: address)
    try Self.check(vl_remove_translations(uc, address, address + UInt64(bytes.count)))
  }

  public func readMemory(at address: UInt64, count: Int) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    try out.withUnsafeMutableBytes { try Self.check(uc_mem_read(uc, address, $0.baseAddress, count)) }
    return out
  }

  /// Runs from `begin`: `count` instructions, or until EIP reaches `until` when `count` is 0.
  public func run(from begin: UInt32, until: UInt32, count: Int) -> UnicornStop {
    interrupt = nil
    let e = uc_emu_start(uc, UInt64(begin), UInt64(until), 0, count)
    if let v = interrupt { return .interrupt(v) }
    if e != UC_ERR_OK { return .error(e.rawValue, String(cString: uc_strerror(e))) }
    return .completed
  }
}
