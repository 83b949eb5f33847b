import Foundation
import Testing

/// Runs the built `virtlab` binary as a user would and captures what it prints.
struct VirtLabProcess {
  static var executable: URL {
    if let path = ProcessInfo.processInfo.environment["VIRTLAB_BIN"] {
      return URL(fileURLWithPath: path)
    }
    // The test runner sits in the build products directory beside the executable.
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
    for candidate in [dir, dir.deletingLastPathComponent()] {
      let url = candidate.appendingPathComponent("virtlab")
      if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return dir.appendingPathComponent("virtlab")
  }

  static func run(_ arguments: [String]) throws -> (code: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }

  static func temporaryFile(_ text: String, ext: String = "smt2") throws -> String {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("virtlab-\(UUID().uuidString).\(ext)")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }
}

@Suite struct CLITests {
  @Test func helpListsEverySubcommandAndTheExitCodes() throws {
    let r = try VirtLabProcess.run(["--help"])
    #expect(r.code == 0)
    for sub in ["verify", "run", "simulate", "explore", "report", "smt", "version"] {
      #expect(r.out.contains("\n  \(sub) "), "missing \(sub)")
    }
    #expect(r.out.contains("69 subcommand not available yet"))
  }

  @Test(arguments: ["verify", "run", "simulate", "explore", "report", "smt", "version"])
  func everySubcommandHasHelp(sub: String) throws {
    // verify has subcommands of its own: its options are pg's.
    let words = sub == "verify" ? ["verify", "pg"] : [sub]
    let r = try VirtLabProcess.run(words + ["--help"])
    #expect(r.code == 0)
    #expect(r.out.contains("USAGE: virtlab \(words.joined(separator: " "))"))
    #expect(r.out.contains("--json"))
  }

  @Test func verifyPGExitCodesFollowTheVerdict() throws {
    let fails = try VirtLabProcess.run(["verify", "pg", "--config", "ring1", "--only", "sgdt", "--replay"])
    #expect(fails.code == 1)
    #expect(fails.out.contains("Theorem 1 (trap-and-emulate): fails"))
    #expect(fails.out.contains("sgdt [ebx]: location:relocation"))
    // POPF at ring 1 keeps IOPL where CPL 0 would load it: the replay shows EFLAGS differ.
    let popf = try VirtLabProcess.run(["verify", "pg", "--config", "ring1", "--only", "popf", "--replay"])
    #expect(popf.code == 1)
    #expect(popf.out.contains("popfd: ") && popf.out.contains("at CPL 0 retired: EFLAGS"), "\(popf.out)")
    let holds = try VirtLabProcess.run(["verify", "pg", "--config", "ring3", "--only", "hlt", "--json"])
    #expect(holds.code == 0)
    let report = try JSONSerialization.jsonObject(with: Data(holds.out.utf8)) as? [String: Any]
    #expect((report?["result"] as? [String: Any])?["report"] != nil)
    let bad = try VirtLabProcess.run(["verify", "pg", "--config", "ring7"])
    #expect(bad.code == 64)
    #expect(bad.err.contains("--config ring7: unknown configuration"))
    let noTable = try VirtLabProcess.run(["verify", "pg", "--config", "bt=/nonexistent/rules.yaml"])
    #expect(noTable.code == 64)
    #expect(noTable.err.contains("/nonexistent/rules.yaml: error: cannot read the file"))
    #expect(try VirtLabProcess.run(["verify", "pg", "--only", "nothing-like-this"]).code == 64)
  }

  @Test func verifyPGChecksVTXPresetsAndFiles() throws {
    let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("models/vmx").path
    let holds = try VirtLabProcess.run(["verify", "pg", "--config", "vtx", "--only", "cr0"])
    #expect(holds.code == 0, "\(holds.out)")
    #expect(holds.out.contains("configuration vtx=first-generation"))
    let fails = try VirtLabProcess.run(
      ["verify", "pg", "--config", "vtx=\(models)/ablations/no-wp-mask.yaml", "--only", "cr0"])
    #expect(fails.code == 1)
    #expect(fails.out.contains("mov eax, cr0: behaviour:mode:cr0"))
    let unknownPreset = try VirtLabProcess.run(["verify", "pg", "--config", "vtx=pentium"])
    #expect(unknownPreset.code == 64)
    #expect(unknownPreset.err.contains("no VT-x preset 'pentium'"))
    let missing = try VirtLabProcess.run(["verify", "pg", "--config", "vtx=/nonexistent/x.yaml"])
    #expect(missing.code == 64)
    #expect(missing.err.contains("/nonexistent/x.yaml: error: cannot read the file"))
    // A witness replayed on the engine in VMX non-root operation: MOV to a CR3-target value
    // retires without an exit and loads CR3.
    let replayed = try VirtLabProcess.run(
      [
        "verify", "pg", "--config", "vtx=\(models)/ablations/cr3-target.yaml", "--only", "mov cr3",
        "--replay",
      ])
    #expect(replayed.code == 1, "\(replayed.out) \(replayed.err)")
    #expect(
      replayed.out.contains(
        "in VMX non-root operation at CPL 0 the engine ends retired (no VM exit), changing without an exit cr3"
      ),
      "\(replayed.out)")
    let bt = try VirtLabProcess.run(
      ["verify", "pg", "--config", "bt=\(models)/../bt/ring1.yaml", "--only", "popf"])
    #expect(bt.code == 0, "\(bt.out) \(bt.err)")
    #expect(bt.out.contains("popfd") && bt.out.contains("callout"))
  }

  @Test(arguments: ["simulate", "explore", "report"])
  func plannedSubcommandsSaySoWithCode69(sub: String) throws {
    let r = try VirtLabProcess.run([sub, "anything"])
    #expect(r.code == 69)
    #expect(r.out.isEmpty)
    #expect(r.err.contains("virtlab \(sub) is not available yet"))
    let j = try VirtLabProcess.run([sub, "--json"])
    #expect(j.code == 69)
    let report = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
    #expect(report?["status"] as? String == "not-available")
    #expect(report?["exitCode"] as? Int == 69)
  }

  @Test func versionNamesVirtLabAndZ3() throws {
    let r = try VirtLabProcess.run(["version"])
    #expect(r.code == 0)
    let lines = r.out.split(separator: "\n")
    #expect(lines.first == "virtlab 0.1.0")
    #expect(lines.last?.hasPrefix("z3 4.") == true)
    let j = try VirtLabProcess.run(["version", "--json"])
    let report = try #require(try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any])
    #expect(report["schema"] as? String == "virtlab.report/1")
    #expect((report["tools"] as? [String: String])?["z3"]?.hasPrefix("4.") == true)
  }

  @Test func smtRunsAScriptAsZ3Would() throws {
    let file = try VirtLabProcess.temporaryFile(
      """
      (declare-const x (_ BitVec 32))
      (push 1)
      (assert (not (= (bvshl x #x00000001) (bvadd x x))))
      (check-sat)
      (pop 1)
      (assert (not (bvugt (bvadd x #x00000001) x)))
      (check-sat)
      (get-value (x))
      """)
    let r = try VirtLabProcess.run(["smt", file])
    #expect(r.code == 0)
    #expect(r.out == "unsat\nsat\n((x #xffffffff))\n")
    let m = try VirtLabProcess.run(["smt", "--model", file])
    #expect(m.out.contains("(define-fun x () (_ BitVec 32)"))
    let j = try VirtLabProcess.run(["smt", "--json", file])
    let report = try #require(try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any])
    let result = try #require(report["result"] as? [String: Any])
    #expect(result["answers"] as? [String] == ["unsat", "sat"])
    #expect((report["inputs"] as? [String: String])?["file"] == file)
  }

  @Test func smtFailsOnAZ3ErrorNamingThePlace() throws {
    let file = try VirtLabProcess.temporaryFile("(declare-const a Int)\n(assert (= a b))\n(check-sat)\n")
    let r = try VirtLabProcess.run(["smt", file])
    #expect(r.code == 64)
    #expect(r.out.contains("(error \"line 2 column 14: unknown constant b\")"))
    #expect(r.err == "\(file):2:14: error: unknown constant b\n")
  }

  @Test func smtFailsOnAMalformedScript() throws {
    let file = try VirtLabProcess.temporaryFile("(declare-const a Int)\n(assert (= a 1)\n")
    let r = try VirtLabProcess.run(["smt", file])
    #expect(r.code == 64)
    #expect(r.err == "\(file):2:1: error: '(' is never closed\n")
    let j = try VirtLabProcess.run(["smt", "--json", file])
    #expect(j.code == 64)
    let report = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
    #expect(report?["status"] as? String == "input-error")
  }

  @Test func smtOnAMissingFileIsAnInputError() throws {
    let r = try VirtLabProcess.run(["smt", "/nonexistent/virtlab.smt2"])
    #expect(r.code == 64)
    #expect(r.err.contains("does not exist"))
  }

  @Test func unknownOptionIsAUsageError() throws {
    let r = try VirtLabProcess.run(["smt", "--no-such-flag", "x"])
    #expect(r.code == 64)
  }
}
