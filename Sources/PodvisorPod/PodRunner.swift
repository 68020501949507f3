import CLinux
import Glibc
import PodvisorLinux
import PodvisorManifest
import PodvisorSpawn
import PodvisorSupervisor

/// Runs one pod: its sandbox, its pools, and the supervising event loop.
///
/// One thread, one poll(2) loop: instance pidfds (an exit is noticed at once, no polling), readiness
/// connections, the control socket, a stop pipe and, for the CLI, SIGINT/SIGTERM. The OTP logic is the
/// pure `Supervisor`; this class carries out its actions and reports what happened back to it.
public final class PodRunner {
    public struct Options: Sendable {
        public var root: String
        /// The root filesystem of services that name none (Rootfs/build's default one).
        public var defaultRootfs: String
        /// Block SIGINT/SIGTERM/SIGHUP and stop gracefully on them (the CLI); embedders use `requestStop`.
        public var handleSignals = false
        /// Write the autoscaler's time series (JSON lines) here: every pool, every sample, every decision.
        public var recordPath: String?
        /// Serve the pools' metrics in the Prometheus text format on HOST:PORT.
        public var metricsAddress: String?

        public init(root: String, defaultRootfs: String, handleSignals: Bool = false, recordPath: String? = nil,
                    metricsAddress: String? = nil) {
            self.root = root
            self.defaultRootfs = defaultRootfs
            self.handleSignals = handleSignals
            self.recordPath = recordPath
            self.metricsAddress = metricsAddress
        }
    }

    public let manifest: PodManifest
    public let bundle: String
    let options: Options
    let store: PodStore
    var core: Supervisor
    var record: PodRecord
    var sandbox: Sandbox?
    var pools: [String: Pool] = [:]
    /// Each service's confinement, compiled when the bundle is loaded.
    let security: [String: ServiceSecurity]
    var instances: [InstanceID: Instance] = [:]
    var restarts: [InstanceID: Int] = [:]
    var control: ControlServer?
    var autoscaling: PodAutoscaling?
    /// Pools whose instance list the sampler must refresh before its next sample (once per tick, not per
    /// start: scaling a pool to 200 would otherwise reopen every instance's counter files 200 times).
    var changedPools: Set<String> = []
    var metrics: PodMetrics?
    var stopPipe: [Int32] = [-1, -1]
    var signalFD: Int32 = -1
    var devNull: Int32 = -1
    var eventLog: Int32 = -1
    var announcedReady = false
    var finished: String?? = nil
    /// Called once: when every pool's initial instances are ready, or with the reason the start failed.
    public var onReady: ((PodError?) -> Void)?
    /// Called for every event (the CLI prints them in the foreground).
    public var onEvent: ((PodEvent) -> Void)?

    struct Pool {
        let service: ServiceSpec
        let cgroup: Cgroup
        let sockets: [Int32]
        /// Holds the pool's root view (its mount namespace), which instances join.
        let view: PidFD
    }

    var launcher: InstanceLauncher {
        InstanceLauncher(manifest: manifest, bundle: bundle, defaultRootfs: options.defaultRootfs, store: store, devNull: devNull)
    }

    struct Instance {
        var process: PidFD
        var cgroup: Cgroup
        var startedAt: Double
        /// Asked to stop (its exit is not a crash); `stopDeadline` is when it gets SIGKILL.
        var stopRequested = false
        var stopDeadline: Double?
        var probe: Probe?
    }

    /// A readiness check: a TCP connect in progress (`fd`), or an exec check running (`check`).
    struct Probe {
        var fd: Int32 = -1
        var check: PidFD?
        var nextAttempt: Double
        let deadline: Double

        var inFlight: Bool { fd >= 0 || check != nil }
        func close() {
            if fd >= 0 { Glibc.close(fd) }
            if let check {
                _ = try? check.signal(SIGKILL)
                _ = try? check.wait()
                check.close()
            }
        }
    }

    /// Loads and validates the bundle; no side effects yet.
    public init(bundle: String, options: Options) throws(PodError) {
        do { manifest = try PodManifest.load(bundle: bundle) } catch { throw PodError(error.description) }
        self.bundle = bundle
        self.options = options
        store = PodStore(root: options.root)
        var security: [String: ServiceSecurity] = [:]
        for (index, service) in manifest.services.enumerated() {
            security[service.name] = try ServiceSecurity(service, index: index, manifestFile: bundle + "/pod.yaml",
                                                         cacheDirectory: options.root + "/seccomp-cache")
        }
        self.security = security
        core = Supervisor(manifest: manifest)
        record = PodRecord(name: manifest.name, release: manifest.release, bundle: bundle, created: Clock.timestamp(),
                           state: .starting, supervisorPID: getpid(), supervisorStartTime: ProcessInfo.startTime(of: getpid()))
    }

    /// Asks the loop to stop the pod gracefully (any thread).
    public func requestStop() {
        var byte: UInt8 = 1
        _ = write(stopPipe[1], &byte, 1)
    }

    // MARK: - Lifecycle

    /// Starts the pod and supervises it until it stops. Returns 0 when stopped, 1 when it failed.
    public func run() -> Int32 {
        do {
            try setUp()
        } catch {
            tearDown(failure: error.description, removeState: true)
            onReady?(error)
            return 1
        }
        perform(core.start(now: Clock.monotonic()))
        while finished == nil { iterate() }
        let failure = finished ?? nil
        tearDown(failure: failure, removeState: false)
        return failure == nil ? 0 : 1
    }

    private func setUp() throws(PodError) {
        try store.claim(manifest.name)
        store.save(record)
        eventLog = store.openEventLog(manifest.name)
        devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard pv_pipe2(&stopPipe, O_CLOEXEC | O_NONBLOCK) == 0 else { throw PodError("pipe: \(String(cString: strerror(errno)))") }
        if options.handleSignals { signalFD = pv_forwarding_signalfd() }
        let rootfs = manifest.rootfs.map { $0.hasPrefix("/") ? $0 : bundle + "/" + $0 } ?? options.defaultRootfs
        guard FileIO.isDirectory(rootfs) else { throw PodError("\(bundle)/pod.yaml: rootfs: \"\(rootfs)\": no such directory") }
        let sandbox = try Sandbox.create(manifest: manifest, rootfs: rootfs, devNull: devNull)
        self.sandbox = sandbox
        record.sandboxPID = sandbox.initProcess.pid
        record.cgroup = PodCgroupRecord(v2: sandbox.cgroup.location.v2, v1: sandbox.cgroup.location.v1,
                                        prunable: sandbox.cgroup.location.prunable)
        for service in manifest.startOrder {
            let sockets = try sandbox.openSockets(service.sockets, service: service.name)
            let cgroup: Cgroup
            do { cgroup = try sandbox.cgroup.createChild(service.name, resources: CgroupResources()) } catch {
                sockets.forEach { close($0) }
                throw PodError("creating the cgroup of \(service.name): \(error)")
            }
            do {
                let view = try launcher.launchView(service: service, sandbox: sandbox, poolCgroup: cgroup)
                pools[service.name] = Pool(service: service, cgroup: cgroup, sockets: sockets, view: view)
            } catch {
                sockets.forEach { close($0) }
                throw error
            }
        }
        autoscaling = try PodAutoscaling(manifest: manifest, podCgroup: sandbox.cgroup,
                                         pools: pools.mapValues { ($0.cgroup, $0.sockets) },
                                         recordPath: options.recordPath, sampleAnyway: true,
                                         now: Clock.monotonic())
        metrics = try options.metricsAddress.map { address throws(PodError) in try PodMetrics(address: address, pod: manifest.name) }
        control = try ControlServer(path: store.controlPath(manifest.name))
        store.save(record)
        emit("starting", "pod \(manifest.name) release \(manifest.release): \(manifest.services.count) services")
    }

    private func tearDown(failure: String?, removeState: Bool) {
        for (id, instance) in instances {
            instance.probe?.close()
            _ = try? instance.process.signal(SIGKILL)
            _ = try? instance.process.wait()
            instance.process.close()
            try? instance.cgroup.delete()
            instances[id] = nil
        }
        for pool in pools.values {
            pool.sockets.forEach { close($0) }
            _ = try? pool.view.signal(SIGKILL)
            _ = try? pool.view.wait()
            pool.view.close()
        }
        sandbox?.destroy()
        sandbox = nil
        record.state = failure == nil ? .stopped : .failed
        record.failure = failure
        emit(failure == nil ? "stopped" : "failed", failure ?? "pod \(manifest.name) stopped")
        control?.finish(ControlReply(ok: failure == nil, error: failure, status: status()))
        control = nil
        if removeState {
            store.remove(manifest.name)
        } else {
            store.save(record)
        }
        for fd in stopPipe + [signalFD, devNull, eventLog] where fd >= 0 { close(fd) }
    }

    // MARK: - The loop

    private enum Source {
        case instance(InstanceID)
        case probe(InstanceID)
        case stop, signal, controlListener, controlClient(Int32), metrics
    }

    private func iterate() {
        var fds: [pollfd] = []
        var sources: [Source] = []
        func watch(_ fd: Int32, _ events: Int32, _ source: Source) {
            fds.append(pollfd(fd: fd, events: Int16(events), revents: 0))
            sources.append(source)
        }
        watch(stopPipe[0], POLLIN, .stop)
        if signalFD >= 0 { watch(signalFD, POLLIN, .signal) }
        if let control {
            watch(control.listener, POLLIN, .controlListener)
            for client in control.readingClients { watch(client, POLLIN, .controlClient(client)) }
        }
        if let metrics { watch(metrics.listener, POLLIN, .metrics) }
        for (id, instance) in instances {
            watch(instance.process.fd, POLLIN, .instance(id))
            if let probe = instance.probe, probe.fd >= 0 { watch(probe.fd, POLLOUT, .probe(id)) }
            if let check = instance.probe?.check { watch(check.fd, POLLIN, .probe(id)) }
        }
        _ = retryingOnEINTR { poll(&fds, nfds_t(fds.count), timeoutMilliseconds()) }
        let now = Clock.monotonic()
        for (index, pollEntry) in fds.enumerated() where pollEntry.revents != 0 {
            switch sources[index] {
            case .instance(let id): reap(id, now: now)
            case .probe(let id): finishProbe(id, now: now)
            case .stop: drainStopPipe(); perform(core.shutdown(now: now))
            case .signal:
                let signal = pv_signalfd_next(signalFD)
                emit("signal", "received \(Signal.name(of: signal)): stopping the pod")
                perform(core.shutdown(now: now))
            case .controlListener: control?.accept()
            case .controlClient(let fd): if let request = control?.read(fd) { handle(request, client: fd, now: now) }
            case .metrics: metrics?.serve()
            }
            if finished != nil { return }
        }
        handleTimers(now: now)
    }

    private func timeoutMilliseconds() -> Int32 {
        var deadlines = [core.nextDeadline, autoscaling?.nextSample].compactMap { $0 }
        for instance in instances.values {
            if let stop = instance.stopDeadline { deadlines.append(stop) }
            if let probe = instance.probe { deadlines.append(probe.inFlight ? probe.deadline : probe.nextAttempt) }
        }
        guard let next = deadlines.min() else { return -1 }
        return Int32(max(0, min(60_000, (next - Clock.monotonic()) * 1000 + 1)))
    }

    private func handleTimers(now: Double) {
        perform(core.tick(now: now))
        autoscale(now: now)
        for (id, instance) in instances {
            if let deadline = instance.stopDeadline, deadline <= now {
                emit("killed", "\(id) did not stop within its shutdown timeout: SIGKILL", id)
                try? instance.cgroup.kill(timeout: 0)
                _ = try? instance.process.signal(SIGKILL)
                instances[id]?.stopDeadline = nil
            }
            guard let probe = instance.probe else { continue }
            if now >= probe.deadline {
                probe.close()
                instances[id]?.probe = nil
                emit("unready", "\(id) did not become ready in time: killing it", id)
                _ = try? instance.process.signal(SIGKILL)
            } else if !probe.inFlight, now >= probe.nextAttempt {
                startProbe(id, now: now)
            }
        }
    }

    /// Samples the pools and applies the policy's changes through the supervisor (within the bounds).
    private func autoscale(now: Double) {
        guard let autoscaling, !core.isShuttingDown else { return }
        if now >= autoscaling.nextSample {
            for pool in changedPools {
                let members = instances.filter { $0.key.pool == pool }.sorted { $0.key < $1.key }
                autoscaling.setInstances(pool: pool, members.map { ($0.key.description, $0.value.cgroup.location) })
            }
            changedPools.removeAll()
        }
        let (observations, decisions) = autoscaling.tick(now: now) { self.core.pool(named: $0)?.desired ?? 0 }
        if let metrics, !observations.isEmpty {
            var perPool: [String: Int] = [:]
            for (id, count) in restarts { perPool[id.pool, default: 0] += count }
            metrics.update(observations, restarts: perPool)
        }
        for decision in decisions {
            guard let high = decision.memoryHigh, let v2 = pools[decision.pool]?.cgroup.location.v2 else { continue }
            // Senpai-style: the pool's memory.high bounds its instances together; squeezed while reclaim is cheap.
            do { try FileIO.write(v2 + "/memory.high", String(high.to)) } catch {
                emit("autoscale-refused", "\(decision.pool): memory.high \(high.to): \(error)")
                continue
            }
            emit("autoscale", decision.description)
        }
        for decision in decisions where decision.from != decision.to {
            emit("autoscale", decision.description)
            metrics?.countDecision(decision)
            do { perform(try core.scale(decision.pool, to: decision.to, now: now)) } catch {
                emit("autoscale-refused", "\(decision.pool): \(error)")
            }
        }
    }

    /// The sampler's view of the pool's instances (per-instance throttling) is refreshed at its next tick.
    private func instancesChanged(_ pool: String) {
        changedPools.insert(pool)
    }

    private func drainStopPipe() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(stopPipe[0], &buffer, buffer.count) > 0 {}
    }

    // MARK: - Carrying out the supervisor's actions

    func perform(_ actions: [SupervisorAction]) {
        for action in actions {
            switch action {
            case .start(let id): startInstance(id)
            case .stop(let id): stopInstance(id)
            case .event(let kind, let message): emit(kind, message)
            case .finished(let failure): finished = .some(failure)
            }
        }
        checkReady()
    }

    private func startInstance(_ id: InstanceID) {
        guard let pool = pools[id.pool], let sandbox else { return }
        let now = Clock.monotonic()
        do {
            var launcher = self.launcher
            launcher.security = security[id.pool]
            let (process, cgroup) = try launcher.launch(id, service: pool.service, sockets: pool.sockets, sandbox: sandbox,
                                                        poolCgroup: pool.cgroup, view: pool.view)
            var instance = Instance(process: process, cgroup: cgroup, startedAt: now)
            if let readiness = pool.service.readiness {
                instance.probe = Probe(nextAttempt: now, deadline: now + readiness.timeout.seconds)
            }
            instances[id] = instance
            instancesChanged(id.pool)
            emit("started", "\(id) started (pid \(process.pid))", id)
            perform(core.instanceStarted(id, now: now, ready: instance.probe == nil))
        } catch {
            emit("start-failed", error.description, id)
            perform(core.instanceFailedToStart(id, now: now))
        }
    }

    private func stopInstance(_ id: InstanceID) {
        guard let instance = instances[id], let pool = pools[id.pool] else { return }
        _ = try? instance.process.signal(pool.service.shutdown.signal)
        instances[id]?.stopRequested = true
        instances[id]?.stopDeadline = Clock.monotonic() + pool.service.shutdown.timeout.seconds
    }

    private func reap(_ id: InstanceID, now: Double) {
        guard let instance = instances.removeValue(forKey: id) else { return }
        instancesChanged(id.pool)
        let status = (try? instance.process.wait()) ?? .exited(255)
        instance.process.close()
        instance.probe?.close()
        // Whatever the instance left behind (its own children) goes with it.
        try? instance.cgroup.delete()
        let requested = instance.stopRequested || core.isShuttingDown
        emit("exited", "\(id) \(status)\(requested ? " (stopped)" : "")", id)
        if !requested { restarts[id, default: 0] += 1 }
        perform(core.instanceExited(id, normal: status == .exited(0), now: now))
    }

    // MARK: - Readiness

    private func startProbe(_ id: InstanceID, now: Double) {
        guard let pool = pools[id.pool], let readiness = pool.service.readiness, let sandbox,
              let instance = instances[id] else { return }
        switch readiness.check {
        case .tcp(let port, let address):
            let fd = (try? sandbox.inNetworkNamespace { () throws(PodError) in pv_inet_connect_nonblocking(address, Int32(port)) }) ?? -1
            if fd >= 0 { instances[id]?.probe?.fd = fd; return }
        case .exec(let command):
            // The check runs inside the instance: its namespaces (root view included) and its cgroup namespace.
            var plan = SpawnPlan(argv: command)
            plan.environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
            plan.joinNamespaces = InstanceExec.namespaces(of: instance.process.pid)
            plan.fdMappings = [(devNull, 0), (devNull, 1), (devNull, 2)]
            plan.cwd = "/"
            if let check = try? Spawner.spawn(plan) { instances[id]?.probe?.check = check.process; return }
        }
        instances[id]?.probe?.nextAttempt = now + readiness.interval.seconds
    }

    private func finishProbe(_ id: InstanceID, now: Double) {
        guard let probe = instances[id]?.probe, let interval = pools[id.pool]?.service.readiness?.interval else { return }
        let error: Int32
        if let check = probe.check {
            error = (try? check.wait()) == .exited(0) ? 0 : 1
            check.close()
        } else {
            error = pv_socket_error(probe.fd)
            close(probe.fd)
        }
        if error == 0 {
            instances[id]?.probe = nil
            emit("ready", "\(id) is ready", id)
            perform(core.instanceReady(id, now: now))
        } else {
            instances[id]?.probe = Probe(fd: -1, nextAttempt: now + interval.seconds, deadline: probe.deadline)
        }
    }

    private func checkReady() {
        guard !announcedReady, !core.isShuttingDown else { return }
        let all = core.instances
        guard all.allSatisfy({ core.isReady($0) }), all.count == manifest.services.reduce(0, { $0 + (core.pool(named: $1.name)?.desired ?? 0) }) else { return }
        announcedReady = true
        record.state = .running
        store.save(record)
        emit("ready", "pod \(manifest.name) is ready: \(all.count) instances in \(pools.count) pools")
        onReady?(nil)
        onReady = nil
    }

    // MARK: - Control requests

    private func handle(_ request: ControlRequest, client: Int32, now: Double) {
        switch request.op {
        case .inspect, .top:
            control?.reply(client, ControlReply(status: status(withUsage: request.op == .top)))
        case .scale:
            guard let service = request.service, let replicas = request.replicas else {
                control?.reply(client, ControlReply(ok: false, error: "scale needs a service and a number of replicas"))
                return
            }
            do {
                perform(try core.scale(service, to: replicas, now: now))
                control?.reply(client, ControlReply())
            } catch {
                control?.reply(client, ControlReply(ok: false, error: error.description))
            }
        case .stop:
            control?.keepUntilFinished(client)
            perform(core.shutdown(now: now))
        case .events:
            control?.sendHistory(client, events: eventHistory, follow: request.follow ?? false)
        case .autoscale:
            guard let name = request.service, let service = manifest.service(named: name), let autoscaling else {
                control?.reply(client, ControlReply(ok: false, error: "no service \"\(request.service ?? "")\" in this pod"))
                return
            }
            autoscaling.configure(service, target: request.target, enabled: request.enabled ?? true)
            emit("autoscale", "\(name): autoscaling \(request.enabled == false ? "off" : "on")\(request.target.map { ", target \($0)" } ?? "")")
            control?.reply(client, ControlReply())
        }
    }

    var eventHistory: [PodEvent] = []

    func emit(_ kind: String, _ message: String, _ instance: InstanceID? = nil) {
        let event = PodEvent(time: Clock.timestamp(), kind: kind, message: message, instance: instance?.description)
        eventHistory.append(event)
        if eventHistory.count > 10_000 { eventHistory.removeFirst(eventHistory.count - 10_000) }
        if eventLog >= 0 {
            var line = event.jsonLine
            _ = line.withUTF8 { write(eventLog, $0.baseAddress, $0.count) }
        }
        control?.broadcast(event)
        onEvent?(event)
    }

    func status(withUsage: Bool = false) -> PodStatus {
        let poolStatuses = manifest.startOrder.map { service -> PoolStatus in
            let pool = core.pool(named: service.name)
            let members = core.instances.filter { $0.pool == service.name }
            return PoolStatus(
                name: service.name, desired: pool?.desired ?? 0, minimum: service.replicas.min, maximum: service.replicas.max,
                sockets: service.sockets.map { "\($0.protocol.rawValue)://\($0.address):\($0.port)" },
                instances: members.map { id in
                    let instance = instances[id]
                    var status = InstanceStatus(
                        id: id.description, pid: instance?.process.pid,
                        state: instance == nil ? "waiting" : instance?.stopRequested == true ? "stopping" : "running",
                        ready: core.isReady(id), failures: core.failures(of: id), restarts: restarts[id] ?? 0)
                    if withUsage, let cgroup = instance?.cgroup { Usage.fill(&status, from: cgroup) }
                    return status
                })
        }
        return PodStatus(name: manifest.name, release: manifest.release, state: core.isShuttingDown ? .stopping : record.state,
                         failure: record.failure, created: record.created, supervisorPID: record.supervisorPID,
                         sandboxPID: record.sandboxPID, pools: poolStatuses)
    }
}

/// Resource usage of an instance for `pod top`.
enum Usage {
    static func fill(_ status: inout InstanceStatus, from cgroup: Cgroup) {
        if let stats = try? cgroup.stats() {
            status.memory = stats.memoryCurrent.map { Int64($0) }
            status.cpu = stats.cpuUsageUsec.map { Double($0) / 1e6 }
        }
        if let pressure = try? cgroup.pressure(.cpu) { status.cpuPressure = pressure.some.avg10 }
    }
}
