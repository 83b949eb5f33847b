import ExecEngine
import ISAModel
import Testing

@Suite struct CPUIDTests {
  func cpuid(_ leaf: UInt32) -> [UInt32] {
    let m = Machine(memorySize: 1 << 20)
    var s = CPUState()
    s.eip = 0x1000
    s[.eax] = leaf
    m.state = s
    m.load([0x0F, 0xA2], at: PhysicalAddress(0x1000))
    #expect(m.step() == .retired)
    return [m.state[.eax], m.state[.ebx], m.state[.ecx], m.state[.edx]]
  }

  @Test func vendorFamilyAndLimits() {
    let leaf0 = cpuid(0)
    #expect(leaf0[0] == 1)
    let vendor = [leaf0[1], leaf0[3], leaf0[2]].flatMap { w in
      (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) }
    }
    #expect(String(decoding: vendor, as: UTF8.self) == "GenuineIntel")
    let leaf1 = cpuid(1)
    #expect((leaf1[0] >> 8) & 0xF == 6)  // family
    #expect((leaf1[0] >> 4) & 0xF == 15)  // model
    #expect(cpuid(0x8000_0000)[0] == 0x8000_0000)
    // Inputs above the maximum get the highest basic leaf (SDM Vol. 2A, CPUID).
    #expect(cpuid(7) == leaf1)
    #expect(cpuid(0x8000_0008) == leaf1)
  }

  /// CPUID reports a feature exactly when the model implements it: each feature's probe
  /// instruction executes if and only if its bit is set.
  @Test(arguments: [
    (CPUModel.Feature.cmov, [UInt8]([0x0F, 0x40, 0xC1])),  // CMOVO eax, ecx
    (.fpu, [0xD9, 0xE8]),  // FLD1
    (.tsc, [0x0F, 0x31]),  // RDTSC
    (.msr, [0x0F, 0x32]),  // RDMSR (ECX = 0x10, the TSC)
    (.de, [0x0F, 0x22, 0xE0]),  // MOV CR4, EAX (EAX = CR4.DE)
    (.pse, [0x0F, 0x22, 0xE1]),  // MOV CR4, ECX (ECX = CR4.PSE)
    (.pge, [0x0F, 0x22, 0xE2]),  // MOV CR4, EDX (EDX = CR4.PGE)
    (.pae, [0x0F, 0x22, 0xE3]),  // MOV CR4, EBX (EBX = CR4.PAE)
    (.cx8, [0x0F, 0xC7, 0x08]),  // CMPXCHG8B [eax]
    (.sep, [0x0F, 0x34]),  // SYSENTER
    (.mmx, [0x0F, 0x6F, 0xC1]),  // MOVQ mm0, mm1
    (.sse, [0x0F, 0x58, 0xC1]),  // ADDPS
    (.sse2, [0x66, 0x0F, 0x58, 0xC1]),  // ADDPD
    (.fxsr, [0x0F, 0xAE, 0x00]),  // FXSAVE [eax]
  ])
  func featureBitsMatchWhatExecutes(feature: CPUModel.Feature, probe: [UInt8]) {
    let m = Machine(memorySize: 1 << 20)
    var s = CPUState()
    s.eip = 0x1000
    s[.ecx] = 0x10
    s[.eax] = CR4.de
    s[.edx] = CR4.pge
    s[.ebx] = CR4.pae
    s.msrs[0x174] = 0x08  // SYSENTER's code segment
    m.state = s
    m.load(probe, at: PhysicalAddress(0x1000))
    let executes = m.step() == .retired
    #expect(
      CPUModel.core2.reports(feature) == executes,
      "\(feature): reported \(CPUModel.core2.reports(feature)), executes \(executes)")
  }
}
