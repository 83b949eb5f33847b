/// Traces of a run in the Chrome/Perfetto trace-event format (JSON), on the virtual clock: one
/// tick is one guest instruction (DESIGN.md decision 10), written as one microsecond so that
/// viewers show it. Monitor events are instants on a track per kind; durations will come from CPU
/// profiles (the Simulator), not from here.
import ISAModel

public final class TraceRecorder {
  /// At most this many events are kept; the rest are counted as dropped (the file says so).
  public let capacity: Int
  public private(set) var dropped = 0
  private var events: [String] = []

  public init(capacity: Int = 1_000_000) { self.capacity = capacity }

  /// The tracks, as (thread id, name).
  static let tracks: [(Int, String)] = [
    (1, "monitor entries"), (2, "emulation"), (3, "paging"), (4, "interrupts"), (5, "devices"), (6, "run"),
  ]

  public var count: Int { events.count }

  /// Records one monitor event at guest clock `clock`.
  public func record(_ e: MonitorEvent, at clock: UInt64) {
    let (track, name, category, args): (Int, String, String, [(String, String)]) =
      switch e {
      case .entry(let vector, let code, let eip):
        (
          1, "entry " + Self.vectorName(vector), "entry",
          [("eip", hex32(eip))] + (code.map { [("error", hex32($0))] } ?? [])
        )
      case .emulated(let m, let eip, let reason):
        (2, "emulate \(m)", "emulate.\(reason.rawValue)", [("eip", hex32(eip))])
      case .reflected(let f, let eip): (1, "reflect \(f)", "reflect", [("eip", hex32(eip))])
      case .hiddenPageFault(let linear): (3, "hidden #PF", "paging", [("linear", hex32(linear))])
      case .truePageFault(let linear): (3, "true #PF", "paging", [("linear", hex32(linear))])
      case .shadow(let op): (3, "shadow \(op.rawValue)", "shadow", [])
      case .virtualInterrupt(let v): (4, "deliver \(v)", "interrupt", [("vector", String(v))])
      case .interruptHeld(let v): (4, "hold \(v)", "interrupt", [("vector", String(v))])
      case .deviceAccess(let port, let write, let size):
        (
          5, (write ? "out " : "in ") + "0x" + String(port, radix: 16, uppercase: true), "device",
          [("size", String(size.bytes))]
        )
      }
    instant(track: track, name: name, category: category, at: clock, args: args)
  }

  /// An instant event.
  public func instant(
    track: Int, name: String, category: String, at clock: UInt64, args: [(String, String)] = []
  ) {
    guard events.count < capacity else {
      dropped += 1
      return
    }
    events.append(
      "{\"name\":\(Self.quote(name)),\"cat\":\(Self.quote(category)),\"ph\":\"i\",\"s\":\"t\",\"ts\":\(clock),"
        + "\"pid\":1,\"tid\":\(track),\"args\":{"
        + args.map { "\(Self.quote($0.0)):\(Self.quote($0.1))" }.joined(separator: ",") + "}}")
  }

  /// A span of the clock (a whole run).
  public func span(
    track: Int, name: String, from start: UInt64, to end: UInt64, args: [(String, String)] = []
  ) {
    events.append(
      "{\"name\":\(Self.quote(name)),\"cat\":\"run\",\"ph\":\"X\",\"ts\":\(start),\"dur\":\(end &- start),"
        + "\"pid\":1,\"tid\":\(track),\"args\":{"
        + args.map { "\(Self.quote($0.0)):\(Self.quote($0.1))" }.joined(separator: ",") + "}}")
  }

  /// The trace as a JSON document (`{"traceEvents": […], …}`).
  public func json(guest: String, mode: String) -> String {
    var all = [
      "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\(Self.quote("\(guest) (\(mode))"))}}"
    ]
    for (tid, name) in Self.tracks {
      all.append(
        "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":\(tid),\"args\":{\"name\":\(Self.quote(name))}}"
      )
    }
    all += events
    return
      "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"clock\":\"guest instructions retired (1 tick shown as 1 us)\","
      + "\"schema\":\"virtlab.trace/1\",\"dropped\":\(dropped)},\"traceEvents\":[\n"
      + all.joined(separator: ",\n") + "\n]}\n"
  }

  static func vectorName(_ v: UInt8) -> String {
    v < 32 ? (Exception(rawValue: v).map { "\($0)" } ?? "vector \(v)") : "interrupt \(v)"
  }

  static func quote(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
      switch c {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      default:
        if c.value < 0x20 {
          out += "\\u00" + (c.value < 0x10 ? "0" : "") + String(c.value, radix: 16)
        } else {
          out.unicodeScalars.append(c)
        }
      }
    }
    return out + "\""
  }
}
