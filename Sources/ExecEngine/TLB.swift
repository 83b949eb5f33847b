/// The translation lookaside buffer: concrete machinery in front of the architectural page walk
/// (`ExecutionContext.walkPages`). Four-way set-associative (as Core 2's data TLB is), with
/// round-robin replacement in each set; `entries` is a power of two, at least 4. An entry keeps
/// what the walk found for one 4 KiB linear page (a 4 MiB page fills one entry per 4 KiB page
/// touched). CR3 writes drop all but global entries; INVLPG drops one page; CR0.PG/WP and
/// CR4.PSE/PGE changes drop all (SDM Vol. 3A §4.10.4).
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

  static let ways = 4
  let entries: UnsafeMutablePointer<Entry>
  /// The way each set replaces next.
  let victims: UnsafeMutablePointer<UInt8>
  let setMask: UInt32
  var hits: UInt64 = 0
  var misses: UInt64 = 0
  var flushes: UInt64 = 0
  var pageInvalidations: UInt64 = 0

  init(entries count: Int) {
    precondition(
      count >= Self.ways && count & (count - 1) == 0, "TLB size must be a power of two, at least 4")
    entries = .allocate(capacity: count)
    entries.initialize(repeating: Entry(), count: count)
    victims = .allocate(capacity: count / Self.ways)
    victims.initialize(repeating: 0, count: count / Self.ways)
    setMask = UInt32(count / Self.ways - 1)
  }

  deinit {
    entries.deallocate()
    victims.deallocate()
  }

  var count: Int { (Int(setMask) + 1) * Self.ways }

  /// The entry for `page` (a linear page number), if cached.
  @inline(__always) func lookup(_ page: UInt32) -> Entry? {
    let base = Int(page & setMask) &* Self.ways
    for w in 0..<Self.ways where entries[base &+ w].tag == page &+ 1 { return entries[base &+ w] }
    return nil
  }

  /// Caches `e` for its page, over a stale entry for the same page or the set's next victim.
  func fill(_ e: Entry) {
    let set = Int((e.tag &- 1) & setMask)
    let base = set * Self.ways
    for w in 0..<Self.ways where entries[base + w].tag == e.tag {
      entries[base + w] = e
      return
    }
    let w = Int(victims[set])
    entries[base + w] = e
    victims[set] = UInt8((w + 1) % Self.ways)
  }

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
    let page = linear >> 12
    let base = Int(page & setMask) * Self.ways
    for w in 0..<Self.ways where entries[base + w].tag == page &+ 1 { entries[base + w] = Entry() }
  }
}
