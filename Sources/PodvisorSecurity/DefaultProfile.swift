import FoundationEssentials
import Glibc
import PodvisorSpec

/// The default seccomp profile (Profiles/seccomp/default.json, embedded at build time), resolved
/// for one container: rules with `includes`/`excludes` are kept or dropped against the container's
/// bounding set, the native architecture and the running kernel, as moby does.
///
/// OCI semantics stay: a config without `linux.seccomp` gets no filter. `podvisor spec` writes this
/// profile into the config it generates, and pods use it by default.
public enum DefaultProfile {
    /// The profile with its conditions resolved for a container whose bounding set holds `capabilities`.
    public static func seccomp(for capabilities: [String]) -> OCISeccomp {
        seccomp(for: Set(capabilities), architecture: nativeArchitecture, kernel: kernelVersion)
    }

    /// As above, from `process.capabilities`. Absent capabilities are inherited (see CapabilityParser):
    /// all of them, so every capability-conditional rule applies.
    public static func seccomp(for capabilities: OCIProcess.Capabilities?) -> OCISeccomp {
        guard let capabilities else { return seccomp(for: CapabilityParser.names(~0)) }
        return seccomp(for: capabilities.bounding ?? [])
    }

    static func seccomp(for capabilities: Set<String>, architecture: String, kernel: (Int, Int)) -> OCISeccomp {
        let profile = parsed
        func applies(_ condition: Profile.Condition?, whenMatched: Bool) -> Bool {
            guard let condition else { return true }
            // includes: every listed capability present, the native arch listed, the kernel new enough.
            // excludes: any listed capability present or the native arch listed drops the rule.
            if whenMatched {
                if let caps = condition.caps, !caps.allSatisfy(capabilities.contains) { return false }
                if let arches = condition.arches, !arches.contains(architecture) { return false }
                if let minimum = condition.minKernel.flatMap(parseVersion), kernel < minimum { return false }
                return true
            }
            if let caps = condition.caps, caps.contains(where: capabilities.contains) { return false }
            if let arches = condition.arches, arches.contains(architecture) { return false }
            return true
        }
        let syscalls = profile.syscalls.filter {
            applies($0.includes, whenMatched: true) && applies($0.excludes, whenMatched: false)
        }.map { OCISeccomp.Syscall(names: $0.names, action: $0.action, errnoRet: $0.errnoRet, args: $0.args) }
        return OCISeccomp(defaultAction: profile.defaultAction, defaultErrnoRet: profile.defaultErrnoRet,
                          architectures: profile.archMap[architecture] ?? [architecture], syscalls: syscalls)
    }

    /// The profile as written (conditions unresolved).
    static let parsed: Profile = {
        do {
            return try JSONDecoder().decode(Profile.self, from: Data(defaultSeccompProfileJSON.utf8))
        } catch {
            fatalError("the embedded default seccomp profile does not decode: \(error)")
        }
    }()

    static var nativeArchitecture: String {
        #if arch(x86_64)
        return "SCMP_ARCH_X86_64"
        #elseif arch(arm64)
        return "SCMP_ARCH_AARCH64"
        #elseif arch(powerpc64le)
        return "SCMP_ARCH_PPC64LE"
        #elseif arch(s390x)
        return "SCMP_ARCH_S390X"
        #else
        return "SCMP_ARCH_RISCV64"
        #endif
    }

    static var kernelVersion: (Int, Int) {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return parseVersion(release) ?? (0, 0)
    }

    static func parseVersion(_ text: String) -> (Int, Int)? {
        let parts = text.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    struct Profile: Decodable {
        var defaultAction: String
        var defaultErrnoRet: UInt32?
        var archMap: [String: [String]]
        var syscalls: [Rule]

        struct Rule: Decodable {
            var names: [String]
            var action: String
            var errnoRet: UInt32?
            var args: [OCISeccomp.Arg]?
            var includes: Condition?
            var excludes: Condition?
        }

        struct Condition: Decodable {
            var caps: [String]?
            var arches: [String]?
            var minKernel: String?
        }
    }
}
