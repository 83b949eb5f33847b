import Foundation
import Testing

@Suite struct RunTests {
  @Test func trapModeRunsUnderTheMonitorEqualToNative() throws {
    let r = try VirtLabProcess.run(["run", "hello", "--mode", "trap", "--compare", "--stats"])
    #expect(r.code == 0, "\(r.err)")
    #expect(r.out.contains("hello from the guest"))
    #expect(r.out.contains("equivalent: the native run ends the same"))
    // Every IN and OUT of hello traps at ring 1 and is emulated.
    #expect(r.out.contains("monitor.traps.#GP 43"))
    let json = try VirtLabProcess.run(["run", "hello", "--mode", "trap", "--compare", "--json"])
    let report = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
    let result = try #require(report["result"] as? [String: Any])
    #expect((result["differences"] as? [String]) == [])
    #expect((report["inputs"] as? [String: String])?["mode"] == "trap")
  }

  @Test func traceIsTraceEventJSONOnTheVirtualClock() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "virtlab-\(UUID().uuidString).json")
    defer { try? FileManager.default.removeItem(at: path) }
    let r = try VirtLabProcess.run(["run", "timer", "--mode", "trap", "--stats", "--trace", path.path])
    #expect(r.code == 0, "\(r.err)")
    let data = try Data(contentsOf: path)
    let trace = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let events = try #require(trace["traceEvents"] as? [[String: Any]])
    let instants = events.filter { $0["ph"] as? String == "i" }
    // The timer's 50 interrupts, each delivered through the guest's IDT, in clock order.
    #expect(instants.filter { $0["name"] as? String == "deliver 32" }.count == 50)
    let entries = instants.filter { ($0["name"] as? String)?.hasPrefix("entry ") ?? false }.count
    #expect(r.out.contains("monitor.entries \(entries)\n"))
    let times = instants.compactMap { $0["ts"] as? Int }
    #expect(times.count == instants.count && times == times.sorted())
    let run = try #require(events.first { $0["ph"] as? String == "X" })
    #expect((run["dur"] as? Int ?? 0) > 245_000)
    // A folder that is not there is refused before the run.
    let bad = try VirtLabProcess.run(["run", "timer", "--trace", "/nonexistent-folder/t.json"])
    #expect(bad.code == 64)
    #expect(bad.err.contains("does not exist"))
  }

  @Test func lockstepNamesTheCulprit() throws {
    let probe = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("models/guests/probes/popf.asm")
    let r = try VirtLabProcess.run(["run", probe.path, "--mode", "trap", "--lockstep"])
    #expect(r.code == 1, "\(r.err)")
    #expect(r.out.contains("diverges at step 2, eip 00001017: popfd"))
    #expect(r.out.contains("eflags: 00000202 → 00000002"))
    // A culprit the deterministic clock cannot show is said to be one, not passed in silence.
    let rdtsc = probe.deletingLastPathComponent().appendingPathComponent("rdtsc.asm")
    let t = try VirtLabProcess.run(["run", rdtsc.path, "--mode", "trap", "--lockstep"])
    #expect(t.code == 0, "\(t.err)")
    #expect(t.out.contains("no divergence"))
    #expect(
      t.out.contains("note: rdtsc at 00001012 is a ring-1 culprit this run cannot show: not observable"))
  }

  @Test func unknownModesAndMisusedFlagsAreRefused() throws {
    let bad = try VirtLabProcess.run(["run", "hello", "--mode", "bt"])
    #expect(bad.code == 64)
    #expect(bad.err.contains("native") && bad.err.contains("trap"))
    let compare = try VirtLabProcess.run(["run", "hello", "--compare"])
    #expect(compare.code == 64)
    #expect(compare.err.contains("--compare needs a monitor"))
    let stop = try VirtLabProcess.run(["run", "hello", "--mode", "trap", "--exceptions", "stop"])
    #expect(stop.code == 64)
  }

  @Test func runsANamedGuestToHLT() throws {
    let r = try VirtLabProcess.run(["run", "mix"])
    #expect(r.code == 0, "\(r.err)")
    #expect(r.out.contains("stopped: halted (HLT)"))
    // (That the result is right is GuestDifferentialTests' job, against unicorn.)
    #expect(r.out.contains("after 10584232 instructions"))
  }

  @Test func assemblesAnAsmFileAndReportsJSON() throws {
    let file = try VirtLabProcess.temporaryFile("bits 32\nmov eax, 0x2a\nmov ebx, eax\nhlt\n", ext: "asm")
    let r = try VirtLabProcess.run(["run", file, "--json"])
    #expect(r.code == 0)
    let report = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    let result = try #require(report["result"] as? [String: Any])
    #expect(result["stop"] as? String == "halted")
    #expect(result["instructions"] as? Int == 3)
    #expect((result["registers"] as? [String: String])?["ebx"] == "0000002a")
    #expect((report["tools"] as? [String: String])?["nasm"]?.isEmpty == false)
  }

  @Test func stopReasonsHaveTheirExitCodes() throws {
    let fault = try VirtLabProcess.temporaryFile("bits 32\nxor ecx, ecx\ndiv ecx\n", ext: "asm")
    let f = try VirtLabProcess.run(["run", fault, "--exceptions", "stop"])
    #expect(f.code == 2)
    #expect(f.out.contains("stopped: fault #DE at eip 00001002"))
    // Delivered through the loader's empty IDT (limit 0): #GP(vector × 8 + 2 + EXT), then #DF,
    // then a #GP delivering that: a triple fault (SDM Vol. 3A §6.15, Table 6-5).
    let t = try VirtLabProcess.run(["run", fault])
    #expect(t.code == 2)
    #expect(
      t.out.contains("shutdown: triple fault (#DE → #GP(0x3) → #DF(0x0) → #GP(0x43)) at eip 00001002, CPL 0"))
    // A halt nothing can wake, and a port nothing answers, are said as such.
    let halt = try VirtLabProcess.temporaryFile("bits 32\ncli\nin al, 0x80\nhlt\n", ext: "asm")
    let h = try VirtLabProcess.run(["run", halt])
    #expect(h.code == 0)
    #expect(h.out.contains("stopped: halted (HLT) with interrupts disabled: nothing can wake it"))
    #expect(h.out.contains("note: 1 port accesses found no device"))
    let loop = try VirtLabProcess.temporaryFile("bits 32\nl: jmp l\n", ext: "asm")
    let b = try VirtLabProcess.run(["run", loop, "--budget", "500"])
    #expect(b.code == 3)
    #expect(b.out.contains("after 500 instructions"))
    let gap = try VirtLabProcess.temporaryFile("bits 32\nfld1\n", ext: "asm")
    let g = try VirtLabProcess.run(["run", gap])
    #expect(g.code == 4)
    #expect(g.out.contains("model gap: x87 escape D9"))
  }

  @Test func badInputIsAClearError() throws {
    let empty = try VirtLabProcess.temporaryFile("", ext: "bin")
    let e = try VirtLabProcess.run(["run", empty])
    #expect(e.code == 64)
    #expect(e.err.contains("empty"))
    let missing = try VirtLabProcess.run(["run", "no-such-guest"])
    #expect(missing.code == 64)
    #expect(missing.err.contains("no guest named no-such-guest"))
    let bad = try VirtLabProcess.temporaryFile("bits 32\nfrobnicate eax\n", ext: "asm")
    let n = try VirtLabProcess.run(["run", bad])
    #expect(n.code == 64)
    #expect(n.err.contains(":2: error:"))
    let tooBig = try VirtLabProcess.run(["run", "mix", "--memory", "0"])
    #expect(tooBig.code == 64)
  }

  /// Random bytes end in bounded time with an architectural fault or a model gap, never a crash.
  @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
  func randomBytesEndCleanly(seed: UInt64) throws {
    var state = seed &* 0x9E37_79B9_7F4A_7C15
    let bytes = (0..<512).map { _ -> UInt8 in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return UInt8(truncatingIfNeeded: state >> 33)
    }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("virtlab-random-\(seed).bin")
    try Data(bytes).write(to: url)
    let r = try VirtLabProcess.run(["run", url.path, "--budget", "100000"])
    #expect([0, 2, 3, 4].contains(r.code), "seed \(seed): exit \(r.code) \(r.err)")
    #expect(r.out.contains("stopped:"), "seed \(seed)")
  }
}

@Suite struct RunDeviceTests {
  @Test func showsSerialOutputAndTheDebugExitValue() throws {
    let r = try VirtLabProcess.run(["run", "hello"])
    #expect(r.code == 0, "\(r.err)")
    #expect(r.out.contains("serial:\nhello from the guest\n"))
    #expect(r.out.contains("stopped: debug exit with value 0x2a"))
    let j = try VirtLabProcess.run(["run", "hello", "--json"])
    let report = try #require(try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any])
    let result = try #require(report["result"] as? [String: Any])
    #expect(result["serial"] as? String == "hello from the guest\n")
    #expect(result["debugExit"] as? Int == 42)
    #expect(result["stop"] as? String == "debug-exit")
  }
}
