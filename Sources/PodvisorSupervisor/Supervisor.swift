import PodvisorManifest

/// One instance slot of a pool: "web.2". A restarted instance keeps its slot.
public struct InstanceID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let pool: String
    public let slot: Int

    public init(pool: String, slot: Int) {
        self.pool = pool
        self.slot = slot
    }

    public var description: String { "\(pool).\(slot)" }

    public static func < (a: InstanceID, b: InstanceID) -> Bool { (a.pool, a.slot) < (b.pool, b.slot) }
}

/// What the supervisor asks the pod runtime to do. The runtime reports back with
/// `instanceStarted`, `instanceReady` and `instanceExited`.
public enum SupervisorAction: Equatable, Sendable {
    /// Spawn a process for the slot.
    case start(InstanceID)
    /// Stop the slot's process gracefully (shutdown signal, timeout, then kill).
    case stop(InstanceID)
    /// Something worth an event: restarts, escalations, scaling, failure.
    case event(kind: String, message: String)
    /// Every process has stopped: after `shutdown` (failure == nil) or because intensity was exceeded.
    case finished(failure: String?)
}

/// OTP supervision of a pod's pools, as a pure state machine: no clock, no processes.
///
/// - Pools start in order (the manifest's start order); a pool starts once every instance of the
///   pools before it is ready, as an OTP supervisor starts children one after the other.
/// - An instance that exits on its own is restarted according to its pool's restart type
///   (permanent: always; transient: unless it exited normally; temporary: never) and the pod's
///   strategy: one_for_one restarts the instance, one_for_all restarts every pool, rest_for_one the
///   instance and every pool started after its pool. Restarts wait for the pool's backoff.
/// - More than `intensity` restarts within `period` seconds fail the pod: everything is shut down
///   and `finished(failure:)` carries the reason.
/// - Shutdown stops pools in reverse start order, each pool only after the ones after it are gone.
public struct Supervisor: Sendable {
    public struct Pool: Sendable {
        public var name: String
        public var restart: RestartType
        public var backoff: Backoff
        public var desired: Int
        public var minimum: Int
        public var maximum: Int

        public init(name: String, restart: RestartType, backoff: Backoff, desired: Int, minimum: Int, maximum: Int) {
            self.name = name
            self.restart = restart
            self.backoff = backoff
            self.desired = desired
            self.minimum = minimum
            self.maximum = maximum
        }
    }

    enum Phase: Equatable, Sendable {
        case running(since: Double, ready: Bool)
        /// Asked to stop; `thenRestart` brings it back (group restarts), otherwise the slot goes away.
        case stopping(thenRestart: Bool)
        /// Waiting for its backoff before a restart.
        case waiting(until: Double)
        /// Not started yet: its pool waits for the pools before it.
        case pending
    }

    struct Slot: Sendable {
        var phase: Phase
        var failures = 0
    }

    public let strategy: SupervisionStrategy
    public let intensity: Int
    public let period: Double
    public private(set) var pools: [Pool]
    var slots: [InstanceID: Slot] = [:]
    /// Pools whose instances have all been ready since they were (re)started as a whole: the pools
    /// after them may start. One instance in backoff does not hold the others back.
    var startedPools: Set<String> = []
    var restarts: [Double] = []
    var shuttingDown = false
    var failure: String?
    var finished = false

    public init(strategy: SupervisionStrategy, intensity: Int, period: Double, pools: [Pool]) {
        self.strategy = strategy
        self.intensity = intensity
        self.period = period
        self.pools = pools
    }

    public init(manifest: PodManifest) {
        let pools = manifest.startOrder.map { service in
            Pool(name: service.name, restart: service.restart, backoff: service.backoff,
                 desired: service.replicas.initial, minimum: service.replicas.min, maximum: service.replicas.max)
        }
        self.init(strategy: manifest.supervision.strategy, intensity: manifest.supervision.intensity,
                  period: manifest.supervision.period.seconds, pools: pools)
    }

    // MARK: - Queries

    public var isShuttingDown: Bool { shuttingDown }

    /// The slots that have (or are about to have) a process.
    public var instances: [InstanceID] { slots.keys.sorted() }

    public func isReady(_ id: InstanceID) -> Bool {
        if case .running(_, true) = slots[id]?.phase { return true }
        return false
    }

    public func failures(of id: InstanceID) -> Int { slots[id]?.failures ?? 0 }

    public func pool(named name: String) -> Pool? { pools.first { $0.name == name } }

    /// The earliest time `tick` has work to do (a restart after backoff).
    public var nextDeadline: Double? {
        slots.values.compactMap { if case .waiting(let until) = $0.phase { return until } else { return nil } }.min()
    }

    // MARK: - Events

    /// Starts the pod: slots for every pool, processes for the first pool.
    public mutating func start(now: Double) -> [SupervisorAction] {
        for pool in pools {
            for slot in 0..<pool.desired { slots[InstanceID(pool: pool.name, slot: slot)] = Slot(phase: .pending) }
        }
        return startPendingPools(now: now)
    }

    /// The runtime spawned the slot's process.
    public mutating func instanceStarted(_ id: InstanceID, now: Double, ready: Bool) -> [SupervisorAction] {
        guard slots[id] != nil else { return [] }
        slots[id]!.phase = .running(since: now, ready: ready)
        return ready ? startPendingPools(now: now) : []
    }

    /// The slot's readiness check passed.
    public mutating func instanceReady(_ id: InstanceID, now: Double) -> [SupervisorAction] {
        guard case .running(let since, false) = slots[id]?.phase else { return [] }
        slots[id]!.phase = .running(since: since, ready: true)
        return startPendingPools(now: now)
    }

    /// The slot's process could not be spawned: counts as an abnormal exit.
    public mutating func instanceFailedToStart(_ id: InstanceID, now: Double) -> [SupervisorAction] {
        guard slots[id] != nil else { return [] }
        slots[id]!.phase = .running(since: now, ready: false)
        return instanceExited(id, normal: false, now: now)
    }

    /// The slot's process ended. `normal` is exit status 0.
    public mutating func instanceExited(_ id: InstanceID, normal: Bool, now: Double) -> [SupervisorAction] {
        guard let slot = slots[id], let pool = pool(named: id.pool) else { return [] }
        var actions: [SupervisorAction] = []
        switch slot.phase {
        case .stopping(let thenRestart):
            // A group restart interrupted by shutdown does not come back.
            if thenRestart && !shuttingDown {
                slots[id]!.phase = .pending
            } else {
                slots[id] = nil
            }
        case .running(let since, _):
            if shuttingDown {
                slots[id] = nil
                break
            }
            let restarts = pool.restart == .permanent || (pool.restart == .transient && !normal)
            guard restarts else {
                slots[id] = nil
                let index = pools.firstIndex { $0.name == pool.name }!
                pools[index].desired -= 1
                actions.append(.event(kind: "exited", message: "\(id) exited \(normal ? "normally" : "abnormally"); \(pool.restart.rawValue): not restarted"))
                break
            }
            if let escalation = recordRestart(now: now) {
                actions.append(.event(kind: "escalated", message: escalation))
                failure = escalation
                slots[id] = nil  // its process is gone: nothing to stop
                return actions + beginShutdown(now: now)
            }
            // A process that ran past the longest backoff was healthy: its failures are forgiven.
            let failures = now - since >= pool.backoff.max.seconds ? 1 : slot.failures + 1
            let delay = pool.backoff.delay(attempt: failures).seconds
            slots[id]!.failures = failures
            actions.append(.event(kind: "restarting", message: "\(id) exited \(normal ? "normally" : "abnormally"); \(strategy.rawValue): restart in \(Self.format(delay)) (failure \(failures))"))
            actions += restart(after: id, delay: delay, now: now)
        case .waiting, .pending:
            break
        }
        return actions + finishIfDone()
    }

    /// Starts the restarts whose backoff has passed.
    public mutating func tick(now: Double) -> [SupervisorAction] {
        guard !shuttingDown else { return [] }
        var due: [InstanceID] = []
        for (id, slot) in slots {
            if case .waiting(let until) = slot.phase, until <= now { due.append(id) }
        }
        for id in due { slots[id]!.phase = .pending }
        return startPendingPools(now: now)
    }

    /// Changes a pool's size within its bounds: new slots start, the highest slots stop.
    public mutating func scale(_ name: String, to count: Int, now: Double) throws(SupervisorError) -> [SupervisorAction] {
        guard let index = pools.firstIndex(where: { $0.name == name }) else { throw .unknownPool(name) }
        let pool = pools[index]
        guard (pool.minimum...pool.maximum).contains(count) else {
            throw .outOfBounds(pool: name, requested: count, minimum: pool.minimum, maximum: pool.maximum)
        }
        guard !shuttingDown else { throw .shuttingDown }
        pools[index].desired = count
        let live = slots.keys.filter { $0.pool == name && !isStopping($0) }.sorted()
        var actions: [SupervisorAction] = [.event(kind: "scaled", message: "\(name): \(live.count) -> \(count)")]
        if count > live.count {
            var next = 0
            for _ in live.count..<count {
                while slots[InstanceID(pool: name, slot: next)] != nil { next += 1 }
                slots[InstanceID(pool: name, slot: next)] = Slot(phase: .pending)
            }
            actions += startPendingPools(now: now)
        } else {
            for id in live.suffix(live.count - count) { actions += stop(id, thenRestart: false) }
        }
        return actions
    }

    /// Stops every pool, last started first.
    public mutating func shutdown(now: Double) -> [SupervisorAction] {
        guard !shuttingDown else { return finishIfDone() }
        return beginShutdown(now: now)
    }

    // MARK: - Internals

    private func isRunning(_ id: InstanceID) -> Bool {
        if case .running = slots[id]?.phase { return true }
        return false
    }

    private func isStopping(_ id: InstanceID) -> Bool {
        if case .stopping = slots[id]?.phase { return true }
        return false
    }

    /// OTP's restart intensity: returns the reason when this restart exceeds it.
    private mutating func recordRestart(now: Double) -> String? {
        restarts.append(now)
        restarts.removeAll { $0 <= now - period }
        guard restarts.count > intensity else { return nil }
        return "reached the restart intensity: \(restarts.count) restarts within \(Self.format(period)) (at most \(intensity) allowed)"
    }

    /// Restarts per strategy: the slot alone, or with its pool's peers of the group.
    private mutating func restart(after id: InstanceID, delay: Double, now: Double) -> [SupervisorAction] {
        slots[id]!.phase = .waiting(until: now + delay)
        let poolIndex = pools.firstIndex { $0.name == id.pool }!
        let group: ArraySlice<Pool>
        switch strategy {
        case .oneForOne: return []
        case .oneForAll: group = pools[...]
        case .restForOne: group = pools[(poolIndex + 1)...]
        }
        var actions: [SupervisorAction] = []
        let names = Set(group.map(\.name))
        // The group starts again in order, behind the restarted instance's pool.
        startedPools.subtract(names.union([id.pool]))
        for other in inStartOrder(slots.keys).reversed() where names.contains(other.pool) && other != id {
            if case .running = slots[other]!.phase { actions += stop(other, thenRestart: true) }
            else if case .waiting = slots[other]!.phase { slots[other]!.phase = .pending }
        }
        return actions
    }

    /// Slots sorted by their pool's start order, then by slot.
    private func inStartOrder<S: Sequence>(_ ids: S) -> [InstanceID] where S.Element == InstanceID {
        let rank = Dictionary(uniqueKeysWithValues: pools.enumerated().map { ($1.name, $0) })
        return ids.sorted { (rank[$0.pool] ?? 0, $0.slot) < (rank[$1.pool] ?? 0, $1.slot) }
    }

    private mutating func stop(_ id: InstanceID, thenRestart: Bool) -> [SupervisorAction] {
        slots[id]!.phase = .stopping(thenRestart: thenRestart)
        return [.stop(id)]
    }

    /// Starts the pending slots of the first pools whose predecessors are all ready.
    private mutating func startPendingPools(now: Double) -> [SupervisorAction] {
        guard !shuttingDown else { return [] }
        var actions: [SupervisorAction] = []
        for pool in pools {
            let members = slots.keys.filter { $0.pool == pool.name }.sorted()
            // A pool restarting as a group waits until all of its members have stopped.
            if members.contains(where: isStopping) { break }
            for id in members where slots[id]!.phase == .pending {
                slots[id]!.phase = .running(since: now, ready: false)
                actions.append(.start(id))
            }
            if !startedPools.contains(pool.name) {
                guard members.allSatisfy({ isReady($0) }) else { break }
                startedPools.insert(pool.name)
            }
        }
        return actions
    }

    private mutating func beginShutdown(now: Double) -> [SupervisorAction] {
        shuttingDown = true
        for (id, slot) in slots {
            switch slot.phase {
            case .waiting, .pending: slots[id] = nil
            default: break
            }
        }
        return stopLastPool() + finishIfDone()
    }

    /// In shutdown: stops the last pool that still has running processes, unless one is stopping already.
    private mutating func stopLastPool() -> [SupervisorAction] {
        guard !slots.keys.contains(where: isStopping) else { return [] }
        for pool in pools.reversed() {
            let members = slots.keys.filter { $0.pool == pool.name }.sorted()
            // Slots without a process (pending, waiting for backoff) just go away.
            for id in members where !isRunning(id) { slots[id] = nil }
            let running = members.filter(isRunning)
            if running.isEmpty { continue }
            return running.flatMap { stop($0, thenRestart: false) }
        }
        return []
    }

    private mutating func finishIfDone() -> [SupervisorAction] {
        guard shuttingDown, !finished else { return [] }
        if !slots.isEmpty { return stopLastPool() }
        finished = true
        return [.finished(failure: failure)]
    }

    static func format(_ seconds: Double) -> String {
        seconds < 1 ? "\(Int((seconds * 1000).rounded()))ms" : "\((seconds * 100).rounded() / 100)s"
    }
}

public enum SupervisorError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownPool(String)
    case outOfBounds(pool: String, requested: Int, minimum: Int, maximum: Int)
    case shuttingDown

    public var description: String {
        switch self {
        case .unknownPool(let name): return "no service \"\(name)\" in this pod"
        case .outOfBounds(let pool, let requested, let minimum, let maximum):
            return "\(pool): \(requested) instances is outside the manifest's replicas \(minimum)...\(maximum)"
        case .shuttingDown: return "the pod is shutting down"
        }
    }
}

extension Duration {
    /// Seconds as a Double (the supervisor's time unit).
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
