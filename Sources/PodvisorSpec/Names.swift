/// Process resource limits with their Linux resource numbers (`RLIMIT_NOFILE` = 7).
public enum RlimitType: String, Sendable, CaseIterable {
    case cpu = "RLIMIT_CPU", fsize = "RLIMIT_FSIZE", data = "RLIMIT_DATA", stack = "RLIMIT_STACK"
    case core = "RLIMIT_CORE", rss = "RLIMIT_RSS", nproc = "RLIMIT_NPROC", nofile = "RLIMIT_NOFILE"
    case memlock = "RLIMIT_MEMLOCK", addressSpace = "RLIMIT_AS", locks = "RLIMIT_LOCKS"
    case sigpending = "RLIMIT_SIGPENDING", msgqueue = "RLIMIT_MSGQUEUE", nice = "RLIMIT_NICE"
    case rtprio = "RLIMIT_RTPRIO", rttime = "RLIMIT_RTTIME"

    /// The `resource` argument of setrlimit/prlimit.
    public var resource: Int32 {
        switch self {
        case .cpu: 0
        case .fsize: 1
        case .data: 2
        case .stack: 3
        case .core: 4
        case .rss: 5
        case .nproc: 6
        case .nofile: 7
        case .memlock: 8
        case .addressSpace: 9
        case .locks: 10
        case .sigpending: 11
        case .msgqueue: 12
        case .nice: 13
        case .rtprio: 14
        case .rttime: 15
        }
    }

    public init?(resource: Int32) {
        guard let match = Self.allCases.first(where: { $0.resource == resource }) else { return nil }
        self = match
    }
}

/// Namespace types with their CLONE_NEW* flags and /proc/<pid>/ns/ file names.
public enum NamespaceType: String, Sendable, CaseIterable {
    case pid, network, mount, ipc, uts, user, cgroup, time

    public var cloneFlag: Int32 {
        switch self {
        case .pid: 0x2000_0000
        case .network: 0x4000_0000
        case .mount: 0x0002_0000
        case .ipc: 0x0800_0000
        case .uts: 0x0400_0000
        case .user: 0x1000_0000
        case .cgroup: 0x0200_0000
        case .time: 0x0000_0080
        }
    }

    /// The entry under /proc/<pid>/ns/.
    public var procName: String {
        switch self {
        case .network: "net"
        case .mount: "mnt"
        default: rawValue
        }
    }
}

/// Linux capability names ("CAP_CHOWN") and numbers (0...40).
public enum Capability {
    public static let names: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ]

    /// The capability number for a name such as "CAP_KILL" (5); nil if unknown.
    /// runc warns about and skips unknown names rather than failing.
    public static func number(_ name: String) -> Int? { names.firstIndex(of: name) }
}
