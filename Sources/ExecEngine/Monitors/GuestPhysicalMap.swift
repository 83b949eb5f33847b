/// Machine memory under a monitor: the monitor owns every machine frame and gives a guest its
/// RAM through a guest-physical → machine-frame map (Xen's "p2m"). The monitor's own frames are
/// in no guest's map.
import ISAModel

/// The guest-physical → machine-frame map of one guest.
///
/// The guest's RAM frames `0 ..< ramFrames` map onto machine frames `firstFrame ...`, so guest
/// physical 0 is not machine 0 and nothing can confuse the two. Frames of the device window at
/// the top of the address space (from 0xFEC00000: the local APIC at 0xFEE00000) map onto
/// themselves — the devices are passed through. Any other guest frame is a hole: it maps onto
/// a machine frame backed by nothing (open bus, as on a PC).
public struct GuestPhysicalMap: Hashable, Sendable {
  /// Guest RAM, in 4 KiB frames.
  public let ramFrames: UInt32
  /// The machine frame that backs guest frame 0.
  public let firstFrame: UInt32
  /// The first frame of the device window.
  public static let deviceWindow: UInt32 = 0xFEC00
  /// Where holes go: a machine frame below the device window that RAM never reaches.
  public static let holeFrame: UInt32 = 0xFEB00

  public init(ramFrames: UInt32, firstFrame: UInt32) {
    self.ramFrames = ramFrames
    self.firstFrame = firstFrame
  }

  /// The machine frame behind guest frame `frame`.
  @inline(__always) public func machineFrame(_ frame: UInt32) -> UInt32 {
    if frame < ramFrames { return firstFrame &+ frame }
    return frame >= Self.deviceWindow ? frame : Self.holeFrame
  }

  @inline(__always) public func machineAddress(_ a: GuestPhysicalAddress) -> PhysicalAddress {
    PhysicalAddress(machineFrame(a.frame) << 12 | (a.value & 0xFFF))
  }

  /// Whether `frame` is guest RAM.
  @inline(__always) public func isRAM(_ frame: UInt32) -> Bool { frame < ramFrames }
}
