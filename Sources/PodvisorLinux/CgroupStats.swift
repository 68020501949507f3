/// Counters of limit events.
/// v2: memory.events (oom, oom_kill, max, high) and pids.events (max).
/// v1: oomKill from memory.oom_control's oom_kill; oom = oomKill (v1 counts no OOM events apart from kills);
/// max = the larger of memory.failcnt and memory.memsw.failcnt (times a charge hit the limit); high = 0; pidsMax from pids.events.
public struct CgroupEvents: Sendable, Equatable, Codable {
    public var oom: UInt64 = 0
    public var oomKill: UInt64 = 0
    public var max: UInt64 = 0
    public var high: UInt64 = 0
    public var pidsMax: UInt64 = 0

    public init(oom: UInt64 = 0, oomKill: UInt64 = 0, max: UInt64 = 0, high: UInt64 = 0, pidsMax: UInt64 = 0) {
        self.oom = oom
        self.oomKill = oomKill
        self.max = max
        self.high = high
        self.pidsMax = pidsMax
    }
}

/// Usage figures. nil where this host has no file for it.
public struct CgroupStats: Sendable, Equatable, Codable {
    public var cpuUsageUsec: UInt64?
    public var cpuUserUsec: UInt64?
    public var cpuSystemUsec: UInt64?
    public var cpuPeriods: UInt64?
    public var cpuThrottled: UInt64?
    public var cpuThrottledUsec: UInt64?
    public var memoryCurrent: UInt64?
    public var memoryMax: UInt64?
    public var pidsCurrent: UInt64?

    public init() {}
}

/// "key value" lines (cpu.stat, memory.events, pids.events, memory.oom_control, cgroup.events).
enum FlatKeyed {
    static func parse(_ text: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = UInt64(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }
}
