/// VT-x configurations as model files (`models/vmx/*.yaml`, schema `virtlab.vtx/1`), read by the
/// one loader (`ModelFile`): a preset to start from, the controls the VMM sets, what it owns,
/// and a `source:` for each part. Every problem comes out at once with its file:line.
import Architectures
import Foundation
import ISAModel

extension VTXConfiguration {
  public static let schema = "virtlab.vtx/1"

  /// Reads a configuration file; a preset named by `based-on:` supplies what the file leaves out.
  public static func load(_ path: String) throws(ModelProblems) -> VTXConfiguration {
    try VTXConfiguration(file: try ModelFile.load(path))
  }

  public init(file: ModelFile) throws(ModelProblems) {
    var r = ModelReader()
    let root = file.root
    let top =
      r.mapping(
        root, "the configuration",
        allowed: ["schema", "name", "source", "based-on", "capabilities", "controls", "owns"])
      ?? [:]
    r.schema(root, expected: Self.schema)
    let name = r.string(top["name"], "name:", in: root) ?? ""
    let source = r.string(top["source"], "source:", in: root) ?? ""
    var base: VTXConfiguration?
    if let b = top["based-on"] {
      if let n = b.scalar, let p = Self.preset(named: n) {
        base = p
      } else {
        r.report(
          b.location,
          "based-on: '\(b.scalar ?? b.kind)' is not a preset (\(Self.presets.map(\.name).joined(separator: ", ")))"
        )
      }
    }
    var capabilities = base?.nonRoot.capabilities
    if let c = top["capabilities"] {
      switch c.scalar {
      case "first-generation": capabilities = .firstGeneration
      case "later": capabilities = .later
      default: r.report(c.location, "capabilities: '\(c.scalar ?? c.kind)' is not first-generation or later")
      }
    } else if base == nil {
      r.report(root.location, "missing capabilities: (first-generation or later) or based-on:")
    }
    let caps = capabilities ?? .firstGeneration
    var controls = base?.nonRoot.controls ?? VMCSControls()
    if let node = top["controls"] {
      Self.readControls(node, into: &controls, capabilities: caps, &r)
    } else if base == nil {
      r.report(root.location, "missing controls:")
    }
    var ownership = base?.ownership ?? ControlOwnership(resources: [])
    if let node = top["owns"] {
      Self.readOwnership(node, into: &ownership, &r)
    } else if base == nil {
      r.report(root.location, "missing owns:")
    }
    try r.check()
    self.init(
      name: name, source: source, nonRoot: VMXNonRoot(controls: controls, capabilities: caps),
      ownership: ownership)
  }

  /// `externalInterruptExiting` → `external-interrupt-exiting`.
  static func kebab(_ s: String) -> String {
    var out = ""
    for ch in s {
      if ch.isUppercase {
        out += "-" + ch.lowercased()
      } else {
        out.append(ch)
      }
    }
    return out.replacingOccurrences(of: "t-s-c", with: "tsc").replacingOccurrences(of: "n-m-i", with: "nmi")
      .replacingOccurrences(of: "i-o", with: "io").replacingOccurrences(of: "m-s-r", with: "msr")
      .replacingOccurrences(of: "d-r", with: "dr").replacingOccurrences(of: "t-p-r", with: "tpr")
      .replacingOccurrences(of: "a-p-i-c", with: "apic").replacingOccurrences(of: "x2-apic", with: "x2apic")
      .replacingOccurrences(of: "e-p-t", with: "ept").replacingOccurrences(of: "v-p-i-d", with: "vpid")
      .replacingOccurrences(of: "r-d-t-s-c-p", with: "rdtscp")
  }

  static func names<C: CaseIterable & RawRepresentable>(_: C.Type) -> [String: UInt32]
  where C.RawValue == UInt32 {
    Dictionary(
      uniqueKeysWithValues: C.allCases.map { (kebab(String(describing: $0)), UInt32(1) << $0.rawValue) })
  }

  static let cr0Bits: [String: UInt32] = [
    "PE": CR0.pe, "MP": CR0.mp, "EM": CR0.em, "TS": CR0.ts, "ET": CR0.et, "NE": CR0.ne, "WP": CR0.wp,
    "AM": CR0.am,
    "NW": CR0.nw, "CD": CR0.cd, "PG": CR0.pg,
  ]
  static let cr4Bits: [String: UInt32] = [
    "VME": CR4.vme, "PVI": CR4.pvi, "TSD": CR4.tsd, "DE": CR4.de, "PSE": CR4.pse, "PAE": CR4.pae,
    "MCE": CR4.mce,
    "PGE": CR4.pge, "PCE": CR4.pce, "OSFXSR": CR4.osfxsr, "OSXMMEXCPT": CR4.osxmmexcpt, "VMXE": CR4.vmxe,
  ]
  static let exceptionBits: [String: UInt32] = Dictionary(
    uniqueKeysWithValues: Exception.allCases.map { ($0.description, UInt32(1) << UInt32($0.rawValue)) })

  static func readControls(
    _ node: ModelNode, into k: inout VMCSControls, capabilities caps: VMXCapabilities, _ r: inout ModelReader
  ) {
    let fields: Set<String> = [
      "source", "pin-based", "primary", "secondary", "exception-bitmap", "page-fault-error-code-mask",
      "page-fault-error-code-match", "cr0-guest-host-mask", "cr0-read-shadow", "cr4-guest-host-mask",
      "cr4-read-shadow", "cr3-targets", "io-exiting-ports", "msr-read-exiting", "msr-write-exiting",
      "tsc-offset",
    ]
    guard let m = r.mapping(node, "controls:", allowed: fields) else { return }
    _ = r.string(m["source"], "source: of controls:", in: node)
    func mask(_ key: String, _ names: [String: UInt32]) -> UInt32? {
      guard let n = m[key] else { return nil }
      return r.names(n, key, names).map { $0.reduce(0, |) }
    }
    // Reserved bits of the default1 class have no names: they are set as the capability MSRs
    // require; every named control is as listed.
    func controlField<C: CaseIterable & RawRepresentable>(
      _ key: String, _ type: C.Type, _ allowed: AllowedSettings
    )
      -> UInt32? where C.RawValue == UInt32
    {
      let names = Self.names(type)
      guard let listed = mask(key, names) else { return nil }
      let named = names.values.reduce(0, |)
      return allowed.mustBeOne & ~named | listed
    }
    if let v = controlField("pin-based", PinBasedControl.self, caps.pinBased) { k.pinBased = v }
    if let v = controlField("primary", PrimaryControl.self, caps.primary) { k.primary = v }
    if let v = mask("secondary", Self.names(SecondaryControl.self)) { k.secondary = v }
    if let v = mask("exception-bitmap", Self.exceptionBits) { k.exceptionBitmap = v }
    if let n = m["page-fault-error-code-mask"], let v = r.number(n, "page-fault-error-code-mask") {
      k.pageFaultErrorCodeMask = UInt32(v)
    }
    if let n = m["page-fault-error-code-match"], let v = r.number(n, "page-fault-error-code-match") {
      k.pageFaultErrorCodeMatch = UInt32(v)
    }
    if let v = mask("cr0-guest-host-mask", Self.cr0Bits) { k.cr0GuestHostMask = v }
    if let v = mask("cr0-read-shadow", Self.cr0Bits) { k.cr0ReadShadow = v }
    if let v = mask("cr4-guest-host-mask", Self.cr4Bits) { k.cr4GuestHostMask = v }
    if let v = mask("cr4-read-shadow", Self.cr4Bits) { k.cr4ReadShadow = v }
    if let n = m["cr3-targets"], let items = r.list(n, "cr3-targets") {
      k.cr3Targets = items.compactMap { r.number($0, "cr3-targets").map(UInt32.init) }
    }
    if let n = m["io-exiting-ports"] { k.ioExitingPorts = ranges(n, "io-exiting-ports", maximum: 0xFFFF, &r) }
    if let n = m["msr-read-exiting"] {
      k.msrReadExiting = ranges(n, "msr-read-exiting", maximum: 0xFFFF_FFFF, &r)
    }
    if let n = m["msr-write-exiting"] {
      k.msrWriteExiting = ranges(n, "msr-write-exiting", maximum: 0xFFFF_FFFF, &r)
    }
    if let n = m["tsc-offset"], let v = r.number(n, "tsc-offset", maximum: .max) { k.tscOffset = v }
  }

  /// A list of `N` or `N-M` (inclusive).
  static func ranges(_ node: ModelNode, _ what: String, maximum: UInt64, _ r: inout ModelReader)
    -> [ClosedRange<UInt32>]
  {
    guard let items = r.list(node, what) else { return [] }
    var out: [ClosedRange<UInt32>] = []
    for item in items {
      guard let s = item.scalar else {
        r.report(item.location, "\(what): each entry is a number or a range N-M, not \(item.kind)")
        continue
      }
      let parts = s.split(separator: "-", omittingEmptySubsequences: false).map {
        ModelNode(value: .scalar($0.trimmingCharacters(in: .whitespaces)), location: item.location)
      }
      guard parts.count <= 2, let low = r.number(parts[0], what, maximum: maximum),
        let high = parts.count == 2 ? r.number(parts[1], what, maximum: maximum) : low
      else { continue }
      guard low <= high else {
        r.report(item.location, "\(what): range '\(s)' ends before it starts")
        continue
      }
      out.append(UInt32(low)...UInt32(high))
    }
    return out
  }

  static func readOwnership(_ node: ModelNode, into o: inout ControlOwnership, _ r: inout ModelReader) {
    guard let m = r.mapping(node, "owns:", allowed: ["source", "resources", "cr0", "cr4", "msrs"]) else {
      return
    }
    _ = r.string(m["source"], "source: of owns:", in: node)
    let resources = Dictionary(uniqueKeysWithValues: ControlResource.allCases.map { ($0.rawValue, $0) })
    if let n = m["resources"], let v = r.names(n, "resources", resources) { o.resources = Set(v) }
    if let n = m["cr0"], let v = r.names(n, "cr0", Self.cr0Bits) { o.cr0Mask = v.reduce(0, |) }
    if let n = m["cr4"], let v = r.names(n, "cr4", Self.cr4Bits) { o.cr4Mask = v.reduce(0, |) }
    if let n = m["msrs"] {
      if n.scalar == "all" {
        o.msrIndices = nil
      } else if let items = r.list(n, "msrs") {
        o.msrIndices = items.compactMap { item in
          guard let v = r.number(item, "msrs") else { return nil }
          if ModelSpecificRegister.at(UInt32(v)) == nil {
            r.report(
              item.location, "msrs: 0x\(String(v, radix: 16, uppercase: true)) is not an MSR of the model")
          }
          return UInt32(v)
        }
      }
    }
  }
}
