/// Seeded generation of instructions and machine states for round-trip, differential and fuzz
/// tests. Nothing here is used by the product; it lives in a library so that every test target
/// and `make difftest` draw cases the same way from the same seed.

/// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): small, fast, and the same everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public private(set) var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

extension RandomNumberGenerator {
  /// A 32-bit value weighted to edges: 0, 1, −1, sign boundaries, small and byte/word edges.
  public mutating func edgyWord() -> UInt32 {
    switch UInt32.random(in: 0..<10, using: &self) {
    case 0:
      return [0, 1, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 0x80, 0x7F, 0xFF, 0x8000, 0x7FFF, 0xFFFF]
        .randomElement(using: &self)!
    case 1: return UInt32.random(in: 0...64, using: &self)
    case 2: return UInt32.random(in: 0...64, using: &self) &* 0xFFFF_FFFF  // small negatives
    case 3: return UInt32.random(in: 0...0xFF, using: &self)
    case 4: return UInt32(1) << UInt32.random(in: 0...31, using: &self)
    default: return UInt32.random(in: 0...UInt32.max, using: &self)
    }
  }
}
