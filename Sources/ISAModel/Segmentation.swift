/// Segmentation as the SDM defines it (Vol. 3A Chapter 3 "Protected-Mode Memory Management" and
/// Chapter 5 "Protection"): selectors, descriptors, the hidden descriptor caches, and the checks
/// made when a segment register is loaded and when memory is accessed through one. Written once
/// over the semantic domain, like every instruction.

/// The system segment registers: LDTR and TR (SDM Vol. 3A §2.4.2, §2.4.4).
public enum SystemSegment: UInt8, CaseIterable, Hashable, Sendable, Codable {
  case ldtr, tr
  public var name: String { String(describing: self) }
}

/// A segment register's selector and hidden descriptor cache, as values of a domain.
public struct SegmentCache<Value> {
  public var selector: Value
  public var base: Value
  /// The limit in bytes (granularity applied).
  public var limit: Value
  /// The descriptor's access byte and flags as bits 8–23 of its high dword, shifted down:
  /// type (0–3), S (4), DPL (5–6), P (7), AVL (12), D/B (14), G (15). P = 0 marks a register
  /// loaded with a null selector: unusable.
  public var attributes: Value

  @inlinable public init(selector: Value, base: Value, limit: Value, attributes: Value) {
    self.selector = selector
    self.base = base
    self.limit = limit
    self.attributes = attributes
  }

  /// A register loaded with a null selector: unusable (P = 0), nothing read from a table.
  @inlinable public static func unusable<D: SemanticDomain>(_ selector: Value, _ d: D) -> Self
  where D.Value == Value {
    SegmentCache(selector: selector, base: d.constant(0), limit: d.constant(0), attributes: d.constant(0))
  }
}

/// Bits of `SegmentCache.attributes`.
public enum SegmentAttribute {
  public static let accessed: UInt32 = 1 << 0
  /// Data: writable; code: readable.
  public static let writableOrReadable: UInt32 = 1 << 1
  /// Data: expand-down; code: conforming.
  public static let expandDownOrConforming: UInt32 = 1 << 2
  public static let code: UInt32 = 1 << 3
  /// S: a code or data segment (not a system descriptor).
  public static let codeOrData: UInt32 = 1 << 4
  public static let present: UInt32 = 1 << 7
  /// D/B: 32-bit code, or a stack segment whose upper bound is 4 GiB.
  public static let big: UInt32 = 1 << 14
  public static let granularity: UInt32 = 1 << 15
}

/// A descriptor's two dwords and the fields of each (SDM Vol. 3A §3.4.5, Figure 3-8).
public struct Descriptor<D: SemanticDomain> {
  public var low: D.Value
  public var high: D.Value

  @inlinable public init(low: D.Value, high: D.Value) {
    self.low = low
    self.high = high
  }

  @inlinable public func base(_ d: D) -> D.Value {
    d.or(
      d.or(d.shiftRight(low, d.constant(16)), d.shiftLeft(d.and(high, d.constant(0xFF)), d.constant(16))),
      d.and(high, d.constant(0xFF00_0000)))
  }

  /// The limit in bytes: the 20-bit field, scaled by 4 KiB when G is set.
  @inlinable public func limit(_ d: D) -> D.Value {
    let raw = d.or(d.and(low, d.constant(0xFFFF)), d.and(high, d.constant(0xF_0000)))
    return d.select(
      d.bit(high, 23), d.or(d.shiftLeft(raw, d.constant(12)), d.constant(0xFFF)), raw)
  }

  /// Bits 8–23 of the high dword, as `SegmentCache.attributes` keeps them.
  @inlinable public func attributes(_ d: D) -> D.Value {
    d.and(d.shiftRight(high, d.constant(8)), d.constant(0xF0FF))
  }

  @inlinable public func dpl(_ d: D) -> D.Value { d.and(d.shiftRight(high, d.constant(13)), d.constant(3)) }
  @inlinable public func present(_ d: D) -> D.Truth { d.bit(high, 15) }
  @inlinable public func codeOrData(_ d: D) -> D.Truth { d.bit(high, 12) }
  /// The four type bits.
  @inlinable public func type(_ d: D) -> D.Value { d.and(d.shiftRight(high, d.constant(8)), d.constant(0xF)) }
}

extension ExecutionContext {
  /// The error code of a fault that names a selector: its index and TI (SDM Vol. 3A §6.13).
  @inlinable public func selectorErrorCode(_ selector: Value) -> Value {
    domain.and(selector, domain.constant(0xFFFC))
  }

  /// Whether a selector is null: index 0 in the GDT, whatever its RPL (SDM Vol. 3A §3.4.2).
  @inlinable public func isNull(_ selector: Value) -> Truth {
    domain.equal(domain.and(selector, domain.constant(0xFFFC)), domain.constant(0))
  }

  /// The descriptor at a linear address (two dword reads, as the processor makes them).
  @inlinable
  public mutating func readDescriptor(at address: Value) throws(Interrupt) -> Descriptor<Domain> {
    let low = try readSystem(address, .dword)
    return Descriptor(low: low, high: try readSystem(domain.add(address, domain.constant(4)), .dword))
  }

  /// Where the descriptor `selector` names lies, and whether that is inside its table (GDT for
  /// TI = 0; the LDT for TI = 1, which must be usable).
  @inlinable
  public func descriptorAddress(_ selector: Value) -> (address: Value, inside: Truth) {
    let d = domain
    let ti = d.bit(selector, 2)
    let ldt = systemSegment(.ldtr)
    let base = d.select(ti, ldt.base, systemRegister(.gdtrBase))
    let limit = d.select(ti, ldt.limit, systemRegister(.gdtrLimit))
    let ldtUsable = d.bit(ldt.attributes, 7)
    let index = d.and(selector, d.constant(0xFFF8))
    let inside = d.and(d.or(d.not(ti), ldtUsable), d.unsignedLessOrEqual(d.add(index, d.constant(7)), limit))
    return (d.add(base, index), inside)
  }

  /// Reads the descriptor `selector` names; #GP(selector) when it lies outside its table.
  @inlinable
  public mutating func fetchDescriptor(_ selector: Value) throws(Interrupt) -> (Descriptor<Domain>, Value) {
    let d = domain
    let (address, inside) = descriptorAddress(selector)
    try raise(.gp, code: selectorErrorCode(selector), when: d.not(inside))
    return (try readDescriptor(at: address), address)
  }

  /// Sets the descriptor's accessed bit in memory, as a segment load does when it is clear.
  @inlinable
  public mutating func markAccessed(_ desc: Descriptor<Domain>, at address: Value) throws(Interrupt) {
    let d = domain
    try when(d.not(d.bit(desc.high, 8))) { (c: inout Self) throws(Interrupt) in
      try c.writeSystem(d.add(address, d.constant(4)), .dword, d.or(desc.high, d.constant(0x100)))
    }
  }

  /// Loads a data or stack segment register from `selector` with the checks of MOV Sreg and POP
  /// Sreg (SDM Vol. 2B MOV "Operation", Vol. 3A §5.7): a null selector makes ES/DS/FS/GS
  /// unusable and is #GP(0) for SS; a selector outside its table, a wrong type or privilege is
  /// #GP(selector); a not-present segment is #SS(selector) for SS and #NP(selector) otherwise.
  @inlinable
  public mutating func loadSegment(_ s: SegmentRegister, selector raw: Value) throws(Interrupt) {
    let d = domain
    let selector = d.and(raw, d.constant(0xFFFF))
    let null = isNull(selector)
    let cpl = d.constant(UInt32(self.cpl))
    let rpl = d.and(selector, d.constant(3))
    if s == .ss {
      try raise(Fault(.gp, errorCode: 0), when: null)
    }
    // A null selector in ES/DS/FS/GS: the register becomes unusable, nothing is read.
    try when(null) { (c: inout Self) throws(Interrupt) in
      try c.setSegment(s, .unusable(selector, d))
    }
    try when(d.not(null)) { (c: inout Self) throws(Interrupt) in
      let (desc, address) = try c.fetchDescriptor(selector)
      let type = desc.type(d)
      let code = d.bit(type, 3)
      let writableOrReadable = d.bit(type, 1)
      let conforming = d.and(code, d.bit(type, 2))
      let dpl = desc.dpl(d)
      let bad: Truth
      if s == .ss {
        bad = c.unfitStack(desc, selector: selector, privilege: cpl)
      } else {
        // Data or readable code; unless conforming code, DPL ≥ both CPL and RPL.
        let privilege = d.and(
          d.not(conforming), d.or(d.unsignedLess(dpl, rpl), d.unsignedLess(dpl, cpl)))
        bad = d.or(d.or(d.not(desc.codeOrData(d)), d.and(code, d.not(writableOrReadable))), privilege)
      }
      try c.raise(.gp, code: c.selectorErrorCode(selector), when: bad)
      try c.raise(s == .ss ? .ss : .np, code: c.selectorErrorCode(selector), when: d.not(desc.present(d)))
      try c.markAccessed(desc, at: address)
      try c.setSegment(s, c.cache(desc, selector: selector))
      // A stack switch by MOV SS or POP SS holds interrupts off for one instruction, so that
      // the MOV ESP after it runs first (SDM Vol. 3A §6.8.3).
      if s == .ss { c.inhibitInterrupts() }
    }
  }

  /// The descriptor cache a load of `desc` by `selector` fills (the accessed bit set).
  @inlinable
  public func cache(_ desc: Descriptor<Domain>, selector: Value) -> SegmentCache<Value> {
    let d = domain
    return SegmentCache(
      selector: selector, base: desc.base(d), limit: desc.limit(d),
      attributes: d.or(desc.attributes(d), d.constant(SegmentAttribute.accessed)))
  }

  /// Whether `desc` cannot be the stack at `privilege`: SS needs a writable data segment whose
  /// DPL and whose selector's RPL both equal that privilege (SDM Vol. 3A §5.7; MOV SS, the
  /// inner stack of an interrupt, IRET's outer stack).
  @inlinable
  public func unfitStack(_ desc: Descriptor<Domain>, selector: Value, privilege: Value) -> Truth {
    let d = domain
    let type = desc.type(d)
    let notWritableData = d.or(d.not(desc.codeOrData(d)), d.or(d.bit(type, 3), d.not(d.bit(type, 1))))
    let rpl = d.and(selector, d.constant(3))
    return d.or(notWritableData, d.or(d.notEqual(rpl, privilege), d.notEqual(desc.dpl(d), privilege)))
  }

  /// Whether an access of `size` bytes at `offset` through `s` is allowed, and the fault if not
  /// (SDM Vol. 3A §5.3 "Limit Checking", §5.4 "Type Checking"; #SS(0) through SS, else #GP(0)).
  @inlinable
  public mutating func checkedSegmentAccess(
    _ s: SegmentRegister, _ offset: Value, _ size: OperandSize, write: Bool
  )
    throws(Interrupt)
  {
    let bad = segmentAccessRefused(segment(s), offset, size, write: write)
    try raise(Fault(s == .ss ? .ss : .gp, errorCode: 0), when: bad)
  }

  /// Whether the limit and type checks refuse an access through a segment described by `seg`.
  @inlinable
  public func segmentAccessRefused(
    _ seg: SegmentCache<Value>, _ offset: Value, _ size: OperandSize, write: Bool
  )
    -> Truth
  {
    let d = domain
    let a = seg.attributes
    let usable = d.bit(a, 7)
    let code = d.bit(a, 3)
    let last = d.add(offset, d.constant(size.bytes &- 1))
    // Expand-up: offset … last within [0, limit] (and no wrap). Expand-down data: within
    // (limit, upper], upper being 4 GiB − 1 with B set, else 64 KiB − 1.
    let expandDown = d.and(d.not(code), d.bit(a, 2))
    let wraps = d.unsignedLess(last, offset)
    let upper = d.select(d.bit(a, 14), d.constant(0xFFFF_FFFF), d.constant(0xFFFF))
    // A 4 GiB expand-up segment passes every offset, wrapping ones too (as Bochs's flat-segment
    // path and unicorn do).
    let outsideUp = d.and(
      d.notEqual(seg.limit, d.constant(0xFFFF_FFFF)), d.or(wraps, d.unsignedLess(seg.limit, last)))
    let outsideDown = d.or(d.or(wraps, d.unsignedLessOrEqual(offset, seg.limit)), d.unsignedLess(upper, last))
    let outside = d.select(expandDown, outsideDown, outsideUp)
    // Writes need writable data; reads need data or readable code.
    let typeBad =
      write ? d.or(code, d.not(d.bit(a, 1))) : d.and(code, d.not(d.bit(a, 1)))
    return d.or(d.not(usable), d.or(outside, typeBad))
  }
}
