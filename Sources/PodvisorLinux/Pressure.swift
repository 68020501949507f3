/// A PSI resource (kernel Documentation/accounting/psi.rst).
public enum PressureResource: String, Sendable, Codable, CaseIterable {
    case cpu, memory, io

    /// The file in a v2 cgroup directory (or in /proc/pressure).
    public var fileName: String { "\(rawValue).pressure" }
}

/// One line of a pressure file: the share of time (percent) some/all tasks stalled over 10/60/300 s, and the
/// cumulative stall time in microseconds.
public struct PressureLine: Sendable, Equatable, Codable {
    public var avg10: Double
    public var avg60: Double
    public var avg300: Double
    public var total: UInt64

    public init(avg10: Double = 0, avg60: Double = 0, avg300: Double = 0, total: UInt64 = 0) {
        self.avg10 = avg10
        self.avg60 = avg60
        self.avg300 = avg300
        self.total = total
    }
}

/// The contents of a cpu/memory/io.pressure file. `full` is nil where the kernel gives none.
public struct Pressure: Sendable, Equatable, Codable {
    public var some: PressureLine
    public var full: PressureLine?

    public init(some: PressureLine, full: PressureLine? = nil) {
        self.some = some
        self.full = full
    }

    /// Parses "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=... total=...".
    public static func parse(_ text: String, path: String = "pressure") throws(CgroupError) -> Pressure {
        var some: PressureLine?
        var full: PressureLine?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let kind = fields.first else { continue }
            var parsed = PressureLine()
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { throw .parse(path: path, detail: "bad field \"\(field)\"") }
                switch pair[0] {
                case "avg10": parsed.avg10 = Double(pair[1]) ?? 0
                case "avg60": parsed.avg60 = Double(pair[1]) ?? 0
                case "avg300": parsed.avg300 = Double(pair[1]) ?? 0
                case "total":
                    guard let total = UInt64(pair[1]) else {
                        throw .parse(path: path, detail: "bad total \"\(pair[1])\"")
                    }
                    parsed.total = total
                default: break
                }
            }
            if kind == "some" { some = parsed } else if kind == "full" { full = parsed }
        }
        guard let some else { throw .parse(path: path, detail: "no \"some\" line in \"\(text)\"") }
        return Pressure(some: some, full: full)
    }

    /// Reads a pressure file: `<cgroup dir>/cpu.pressure` or `/proc/pressure/cpu`.
    public static func read(_ path: String) throws(CgroupError) -> Pressure {
        let text: String
        do { text = try FileIO.read(path) } catch { throw .system(error) }
        return try parse(text, path: path)
    }
}
