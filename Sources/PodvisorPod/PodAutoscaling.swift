import PodvisorAutoscaler
import PodvisorLinux
import PodvisorManifest

/// The in-pod autoscaler as the supervisor runs it: on a timer, sample every pool's cgroup (PSI,
/// cpu.stat, the listener's accept queue), let the pure policy decide, and record the time series.
/// Pools without an `autoscale` block are sampled (and recorded) but never resized.
final class PodAutoscaling {
    let sampler: Sampler
    var policy: ScalingPolicy
    let recorder: Recorder?
    let interval: Double
    let poolNames: [String]
    /// Whether the pools' memory.high can be tuned (memory lives in cgroup v2).
    let memoryInV2: Bool
    private(set) var nextSample: Double

    /// nil when no service autoscales and nothing is to be recorded or exported.
    init?(manifest: PodManifest, podCgroup: Cgroup, pools: [String: (cgroup: Cgroup, listeners: [Int32])],
          recordPath: String?, sampleAnyway: Bool, now: Double) throws(PodError) {
        let scaled = manifest.services.filter { $0.autoscale != nil }
        guard !scaled.isEmpty || recordPath != nil || sampleAnyway else { return nil }
        interval = scaled.compactMap { $0.autoscale?.interval.seconds }.min() ?? 0.25
        sampler = Sampler(pod: podCgroup.location, config: SamplerConfig(interval: interval, window: max(1, 4 * interval)))
        poolNames = manifest.startOrder.map(\.name)
        for service in manifest.services {
            guard let pool = pools[service.name] else { continue }
            sampler.addPool(service.name, location: pool.cgroup.location).listenerFDs = service.autoscale?.metric == .acceptQueue ? pool.listeners : []
        }
        // memory.high (senpai-style) needs memory in cgroup v2: a unified host, where the pod has no v1 memory.
        memoryInV2 = podCgroup.location.v2 != nil && podCgroup.location.v1["memory"] == nil
        var poolPolicies: [String: PoolPolicy] = [:]
        for service in scaled {
            guard let spec = service.autoscale else { continue }
            poolPolicies[service.name] = Self.policy(service, spec, memoryInV2: memoryInV2)
        }
        policy = ScalingPolicy(pools: poolPolicies, pod: PodPolicy(budgetCores: manifest.resources.cpu.map { Double($0) / 1000 }))
        do { recorder = try recordPath.map { path throws(SystemError) in try Recorder(path: path, truncate: true) } } catch {
            throw PodError("--record: \(error)")
        }
        nextSample = now
    }

    /// `pod autoscale`: sets (or removes) a pool's policy while the pod runs.
    func configure(_ service: ServiceSpec, target: Double?, enabled: Bool) {
        guard enabled else {
            policy.pools[service.name] = nil
            return
        }
        let spec = service.autoscale ?? AutoscaleSpec()
        var pool = policy.pools[service.name] ?? Self.policy(service, spec, memoryInV2: memoryInV2)
        if let target {
            var changed = spec
            changed.target = target
            pool.target = Self.target(changed)
        }
        policy.pools[service.name] = pool
    }

    /// A service's autoscale block as the policy's configuration; memory.high is steered where memory is in v2.
    static func policy(_ service: ServiceSpec, _ spec: AutoscaleSpec, memoryInV2: Bool) -> PoolPolicy {
        var pool = PoolPolicy(
            target: target(spec), minReplicas: service.replicas.min, maxReplicas: service.replicas.max,
            maxStepUp: spec.stepUp, maxStepDown: spec.stepDown, upWindow: spec.scaleUpWindow.seconds,
            downWindow: spec.scaleDownWindow.seconds, cooldown: spec.cooldown.seconds, tolerance: spec.tolerance,
            instanceCores: service.resources.cpu.map { Double($0) / 1000 })
        if memoryInV2, let memory = service.resources.memory {
            pool.memoryHigh = MemoryHighPolicy(maxBytes: memory * Int64(service.replicas.max))
        }
        return pool
    }

    static func target(_ spec: AutoscaleSpec) -> ScalingTarget {
        switch spec.metric {
        case .cpuPressure: return .cpuPressure(spec.target)
        case .utilisation: return .utilisation(coresPerInstance: spec.target)
        case .acceptQueue: return .acceptQueue(perInstance: spec.target)
        }
    }

    /// The pool's instances changed: sample their cgroups too (throttling at their own cpu.max).
    func setInstances(pool: String, _ instances: [(name: String, location: CgroupLocation)]) {
        sampler.pool(pool)?.setInstances(instances)
    }

    /// Samples; once a window of samples exists, evaluates and records. Returns what it saw and decided.
    func tick(now: Double, replicas: (String) -> Int) -> (observations: [PoolObservation], decisions: [Decision]) {
        guard now >= nextSample else { return ([], []) }
        nextSample = now + interval
        sampler.sample(at: now)
        let observations = poolNames.compactMap { sampler.pool($0)?.observation(replicas: replicas($0)) }
        let podObservation = sampler.pod?.rates().map(PodObservation.init(rates:))
        let decisions = policy.evaluate(observations, pod: podObservation)
        try? recorder?.record(observations: observations, decisions: decisions)
        return (observations, decisions)
    }
}
