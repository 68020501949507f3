import FoundationEssentials
import Glibc
import PodvisorLinux

/// A pod's lifecycle as its supervisor reports it.
public enum PodState: String, Codable, Sendable {
    case starting, running, stopping, stopped, failed
    /// The supervisor died without stopping the pod (its processes went with it).
    case lost
}

/// What `<root>/pods/<name>/pod.json` holds: enough to find and clean the pod without its supervisor.
public struct PodRecord: Codable, Sendable, Equatable {
    public var name: String
    public var release: String
    public var bundle: String
    public var created: String
    public var state: PodState
    public var failure: String?
    public var supervisorPID: Int32
    public var supervisorStartTime: UInt64?
    public var sandboxPID: Int32?
    public var cgroup: PodCgroupRecord?
}

/// The pod's cgroup directories, persisted so that `pod rm` can clean up after a lost supervisor.
public struct PodCgroupRecord: Codable, Sendable, Equatable {
    public var v2: String?
    public var v1: [String: String]
    public var prunable: [String]
}

/// One line of `pod events`: every start, exit, restart, scaling decision and failure.
public struct PodEvent: Codable, Sendable, Equatable {
    public var time: String
    public var kind: String
    public var message: String
    public var instance: String?

    public init(time: String, kind: String, message: String, instance: String? = nil) {
        self.time = time
        self.kind = kind
        self.message = message
        self.instance = instance
    }

    /// The event as one JSON line (sorted keys, as JSONEncoder writes them), without Foundation's encoder:
    /// the supervisor writes a few per instance start.
    public var jsonLine: String {
        var out = "{"
        if let instance {
            out += "\"instance\":"
            JSONString.write(instance, to: &out)
            out += ","
        }
        out += "\"kind\":"
        JSONString.write(kind, to: &out)
        out += ",\"message\":"
        JSONString.write(message, to: &out)
        out += ",\"time\":"
        JSONString.write(time, to: &out)
        return out + "}\n"
    }
}

/// `pod inspect` and `pod ps`: the pod and its pools as the supervisor sees them now.
public struct PodStatus: Codable, Sendable {
    public var name: String
    public var release: String
    public var state: PodState
    public var failure: String?
    public var created: String
    public var supervisorPID: Int32
    public var sandboxPID: Int32?
    public var pools: [PoolStatus]
}

public struct PoolStatus: Codable, Sendable {
    public var name: String
    public var desired: Int
    public var minimum: Int
    public var maximum: Int
    public var sockets: [String]
    public var instances: [InstanceStatus]
}

public struct InstanceStatus: Codable, Sendable {
    public var id: String
    public var pid: Int32?
    public var state: String
    public var ready: Bool
    public var failures: Int
    public var restarts: Int
    /// Filled by `top`: CPU seconds used so far, memory in bytes, cpu some-pressure (avg10, %).
    public var cpu: Double?
    public var memory: Int64?
    public var cpuPressure: Double?
}

/// A request on the control socket: one JSON line.
public struct ControlRequest: Codable, Sendable {
    public enum Operation: String, Codable, Sendable { case inspect, top, scale, stop, events, autoscale }
    public var op: Operation
    public var service: String?
    public var replicas: Int?
    public var follow: Bool?
    /// `autoscale`: a new target for the service's metric (its manifest metric, or cpu_pressure), or off.
    public var target: Double?
    public var enabled: Bool?

    public init(op: Operation, service: String? = nil, replicas: Int? = nil, follow: Bool? = nil,
                target: Double? = nil, enabled: Bool? = nil) {
        self.op = op
        self.service = service
        self.replicas = replicas
        self.follow = follow
        self.target = target
        self.enabled = enabled
    }
}

/// A reply line: a status, an event, or an error.
public struct ControlReply: Codable, Sendable {
    public var ok: Bool
    public var error: String?
    public var status: PodStatus?
    public var event: PodEvent?

    public init(ok: Bool = true, error: String? = nil, status: PodStatus? = nil, event: PodEvent? = nil) {
        self.ok = ok
        self.error = error
        self.status = status
        self.event = event
    }
}

/// Errors of the pod runtime, each one line a user can act on.
public struct PodError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

enum JSONLine {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ((try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }

    static func decode<T: Decodable>(_ type: T.Type, _ line: some StringProtocol) -> T? {
        try? JSONDecoder().decode(type, from: Data(line.utf8))
    }
}

/// Wall-clock time for humans (RFC 3339) and a monotonic clock for the supervisor.
enum Clock {
    static func monotonic() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func timestamp() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int(time.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
