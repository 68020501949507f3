import Glibc

/// Linux namespace kinds, with the CLONE_NEW* flag and the /proc/PID/ns file name of each.
public enum NamespaceKind: String, Sendable, CaseIterable, Codable {
    case pid, network, mount, ipc, uts, user, cgroup, time

    /// CLONE_NEW* (Swift's Glibc module does not export them without _GNU_SOURCE).
    public var cloneFlag: UInt64 {
        switch self {
        case .pid: return 0x2000_0000
        case .network: return 0x4000_0000
        case .mount: return 0x0002_0000
        case .ipc: return 0x0800_0000
        case .uts: return 0x0400_0000
        case .user: return 0x1000_0000
        case .cgroup: return 0x0200_0000
        case .time: return 0x0000_0080
        }
    }

    /// The name under /proc/PID/ns/.
    public var procName: String {
        switch self {
        case .network: return "net"
        case .mount: return "mnt"
        default: return rawValue
        }
    }
}

/// Capability sets as bit masks (bit N = capability N, as in linux/capability.h).
public struct CapabilitySets: Sendable, Equatable {
    public var bounding: UInt64
    public var effective: UInt64
    public var permitted: UInt64
    public var inheritable: UInt64
    public var ambient: UInt64

    public init(bounding: UInt64 = 0, effective: UInt64 = 0, permitted: UInt64 = 0, inheritable: UInt64 = 0, ambient: UInt64 = 0) {
        self.bounding = bounding
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.ambient = ambient
    }
}

/// One mount of the container's root filesystem, with flags already parsed.
public struct MountPlan: Sendable, Equatable {
    public var source: String?
    public var destination: String
    public var fstype: String?
    public var data: String?
    public var flags: UInt
    public var propagation: UInt

    public init(source: String?, destination: String, fstype: String?, data: String? = nil, flags: UInt = 0, propagation: UInt = 0) {
        self.source = source
        self.destination = destination
        self.fstype = fstype
        self.data = data
        self.flags = flags
        self.propagation = propagation
    }
}

/// A uid_map/gid_map line: `inside outside count`.
public struct IDMapping: Sendable, Equatable, Codable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32

    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }
}

public struct ResourceLimit: Sendable, Equatable {
    public var resource: Int32
    public var soft: UInt64
    public var hard: UInt64

    public init(resource: Int32, soft: UInt64, hard: UInt64) {
        self.resource = resource
        self.soft = soft
        self.hard = hard
    }
}

/// Everything the child does between clone and execve, as Swift values.
/// `Spawner` flattens it into the C plan; nothing here runs in the child.
public struct SpawnPlan: Sendable {
    public var argv: [String]
    public var environment: [String] = []
    public var newNamespaces: Set<NamespaceKind> = []
    /// Namespaces to join, by path (/proc/PID/ns/net or a bind-mounted namespace file).
    public var joinNamespaces: [(kind: NamespaceKind, path: String)] = []
    public var uidMappings: [IDMapping] = []
    public var gidMappings: [IDMapping] = []
    /// `/proc/PID/setgroups` is set to "deny" (needed to write gid_map without CAP_SETGID outside).
    public var denySetgroups = false
    public var timeOffsets: String?
    /// The v2 cgroup directory fd for CLONE_INTO_CGROUP.
    public var cgroupFD: Int32?
    public var rootfs: String?
    public var rootfsPropagation: UInt = UInt(MS_SLAVE)
    public var readonlyRoot = false
    public var mounts: [MountPlan] = []
    public var createDefaultDevices = false
    public var maskedPaths: [String] = []
    public var readonlyPaths: [String] = []
    public var hostname: String?
    public var domainname: String?
    public var sysctls: [(key: String, value: String)] = []
    public var rlimits: [ResourceLimit] = []
    public var oomScoreAdj: Int32?
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var additionalGids: [UInt32]?
    public var umask: Int32? = 0o022
    public var cwd: String? = "/"
    public var noNewPrivileges = false
    /// fds given to the payload (stdio for pool instances, LISTEN_FDS sockets): parent fd -> payload fd.
    public var fdMappings: [(from: Int32, to: Int32)] = []
    /// fds below this survive exec (0, 1, 2 and preserved ones); the rest are closed on exec.
    public var keepFDs: Int32 = 3
    /// O_PATH fd of the exec fifo: the child waits there for `start` after it is set up.
    public var execFifoFD: Int32?
    public var dieWithParent = false
    public var newSession = false
    /// Run no program: the child stays as a pid 1 that holds its namespaces and reaps orphans (pod sandbox).
    public var initLoop = false
    /// Index in `environment` of a "LISTEN_PID=" entry the child fills with its own pid (socket activation).
    public var listenPIDEnvironmentIndex: Int?
    /// Capability sets of the payload; nil leaves them as inherited.
    public var capabilities: CapabilitySets?
    /// A classic-BPF seccomp program (struct sock_filter records, 8 bytes each), compiled in the parent.
    public var seccompProgram: [UInt8]?
    public var seccompFlags: UInt32 = 0

    public init(argv: [String]) { self.argv = argv }

    /// A joined pid namespace or a new time namespace only applies to children: the child forks once more.
    var needsExtraFork: Bool {
        joinNamespaces.contains { $0.kind == .pid } || newNamespaces.contains(.time)
    }
}
