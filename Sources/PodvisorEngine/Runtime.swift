import CLinux
import FoundationEssentials
import Glibc
import PodvisorLinux
import PodvisorSpawn
import PodvisorSpec

/// The OCI container lifecycle over one state directory: create, start, state, kill, delete, run.
///
/// Process chain (docs/ARCHITECTURE.md): the runtime clones the container's init directly (C child
/// side, no Swift after clone); for `create` the init sets everything up and blocks on
/// `<root>/<id>/exec.fifo` until `start` opens it. Nothing survives a failed operation: the
/// init is killed, the cgroup removed, the state directory deleted.
public struct Runtime: Sendable {
    public let store: StateStore

    public init(root: String = StateStore.defaultRoot) {
        store = StateStore(root: root)
    }

    // MARK: - create / run

    public struct CreateOptions: Sendable {
        public var bundle: String
        public var pidFile: String?
        /// fds 3..<3+preserveFDs are passed to the container (runc --preserve-fds).
        public var preserveFDs: Int32 = 0

        public init(bundle: String, pidFile: String? = nil, preserveFDs: Int32 = 0) {
            self.bundle = bundle
            self.pidFile = pidFile
            self.preserveFDs = preserveFDs
        }
    }

    /// Creates the container; its init waits for `start`.
    @discardableResult
    public func create(id: String, options: CreateOptions) throws(EngineError) -> ContainerRecord {
        try launch(id: id, options: options, waitForStart: true).record
    }

    /// create + start + wait + delete; returns the container's exit status. With `detach` it returns
    /// once the container runs (nil status) and leaves it to `kill` and `delete`.
    public func run(id: String, options: CreateOptions, detach: Bool = false) throws(EngineError) -> ProcessExit? {
        let signals = detach ? -1 : pv_forwarding_signalfd()
        let launched = try launch(id: id, options: options, waitForStart: false)
        if detach {
            launched.process.close()
            return nil
        }
        let status = waitForwardingSignals(launched.process, signalFD: signals)
        launched.process.close()
        if signals >= 0 { close(signals) }
        try remove(launched.record, force: true)
        return status
    }

    private struct Launched {
        var record: ContainerRecord
        var process: PidFD
    }

    private func launch(id: String, options: CreateOptions, waitForStart: Bool) throws(EngineError) -> Launched {
        do { try ContainerID.validate(id) } catch { throw .spec(error) }
        let bundle = absolutePath(options.bundle)
        let configFile = bundle + "/config.json"
        let config: OCIConfig
        do {
            config = try OCIConfig.load(bundle: bundle)
            try config.validate(file: configFile, forCreate: true)
        } catch {
            throw .spec(error)
        }
        let host: CgroupHost
        do { host = try CgroupHost.detect() } catch { throw .system(error) }
        var plan = try ContainerPlan(config: config, bundle: bundle, configFile: configFile, cgroupMode: host.mode,
                                     seccompCache: store.root + "/seccomp-cache")

        try store.claim(id)
        var cleanup = Cleanup(store: store, id: id)
        defer { cleanup.run() }

        let cgroup: Cgroup
        do {
            let requested = try host.location(for: config.linux?.cgroupsPath, name: id)
            cgroup = try Cgroup.create(host: host, location: requested, resources: plan.resources)
        } catch {
            throw .cgroup(error)
        }
        let location = cgroup.location
        plan.expandCgroupMount(location: location, mode: host.mode)
        cleanup.cgroup = cgroup

        var fifoFD: Int32 = -1
        if waitForStart {
            fifoFD = try makeExecFifo(store.fifoPath(id))
            plan.spawn.execFifoFD = fifoFD
        }
        defer { if fifoFD >= 0 { close(fifoFD) } }
        plan.spawn.keepFDs = 3 + options.preserveFDs
        let cgroupFD = location.v2 == nil ? -1 : ((try? cgroup.directoryFD()) ?? -1)
        defer { if cgroupFD >= 0 { close(cgroupFD) } }
        if cgroupFD >= 0 { plan.spawn.cgroupFD = cgroupFD }

        let spawned: SpawnedProcess
        do {
            spawned = try Spawner.spawn(plan.spawn) { pid, placedByClone in
                try cgroup.addProcess(pid, includingV2: !placedByClone)
            }
        } catch {
            throw .spawn(error)
        }
        let pid = spawned.process.pid
        let record = ContainerRecord(
            id: id, pid: pid, startTime: ProcessInfo.startTime(of: pid), bundle: bundle, rootfs: plan.rootfs,
            created: Self.timestamp(), owner: Self.owner(), annotations: config.annotations, cgroup: location)
        do {
            try store.save(record)
            if let pidFile = options.pidFile { try writePidFile(absolutePath(pidFile), pid: pid) }
        } catch {
            _ = try? spawned.process.signal(SIGKILL)
            spawned.process.close()
            throw error
        }
        cleanup.disarm()
        return Launched(record: record, process: spawned.process)
    }

    // MARK: - start

    /// Lets a created container's init exec its process.
    public func start(id: String) throws(EngineError) {
        let record = try store.load(id)
        let status = self.status(of: record)
        guard status == .created else { throw .wrongStatus(id: id, status: status, operation: "start") }
        // The pidfd first: opening the fifo releases the init, and a short payload may have exited and been
        // reaped by its parent (the caller's shim) before a pidfd_open after it.
        let process: PidFD
        do { process = try PidFD.open(record.pid) } catch { throw .system(error) }
        defer { process.close() }
        let fifo = store.fifoPath(id)
        let reader = pv_open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0)
        if reader < 0 { throw .system(SystemError("open", fifo)) }
        defer { close(reader) }
        // The init writes one byte once it sees a reader; if it dies instead, its pidfd polls readable.
        var fds = [pollfd(fd: reader, events: Int16(POLLIN), revents: 0), pollfd(fd: process.fd, events: Int16(POLLIN), revents: 0)]
        while true {
            let n = retryingOnEINTR { poll(&fds, 2, -1) }
            if n < 0 { throw .system(SystemError("poll", fifo)) }
            var byte: UInt8 = 0
            if fds[0].revents & Int16(POLLIN) != 0, read(reader, &byte, 1) == 1 { break }
            if fds[1].revents != 0 {
                throw .invalidArgument("container \"\(id)\" init exited before it could start")
            }
        }
        unlink(fifo)
    }

    // MARK: - state / list

    public func state(id: String) throws(EngineError) -> OCIState {
        let record = try store.load(id)
        return ociState(record)
    }

    public func list() -> [OCIState] {
        store.ids().compactMap { try? state(id: $0) }
    }

    func ociState(_ record: ContainerRecord) -> OCIState {
        let status = status(of: record)
        return OCIState(id: record.id, pid: status == .stopped ? 0 : Int(record.pid), status: status, bundle: record.bundle,
                        rootfs: record.rootfs, created: record.created, annotations: record.annotations, owner: record.owner)
    }

    func status(of record: ContainerRecord) -> ContainerStatus {
        guard ProcessInfo.isRunning(record.pid, startTime: record.startTime) else { return .stopped }
        if FileIO.exists(store.fifoPath(record.id)) { return .created }
        if let location = record.cgroup, Cgroup.open(location: location).isFrozen { return .paused }
        return .running
    }

    // MARK: - kill / delete

    /// Sends `signal` (a name or number) to the init, or with `all` to every process of the container.
    public func kill(id: String, signal text: String, all: Bool = false) throws(EngineError) {
        guard let signal = Signal.parse(text) else { throw .invalidSignal(text) }
        let record = try store.load(id)
        let status = status(of: record)
        guard status != .stopped else { throw .wrongStatus(id: id, status: status, operation: "kill") }
        if all, let location = record.cgroup {
            let pids = (try? Cgroup.open(location: location).processes()) ?? []
            for pid in pids { Glibc.kill(pid, signal) }
            return
        }
        do {
            let process = try PidFD.open(record.pid)
            defer { process.close() }
            // The pidfd names the process; recheck that it is still the one we started.
            guard ProcessInfo.isRunning(record.pid, startTime: record.startTime) else {
                throw EngineError.wrongStatus(id: id, status: .stopped, operation: "kill")
            }
            try process.signal(signal)
        } catch let error as EngineError {
            throw error
        } catch let error as SystemError {
            throw .system(error)
        } catch {
            throw .invalidArgument("\(error)")
        }
    }

    /// Removes a stopped (or, with `force`, any) container: its processes, cgroup and state.
    public func delete(id: String, force: Bool = false) throws(EngineError) {
        let record: ContainerRecord
        do { record = try store.load(id) } catch {
            if case .containerNotFound = error, force { return }
            throw error
        }
        try remove(record, force: force)
    }

    private func remove(_ record: ContainerRecord, force: Bool) throws(EngineError) {
        let id = record.id
        let status = status(of: record)
        if status == .running || status == .paused, !force {
            throw .wrongStatus(id: id, status: status, operation: "delete")
        }
        if status == .created || force, ProcessInfo.isRunning(record.pid, startTime: record.startTime) {
            Glibc.kill(record.pid, SIGKILL)
        }
        if let location = record.cgroup {
            do { try Cgroup.open(location: location).delete() } catch { throw .cgroup(error) }
        }
        store.remove(id)
    }

    // MARK: - Helpers

    /// Waits for the container's init, passing on the signals the runtime receives (as runc run does).
    private func waitForwardingSignals(_ process: PidFD, signalFD: Int32) -> ProcessExit {
        var fds = [pollfd(fd: process.fd, events: Int16(POLLIN), revents: 0)]
        if signalFD >= 0 { fds.append(pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)) }
        while true {
            fds[0].revents = 0
            if fds.count > 1 { fds[1].revents = 0 }
            _ = retryingOnEINTR { poll(&fds, nfds_t(fds.count), -1) }
            if fds[0].revents != 0 { break }
            if fds.count > 1, fds[1].revents != 0 {
                let signal = pv_signalfd_next(signalFD)
                if signal > 0 { try? process.signal(signal) }
            }
        }
        return (try? process.wait()) ?? .exited(255)
    }

    private func makeExecFifo(_ path: String) throws(EngineError) -> Int32 {
        if mkfifo(path, 0o622) != 0 { throw .system(SystemError("mkfifo", path)) }
        let fd = pv_open(path, LinuxFlags.openPath | O_CLOEXEC, 0)
        if fd < 0 { throw .system(SystemError("open", path)) }
        return fd
    }

    private func writePidFile(_ path: String, pid: Int32) throws(EngineError) {
        do { try FileIO.writeAtomically(path, String(pid)) } catch { throw .system(error) }
    }

    private func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let cwd = getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "/"
        let joined = path == "." ? cwd : cwd + "/" + path
        return joined.hasSuffix("/.") ? String(joined.dropLast(2)) : joined
    }

    public static func timestamp() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return OCIState.rfc3339(seconds: Int64(time.tv_sec), nanoseconds: Int(time.tv_nsec))
    }

    static func owner() -> String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return String(getuid()) }
        return String(cString: name)
    }
}

/// Undoes a half-made container unless disarmed: its cgroup and its state directory.
private struct Cleanup {
    let store: StateStore
    let id: String
    var cgroup: Cgroup?
    private var armed = true

    init(store: StateStore, id: String) {
        self.store = store
        self.id = id
    }

    mutating func disarm() { armed = false }

    func run() {
        guard armed else { return }
        try? cgroup?.delete()
        store.remove(id)
    }
}
