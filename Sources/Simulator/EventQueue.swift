/// A deterministic discrete-event queue (DESIGN.md decision 8): virtual time only, and events
/// due at the same time come out in the order they were scheduled, as in swift-nio's
/// `EmbeddedEventLoop`. The same inputs always give the same order.
public struct EventQueue<Event>: Sendable where Event: Sendable {
  /// Virtual time, in the simulation's own unit (a CPU profile turns it into seconds).
  public private(set) var now: UInt64 = 0
  private var heap: [(time: UInt64, order: UInt64, event: Event)] = []
  private var nextOrder: UInt64 = 0

  public init() {}

  public var isEmpty: Bool { heap.isEmpty }
  public var count: Int { heap.count }

  /// Schedules `event` at `delay` after now.
  public mutating func schedule(_ event: Event, after delay: UInt64) {
    let (time, overflow) = now.addingReportingOverflow(delay)
    precondition(!overflow, "event scheduled past the end of virtual time")
    heap.append((time, nextOrder, event))
    nextOrder += 1
    siftUp(heap.count - 1)
  }

  /// Removes the earliest event and advances the clock to its time.
  public mutating func next() -> (time: UInt64, event: Event)? {
    guard !heap.isEmpty else { return nil }
    heap.swapAt(0, heap.count - 1)
    let first = heap.removeLast()
    if !heap.isEmpty { siftDown(0) }
    now = first.time
    return (first.time, first.event)
  }

  private func before(_ i: Int, _ j: Int) -> Bool {
    (heap[i].time, heap[i].order) < (heap[j].time, heap[j].order)
  }

  private mutating func siftUp(_ start: Int) {
    var i = start
    while i > 0 {
      let parent = (i - 1) / 2
      guard before(i, parent) else { return }
      heap.swapAt(i, parent)
      i = parent
    }
  }

  private mutating func siftDown(_ start: Int) {
    var i = start
    while true {
      let l = 2 * i + 1
      let r = l + 1
      var m = i
      if l < heap.count && before(l, m) { m = l }
      if r < heap.count && before(r, m) { m = r }
      if m == i { return }
      heap.swapAt(i, m)
      i = m
    }
  }
}
