import Simulator
import Testing

@Suite struct EventQueueTests {
  @Test func eventsComeOutByTimeThenInsertionOrder() {
    var q = EventQueue<String>()
    q.schedule("c", after: 5)
    q.schedule("a", after: 1)
    q.schedule("b", after: 5)
    q.schedule("d", after: 5)
    var seen: [String] = []
    while let (_, e) = q.next() { seen.append(e) }
    #expect(seen == ["a", "c", "b", "d"])
    #expect(q.now == 5)
  }

  @Test func delaysAreRelativeToTheCurrentVirtualTime() {
    var q = EventQueue<Int>()
    q.schedule(1, after: 10)
    _ = q.next()
    q.schedule(2, after: 3)
    #expect(q.next()?.time == 13)
  }

  /// Seeded: many random schedules give a stable sort by (time, order).
  @Test(arguments: [1, 2, 3, 42, 1234])
  func matchesAStableSortOnRandomSchedules(seed: UInt64) {
    var rng = SplitMix64(seed: seed)
    var q = EventQueue<Int>()
    var expected: [(UInt64, Int)] = []
    for i in 0..<500 {
      let t = rng.next() % 50
      q.schedule(i, after: t)
      expected.append((t, i))
    }
    let order = expected.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }
      .map(\.element.1)
    var got: [Int] = []
    while let (_, e) = q.next() { got.append(e) }
    #expect(got == order, "seed \(seed)")
  }
}

/// A small seeded generator (SplitMix64, Steele et al. 2014) so cases reproduce from their seed.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
