import Glibc
import PodvisorLinux

/// One line of a recording: what one pool looked like at one time, and what the policy decided.
///
/// JSON (one object per line, keys in this order, absent ones omitted):
///   {"t":12.5,"pool":"web","replicas":3,
///    "pressure":{"cpu":{"some":0.12,"full":0.01},"memory":{"some":0,"full":0},"io":{"some":0,"full":0}},
///    "cpu_cores":2.1,"throttled":0,"instance_throttled":0.31,"accept_queue":4,
///    "decision":{"from":3,"to":4,"reason":"scale-up","text":"...","desired":5,"metric":0.12,"target":0.1},
///    "memory_high":{"from":268435456,"to":265751101,"reason":"memory-high-lower","text":"..."}}
/// t: the sampler's monotonic seconds. Shares are fractions of wall time (0.12 = 12%).
public struct RecordLine: Sendable, Equatable {
    public var time: Double
    public var pool: String
    public var replicas: Int
    public var cpuSome: Double
    public var cpuFull: Double
    public var memorySome: Double
    public var memoryFull: Double
    public var ioSome: Double
    public var ioFull: Double
    public var cpuCores: Double
    public var throttledShare: Double
    public var instanceThrottledShare: Double
    public var acceptQueue: Double?
    public var decision: Recorded?
    public var memoryHigh: Recorded?

    /// A decision as recorded (replicas, or memory.high bytes in from/to).
    public struct Recorded: Sendable, Equatable {
        public var from: Double
        public var to: Double
        public var reason: String
        public var text: String
        public var desired: Int?
        public var metric: Double?
        public var target: Double?

        public init(from: Double, to: Double, reason: String, text: String = "", desired: Int? = nil,
                    metric: Double? = nil, target: Double? = nil) {
            self.from = from
            self.to = to
            self.reason = reason
            self.text = text
            self.desired = desired
            self.metric = metric
            self.target = target
        }

        public var isChange: Bool { from != to }
    }

    public init(time: Double, pool: String, replicas: Int, cpuSome: Double = 0, cpuFull: Double = 0,
                memorySome: Double = 0, memoryFull: Double = 0, ioSome: Double = 0, ioFull: Double = 0,
                cpuCores: Double = 0, throttledShare: Double = 0, instanceThrottledShare: Double = 0,
                acceptQueue: Double? = nil, decision: Recorded? = nil, memoryHigh: Recorded? = nil) {
        self.time = time
        self.pool = pool
        self.replicas = replicas
        self.cpuSome = cpuSome
        self.cpuFull = cpuFull
        self.memorySome = memorySome
        self.memoryFull = memoryFull
        self.ioSome = ioSome
        self.ioFull = ioFull
        self.cpuCores = cpuCores
        self.throttledShare = throttledShare
        self.instanceThrottledShare = instanceThrottledShare
        self.acceptQueue = acceptQueue
        self.decision = decision
        self.memoryHigh = memoryHigh
    }

    /// The line for an observation and the decisions made from it (the pool's replicas decision and, if any, its
    /// memory.high decision are picked out of `decisions` by pool name).
    public init(observation o: PoolObservation, decisions: [Decision] = []) {
        self.init(time: o.time, pool: o.pool, replicas: o.replicas, cpuSome: o.cpuSome, cpuFull: o.cpuFull,
                  memorySome: o.memorySome, memoryFull: o.memoryFull, ioSome: o.ioSome, ioFull: o.ioFull,
                  cpuCores: o.cpuCores, throttledShare: o.throttledShare,
                  instanceThrottledShare: o.meanInstanceThrottledShare, acceptQueue: o.acceptQueue)
        for d in decisions where d.pool == o.pool {
            if let change = d.memoryHigh {
                memoryHigh = Recorded(from: Double(change.from ?? 0), to: Double(change.to), reason: d.reason.rawValue,
                                      text: d.text)
            } else {
                decision = Recorded(from: Double(d.from), to: Double(d.to), reason: d.reason.rawValue, text: d.text,
                                    desired: d.inputs.desired, metric: d.inputs.metric, target: d.inputs.target)
            }
        }
    }

    public var json: JSONValue {
        func pair(_ some: Double, _ full: Double) -> JSONValue {
            .object([("some", .number(some)), ("full", .number(full))])
        }
        var fields: [(String, JSONValue)] = [
            ("t", .number(time)), ("pool", .string(pool)), ("replicas", .number(Double(replicas))),
            ("pressure", .object([("cpu", pair(cpuSome, cpuFull)), ("memory", pair(memorySome, memoryFull)),
                                  ("io", pair(ioSome, ioFull))])),
            ("cpu_cores", .number(cpuCores)), ("throttled", .number(throttledShare)),
            ("instance_throttled", .number(instanceThrottledShare)),
        ]
        if let acceptQueue { fields.append(("accept_queue", .number(acceptQueue))) }
        func recorded(_ r: Recorded) -> JSONValue {
            var f: [(String, JSONValue)] = [("from", .number(r.from)), ("to", .number(r.to)),
                                            ("reason", .string(r.reason)), ("text", .string(r.text))]
            if let d = r.desired { f.append(("desired", .number(Double(d)))) }
            if let m = r.metric { f.append(("metric", .number(m))) }
            if let t = r.target { f.append(("target", .number(t))) }
            return .object(f)
        }
        if let decision { fields.append(("decision", recorded(decision))) }
        if let memoryHigh { fields.append(("memory_high", recorded(memoryHigh))) }
        return .object(fields)
    }

    public var jsonLine: String { json.text }

    /// Parses one recorded line (missing numbers count as 0).
    public init(jsonLine: String) throws(JSONValue.ParseError) {
        let v = try JSONValue.parse(jsonLine)
        guard let time = v["t"]?.double, let pool = v["pool"]?.string else {
            throw JSONValue.ParseError(offset: 0, detail: "a record needs \"t\" and \"pool\"")
        }
        func share(_ resource: String, _ kind: String) -> Double { v["pressure"]?[resource]?[kind]?.double ?? 0 }
        func recorded(_ r: JSONValue?) -> Recorded? {
            guard let r, let from = r["from"]?.double, let to = r["to"]?.double else { return nil }
            return Recorded(from: from, to: to, reason: r["reason"]?.string ?? "", text: r["text"]?.string ?? "",
                            desired: r["desired"]?.double.map { Int($0) }, metric: r["metric"]?.double,
                            target: r["target"]?.double)
        }
        self.init(time: time, pool: pool, replicas: Int(v["replicas"]?.double ?? 0),
                  cpuSome: share("cpu", "some"), cpuFull: share("cpu", "full"),
                  memorySome: share("memory", "some"), memoryFull: share("memory", "full"),
                  ioSome: share("io", "some"), ioFull: share("io", "full"),
                  cpuCores: v["cpu_cores"]?.double ?? 0, throttledShare: v["throttled"]?.double ?? 0,
                  instanceThrottledShare: v["instance_throttled"]?.double ?? 0,
                  acceptQueue: v["accept_queue"]?.double,
                  decision: recorded(v["decision"]), memoryHigh: recorded(v["memory_high"]))
    }
}

/// Appends JSON lines to a file: one line per pool per evaluation, written with one write(2) per call
/// (O_APPEND, so lines from one call are never interleaved with another writer's).
public final class Recorder {
    public let path: String
    private var fd: Int32

    /// Opens (creating, mode 0644) `path`; `truncate` starts it afresh, else lines are appended.
    public init(path: String, truncate: Bool = false) throws(SystemError) {
        self.path = path
        let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0)
        fd = Glibc.open(path, flags, 0o644)
        if fd < 0 { throw SystemError("open", path) }
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    /// One line per observation, each with its pool's decisions.
    public func record(observations: [PoolObservation], decisions: [Decision]) throws(SystemError) {
        try record(observations.map { RecordLine(observation: $0, decisions: decisions) })
    }

    public func record(_ lines: [RecordLine]) throws(SystemError) {
        guard !lines.isEmpty else { return }
        var text = ""
        for line in lines {
            text += line.jsonLine
            text += "\n"
        }
        var remaining = text
        let failure: SystemError? = remaining.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = retryingOnEINTR { Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset) }
                if n < 0 { return SystemError("write", path) }
                offset += n
            }
            return nil
        }
        if let failure { throw failure }
    }
}
