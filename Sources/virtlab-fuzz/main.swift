// Fuzzing decode + execute (`make fuzz`): any byte string, loaded as a guest, must end in an
// architectural outcome, a model gap or the budget — never a crash or a hang.
// Built with -sanitize=fuzzer and -DFUZZ by `make fuzz`; a plain build replays the files given
// as arguments (crash reproducers) or, with none, a seeded batch of random inputs.
import ExecEngine
import Foundation
import ISAModel

func execute(_ bytes: UnsafeBufferPointer<UInt8>) {
  guard !bytes.isEmpty else { return }
  var convention = LoadConvention()
  convention.memorySize = 1 << 20
  guard let m = try? Loader.machine(flat: Array(bytes.prefix(4096)), convention) else { return }
  _ = m.run(budget: 2_000)
  // The decoder alone, on the raw bytes too.
  _ = Decoder.decode(bytes.prefix(16))
}

#if FUZZ
  @_silgen_name("LLVMFuzzerRunDriver")
  func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
  ) -> Int32

  var argc = CommandLine.argc
  var argv = CommandLine.unsafeArgv
  exit(
    runFuzzerDriver(&argc, &argv) { data, size in
      execute(UnsafeBufferPointer(start: data, count: size))
      return 0
    })
#else
  let files = CommandLine.arguments.dropFirst()
  if files.isEmpty {
    var state: UInt64 = 0xF0F0
    for _ in 0..<2000 {
      let bytes = (0..<64).map { _ -> UInt8 in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
      }
      bytes.withUnsafeBufferPointer(execute)
    }
    print("virtlab-fuzz: 2000 random inputs ran cleanly (build with `make fuzz` for libFuzzer)")
  } else {
    for f in files {
      guard let data = FileManager.default.contents(atPath: f) else {
        print("virtlab-fuzz: cannot read \(f)")
        exit(64)
      }
      [UInt8](data).withUnsafeBufferPointer(execute)
      print("virtlab-fuzz: \(f) ran cleanly")
    }
  }
#endif
