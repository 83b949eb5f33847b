/// Shadow page tables: the memory virtualization that trap-and-emulate, binary translation and
/// first-generation VT-x share. The guest's page tables are virtual; the processor walks shadow
/// tables the monitor builds from them on demand, mapping guest linear addresses straight onto
/// machine frames. Guest pages that hold page tables (or descriptor tables) are write-protected
/// in every shadow, so that each change the guest makes reaches the monitor (a traced write).
import ISAModel

/// What a guest frame is to the monitor, when it traces writes to it.
struct TracedKinds: OptionSet, Hashable {
  let rawValue: UInt8
  /// The page directory of an address space the monitor shadows.
  static let directory = TracedKinds(rawValue: 1)
  /// A page table a shadow table was built from.
  static let table = TracedKinds(rawValue: 2)
  /// It holds part of the guest's GDT (installed, compressed, in the real GDT).
  static let descriptors = TracedKinds(rawValue: 4)
}

/// The guest's translation of one page, as its own walk found it.
struct GuestPage {
  /// The guest frame.
  var frame: UInt32
  /// U/S and R/W of the whole path (both levels), and the final entry's dirty bit.
  var user: Bool
  var writable: Bool
  var dirty: Bool
  /// The guest page table the entry came from (nil: a 4 MiB page, or paging off).
  var table: UInt32?
}

final class ShadowPageTables {
  /// An address space's shadow: its page directory and the page tables built so far.
  struct Space {
    var directory: UInt32
    /// Shadow page tables by page-directory index (machine frames), and the guest page table
    /// each was built from.
    var tables: [Int: UInt32] = [:]
    var sources: [Int: UInt32] = [:]
    var lastUse: UInt64 = 0
  }

  /// The key of the address space used while the guest's paging is off.
  static let physicalRoot: UInt32 = 0xFFFF_FFFF
  /// Shadow address spaces kept across CR3 switches.
  static let cachedSpaces = 32

  let machine: Machine
  let map: GuestPhysicalMap
  /// The monitor's page-directory entries (its top 64 MiB), copied into every shadow directory.
  let monitorEntries: [(index: Int, value: UInt32)]
  private var free: [UInt32]
  private(set) var spaces: [UInt32: Space] = [:]
  private(set) var current: UInt32 = physicalRoot
  private var tick: UInt64 = 0
  private(set) var traced: [UInt32: TracedKinds] = [:]
  /// Shadow tables built from each guest page table: (space, directory index).
  private var tableUsers: [UInt32: [(root: UInt32, index: Int)]] = [:]
  /// Shadow PTEs that map each guest frame: (space, directory index, table index), checked
  /// before use (a later change may have dropped them).
  private var mappings: [UInt32: [(root: UInt32, index: Int, entry: Int)]] = [:]
  /// What happened, for the monitor's statistics.
  var record: (ShadowOperation) -> Void = { _ in }

  init(
    machine: Machine, map: GuestPhysicalMap, frames: [UInt32], monitorEntries: [(index: Int, value: UInt32)]
  ) {
    self.machine = machine
    self.map = map
    self.free = frames.reversed()
    self.monitorEntries = monitorEntries
  }

  // MARK: Address spaces

  /// Makes `root` (a guest page-directory frame, or `physicalRoot`) the current address space,
  /// building its shadow directory if none is cached; returns the machine address for CR3.
  func activate(_ root: UInt32) -> UInt32 {
    tick &+= 1
    if spaces[root] != nil {
      if root != current { record(.cacheHit) }
    } else {
      if spaces.count >= Self.cachedSpaces,
        let victim = spaces.filter({ $0.key != current && $0.key != root })
          .min(by: { $0.value.lastUse < $1.value.lastUse })?.key
      {
        drop(victim)
      }
      let directory = allocate()
      for (index, value) in monitorEntries { write(directory, index, value) }
      spaces[root] = Space(directory: directory)
      if root != Self.physicalRoot { trace(root, .directory) }
      record(.build)
    }
    spaces[root]!.lastUse = tick
    current = root
    return spaces[root]!.directory << 12
  }

  /// Drops every shadow (the guest changed CR4's paging bits, or the pool ran dry); the current
  /// address space comes back empty.
  func flushAll() {
    for root in Array(spaces.keys) { drop(root) }
    let root = current
    current = Self.physicalRoot
    _ = activate(root)
  }

  private func drop(_ root: UInt32) {
    guard let space = spaces.removeValue(forKey: root) else { return }
    for (_, table) in space.tables { free.append(table) }
    free.append(space.directory)
    if root != Self.physicalRoot { untrace(root, .directory) }
    for (_, source) in space.sources { forgetTableUser(source, root: root) }
    record(.flush)
  }

  // MARK: Filling

  /// Builds the shadow entry for `linear` from the guest's translation: the guest's rights, the
  /// machine frame its map gives, writable only once the guest's dirty bit is set (so the first
  /// write reaches the monitor to set it) and never for a traced frame.
  func fill(_ linear: UInt32, _ page: GuestPage) {
    let index = Int(linear >> 22)
    precondition(linear < MonitorLayout.base, "the monitor's region is never filled from the guest")
    if spaces[current]!.tables[index] == nil {
      let table = allocate()
      write(spaces[current]!.directory, index, table << 12 | 0x27)  // P, R/W, U/S, A
      spaces[current]!.tables[index] = table
      if let source = page.table {
        spaces[current]!.sources[index] = source
        tableUsers[source, default: []].append((current, index))
        trace(source, .table)
      }
      record(.tableBuild)
    }
    let table = spaces[current]!.tables[index]!
    let entry = Int((linear >> 12) & 0x3FF)
    let writable = page.writable && page.dirty && traced[page.frame] == nil
    // A and D are set already, so the processor never writes shadow entries.
    let pte = map.machineFrame(page.frame) << 12 | 0x61 | (writable ? 2 : 0) | (page.user ? 4 : 0)
    write(table, entry, pte)
    mappings[page.frame, default: []].append((current, index, entry))
    if mappings[page.frame]!.count > 64 { compactMappings(page.frame) }
    machine.core.invalidatePage(linear)
    record(.fill)
  }

  /// INVLPG: the shadow entry for `linear` goes (it is rebuilt at the next access).
  func invalidate(_ linear: UInt32) {
    guard linear < MonitorLayout.base, let table = spaces[current]?.tables[Int(linear >> 22)] else { return }
    write(table, Int((linear >> 12) & 0x3FF), 0)
    machine.core.invalidatePage(linear)
    record(.invalidate)
  }

  // MARK: Tracing

  func kinds(_ frame: UInt32) -> TracedKinds { traced[frame] ?? [] }

  /// Write-protects `frame` in every shadow (it has become a page table or descriptor table).
  func trace(_ frame: UInt32, _ kind: TracedKinds) {
    let before = traced[frame] ?? []
    traced[frame] = before.union(kind)
    guard before.isEmpty else { return }
    var changed = false
    for m in mappings[frame] ?? [] {
      guard let table = spaces[m.root]?.tables[m.index] else { continue }
      let pte = read(table, m.entry)
      if pte & 1 != 0, pte >> 12 == map.machineFrame(frame), pte & 2 != 0 {
        write(table, m.entry, pte & ~2)
        changed = true
      }
    }
    mappings[frame] = nil
    if changed { machine.core.dropTranslations(keepingGlobal: false) }
    record(.protect)
  }

  /// Keeps only the entries that still map `frame`.
  private func compactMappings(_ frame: UInt32) {
    let machineFrame = map.machineFrame(frame)
    mappings[frame]?.removeAll { m in
      guard let table = spaces[m.root]?.tables[m.index] else { return true }
      let pte = read(table, m.entry)
      return pte & 1 == 0 || pte >> 12 != machineFrame
    }
  }

  func untrace(_ frame: UInt32, _ kind: TracedKinds) {
    guard var k = traced[frame] else { return }
    k.subtract(kind)
    traced[frame] = k.isEmpty ? nil : k
  }

  private func forgetTableUser(_ source: UInt32, root: UInt32) {
    tableUsers[source]?.removeAll { $0.root == root }
    if tableUsers[source]?.isEmpty ?? false {
      tableUsers[source] = nil
      untrace(source, .table)
    }
  }

  /// The guest wrote `old` → `new` (`size` bytes) at `address` in a traced frame: the shadow
  /// entries built from what changed go. Accessed bits are ignored (shadows never depend on them).
  func guestWrote(_ address: GuestPhysicalAddress, _ size: OperandSize, old: UInt32, new: UInt32) {
    let frame = address.frame
    guard let kinds = traced[frame], !kinds.intersection([.directory, .table]).isEmpty else { return }
    let changed = (old ^ new) & size.mask
    if changed == 0 { return }
    if size == .dword && address.value & 3 == 0 && changed & ~0x20 == 0 { return }
    let first = Int((address.value & 0xFFF) >> 2)
    let last = Int(((address.value & 0xFFF) &+ size.bytes &- 1) >> 2)
    for entry in first...min(last, 1023) {
      if kinds.contains(.directory), let space = spaces[frame], entry < monitorEntries.first!.index,
        let table = space.tables[entry]
      {
        write(space.directory, entry, 0)
        spaces[frame]!.tables[entry] = nil
        if let source = spaces[frame]!.sources.removeValue(forKey: entry) {
          forgetTableUser(source, root: frame)
        }
        free.append(table)
        if frame == current { machine.core.dropTranslations(keepingGlobal: false) }
        record(.invalidate)
      }
      if kinds.contains(.table) {
        for user in tableUsers[frame] ?? [] {
          guard let table = spaces[user.root]?.tables[user.index] else { continue }
          write(table, entry, 0)
          if user.root == current {
            machine.core.invalidatePage(UInt32(user.index) << 22 | UInt32(entry) << 12)
          }
          record(.invalidate)
        }
      }
    }
  }

  // MARK: Machine frames

  private func allocate() -> UInt32 {
    if free.isEmpty {
      // Every shadow but the current one goes; the current one keeps its directory.
      for root in Array(spaces.keys) where root != current { drop(root) }
      if free.isEmpty, var space = spaces[current] {
        for (index, table) in space.tables {
          write(space.directory, index, 0)
          free.append(table)
        }
        for (_, source) in space.sources { forgetTableUser(source, root: current) }
        space.tables = [:]
        space.sources = [:]
        spaces[current] = space
        machine.core.dropTranslations(keepingGlobal: false)
        record(.flush)
      }
    }
    let frame = free.removeLast()
    machine.memory.load([UInt8](repeating: 0, count: 4096), at: PhysicalAddress(frame << 12))
    return frame
  }

  private func write(_ frame: UInt32, _ index: Int, _ value: UInt32) {
    machine.memory.write(PhysicalAddress(frame << 12 | UInt32(index) << 2), .dword, value)
  }

  private func read(_ frame: UInt32, _ index: Int) -> UInt32 {
    machine.memory.read(PhysicalAddress(frame << 12 | UInt32(index) << 2), .dword)
  }
}
