import PodvisorSpec

/// A pod bundle's manifest, `<bundle>/pod.yaml`: one release of every service of an
/// application. Parsed and validated by `PodManifest.load(bundle:)` / `parse(yaml:file:)`;
/// every default is filled in, so consumers never see a missing optional key except where
/// "absent" has its own meaning (no limit, no readiness check, no autoscaling...).
/// docs/POD-BUNDLE.md describes every key.
public struct PodManifest: Sendable, Equatable {
    /// The manifest's file name inside a bundle.
    public static let fileName = "pod.yaml"

    /// [a-z0-9-], 1...63 characters, starting and ending with a letter or digit.
    public var name: String
    /// Free-text release/version of the whole application.
    public var release: String
    /// The pod's root filesystem as written (relative paths are relative to the bundle);
    /// nil: the default root filesystem, whose path the CLI supplies.
    public var rootfs: String?
    /// The pod's UTS hostname; defaults to `name`.
    public var hostname: String
    /// The pod's budget (its cgroup subtree); nil fields are unlimited.
    public var resources: PodResources
    public var supervision: Supervision
    /// In file order.
    public var services: [ServiceSpec]

    public init(name: String, release: String, rootfs: String? = nil, hostname: String? = nil,
                resources: PodResources = .init(), supervision: Supervision = .init(),
                services: [ServiceSpec]) {
        self.name = name
        self.release = release
        self.rootfs = rootfs
        self.hostname = hostname ?? name
        self.resources = resources
        self.supervision = supervision
        self.services = services
    }

    public func service(named name: String) -> ServiceSpec? {
        services.first { $0.name == name }
    }
}

/// Resource limits: the pod's budget (`resources:` at the top) or one instance's limits
/// (`services[].resources`). nil means unlimited (inherits the enclosing limit).
public struct ResourceLimits: Sendable, Equatable, Hashable {
    /// Bytes (cgroup memory.max).
    public var memory: Int64?
    /// Millicores: 1000 = one CPU (cgroup cpu.max quota/period).
    public var cpu: Int?
    /// Maximum number of tasks (cgroup pids.max).
    public var pids: Int?

    public init(memory: Int64? = nil, cpu: Int? = nil, pids: Int? = nil) {
        self.memory = memory
        self.cpu = cpu
        self.pids = pids
    }

    public var isUnlimited: Bool { memory == nil && cpu == nil && pids == nil }
}

public typealias PodResources = ResourceLimits
public typealias InstanceResources = ResourceLimits

/// How the pod supervisor reacts when an instance exits (OTP semantics, see POD-BUNDLE.md).
public enum SupervisionStrategy: String, Sendable, Equatable, Hashable, CaseIterable {
    /// Restart only the instance that exited.
    case oneForOne = "one_for_one"
    /// Stop every instance of every service (stop order) and start them all again (start order).
    case oneForAll = "one_for_all"
    /// Restart the instance that exited and every instance of the services after its service
    /// in start order.
    case restForOne = "rest_for_one"
}

public struct Supervision: Sendable, Equatable, Hashable {
    public static let defaultIntensity = 5
    public static let defaultPeriod: Duration = .seconds(10)

    public var strategy: SupervisionStrategy
    /// At most `intensity` restarts (pod-wide) within any `period`; one more and the supervisor
    /// gives up: it stops the pod and `pod up` fails. 0: any restart gives up.
    public var intensity: Int
    public var period: Duration

    public init(strategy: SupervisionStrategy = .oneForOne, intensity: Int = Supervision.defaultIntensity,
                period: Duration = Supervision.defaultPeriod) {
        self.strategy = strategy
        self.intensity = intensity
        self.period = period
    }
}

/// When an exited instance is restarted.
public enum RestartType: String, Sendable, Equatable, Hashable, CaseIterable {
    /// Always restarted.
    case permanent
    /// Restarted only after an abnormal exit: a non-zero status, or killed by a signal
    /// the supervisor did not send.
    case transient
    /// Never restarted; its exit does not count towards the supervision intensity.
    case temporary
}

/// The delay before restarting an instance: `initial`, multiplied by `multiplier` after each
/// consecutive restart, capped at `max`; back to `initial` once the instance has stayed up
/// for longer than `max`.
public struct Backoff: Sendable, Equatable, Hashable {
    public var initial: Duration
    public var max: Duration
    public var multiplier: Double

    public init(initial: Duration = .milliseconds(100), max: Duration = .seconds(5), multiplier: Double = 2) {
        self.initial = initial
        self.max = max
        self.multiplier = multiplier
    }

    /// The delay before a restart after `attempt` consecutive failures (1 = the first):
    /// initial * multiplier^(attempt-1), at most `max`.
    public func delay(attempt: Int) -> Duration {
        let cap = max.nanoseconds
        var d = Double(initial.nanoseconds)
        var i = 1
        while i < attempt && d < Double(cap) {
            d *= multiplier
            i += 1
        }
        return d < Double(cap) ? .nanoseconds(Int64(d)) : max
    }
}

/// The pool size. `replicas: N` means min = max = initial = N.
public struct Replicas: Sendable, Equatable, Hashable {
    public var min: Int
    public var max: Int
    /// How many instances `pod up` starts.
    public var initial: Int

    public init(min: Int, max: Int, initial: Int) {
        self.min = min
        self.max = max
        self.initial = initial
    }

    public init(fixed n: Int) { self.init(min: n, max: n, initial: n) }
}

/// uid and gid of a service's processes.
public struct ServiceUser: Sendable, Equatable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    public init(uid: UInt32 = 0, gid: UInt32 = 0) {
        self.uid = uid
        self.gid = gid
    }
}

public enum SocketProtocol: String, Sendable, Equatable, Hashable, CaseIterable {
    case tcp, udp
}

/// A listening socket the pool owns and hands to every instance (socket activation).
public struct SocketSpec: Sendable, Equatable, Hashable {
    /// Reported in LISTEN_FDNAMES; default: the service name.
    public var name: String
    public var port: Int
    public var `protocol`: SocketProtocol
    /// IPv4 or IPv6 literal; default 0.0.0.0 (every address of the pod's network namespace).
    public var address: String
    /// listen(2) backlog (tcp only); default 128.
    public var backlog: Int

    public init(name: String, port: Int, protocol: SocketProtocol = .tcp, address: String = "0.0.0.0",
                backlog: Int = 128) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.address = address
        self.backlog = backlog
    }
}

/// What makes an instance ready.
public enum ReadinessCheck: Sendable, Equatable, Hashable {
    /// A TCP connect to address:port (inside the pod) succeeds.
    case tcp(port: Int, address: String)
    /// The command (run in the instance's root, user, cwd and env) exits 0.
    case exec([String])
}

public struct Readiness: Sendable, Equatable, Hashable {
    public var check: ReadinessCheck
    /// Time between attempts; also bounds one attempt.
    public var interval: Duration
    /// How long an instance may take to become ready; then it counts as failed
    /// (stopped with its shutdown signal and restarted per its restart type).
    public var timeout: Duration

    public init(check: ReadinessCheck, interval: Duration = .milliseconds(100), timeout: Duration = .seconds(10)) {
        self.check = check
        self.interval = interval
        self.timeout = timeout
    }
}

/// How an instance is stopped: `signal`, then SIGKILL after `timeout`.
public struct ShutdownSpec: Sendable, Equatable, Hashable {
    public var signal: Int32
    /// Without "SIG" ("TERM"); the number as text for signals without a name here.
    public var signalName: String
    public var timeout: Duration

    public init(signal: Int32 = 15, signalName: String = "TERM", timeout: Duration = .seconds(5)) {
        self.signal = signal
        self.signalName = signalName
        self.timeout = timeout
    }
}

public enum AutoscaleMetric: String, Sendable, Equatable, Hashable, CaseIterable {
    /// The pool's cgroup cpu.pressure "some" share (0...1).
    case cpuPressure = "cpu_pressure"
    /// CPU time used per instance over its cpu limit (0...1; needs resources.cpu).
    case utilisation
    /// Connections waiting in the pool's listening sockets per instance (needs a tcp socket).
    case acceptQueue = "accept_queue"

    /// The target used when `autoscale.target` is absent.
    public var defaultTarget: Double {
        switch self {
        case .cpuPressure: 0.10
        case .utilisation: 0.70
        case .acceptQueue: 8
        }
    }
}

/// Scale the pool between replicas.min and replicas.max on a metric.
public struct AutoscaleSpec: Sendable, Equatable, Hashable {
    public var metric: AutoscaleMetric
    public var target: Double
    /// Sampling interval.
    public var interval: Duration
    /// The metric must stay above target*(1+tolerance) this long before scaling up.
    public var scaleUpWindow: Duration
    /// The metric must stay below target*(1-tolerance) this long before scaling down.
    public var scaleDownWindow: Duration
    /// Minimum time between two scaling decisions.
    public var cooldown: Duration
    /// Relative dead band around target, 0 ..< 1.
    public var tolerance: Double
    /// Most instances added / removed by one decision.
    public var stepUp: Int
    public var stepDown: Int

    public init(metric: AutoscaleMetric = .cpuPressure, target: Double? = nil,
                interval: Duration = .milliseconds(250), scaleUpWindow: Duration = .zero,
                scaleDownWindow: Duration = .seconds(30), cooldown: Duration = .seconds(1),
                tolerance: Double = 0.1, stepUp: Int = 4, stepDown: Int = 1) {
        self.metric = metric
        self.target = target ?? metric.defaultTarget
        self.interval = interval
        self.scaleUpWindow = scaleUpWindow
        self.scaleDownWindow = scaleDownWindow
        self.cooldown = cooldown
        self.tolerance = tolerance
        self.stepUp = stepUp
        self.stepDown = stepDown
    }
}

/// One service: a supervised pool of identical instances.
public struct ServiceSpec: Sendable, Equatable {
    public var name: String
    /// The executable and any leading arguments (`command: /bin/httpd` is one element).
    public var command: [String]
    public var args: [String]
    /// "KEY=value", in file order, keys unique.
    public var env: [String]
    public var cwd: String
    public var user: ServiceUser
    /// As written (relative to the bundle); nil: the pod's root filesystem.
    public var rootfs: String?
    public var replicas: Replicas
    /// Per instance; nil fields are unlimited within the pod's budget.
    public var resources: InstanceResources
    public var restart: RestartType
    public var backoff: Backoff
    public var sockets: [SocketSpec]
    /// nil: an instance is ready as soon as it has been started.
    public var readiness: Readiness?
    public var shutdown: ShutdownSpec
    /// Names of services started (and ready) before this one, stopped after it.
    public var dependsOn: [String]
    public var autoscale: AutoscaleSpec?
    public var security = SecuritySpec()

    public init(name: String, command: [String], args: [String] = [], env: [String] = [], cwd: String = "/",
                user: ServiceUser = .init(), rootfs: String? = nil, replicas: Replicas = .init(fixed: 1),
                resources: InstanceResources = .init(), restart: RestartType = .permanent,
                backoff: Backoff = .init(), sockets: [SocketSpec] = [], readiness: Readiness? = nil,
                shutdown: ShutdownSpec = .init(), dependsOn: [String] = [], autoscale: AutoscaleSpec? = nil) {
        self.name = name
        self.command = command
        self.args = args
        self.env = env
        self.cwd = cwd
        self.user = user
        self.rootfs = rootfs
        self.replicas = replicas
        self.resources = resources
        self.restart = restart
        self.backoff = backoff
        self.sockets = sockets
        self.readiness = readiness
        self.shutdown = shutdown
        self.dependsOn = dependsOn
        self.autoscale = autoscale
    }

    /// command + args: the instance's argv.
    public var argv: [String] { command + args }
}

/// What confines an instance. Pods are confined by default: the default seccomp profile, runc's default
/// capability set, no_new_privs. A service loosens that explicitly, in its manifest, where reviewers see it.
public struct SecuritySpec: Sendable, Equatable, Hashable {
    public enum Seccomp: String, Sendable, Equatable, Hashable, CaseIterable {
        case `default`
        case unconfined
    }

    public var seccomp: Seccomp = .default
    /// Capability names (CAP_...); nil means runc's default set.
    public var capabilities: [String]?
    public var noNewPrivileges = true

    public init(seccomp: Seccomp = .default, capabilities: [String]? = nil, noNewPrivileges: Bool = true) {
        self.seccomp = seccomp
        self.capabilities = capabilities
        self.noNewPrivileges = noNewPrivileges
    }
}
