import ExecEngine
import ISAModel
import Testing

@Suite struct DeviceTests {
  @Test func serialOutputAndDebugExit() throws {
    let (m, out) = try runGuest(
      """
        mov dx, 0x3FD
      w: in al, dx
        test al, 0x20          ; THRE
        jz w
        mov dx, 0x3F8
        mov al, 'o'
        out dx, al
        mov al, 'k'
        out dx, al
        mov dx, 0x501
        mov eax, 0x1234
        out dx, eax
        hlt
      """)
    #expect(out.reason == .debugExit(0x1234))
    #expect(m.serial.output == Array("ok".utf8))
    // The run ends after the OUT, before HLT.
    #expect(m.memory.read(PhysicalAddress(out.eip)) == 0xF4)
  }

  @Test func lineControlAndScratchRegistersHoldTheirValues() throws {
    let (m, out) = try runGuest(
      """
        mov dx, 0x3FB           ; LCR: DLAB on
        mov al, 0x83
        out dx, al
        mov dx, 0x3F8           ; DLL = 1 (115200 baud): not output
        mov al, 1
        out dx, al
        mov dx, 0x3FB           ; DLAB off
        mov al, 0x03
        out dx, al
        mov dx, 0x3FF           ; scratch
        mov al, 0x5A
        out dx, al
        in al, dx
        mov bl, al
        mov dx, 0x3FB
        in al, dx
        mov bh, al
        hlt
      """)
    #expect(out.reason == .halted)
    #expect(m.serial.output.isEmpty)
    #expect(m.state[.ebx] & 0xFFFF == 0x035A)
  }

  @Test func unclaimedPortsFloatHighAndAreCounted() throws {
    let (m, out) = try runGuest(
      """
        mov dx, 0x1234
        in eax, dx
        in al, 0x80
        mov bl, al
        out 0x80, al
        hlt
      """)
    #expect(out.reason == .halted)
    #expect(m.state[.eax] == 0xFFFF_FFFF)
    #expect(m.state[.ebx] & 0xFF == 0xFF)
    #expect(m.events.portsUnclaimed == 3)
  }

  /// Above IOPL the TSS I/O permission bitmap decides (SDM Vol. 1 §19.5.2): a set bit, or a
  /// bitmap past TR's limit, is #GP(0); a clear bit allows the access.
  @Test func ioAboveIOPLConsultsTheTSSBitmap() {
    let m = Machine(memorySize: 1 << 20)
    m.exceptionRouting = .stop
    var s = CPUState()
    s.eip = 0x1000
    s[.cs] = SegmentState(selector: 0x1B, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC0FA)  // CPL 3, IOPL 0
    s[.edx] = 0x3F8 + 5  // COM1's LSR
    // The TSS at 0x20000: the bitmap at offset 0x68, 0x3FD / 8 = 0x7F bytes in.
    s.tr = SegmentState(selector: 0x28, base: 0x2_0000, limit: 0x68 + 0x80, attributes: 0x8B)
    m.load([0x68, 0x00], at: PhysicalAddress(0x2_0066))
    m.load([0xEC], at: PhysicalAddress(0x1000))  // in al, dx
    m.state = s
    #expect(m.step() == .retired)  // bit 0x3FD clear
    m.load([0x20], at: PhysicalAddress(0x2_0068 + 0x7F))  // bit 5 of byte 0x7F: port 0x3FD
    m.state = s
    #expect(m.step() == .fault(Fault(.gp, errorCode: 0)))
    var short = s
    short.tr.limit = 0x68 + 0x7E  // the byte is past the limit
    m.load([0x00], at: PhysicalAddress(0x2_0068 + 0x7F))
    m.state = short
    #expect(m.step() == .fault(Fault(.gp, errorCode: 0)))
    s.eflags |= 0x3000  // IOPL 3: no bitmap needed
    s.tr.limit = 0
    m.state = s
    #expect(m.step() == .retired)
  }

  @Test func insAndOutsMoveStringsThroughPorts() throws {
    // OUTSB × 3 into the scratch register, then INSB × 1 from it (ES:EDI ← port DX).
    let binary = try Nasm.assemble(
      source: """
          bits 32
          org 0x1000
          cld
          mov esi, text
          mov dx, 0x3F8 + 7
          mov ecx, 3
          rep outsb
          mov edi, 0x3000
          insb
          mov dx, 0x3F8
          mov esi, text
          mov ecx, 3
          rep outsb                ; to the transmitter: "abc" on COM1
          hlt
        text: db "abc"
        """)
    let m = try Loader.machine(flat: binary)
    let out = m.run(budget: 1000)
    #expect(out.reason == .halted)
    #expect(m.memory.read(PhysicalAddress(0x3000), .byte) == UInt32(UInt8(ascii: "c")))
    #expect(String(decoding: m.serial.output, as: UTF8.self) == "abc")
    #expect(m.state[.ecx] == 0)
  }

  /// The block device moves sectors by DMA (docs/system.md): disk → memory, memory → disk, with
  /// a status for bad requests; a DMA over decoded code is seen by the next fetch.
  @Test func blockDeviceMovesSectorsByDMA() throws {
    let binary = try Nasm.assemble(
      source: """
          bits 32
          org 0x1000
          BLK equ 0xB000
          mov dx, BLK
          mov eax, 1                 ; sector 1
          out dx, eax
          mov dx, BLK + 4
          mov eax, 0x20000           ; to 0x20000
          out dx, eax
          mov dx, BLK + 8
          mov eax, 2                 ; two sectors
          out dx, eax
          mov dx, BLK + 12
          mov eax, 1                 ; read
          out dx, eax
          in eax, dx
          mov ebx, eax               ; status 0
          mov dword [0x30000], 0xfeedface
          mov dx, BLK
          mov eax, 5
          out dx, eax
          mov dx, BLK + 4
          mov eax, 0x30000
          out dx, eax
          mov dx, BLK + 8
          mov eax, 1
          out dx, eax
          mov dx, BLK + 12
          mov eax, 2                 ; write sector 5 from 0x30000
          out dx, eax
          mov dx, BLK
          mov eax, 5000              ; past the disk
          out dx, eax
          mov dx, BLK + 12
          mov eax, 1
          out dx, eax
          in eax, dx
          mov ecx, eax               ; status 1
          mov eax, 7
          out dx, eax
          in eax, dx
          mov esi, eax               ; status 2
          ; Load sector 0 over the next instruction: its first byte becomes HLT (F4).
          mov dx, BLK
          xor eax, eax
          out dx, eax
          mov dx, BLK + 4
          mov eax, patched
          out dx, eax
          mov dx, BLK + 8
          mov eax, 1
          out dx, eax
          mov dx, BLK + 12
          mov eax, 1
          out dx, eax
        patched:
          mov edi, 0xbad             ; replaced by the DMA
          hlt
        """)
    let m = try Loader.machine(flat: binary)
    var image = [UInt8](repeating: 0xF4, count: 512)  // sector 0: HLTs
    image += (0..<1024).map { UInt8(truncatingIfNeeded: $0 * 7) }  // sectors 1 and 2
    m.disk.insert(image + [UInt8](repeating: 0, count: 5 * 512))  // eight sectors in all
    let out = m.run(budget: 1000)
    #expect(out.reason == .halted)
    #expect(m.state[.ebx] == 0)
    #expect(m.memory.bytes(at: PhysicalAddress(0x20000), count: 1024) == Array(image[512..<1536]))
    #expect(Array(m.disk.image[5 * 512..<5 * 512 + 4]) == [0xCE, 0xFA, 0xED, 0xFE])
    #expect(m.state[.ecx] == 1)
    #expect(m.state[.esi] == 2)
    #expect(m.state[.edi] != 0xBAD)  // the MOV was overwritten before it ran
    #expect(m.events.sectorsRead == 3)
    #expect(m.events.sectorsWritten == 1)
  }
}
