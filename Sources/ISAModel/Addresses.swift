/// Address spaces of IA-32 (Intel SDM Vol. 3A §3.1): a logical address (segment:offset) becomes a
/// linear address through segmentation, and a linear address a physical one through paging.
/// Each is its own type, so that one is never used where another is meant; a monitor's
/// guest-physical → machine map adds `GuestPhysicalAddress`.

/// An address on the processor's physical address bus (32 bits wide without PAE).
public struct PhysicalAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var value: UInt32
  @inlinable public init(_ value: UInt32) { self.value = value }
  @inlinable public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
  @inlinable public func advanced(by n: UInt32) -> Self { Self(value &+ n) }
  public var description: String { "phys:" + hex32(value) }
}

/// A linear (virtual) address: segment base + offset, before paging (SDM Vol. 3A §3.3).
public struct LinearAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var value: UInt32
  @inlinable public init(_ value: UInt32) { self.value = value }
  @inlinable public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
  @inlinable public func advanced(by n: UInt32) -> Self { Self(value &+ n) }
  public var description: String { "lin:" + hex32(value) }
}

/// What a guest under a monitor believes is a physical address. The monitor maps it onto a
/// machine `PhysicalAddress` through its guest-physical → machine-frame map; the two are never
/// interchangeable.
public struct GuestPhysicalAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
  public var value: UInt32
  @inlinable public init(_ value: UInt32) { self.value = value }
  @inlinable public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
  @inlinable public func advanced(by n: UInt32) -> Self { Self(value &+ n) }
  /// The 4 KiB frame number.
  @inlinable public var frame: UInt32 { value >> 12 }
  public var description: String { "gphys:" + hex32(value) }
}

/// Eight hex digits, the form the SDM and debuggers print addresses in.
public func hex32(_ v: UInt32) -> String {
  let digits = String(v, radix: 16)
  return String(repeating: "0", count: 8 - digits.count) + digits
}
