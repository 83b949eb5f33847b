/// 32-bit paging (SDM Vol. 3A §4.3 "32-Bit Paging"): the two-level walk with 4 KiB pages and,
/// with CR4.PSE, 4 MiB pages; access rights (§4.6: U/S, R/W, CR0.WP), the page-fault error code
/// and CR2 (§4.7), accessed and dirty bits (§4.8). Written once over the semantic domain; the
/// engine caches its results in a TLB, the Verifier evaluates it as is.

/// Bits of the page-fault error code (SDM Vol. 3A Figure 4-12).
public enum PageFaultCode {
  /// 0: the page was not present; 1: a protection violation (or a reserved bit).
  public static let present: UInt32 = 1 << 0
  public static let write: UInt32 = 1 << 1
  public static let user: UInt32 = 1 << 2
  public static let reservedBit: UInt32 = 1 << 3
}

/// What a successful walk found: the physical address and the rights of the whole path, which
/// is what a TLB entry keeps.
public struct PageTranslation<Domain: SemanticDomain> {
  public var physical: Domain.Value
  /// U/S and R/W of both levels.
  public var user: Domain.Truth
  public var writable: Domain.Truth
  /// The final entry's dirty bit after this access.
  public var dirty: Domain.Truth
  /// G with CR4.PGE: survives a CR3 write.
  public var global: Domain.Truth

  @inlinable
  public init(
    physical: Domain.Value, user: Domain.Truth, writable: Domain.Truth, dirty: Domain.Truth,
    global: Domain.Truth
  ) {
    self.physical = physical
    self.user = user
    self.writable = writable
    self.dirty = dirty
    self.global = global
  }
}

extension ExecutionContext {
  /// Walks the paging structures for an access to `linear` (`user`: at CPL 3; `write`: a
  /// store). A not-present entry, a reserved bit or a rights violation sets CR2 and raises #PF
  /// with its error code; otherwise the accessed bits (and for a write the dirty bit) are set
  /// in memory, as the processor does, and the translation is returned.
  @inlinable
  public mutating func walkPages(_ linear: Value, write: Bool, user: Bool) throws(Interrupt)
    -> PageTranslation<Domain>
  {
    let d = domain
    let cr0 = systemRegister(.cr0)
    let cr4 = systemRegister(.cr4)
    let pdeAddress = d.or(
      d.and(systemRegister(.cr3), d.constant(0xFFFF_F000)),
      d.shiftLeft(d.shiftRight(linear, d.constant(22)), d.constant(2)))
    let pde = try readPhysical(pdeAddress, .dword)
    let pdePresent = d.bit(pde, 0)
    let large = d.and(d.bit(cr4, 4), d.bit(pde, 7))
    // Without PSE-36, bits 21:13 of a 4 MiB page's PDE are reserved (§4.3, Table 4-4).
    let reserved = d.and(
      d.and(pdePresent, large), d.notEqual(d.and(pde, d.constant(0x003F_E000)), d.constant(0)))
    // The PTE is read only where there is one; elsewhere the PDE stands in, unused.
    let needPTE = d.and(pdePresent, d.not(large))
    let pteAddress = d.or(
      d.and(pde, d.constant(0xFFFF_F000)),
      d.shiftLeft(d.and(d.shiftRight(linear, d.constant(12)), d.constant(0x3FF)), d.constant(2)))
    let pteRead = try readPhysical(d.select(needPTE, pteAddress, pdeAddress), .dword)
    let entry = d.select(needPTE, pteRead, pde)
    let present = d.and(pdePresent, d.bit(entry, 0))
    let userOK = d.and(d.bit(pde, 2), d.bit(entry, 2))
    let writeOK = d.and(d.bit(pde, 1), d.bit(entry, 1))
    var denied = d.truth(false)
    if user { denied = d.not(userOK) }
    if write {
      // A supervisor write to a read-only page faults only with CR0.WP (§4.6).
      denied = d.or(denied, user ? d.not(writeOK) : d.and(d.bit(cr0, 16), d.not(writeOK)))
    }
    let fault = d.or(d.not(present), d.or(reserved, denied))
    let code = d.or(
      d.or(d.value(present), d.constant((write ? PageFaultCode.write : 0) | (user ? PageFaultCode.user : 0))),
      d.select(reserved, d.constant(PageFaultCode.reservedBit), d.constant(0)))
    // In VMX non-root operation a #PF the exception bitmap intercepts exits with the linear
    // address as its qualification, before CR2 is loaded (SDM Vol. 3C §25.2, §27.1, §27.2.1).
    if let v = vmx {
      try exitVM(
        .exceptionOrNMI, qualification: linear, interruption: (.pf, code),
        when: d.and(fault, VMX.exceptionExits(.pf, errorCode: code, v.controls, d)))
    }
    try when(fault) { (c: inout Self) throws(Interrupt) in try c.setSystemRegister(.cr2, linear) }
    try raise(.pf, code: code, when: fault)
    // Accessed bits on the path; the dirty bit on the final entry for a write (§4.8).
    let dirtyBit = d.constant(write ? 0x40 : 0)
    let newPDE = d.or(pde, d.or(d.constant(0x20), d.select(large, dirtyBit, d.constant(0))))
    try when(d.notEqual(newPDE, pde)) { (c: inout Self) throws(Interrupt) in
      try c.writePhysical(pdeAddress, .dword, newPDE)
    }
    let newPTE = d.or(pteRead, d.or(d.constant(0x20), dirtyBit))
    try when(d.and(needPTE, d.notEqual(newPTE, pteRead))) { (c: inout Self) throws(Interrupt) in
      try c.writePhysical(pteAddress, .dword, newPTE)
    }
    let physical = d.select(
      large, d.or(d.and(pde, d.constant(0xFFC0_0000)), d.and(linear, d.constant(0x003F_FFFF))),
      d.or(d.and(entry, d.constant(0xFFFF_F000)), d.and(linear, d.constant(0xFFF))))
    return PageTranslation(
      physical: physical, user: userOK, writable: writeOK,
      dirty: d.or(d.truth(write), d.bit(entry, 6)), global: d.and(d.bit(cr4, 7), d.bit(entry, 8)))
  }
}
