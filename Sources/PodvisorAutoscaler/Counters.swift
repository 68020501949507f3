/// Cumulative kernel counters and the allocation-free parsers that read them from raw file bytes.
///
/// PSI `total=` values and cpu.stat fields are monotonically increasing; the sampler keeps successive readings and
/// turns differences into rates (`PoolRates`). A counter that goes backwards (cgroup re-created) yields no rate.

/// The cumulative stall time of one pressure file (cpu.pressure, memory.pressure, io.pressure), in microseconds.
public struct PressureCounters: Sendable, Equatable {
    public var someUsec: UInt64
    /// nil where the kernel gives no "full" line (older kernels' cpu.pressure).
    public var fullUsec: UInt64?

    public init(someUsec: UInt64, fullUsec: UInt64? = nil) {
        self.someUsec = someUsec
        self.fullUsec = fullUsec
    }
}

/// The cpu.stat fields the autoscaler uses. v2 names usage_usec, nr_periods, nr_throttled, throttled_usec;
/// v1's cpu.stat has throttled_time in nanoseconds (converted here) and no usage (that is cpuacct.usage).
public struct CPUCounters: Sendable, Equatable {
    public var usageUsec: UInt64?
    public var periods: UInt64?
    public var throttledPeriods: UInt64?
    public var throttledUsec: UInt64?

    public init(usageUsec: UInt64? = nil, periods: UInt64? = nil, throttledPeriods: UInt64? = nil,
                throttledUsec: UInt64? = nil) {
        self.usageUsec = usageUsec
        self.periods = periods
        self.throttledPeriods = throttledPeriods
        self.throttledUsec = throttledUsec
    }

    /// Takes each field from `other` where this one has none (v2 usage + v1 throttling on hybrid hosts).
    public func filling(from other: CPUCounters) -> CPUCounters {
        CPUCounters(usageUsec: usageUsec ?? other.usageUsec, periods: periods ?? other.periods,
                    throttledPeriods: throttledPeriods ?? other.throttledPeriods,
                    throttledUsec: throttledUsec ?? other.throttledUsec)
    }
}

/// Byte-level parsers over a buffer filled by pread(2). They allocate nothing.
public enum CounterParser {
    /// "some avg10=0.00 avg60=0.00 avg300=0.00 total=123\nfull avg10=... total=45\n" -> (123, 45).
    /// nil when there is no "some" line with a total.
    public static func pressure(_ bytes: UnsafeRawBufferPointer) -> PressureCounters? {
        var some: UInt64?
        var full: UInt64?
        var lineStart = 0
        let count = bytes.count
        while lineStart < count {
            var lineEnd = lineStart
            while lineEnd < count && bytes[lineEnd] != 10 { lineEnd += 1 }
            if lineEnd - lineStart > 4 {
                let isSome = has(bytes, at: lineStart, "some ")
                let isFull = !isSome && has(bytes, at: lineStart, "full ")
                if isSome || isFull, let total = value(after: "total=", in: bytes, from: lineStart, to: lineEnd) {
                    if isSome { some = total } else { full = total }
                }
            }
            lineStart = lineEnd + 1
        }
        guard let some else { return nil }
        return PressureCounters(someUsec: some, fullUsec: full)
    }

    /// cpu.stat ("key value" lines), v2 or v1.
    public static func cpuStat(_ bytes: UnsafeRawBufferPointer) -> CPUCounters {
        var result = CPUCounters()
        var lineStart = 0
        let count = bytes.count
        while lineStart < count {
            var lineEnd = lineStart
            while lineEnd < count && bytes[lineEnd] != 10 { lineEnd += 1 }
            var space = lineStart
            while space < lineEnd && bytes[space] != 32 { space += 1 }
            if space < lineEnd, let number = digits(bytes, from: space + 1, to: lineEnd) {
                let keyLength = space - lineStart
                if keyLength == 10 && has(bytes, at: lineStart, "usage_usec") {
                    result.usageUsec = number
                } else if keyLength == 10 && has(bytes, at: lineStart, "nr_periods") {
                    result.periods = number
                } else if keyLength == 12 && has(bytes, at: lineStart, "nr_throttled") {
                    result.throttledPeriods = number
                } else if keyLength == 14 && has(bytes, at: lineStart, "throttled_usec") {
                    result.throttledUsec = number
                } else if keyLength == 14 && has(bytes, at: lineStart, "throttled_time") {
                    result.throttledUsec = number / 1000  // v1: nanoseconds
                }
            }
            lineStart = lineEnd + 1
        }
        return result
    }

    /// A file holding one number (cpuacct.usage, in ns; memory.current; cpu.cfs_quota_us may be "-1").
    public static func number(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var end = bytes.count
        while end > 0 && (bytes[end - 1] == 10 || bytes[end - 1] == 32) { end -= 1 }
        if end > 0 && bytes[0] == UInt8(ascii: "-") {
            return digits(bytes, from: 1, to: end).map { -Int64(clamping: $0) }
        }
        return digits(bytes, from: 0, to: end).map { Int64(clamping: $0) }
    }

    /// v2 cpu.max ("max 100000" or "50000 100000") -> cores; nil when unlimited or unparsable.
    public static func cpuMax(_ bytes: UnsafeRawBufferPointer) -> Double? {
        var space = 0
        while space < bytes.count && bytes[space] != 32 { space += 1 }
        guard let quota = digits(bytes, from: 0, to: space) else { return nil }
        var end = bytes.count
        while end > space && (bytes[end - 1] == 10 || bytes[end - 1] == 32) { end -= 1 }
        guard let period = digits(bytes, from: space + 1, to: end), period > 0 else { return nil }
        return Double(quota) / Double(period)
    }

    // MARK: - Convenience for tests and one-off reads

    public static func pressure(_ text: String) -> PressureCounters? {
        var copy = text
        return copy.withUTF8 { pressure(UnsafeRawBufferPointer($0)) }
    }

    public static func cpuStat(_ text: String) -> CPUCounters {
        var copy = text
        return copy.withUTF8 { cpuStat(UnsafeRawBufferPointer($0)) }
    }

    // MARK: - Pieces

    @inline(__always)
    static func has(_ bytes: UnsafeRawBufferPointer, at offset: Int, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard offset + n <= bytes.count else { return false }
        let start = literal.utf8Start
        for i in 0..<n where bytes[offset + i] != start[i] { return false }
        return true
    }

    /// The decimal number following `key` within [from, to).
    static func value(after key: StaticString, in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> UInt64? {
        let n = key.utf8CodeUnitCount
        var i = from
        while i + n <= to {
            if has(bytes, at: i, key) {
                var end = i + n
                while end < to && bytes[end] >= 48 && bytes[end] <= 57 { end += 1 }
                return digits(bytes, from: i + n, to: end)
            }
            i += 1
        }
        return nil
    }

    /// Parses [from, to) as a non-negative decimal; nil if empty or not all digits.
    static func digits(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> UInt64? {
        guard from < to else { return nil }
        var result: UInt64 = 0
        for i in from..<to {
            let c = bytes[i]
            guard c >= 48 && c <= 57 else { return nil }
            let (m, o1) = result.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            result = s
        }
        return result
    }
}
