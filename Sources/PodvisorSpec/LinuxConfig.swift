/// `linux` in config.json.
public struct OCILinux: Codable, Sendable, Equatable {
    public var uidMappings: [IDMapping]?
    public var gidMappings: [IDMapping]?
    public var timeOffsets: [String: TimeOffset]?
    public var sysctl: [String: String]?
    public var resources: OCIResources?
    public var cgroupsPath: String?
    public var namespaces: [Namespace]?
    public var devices: [Device]?
    public var netDevices: [String: NetDevice]?
    public var seccomp: OCISeccomp?
    public var rootfsPropagation: String?
    public var maskedPaths: [String]?
    public var readonlyPaths: [String]?
    public var mountLabel: String?
    public var intelRdt: IntelRdt?
    public var personality: Personality?

    public init(uidMappings: [IDMapping]? = nil, gidMappings: [IDMapping]? = nil,
                timeOffsets: [String: TimeOffset]? = nil, sysctl: [String: String]? = nil,
                resources: OCIResources? = nil, cgroupsPath: String? = nil, namespaces: [Namespace]? = nil,
                devices: [Device]? = nil, netDevices: [String: NetDevice]? = nil, seccomp: OCISeccomp? = nil,
                rootfsPropagation: String? = nil, maskedPaths: [String]? = nil, readonlyPaths: [String]? = nil,
                mountLabel: String? = nil, intelRdt: IntelRdt? = nil, personality: Personality? = nil) {
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
        self.timeOffsets = timeOffsets
        self.sysctl = sysctl
        self.resources = resources
        self.cgroupsPath = cgroupsPath
        self.namespaces = namespaces
        self.devices = devices
        self.netDevices = netDevices
        self.seccomp = seccomp
        self.rootfsPropagation = rootfsPropagation
        self.maskedPaths = maskedPaths
        self.readonlyPaths = readonlyPaths
        self.mountLabel = mountLabel
        self.intelRdt = intelRdt
        self.personality = personality
    }

    public struct IDMapping: Codable, Sendable, Equatable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32
        public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
            self.containerID = containerID
            self.hostID = hostID
            self.size = size
        }
    }

    public struct Namespace: Codable, Sendable, Equatable {
        /// pid, network, mount, ipc, uts, user, cgroup, time; see `NamespaceType`.
        public var type: String
        /// Join this namespace (e.g. /proc/1234/ns/net) instead of creating one.
        public var path: String?
        public init(type: String, path: String? = nil) {
            self.type = type
            self.path = path
        }
        public init(_ type: NamespaceType, path: String? = nil) {
            self.init(type: type.rawValue, path: path)
        }
        public var kind: NamespaceType? { NamespaceType(rawValue: type) }
    }

    /// A device node to create in the container's /dev.
    public struct Device: Codable, Sendable, Equatable {
        /// c, b, u or p.
        public var type: String
        public var path: String
        public var major: Int64?
        public var minor: Int64?
        public var fileMode: UInt32?
        public var uid: UInt32?
        public var gid: UInt32?
        public init(type: String, path: String, major: Int64? = nil, minor: Int64? = nil, fileMode: UInt32? = nil,
                    uid: UInt32? = nil, gid: UInt32? = nil) {
            self.type = type
            self.path = path
            self.major = major
            self.minor = minor
            self.fileMode = fileMode
            self.uid = uid
            self.gid = gid
        }
    }

    public struct NetDevice: Codable, Sendable, Equatable {
        public var name: String?
        public init(name: String? = nil) { self.name = name }
    }

    public struct IntelRdt: Codable, Sendable, Equatable {
        public var closID: String?
        public var l3CacheSchema: String?
        public var memBwSchema: String?
        public var enableCMT: Bool?
        public var enableMBM: Bool?
        public init(closID: String? = nil, l3CacheSchema: String? = nil, memBwSchema: String? = nil,
                    enableCMT: Bool? = nil, enableMBM: Bool? = nil) {
            self.closID = closID
            self.l3CacheSchema = l3CacheSchema
            self.memBwSchema = memBwSchema
            self.enableCMT = enableCMT
            self.enableMBM = enableMBM
        }
    }

    public struct Personality: Codable, Sendable, Equatable {
        /// LINUX or LINUX32.
        public var domain: String
        public var flags: [String]?
        public init(domain: String, flags: [String]? = nil) {
            self.domain = domain
            self.flags = flags
        }
    }

    /// Offset for the `monotonic` or `boottime` clock in a time namespace.
    public struct TimeOffset: Codable, Sendable, Equatable {
        public var secs: Int64?
        public var nanosecs: UInt32?
        public init(secs: Int64? = nil, nanosecs: UInt32? = nil) {
            self.secs = secs
            self.nanosecs = nanosecs
        }
    }
}
