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

  /// Above IOPL the TSS I/O bitmap decides, which the model lacks: a model gap, not a guess.
  @Test func ioAboveIOPLIsAModelGap() {
    let m = Machine(memorySize: 1 << 20)
    var s = CPUState()
    s.eip = 0x1000
    s[.cs] = SegmentState(selector: 0x1B, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC0FA)  // CPL 3, IOPL 0
    m.state = s
    m.load([0xEC], at: PhysicalAddress(0x1000))  // in al, dx
    #expect(m.step() == .modelGap("I/O permission bitmap (TSS) for IN/OUT at CPL > IOPL"))
    s.eflags |= 0x3000  // IOPL 3: allowed
    m.state = s
    #expect(m.step() == .retired)
  }
}
