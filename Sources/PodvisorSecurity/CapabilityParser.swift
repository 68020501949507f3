import CCap
import Glibc
import PodvisorSpawn
import PodvisorSpec

/// `process.capabilities` through libcap's names.
///
/// Absent `process.capabilities` leaves the sets as the runtime has them, as runc does
/// (libcontainer's capabilities.New returns an empty Caps whose Apply* are no-ops): a config that
/// wants fewer must say so, and `podvisor spec` always does.
public enum CapabilityParser {
    /// runc's and Docker's default set, for callers that build configs (pods, `spec` variants).
    public static let defaultNames: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// The number of a capability name ("CAP_SYS_ADMIN" -> 21), or nil when libcap does not know it.
    public static func number(_ name: String) -> Int? {
        guard name.hasPrefix("CAP_"), name == name.uppercased(), name.count > 4 else { return nil }
        var value: cap_value_t = 0
        guard cap_from_name(name.lowercased(), &value) == 0, value >= 0, value < 64 else { return nil }
        return Int(value)
    }

    /// The highest capability the running kernel knows (bits above it are dropped, as runc warns and ignores).
    public static let kernelLast: Int = {
        if let text = try? String(contentsOfProcFile: "/proc/sys/kernel/cap_last_cap"), let value = Int(text) { return value }
        return 40
    }()

    /// The config's sets as the child applies them (bit N = capability N); nil when `process.capabilities` is
    /// absent (leave them as inherited).
    /// An unknown name is an error naming the field: `process.capabilities.bounding[2]: "CAP_NOPE": unknown capability`.
    public static func masks(_ caps: OCIProcess.Capabilities?, file: String) throws(SpecError) -> CapabilitySets? {
        guard let caps else { return nil }
        func mask(_ names: [String]?, _ set: String) throws(SpecError) -> UInt64 {
            var bits: UInt64 = 0
            for (index, name) in (names ?? []).enumerated() {
                guard let number = number(name) else {
                    throw SpecError(file: file, field: "process.capabilities.\(set)[\(index)]", value: name, reason: "unknown capability")
                }
                if number <= kernelLast { bits |= 1 << UInt64(number) }
            }
            return bits
        }
        var result = CapabilitySets(
            bounding: try mask(caps.bounding, "bounding"), effective: try mask(caps.effective, "effective"),
            permitted: try mask(caps.permitted, "permitted"), inheritable: try mask(caps.inheritable, "inheritable"),
            ambient: try mask(caps.ambient, "ambient"))
        // The kernel refuses an ambient capability that is not both permitted and inheritable;
        // runc warns and leaves it out, and so do we.
        result.ambient &= result.permitted & result.inheritable
        return result
    }

    /// Names of the bits in `mask`, for messages and the default seccomp profile's `includes.caps`.
    public static func names(_ mask: UInt64) -> [String] {
        (0..<64).compactMap { bit -> String? in
            guard mask & (1 << UInt64(bit)) != 0, let text = cap_to_name(cap_value_t(bit)) else { return nil }
            defer { cap_free(text) }
            return String(cString: text).uppercased()
        }
    }
}

extension String {
    /// A small /proc file, without Foundation.
    init(contentsOfProcFile path: String) throws(SpecError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SpecError(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw SpecError(file: path, reason: String(cString: strerror(errno))) }
        self = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: [" ", "\n"])
    }

    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
