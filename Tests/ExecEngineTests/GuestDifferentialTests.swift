import ExecEngine
import Foundation
import ISAModel
import Testing
import UnicornReference

/// Whole guests from models/guests on the engine and on unicorn: the same registers and the
/// same memory at the final HLT.
@Suite struct GuestDifferentialTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  @Test(arguments: ["mix"])
  func guestAgreesWithUnicorn(name: String) throws {
    let binary = try Nasm.assemble(file: Self.root.appendingPathComponent("models/guests/\(name).asm"))
    let m = try Loader.machine(flat: binary)
    let out = m.run(budget: 50_000_000)
    #expect(out.reason == .halted)
    let hlt = out.eip - 1

    let u = try Unicorn(regions: [(0, 16 << 20)])
    try u.writeCode(binary, at: 0x1000)
    try u.setRegister(Int(GPR.esp.rawValue), 0x9_0000)
    try u.setEFLAGS(0x2)
    #expect(u.run(from: 0x1000, until: hlt, count: 0) == .completed)
    for r in GPR.allCases {
      #expect(m.state[r] == (try u.register(Int(r.rawValue))), "\(name): \(r.name(.dword))")
    }
    #expect((try u.eip) == hlt)
    // The guest's working memory: 1 MiB to 1 MiB + 64 KiB.
    #expect(
      m.memory.bytes(at: PhysicalAddress(0x10_0000), count: 0x1_0000)
        == (try u.readMemory(at: 0x10_0000, count: 0x1_0000)))
  }
}
