/// `process` in config.json: what the container runs and with which credentials and limits.
public struct OCIProcess: Codable, Sendable, Equatable {
    public var terminal: Bool?
    public var consoleSize: ConsoleSize?
    public var user: User
    public var args: [String]?
    /// Windows only in the spec; kept so such configs round-trip.
    public var commandLine: String?
    public var env: [String]?
    public var cwd: String
    public var capabilities: Capabilities?
    public var rlimits: [Rlimit]?
    public var noNewPrivileges: Bool?
    public var apparmorProfile: String?
    public var oomScoreAdj: Int?
    public var selinuxLabel: String?
    public var ioPriority: IOPriority?
    public var scheduler: Scheduler?
    public var execCPUAffinity: CPUAffinity?

    public init(terminal: Bool? = nil, consoleSize: ConsoleSize? = nil, user: User = User(), args: [String]? = nil,
                commandLine: String? = nil, env: [String]? = nil, cwd: String = "/", capabilities: Capabilities? = nil,
                rlimits: [Rlimit]? = nil, noNewPrivileges: Bool? = nil, apparmorProfile: String? = nil,
                oomScoreAdj: Int? = nil, selinuxLabel: String? = nil, ioPriority: IOPriority? = nil,
                scheduler: Scheduler? = nil, execCPUAffinity: CPUAffinity? = nil) {
        self.terminal = terminal
        self.consoleSize = consoleSize
        self.user = user
        self.args = args
        self.commandLine = commandLine
        self.env = env
        self.cwd = cwd
        self.capabilities = capabilities
        self.rlimits = rlimits
        self.noNewPrivileges = noNewPrivileges
        self.apparmorProfile = apparmorProfile
        self.oomScoreAdj = oomScoreAdj
        self.selinuxLabel = selinuxLabel
        self.ioPriority = ioPriority
        self.scheduler = scheduler
        self.execCPUAffinity = execCPUAffinity
    }

    public struct ConsoleSize: Codable, Sendable, Equatable {
        public var height: UInt
        public var width: UInt
        public init(height: UInt, width: UInt) {
            self.height = height
            self.width = width
        }
    }

    public struct User: Codable, Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var umask: UInt32?
        public var additionalGids: [UInt32]?
        public var username: String?
        public init(uid: UInt32 = 0, gid: UInt32 = 0, umask: UInt32? = nil, additionalGids: [UInt32]? = nil,
                    username: String? = nil) {
            self.uid = uid
            self.gid = gid
            self.umask = umask
            self.additionalGids = additionalGids
            self.username = username
        }
    }

    /// Capability names as in the spec, e.g. "CAP_KILL" (see `Capability`).
    public struct Capabilities: Codable, Sendable, Equatable {
        public var bounding: [String]?
        public var effective: [String]?
        public var inheritable: [String]?
        public var permitted: [String]?
        public var ambient: [String]?
        public init(bounding: [String]? = nil, effective: [String]? = nil, inheritable: [String]? = nil,
                    permitted: [String]? = nil, ambient: [String]? = nil) {
            self.bounding = bounding
            self.effective = effective
            self.inheritable = inheritable
            self.permitted = permitted
            self.ambient = ambient
        }
    }

    public struct Rlimit: Codable, Sendable, Equatable {
        /// e.g. "RLIMIT_NOFILE"; see `RlimitType`.
        public var type: String
        public var hard: UInt64
        public var soft: UInt64
        public init(type: String, hard: UInt64, soft: UInt64) {
            self.type = type
            self.hard = hard
            self.soft = soft
        }
        public init(_ type: RlimitType, hard: UInt64, soft: UInt64) {
            self.init(type: type.rawValue, hard: hard, soft: soft)
        }
        /// The parsed type, nil if unknown.
        public var kind: RlimitType? { RlimitType(rawValue: type) }
    }

    public struct IOPriority: Codable, Sendable, Equatable {
        /// IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE.
        public var `class`: String
        public var priority: Int?
        public init(class: String, priority: Int? = nil) {
            self.class = `class`
            self.priority = priority
        }
    }

    public struct Scheduler: Codable, Sendable, Equatable {
        /// SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE, SCHED_DEADLINE.
        public var policy: String
        public var nice: Int32?
        public var priority: Int32?
        public var flags: [String]?
        public var runtime: UInt64?
        public var deadline: UInt64?
        public var period: UInt64?
        public init(policy: String, nice: Int32? = nil, priority: Int32? = nil, flags: [String]? = nil,
                    runtime: UInt64? = nil, deadline: UInt64? = nil, period: UInt64? = nil) {
            self.policy = policy
            self.nice = nice
            self.priority = priority
            self.flags = flags
            self.runtime = runtime
            self.deadline = deadline
            self.period = period
        }
    }

    /// CPU lists such as "0-3,7" applied before (`initial`) and after (`final`) joining the cgroup.
    public struct CPUAffinity: Codable, Sendable, Equatable {
        public var initial: String?
        public var final: String?
        public init(initial: String? = nil, final: String? = nil) {
            self.initial = initial
            self.final = final
        }
    }
}
