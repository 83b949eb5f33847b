/// The modelled processor as CPUID describes it (SDM Vol. 2A, CPUID; DESIGN.md decision 9): a
/// Core 2-era Intel CPU (family 6, model 15, stepping 11 — Merom) that reports exactly the
/// features this model implements. Bits turn on as the features land.
public struct CPUModel: Hashable, Sendable, Codable {
  /// One CPUID leaf: the EAX input and the four outputs.
  public struct Leaf: Hashable, Sendable, Codable {
    public var input: UInt32
    public var eax, ebx, ecx, edx: UInt32
    public init(input: UInt32, eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
      self.input = input
      self.eax = eax
      self.ebx = ebx
      self.ecx = ecx
      self.edx = edx
    }
  }

  /// The leaves, basic first; the last basic leaf answers inputs above the maximum (SDM: "the
  /// data for the highest basic information leaf is returned").
  public var leaves: [Leaf]

  /// CPUID.1:EDX feature bits (SDM Vol. 2A Table 3-11).
  public enum Feature: UInt32, CaseIterable, Sendable {
    case fpu = 0
    case vme = 1
    case de = 2
    case pse = 3
    case tsc = 4
    case msr = 5
    case pae = 6
    case mce = 7
    case cx8 = 8
    case apic = 9
    case sep = 11
    case mtrr = 12
    case pge = 13
    case mca = 14
    case cmov = 15
    case pat = 16
    case pse36 = 17
    case clfsh = 19
    case mmx = 23
    case fxsr = 24
    case sse = 25
    case sse2 = 26
  }

  /// The model as built today: debugging extensions (CR4.DE), 4 MiB pages (PSE), the TSC,
  /// RDMSR/WRMSR, the local APIC, SYSENTER/SYSEXIT, global pages (PGE) and CMOV (no x87,
  /// CMPXCHG8B, PAE, MMX or SSE yet; no VMX in leaf 1 ECX).
  public static let core2 = CPUModel(features: [.de, .pse, .tsc, .msr, .apic, .sep, .pge, .cmov])

  /// The CR4 bits the CPU supports: those of reported features, and PCE (every P6). MOV to CR4
  /// with any other bit set raises #GP(0) (SDM Vol. 3A §2.5, "Reserved bits").
  public var cr4Supported: UInt32 {
    var bits = CR4.pce
    if reports(.vme) { bits |= CR4.vme | CR4.pvi }
    if reports(.tsc) { bits |= CR4.tsd }
    if reports(.de) { bits |= CR4.de }
    if reports(.pse) { bits |= CR4.pse }
    if reports(.pae) { bits |= CR4.pae }
    if reports(.mce) { bits |= CR4.mce }
    if reports(.pge) { bits |= CR4.pge }
    if reports(.fxsr) { bits |= CR4.osfxsr }
    if reports(.sse) { bits |= CR4.osxmmexcpt }
    return bits
  }

  public init(features: Set<Feature>) {
    let edx = features.reduce(UInt32(0)) { $0 | (1 << $1.rawValue) }
    leaves = [
      // Leaf 0: the highest basic leaf, and "GenuineIntel" in EBX, EDX, ECX.
      Leaf(input: 0, eax: 1, ebx: 0x756E_6547, ecx: 0x6C65_746E, edx: 0x4965_6E69),
      // Leaf 1: family 6, model 15, stepping 11; one logical processor, APIC ID 0.
      Leaf(input: 1, eax: 0x0000_06FB, ebx: 0, ecx: 0, edx: edx),
      // 0x80000000: no extended leaves beyond this one.
      Leaf(input: 0x8000_0000, eax: 0x8000_0000, ebx: 0, ecx: 0, edx: 0),
    ]
  }

  /// Whether leaf 1 reports `feature`.
  public func reports(_ feature: Feature) -> Bool {
    leaves.first { $0.input == 1 }.map { $0.edx & (1 << feature.rawValue) != 0 } ?? false
  }

  /// The leaf that answers inputs no leaf has.
  public var fallback: Leaf {
    leaves.filter { $0.input < 0x8000_0000 }.max { $0.input < $1.input } ?? leaves[0]
  }
}
