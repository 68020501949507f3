#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a scalar could not be read as a duration, size, cpu amount or signal.
public struct ValueError: Error, Sendable, Equatable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

extension Duration {
    /// Whole nanoseconds (durations here are never below 1ns nor above ~292 years).
    public var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}

/// The manifest's scalar formats, usable for command-line flags as well.
public enum ManifestValues {
    /// Go-style durations: one or more number+unit pairs, units ns, us (µs), ms, s, m, h;
    /// decimals allowed ("1.5s", "1m30s", "250ms"); "0" alone is zero. Not negative.
    public static func duration(_ text: String) throws(ValueError) -> Duration {
        let bad = ValueError("expected a duration such as 250ms, 5s, 1.5s, 1m")
        let s = Array(text.trimmingWhitespace.unicodeScalars)
        if s == ["0"] { return .zero }
        guard !s.isEmpty else { throw bad }
        var total: Int64 = 0
        var i = 0
        while i < s.count {
            var intPart: Int64 = 0, frac: [Int64] = [], sawDigit = false
            while i < s.count, let d = s[i].digit {
                let (m, o1) = intPart.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(d))
                if o1 || o2 { throw ValueError("duration is too large") }
                intPart = a; sawDigit = true; i += 1
            }
            if i < s.count, s[i] == "." {
                i += 1
                while i < s.count, let d = s[i].digit { if frac.count < 18 { frac.append(Int64(d)) }; sawDigit = true; i += 1 }
            }
            guard sawDigit else { throw bad }
            var unit = ""
            while i < s.count, s[i].digit == nil, s[i] != "." { unit.unicodeScalars.append(s[i]); i += 1 }
            let scale: Int64
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1_000
            case "ms": scale = 1_000_000
            case "s": scale = 1_000_000_000
            case "m": scale = 60_000_000_000
            case "h": scale = 3_600_000_000_000
            case "": throw ValueError("duration needs a unit (ns, us, ms, s, m, h), e.g. \(text.trimmingWhitespace)s")
            default: throw ValueError("unknown duration unit \"\(unit)\" (use ns, us, ms, s, m, h)")
            }
            let (whole, o1) = intPart.multipliedReportingOverflow(by: scale)
            var fracNanos: Int64 = 0
            var place = scale
            for d in frac {
                place /= 10
                if place == 0 { break }
                fracNanos += d * place
            }
            let (sum, o2) = total.addingReportingOverflow(whole)
            let (sum2, o3) = sum.addingReportingOverflow(fracNanos)
            if o1 || o2 || o3 { throw ValueError("duration is too large") }
            total = sum2
        }
        return .nanoseconds(total)
    }

    /// Bytes: an integer, or a number with a suffix: K/k, M, G, T, P, E (powers of 1000) or
    /// Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), as in Kubernetes ("64Mi", "1.5Gi", "512M").
    public static func size(_ text: String) throws(ValueError) -> Int64 {
        let t = text.trimmingWhitespace
        let bad = ValueError("expected a size such as 64Mi, 1Gi, 512M or a number of bytes")
        var number = Substring(t)
        var multiplier: Int64 = 1
        let suffixes: [(String, Int64)] = [
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50), ("Ei", 1 << 60),
            ("k", 1_000), ("K", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
            ("P", 1_000_000_000_000_000), ("E", 1_000_000_000_000_000_000),
        ]
        for (suffix, m) in suffixes where t.hasSuffix(suffix) {
            number = t.dropLast(suffix.count)
            multiplier = m
            break
        }
        guard let (whole, frac, digits) = decimal(number), whole >= 0 else {
            if number.first == "-" { throw ValueError("a size cannot be negative") }
            if let last = t.unicodeScalars.last, last.properties.isAlphabetic, number == Substring(t) {
                throw ValueError("unknown size suffix in \"\(t)\" (use Ki, Mi, Gi, Ti or K, M, G, T)")
            }
            throw bad
        }
        if multiplier == 1 && digits > 0 { throw ValueError("a number of bytes must be whole") }
        if digits == 0 {
            let (v, overflow) = whole.multipliedReportingOverflow(by: multiplier)
            guard !overflow else { throw ValueError("size is too large") }
            return v
        }
        let value = (Double(whole) + Double(frac) / pow10(digits)) * Double(multiplier)
        guard value < 9.2e18 else { throw ValueError("size is too large") }
        return Int64(value)
    }

    /// CPU in millicores: a number of cores ("1.5", 0.25) or millicores ("500m").
    public static func cpu(_ text: String) throws(ValueError) -> Int {
        let t = text.trimmingWhitespace
        let bad = ValueError("expected cpu cores such as 0.5, 2 or millicores such as 500m")
        if t.hasSuffix("m") {
            guard let (whole, _, digits) = decimal(t.dropLast()), digits == 0 else { throw bad }
            guard whole > 0 else { throw ValueError("cpu must be more than 0") }
            return Int(whole)
        }
        guard let (whole, frac, digits) = decimal(Substring(t)) else { throw bad }
        guard whole < 1_000_000 else { throw ValueError("cpu is too large") }
        var milli = Int(whole) * 1000
        var f = frac, d = digits
        while d > 3 {
            if f % 10 != 0 { throw ValueError("cpu is finer than 1m (0.001 cores)") }
            f /= 10; d -= 1
        }
        while d < 3 { f *= 10; d += 1 }
        milli += Int(f)
        guard milli > 0 else { throw ValueError("cpu must be more than 0") }
        return milli
    }

    /// Known signal names with and without "SIG", any case; or a number 1...64.
    /// Returns the number and the name without "SIG" (the number as text when unnamed).
    public static func signal(_ text: String) throws(ValueError) -> (number: Int32, name: String) {
        let t = text.trimmingWhitespace
        if let n = Int32(t) {
            guard (1...64).contains(n) else { throw ValueError("signal number must be 1...64") }
            return (n, signalNames.first { $0.1 == n }?.0 ?? t)
        }
        var name = t.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        guard let entry = signalNames.first(where: { $0.0 == name }) else {
            throw ValueError("unknown signal (use TERM, INT, QUIT, HUP, KILL, USR1, USR2... or a number)")
        }
        return (entry.1, entry.0)
    }

    static let signalNames: [(String, Int32)] = [
        ("TERM", SIGTERM), ("INT", SIGINT), ("QUIT", SIGQUIT), ("HUP", SIGHUP), ("KILL", SIGKILL),
        ("USR1", SIGUSR1), ("USR2", SIGUSR2), ("ABRT", SIGABRT), ("ALRM", SIGALRM), ("PIPE", SIGPIPE),
        ("WINCH", SIGWINCH), ("PWR", SIGPWR), ("STOP", SIGSTOP), ("CONT", SIGCONT),
    ]

    /// "12.345" -> (12, 345, 3). Digits only, optional single dot; nil otherwise.
    static func decimal(_ s: Substring) -> (Int64, Int64, Int)? {
        var whole: Int64 = 0, frac: Int64 = 0, digits = 0, seenDot = false, any = false
        for u in s.unicodeScalars {
            if u == "." {
                if seenDot { return nil }
                seenDot = true
            } else if let d = u.digit {
                any = true
                if seenDot {
                    if digits < 15 { frac = frac * 10 + Int64(d); digits += 1 }
                } else {
                    let (m, o1) = whole.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(Int64(d))
                    if o1 || o2 { return nil }
                    whole = a
                }
            } else {
                return nil
            }
        }
        return any ? (whole, frac, digits) : nil
    }

    static func pow10(_ n: Int) -> Double {
        var r = 1.0
        for _ in 0..<n { r *= 10 }
        return r
    }

    /// "2.5s", "100ms", "1m30s": the shortest rendering for messages.
    public static func format(_ d: Duration) -> String {
        let ns = d.nanoseconds
        if ns == 0 { return "0s" }
        if ns % 1_000_000_000 == 0 {
            let s = ns / 1_000_000_000
            if s % 3600 == 0 { return "\(s / 3600)h" }
            if s % 60 == 0 { return "\(s / 60)m" }
            return "\(s)s"
        }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        if ns % 1_000 == 0 { return "\(ns / 1_000)us" }
        return "\(ns)ns"
    }

    /// "64Mi", "1Gi", "1500" (bytes): the binary suffix when exact.
    public static func format(bytes: Int64) -> String {
        for (suffix, shift) in [("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
            let unit = Int64(1) << shift
            if bytes >= unit && bytes % unit == 0 { return "\(bytes / unit)\(suffix)" }
        }
        return "\(bytes)"
    }
}

extension Unicode.Scalar {
    var digit: Int? { value >= 0x30 && value <= 0x39 ? Int(value - 0x30) : nil }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
