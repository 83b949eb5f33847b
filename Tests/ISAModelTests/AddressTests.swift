import ISAModel
import Testing

@Suite struct AddressTests {
  @Test func addressesWrapAtFourGiB() {
    #expect(PhysicalAddress(0xFFFF_FFFF).advanced(by: 2) == PhysicalAddress(1))
    #expect(LinearAddress(0x1000).advanced(by: 0x10).value == 0x1010)
  }

  @Test func addressesPrintAsEightHexDigits() {
    #expect(PhysicalAddress(0x1000).description == "phys:00001000")
    #expect(LinearAddress(0xFEE0_0000).description == "lin:fee00000")
    #expect(hex32(0) == "00000000")
  }
}

@Suite struct FaultTextTests {
  @Test func faultsPrintAsTheSDMWritesThem() {
    #expect(Fault(.de).description == "#DE")
    #expect(Fault(.gp, errorCode: 0x10).description == "#GP(16)")
    #expect(Fault(.pf).description == "#PF(0)")
    #expect(Exception.allCases.allSatisfy { $0.description.count == 3 })
  }
}
