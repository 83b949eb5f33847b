// swift-tools-version: 6.2
// VirtLab: a formal model and simulator of x86 virtualization architectures.
// Layers (lowest first): ISAModel <- ExecEngine, Architectures <- Simulator,
// Verifier <- virtlab. Only Z3 (the wrapper) and Verifier link libz3.
import PackageDescription

let strict: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .treatAllWarnings(as: .error),
]

let package = Package(
  name: "VirtLab",
  products: [
    .executable(name: "virtlab", targets: ["virtlab"]),
    .library(name: "ISAModel", targets: ["ISAModel"]),
    .library(name: "ExecEngine", targets: ["ExecEngine"]),
    .library(name: "Architectures", targets: ["Architectures"]),
    .library(name: "Simulator", targets: ["Simulator"]),
    .library(name: "Verifier", targets: ["Verifier"]),
    .library(name: "Z3", targets: ["Z3"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    // Model files (DESIGN.md decision 13): YAML with every node's line, read by one loader.
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CZ3", path: "Sources/CZ3", pkgConfig: "z3",
      providers: [.apt(["libz3-dev"]), .brew(["z3"])]),
    .target(name: "Z3", dependencies: ["CZ3"], swiftSettings: strict),
    .target(name: "ISAModel", swiftSettings: strict),
    .target(name: "ExecEngine", dependencies: ["ISAModel"], swiftSettings: strict),
    // unicorn, the reference emulator: linked by tests and `make difftest` only.
    .systemLibrary(
      name: "CUnicorn", path: "Sources/CUnicorn", pkgConfig: "unicorn",
      providers: [.apt(["libunicorn-dev"]), .brew(["unicorn"])]),
    .target(name: "UnicornReference", dependencies: ["CUnicorn"], swiftSettings: strict),
    // Seeded case generation and the differential runner, for tests and `make difftest`.
    .target(
      name: "ISATestSupport", dependencies: ["ISAModel", "ExecEngine", "UnicornReference"],
      swiftSettings: strict),
    .target(
      name: "Architectures", dependencies: ["ISAModel", .product(name: "Yams", package: "Yams")],
      swiftSettings: strict),
    .target(
      name: "Simulator", dependencies: ["ExecEngine", "Architectures"], swiftSettings: strict),
    .target(
      name: "Verifier", dependencies: ["Z3", "ISAModel", "ExecEngine", "Architectures"],
      swiftSettings: strict),
    .target(
      name: "VirtLabCLI",
      dependencies: [
        "Verifier", "Simulator", "ExecEngine", "ISAModel", "Architectures",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict),
    .executableTarget(name: "virtlab", dependencies: ["VirtLabCLI"], swiftSettings: strict),
    .executableTarget(name: "virtlab-fuzz", dependencies: ["ExecEngine"], swiftSettings: strict),
    .executableTarget(name: "virtlab-difftest", dependencies: ["ISATestSupport"], swiftSettings: strict),
    .executableTarget(
      name: "virtlab-bench", dependencies: ["Z3", "ExecEngine", "Verifier"], swiftSettings: strict),

    .testTarget(name: "Z3Tests", dependencies: ["Z3"], swiftSettings: strict),
    .testTarget(
      name: "ISAModelTests", dependencies: ["ISAModel", "ISATestSupport"], swiftSettings: strict),
    .testTarget(
      name: "ExecEngineTests", dependencies: ["ExecEngine", "ISATestSupport", "UnicornReference"],
      swiftSettings: strict),
    .testTarget(
      name: "ArchitecturesTests", dependencies: ["Architectures"], swiftSettings: strict),
    .testTarget(name: "SimulatorTests", dependencies: ["Simulator"], swiftSettings: strict),
    .testTarget(
      name: "VerifierTests", dependencies: ["Verifier", "ExecEngine", "ISATestSupport"], swiftSettings: strict
    ),
    .testTarget(
      name: "VirtLabCLITests", dependencies: ["VirtLabCLI", "virtlab"], swiftSettings: strict),
  ]
)
