/// The translation lookaside buffer: concrete machinery in front of the architectural page walk
/// (`ExecutionContext.walkPages`). Direct-mapped, `entries` a power of two; an entry keeps what
/// the walk found for one 4 KiB linear page (a 4 MiB page fills one entry per 4 KiB touched).
/// CR3 writes drop all but global entries; INVLPG drops one page; CR0.PG/WP and CR4.PSE/PGE
/// changes drop all (SDM Vol. 3A §4.10.4).
final class TLB {
  struct Entry {
    /// Linear page number + 1; 0 is an empty entry.
    var tag: UInt32 = 0
    var frame: UInt32 = 0
    var user = false
    var writable = false
    var dirty = false
    var global = false
  }

  let entries: UnsafeMutablePointer<Entry>
  let mask: UInt32
  var hits: UInt64 = 0
  var misses: UInt64 = 0
  var flushes: UInt64 = 0
  var pageInvalidations: UInt64 = 0

  init(entries count: Int) {
    precondition(count > 0 && count & (count - 1) == 0, "TLB size must be a power of two")
    entries = .allocate(capacity: count)
    entries.initialize(repeating: Entry(), count: count)
    mask = UInt32(count - 1)
  }

  deinit { entries.deallocate() }

  var count: Int { Int(mask) + 1 }

  /// Drops every entry, or every entry but the global ones.
  func flush(keepingGlobal: Bool) {
    flushes &+= 1
    for k in 0..<count where !(keepingGlobal && entries[k].global) { entries[k] = Entry() }
  }

  /// Empties the TLB without counting a flush (a new machine state was set from outside).
  func reset() {
    for k in 0..<count { entries[k] = Entry() }
  }

  func invalidate(page linear: UInt32) {
    pageInvalidations &+= 1
    let k = Int((linear >> 12) & mask)
    if entries[k].tag == (linear >> 12) &+ 1 { entries[k] = Entry() }
  }
}
