/// Where a ring-compression monitor lives and how it hides: the top 64 MiB of every linear
/// address space (as Xen/x86_32 reserved it; VMware took the top 4 MiB), holding the real GDT,
/// IDT, TSS, the monitor's stack and its handlers' entry points; guest descriptors installed with
/// their privilege compressed (DPL 0 → 1) and their limits truncated below that region, because
/// 32-bit paging's U/S bit cannot keep ring 1 out of pages ring 0 uses.
import ISAModel

/// The monitor's region of the linear address space, and its real descriptor tables.
public enum MonitorLayout {
  /// The first linear address the guest may not reach: the top 64 MiB are the monitor's.
  public static let base: UInt32 = 0xFC00_0000
  /// The largest limit a guest segment based at 0 may have.
  public static let guestLimit: UInt32 = base &- 1

  /// The real GDT (64 KiB: 8192 entries; the guest's descriptors at their own indices).
  public static let gdt: UInt32 = base
  public static let gdtPages: UInt32 = 16
  public static let idt: UInt32 = base + 0x1_0000
  public static let tss: UInt32 = base + 0x1_1000
  /// The monitor's ring-0 stack: two pages, its top in the TSS's ESP0.
  public static let stack: UInt32 = base + 0x1_2000
  public static let stackTop: UInt32 = base + 0x1_4000
  /// Entry points of the monitor's handlers, 16 bytes per vector: host code (`Machine.hostCode`).
  public static let entries: UInt32 = base + 0x2_0000
  public static let entryStride: UInt32 = 16

  /// The monitor's own descriptors, at the top of the real GDT (the guest's GDT must end
  /// below them).
  public static let codeSelector: UInt32 = 0xFFE8
  public static let dataSelector: UInt32 = 0xFFF0
  public static let tssSelector: UInt32 = 0xFFF8
  /// The guest's GDT may hold indices below this.
  public static let guestEntries: UInt32 = 0xFFE8 >> 3

  /// The pages of the monitor region that are mapped, as (linear address, writable).
  static var pages: [(linear: UInt32, writable: Bool)] {
    (0..<gdtPages).map { (gdt + $0 << 12, true) } + [
      (idt, true), (tss, true), (stack, true),
      (stack + 0x1000, true), (entries, false),
    ]
  }
}

/// Ring compression of descriptors and segment caches (what the monitor installs for the guest).
enum RingCompression {
  /// A code or data descriptor as installed in the real GDT: DPL 0 becomes 1, and an expand-up
  /// segment ends below the monitor. System descriptors (TSS, LDT, gates) are not installed:
  /// the monitor emulates every instruction that uses them.
  static func descriptor(_ raw: UInt64) -> UInt64 {
    let high = UInt32(truncatingIfNeeded: raw >> 32)
    guard high & (1 << 12) != 0 else { return 0 }
    let d = Descriptor<Concrete>(low: UInt32(truncatingIfNeeded: raw), high: high)
    let c = Concrete()
    var newHigh = high
    if d.dpl(c) == 0 { newHigh = (newHigh & ~(3 << 13)) | (1 << 13) }
    var low = UInt32(truncatingIfNeeded: raw)
    let base = d.base(c)
    let limit = d.limit(c)
    if let t = truncatedLimit(base: base, limit: limit, attributes: d.attributes(c)) {
      // Store the limit in the granularity the descriptor has (4 KiB pages with G).
      let granular = high & (1 << 23) != 0
      let field = granular ? t >> 12 : t
      low = (low & 0xFFFF_0000) | (field & 0xFFFF)
      newHigh = (newHigh & ~0xF_0000) | (field & 0xF_0000)
    }
    return UInt64(newHigh) << 32 | UInt64(low)
  }

  /// The limit an expand-up segment gets so that base + limit stays below the monitor, if it
  /// reaches the monitor now. (Expand-down segments are installed as they are:
  /// docs/divergences.md.)
  static func truncatedLimit(base: UInt32, limit: UInt32, attributes: UInt32) -> UInt32? {
    let code = attributes & SegmentAttribute.code != 0
    if !code && attributes & SegmentAttribute.expandDownOrConforming != 0 { return nil }
    guard base < MonitorLayout.base else { return 0 }
    let room = MonitorLayout.guestLimit &- base
    guard limit > room else { return nil }
    // With 4 KiB granularity the limit's low 12 bits are all ones.
    return attributes & SegmentAttribute.granularity != 0 ? ((room &+ 1) & ~0xFFF) &- 1 : room
  }

  /// A segment cache as the real register holds it: the descriptor's compression, and for CS
  /// and SS a selector RPL of 1 where the guest's is 0 (they must equal the CPL).
  static func cache(_ v: SegmentCache<UInt32>, for s: SegmentRegister) -> SegmentCache<UInt32> {
    var r = v
    if s == .cs || s == .ss, v.selector & 3 == 0 { r.selector |= 1 }
    guard v.attributes & SegmentAttribute.present != 0, v.attributes & SegmentAttribute.codeOrData != 0 else {
      return r
    }
    if (v.attributes >> 5) & 3 == 0 { r.attributes = (v.attributes & ~(3 << 5)) | (1 << 5) }
    if let t = truncatedLimit(base: v.base, limit: v.limit, attributes: v.attributes) { r.limit = t }
    return r
  }
}
