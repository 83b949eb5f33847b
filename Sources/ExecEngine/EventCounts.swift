/// What the engine counts (DESIGN.md decision 7: events, not costs). Each counter's name is
/// stable: it is the key in `--stats`, traces, JSON and the price tables of CPU profiles.
public struct EventCounts: Hashable, Sendable, Codable {
  /// Instructions retired (REP string instructions count one per element).
  public var instructionsRetired: UInt64 = 0
  /// Blocks of instructions decoded into the decode cache.
  public var blocksDecoded: UInt64 = 0
  /// Instructions decoded (each once per block that holds it).
  public var instructionsDecoded: UInt64 = 0
  /// Decode-cache flushes caused by writes to memory holding decoded code.
  public var codeInvalidations: UInt64 = 0
  /// Accesses to physical addresses backed by nothing.
  public var openBusReads: UInt64 = 0
  public var openBusWrites: UInt64 = 0
  /// IN and OUT accesses, and those to ports no device answers.
  public var portReads: UInt64 = 0
  public var portWrites: UInt64 = 0
  public var portsUnclaimed: UInt64 = 0
  /// Exceptions the machine delivered through the IDT (INT n is an instruction, not counted).
  public var exceptionsDelivered: UInt64 = 0
  /// External interrupts (the APIC's) delivered; APIC timer expirations; APIC accesses the model
  /// does not implement (they read 0, writes are dropped).
  public var interruptsDelivered: UInt64 = 0
  public var timerExpirations: UInt64 = 0
  public var apicUnmodelled: UInt64 = 0
  /// Sectors the block device moved into memory (reads) and out of it (writes), by DMA.
  public var sectorsRead: UInt64 = 0
  public var sectorsWritten: UInt64 = 0
  /// TLB lookups that hit, that missed (each miss is a page walk), whole flushes (CR3, CR0,
  /// CR4 writes) and INVLPGs.
  public var tlbHits: UInt64 = 0
  public var tlbMisses: UInt64 = 0
  public var tlbFlushes: UInt64 = 0
  public var tlbPageInvalidations: UInt64 = 0

  public init() {}

  /// Stable names and values, for `--stats` and JSON.
  public var named: [(name: String, value: UInt64)] {
    [
      ("instructions.retired", instructionsRetired), ("decode.blocks", blocksDecoded),
      ("decode.instructions", instructionsDecoded), ("decode.invalidations", codeInvalidations),
      ("bus.open.reads", openBusReads), ("bus.open.writes", openBusWrites), ("io.reads", portReads),
      ("io.writes", portWrites), ("io.unclaimed", portsUnclaimed),
      ("exceptions.delivered", exceptionsDelivered), ("interrupts.delivered", interruptsDelivered),
      ("apic.timer.expirations", timerExpirations), ("apic.unmodelled", apicUnmodelled),
      ("block.sectors.read", sectorsRead), ("block.sectors.written", sectorsWritten),
      ("tlb.hits", tlbHits), ("tlb.misses", tlbMisses),
      ("tlb.flushes", tlbFlushes), ("tlb.invlpg", tlbPageInvalidations),
    ]
  }
}
