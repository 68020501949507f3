import FoundationEssentials

public enum ContainerStatus: String, Codable, Sendable, Equatable, CaseIterable {
    case creating, created, running, stopped, paused
}

/// The `state` command's JSON, field for field as runc prints it.
public struct OCIState: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var id: String
    public var pid: Int
    public var status: ContainerStatus
    public var bundle: String
    public var rootfs: String
    /// RFC 3339 with nanoseconds, UTC, e.g. "2024-05-01T10:00:00.123456789Z".
    public var created: String
    public var annotations: [String: String]?
    public var owner: String

    public init(ociVersion: String = OCIConfig.specVersion, id: String, pid: Int, status: ContainerStatus,
                bundle: String, rootfs: String, created: String, annotations: [String: String]? = nil,
                owner: String = "") {
        self.ociVersion = ociVersion
        self.id = id
        self.pid = pid
        self.status = status
        self.bundle = bundle
        self.rootfs = rootfs
        self.created = created
        self.annotations = annotations
        self.owner = owner
    }

    /// Pretty-printed JSON as `runc state` prints it.
    public func jsonData() -> Data { encodeSpecJSON(self) }

    /// Formats a UTC timestamp as Go's time.RFC3339Nano does (trailing zeros of the
    /// fraction dropped), e.g. `rfc3339(seconds: 0, nanoseconds: 5)` is "1970-01-01T00:00:00.000000005Z".
    public static func rfc3339(seconds: Int64, nanoseconds: Int = 0) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secOfDay = seconds - days * 86400
        // Civil-from-days (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var out = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
            + "\(pad(secOfDay / 3600, 2)):\(pad(secOfDay / 60 % 60, 2)):\(pad(secOfDay % 60, 2))"
        if nanoseconds > 0 {
            var fraction = pad(Int64(nanoseconds % 1_000_000_000), 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            out += "." + fraction
        }
        return out + "Z"
    }
}
