/// What a pool scales on.
public enum ScalingTarget: Sendable, Equatable {
    /// The pool cgroup's cpu "some" pressure share (e.g. 0.10: some task of the pool waits for cpu 10% of the time).
    case cpuPressure(Double)
    /// CPU use per instance in cores (e.g. 0.7).
    case utilisation(coresPerInstance: Double)
    /// Connections waiting in the accept queue per instance (e.g. 4).
    case acceptQueue(perInstance: Double)

    public var value: Double {
        switch self {
        case .cpuPressure(let v), .utilisation(let v), .acceptQueue(let v): v
        }
    }

    public var name: String {
        switch self {
        case .cpuPressure: "cpu-pressure"
        case .utilisation: "utilisation"
        case .acceptQueue: "accept-queue"
        }
    }
}

/// senpai-style memory.high tuning: every `interval`, lower memory.high while the pool's memory "some" share is
/// below `stallTarget`, raise it when above. Default target 10 ms of stall per 6 s interval (senpai's).
public struct MemoryHighPolicy: Sendable, Equatable {
    public var stallTarget: Double
    public var interval: Double
    /// Largest fraction lowered per interval (scaled by how far below target the pressure is): 1%.
    public var lowerStep: Double
    /// Largest fraction raised per interval (scaled by how far above target, capped at 1x): 10%.
    public var raiseStep: Double
    public var minBytes: Int64
    public var maxBytes: Int64?

    public init(stallTarget: Double = 0.010 / 6, interval: Double = 6, lowerStep: Double = 0.01,
                raiseStep: Double = 0.10, minBytes: Int64 = 64 << 20, maxBytes: Int64? = nil) {
        self.stallTarget = stallTarget
        self.interval = interval
        self.lowerStep = lowerStep
        self.raiseStep = raiseStep
        self.minBytes = minBytes
        self.maxBytes = maxBytes
    }
}

/// Per-pool policy. Times in seconds, shares as fractions. Defaults in docs/AUTOSCALER.md.
public struct PoolPolicy: Sendable, Equatable {
    public var target: ScalingTarget
    public var minReplicas: Int
    public var maxReplicas: Int
    /// Largest scale-up per decision: max(maxStepUp, ceil(current * maxStepUpFraction)) (HPA: 4 pods or 100%).
    public var maxStepUp: Int
    public var maxStepUpFraction: Double
    /// Largest scale-down per decision: max(maxStepDown, floor(current * maxStepDownFraction)).
    public var maxStepDown: Int
    public var maxStepDownFraction: Double
    /// Scale up to the minimum desired count over this window: spikes shorter than it do not scale up.
    public var upWindow: Double
    /// Scale down to the maximum desired count over this window: dips shorter than it do not scale down.
    public var downWindow: Double
    /// No change within this long after the previous one.
    public var cooldown: Double
    /// No change while |metric/target - 1| <= tolerance.
    public var tolerance: Double
    /// A throttled share (of CFS periods) at or above this counts as throttled.
    public var throttleThreshold: Double
    /// Memory "some" share at or above this blocks scale-up.
    public var memoryPressureThreshold: Double
    public var memoryHigh: MemoryHighPolicy?
    /// CPU of one instance in cores, for the pod budget and the scale-down floor; default: the instances' own
    /// quota, else 1.
    public var instanceCores: Double?
    /// Scale-down floor: never scale down below ceil(cpu used / (scaleDownUtilisation * instanceCores)), so that
    /// the remaining instances would each run at most this busy. Pressure and queue targets read ~0 whenever
    /// there is enough capacity, which says nothing about how much is needed: without the floor they drop to
    /// `minReplicas` and bounce back once per down window. nil: no floor.
    public var scaleDownUtilisation: Double?

    public init(target: ScalingTarget, minReplicas: Int = 1, maxReplicas: Int = 10,
                maxStepUp: Int = 4, maxStepUpFraction: Double = 1.0, maxStepDown: Int = 1,
                maxStepDownFraction: Double = 0.5, upWindow: Double = 3, downWindow: Double = 60,
                cooldown: Double = 5, tolerance: Double = 0.10, throttleThreshold: Double = 0.05,
                memoryPressureThreshold: Double = 0.10, memoryHigh: MemoryHighPolicy? = nil,
                instanceCores: Double? = nil, scaleDownUtilisation: Double? = 0.7) {
        self.target = target
        self.minReplicas = max(0, minReplicas)
        self.maxReplicas = max(self.minReplicas, maxReplicas)
        self.maxStepUp = max(1, maxStepUp)
        self.maxStepUpFraction = maxStepUpFraction
        self.maxStepDown = max(1, maxStepDown)
        self.maxStepDownFraction = maxStepDownFraction
        self.upWindow = upWindow
        self.downWindow = downWindow
        self.cooldown = cooldown
        self.tolerance = tolerance
        self.throttleThreshold = throttleThreshold
        self.memoryPressureThreshold = memoryPressureThreshold
        self.memoryHigh = memoryHigh
        self.instanceCores = instanceCores
        self.scaleDownUtilisation = scaleDownUtilisation
    }

    func stepUp(from current: Int) -> Int {
        max(maxStepUp, Int((Double(current) * maxStepUpFraction).rounded(.up)))
    }

    func stepDown(from current: Int) -> Int {
        max(maxStepDown, Int((Double(current) * maxStepDownFraction).rounded(.down)))
    }
}

/// The pod: its cpu budget (shared by its pools) and when its cgroup counts as throttled.
public struct PodPolicy: Sendable, Equatable {
    /// The pod's cpu budget in cores (its cpu.max); nil: no arbitration.
    public var budgetCores: Double?
    public var throttleThreshold: Double

    public init(budgetCores: Double? = nil, throttleThreshold: Double = 0.05) {
        self.budgetCores = budgetCores
        self.throttleThreshold = throttleThreshold
    }
}

/// The scaling policy of a pod: pure (no clock, no I/O), deterministic. Feed it time-stamped observations in
/// time order; it keeps the desired-count history the stabilisation windows need and the time of the last change,
/// and returns one decision per observed pool (a change or a hold, with reason and inputs) plus memory.high
/// adjustments. It assumes the supervisor applies the changes it returns (it starts the cooldown at once); the
/// next observation's `replicas` is taken as the truth either way.
///
/// The model, per pool (formulas in docs/AUTOSCALER.md):
///   desired(t) = clamp(ceil(current * metric/target), min, max), or current when |metric/target - 1| <= tolerance
///   up(t)   = min desired over [t - upWindow, t]     -> scale up to it when up(t) > current
///   down(t) = max desired over [t - downWindow, t]   -> scale down to it when down(t) < current
/// limited by the step limits, the cooldown, memory pressure, throttling at a budget, and the pod budget
/// (`PodArbiter`).
public struct ScalingPolicy: Sendable {
    public var pools: [String: PoolPolicy]
    public var pod: PodPolicy
    var states: [String: PoolState] = [:]

    struct PoolState: Sendable {
        var firstTime: Double
        var history: [(time: Double, desired: Int)] = []
        var lastChange: Double?
        var lastMemoryAdjust: Double?
        var memoryHigh: Int64?
    }

    public init(pools: [String: PoolPolicy], pod: PodPolicy = PodPolicy()) {
        self.pools = pools
        self.pod = pod
    }

    /// Evaluates one pool without a pod budget.
    public mutating func evaluate(_ observation: PoolObservation) -> [Decision] {
        evaluate([observation], pod: nil)
    }

    /// Evaluates every observed pool (all at one time), arbitrating the pod budget between them.
    /// Pools without a `PoolPolicy` are ignored.
    public mutating func evaluate(_ observations: [PoolObservation], pod podObservation: PodObservation? = nil)
        -> [Decision]
    {
        var proposals: [Proposal] = []
        var memoryDecisions: [Decision] = []
        for observation in observations {
            guard let config = pools[observation.pool] else { continue }
            proposals.append(propose(observation, config, podObservation))
            if let memory = adjustMemoryHigh(observation, config) { memoryDecisions.append(memory) }
        }
        if let budget = pod.budgetCores {
            arbitrate(&proposals, budget: budget)
        }
        for proposal in proposals where proposal.decision.from != proposal.decision.to {
            states[proposal.decision.pool]?.lastChange = proposal.decision.time
        }
        return proposals.map(\.decision) + memoryDecisions
    }

    /// Forgets a pool's history (after it is removed or re-created).
    public mutating func reset(pool: String) {
        states[pool] = nil
    }

    // MARK: - One pool

    struct Proposal {
        var decision: Decision
        /// Replicas the pool keeps whatever happens (its decision, or current when it wants up).
        var keep: Int
        /// Replicas it asks for (> keep when it wants to scale up).
        var want: Int
        var minReplicas: Int
        var instanceCores: Double
        var pressure: Double
    }

    mutating func propose(_ o: PoolObservation, _ config: PoolPolicy, _ podObservation: PodObservation?) -> Proposal {
        let t = o.time
        let current = o.replicas
        var state = states[o.pool] ?? PoolState(firstTime: t)
        defer { states[o.pool] = state }

        // The metric and the raw desired count.
        let basis = Double(max(current, 1))
        let target = max(config.target.value, 1e-9)
        var metric: Double
        var demand: Double?  // ceil(demand) is the raw desired count
        switch config.target {
        case .cpuPressure:
            metric = o.cpuSome
            demand = basis * metric / target
        case .utilisation:
            metric = o.cpuCores / basis
            demand = o.cpuCores / target
        case .acceptQueue:
            metric = (o.acceptQueue ?? 0) / basis
            demand = o.acceptQueue.map { $0 / target }
        }
        let ratio = metric / target
        let inBand = current > 0 && abs(ratio - 1) <= config.tolerance
        let instanceCores = config.instanceCores ?? o.instanceQuotaCores ?? 1
        var raw = demand.map { Int(($0 - 1e-9).rounded(.up)) } ?? current
        var floored = false
        if raw < current, let busy = config.scaleDownUtilisation, busy > 0 {
            let floor = Int((o.cpuCores / (busy * instanceCores) - 1e-9).rounded(.up))
            if floor > raw {
                raw = min(floor, current)
                floored = true
            }
        }
        let desired = inBand ? current : min(max(raw, config.minReplicas), config.maxReplicas)

        state.history.append((t, desired))
        let horizon = t - max(config.upWindow, config.downWindow)
        if let keepFrom = state.history.firstIndex(where: { $0.time >= horizon }), keepFrom > 0 {
            state.history.removeFirst(keepFrom)
        }
        var up = desired
        var down = desired
        for entry in state.history.reversed() {
            let age = t - entry.time
            if age <= config.upWindow { up = min(up, entry.desired) }
            if age <= config.downWindow { down = max(down, entry.desired) } else { break }
        }
        let upCovered = t - state.firstTime >= config.upWindow
        let downCovered = t - state.firstTime >= config.downWindow

        let instanceThrottle = o.meanInstanceThrottledShare
        let podThrottle = podObservation?.throttledShare ?? 0
        let inputs = DecisionInputs(
            metric: metric, target: config.target.value, desired: desired, upRecommendation: up,
            downRecommendation: down, cpuSome: o.cpuSome, memorySome: o.memorySome, cpuCores: o.cpuCores,
            throttledShare: o.throttledShare, instanceThrottledShare: instanceThrottle,
            podThrottledShare: podThrottle, acceptQueue: o.acceptQueue)
        func result(_ to: Int, _ reason: DecisionReason, _ text: String, want: Int? = nil) -> Proposal {
            let decision = Decision(time: t, pool: o.pool, from: current, to: to, reason: reason, text: text,
                                    inputs: inputs)
            return Proposal(decision: decision, keep: to, want: want ?? to, minReplicas: config.minReplicas,
                            instanceCores: instanceCores, pressure: o.cpuSome)
        }
        var m = "\(config.target.name) \(Format.fixed(metric, 3)) vs target \(Format.fixed(config.target.value, 3))"
        if floored {
            m += " (scale-down floor: \(Format.fixed(o.cpuCores, 2)) cores used need \(raw) instances at \(Format.percent(config.scaleDownUtilisation!, 0)))"
        }

        if demand == nil && current >= config.minReplicas && current <= config.maxReplicas {
            return result(current, .noData, "no \(config.target.name) metric (no listener sockets?)")
        }
        if current < config.minReplicas {
            return result(config.minReplicas, .belowMin, "\(current) replicas is below min \(config.minReplicas)")
        }
        if current > config.maxReplicas {
            return result(config.maxReplicas, .aboveMax, "\(current) replicas is above max \(config.maxReplicas)")
        }
        let inCooldown = state.lastChange.map { t - $0 < config.cooldown } ?? false
        let saturated = instanceThrottle >= config.throttleThreshold
        if up > current {
            if !upCovered {
                return result(current, .stabilising, "\(m): desired \(desired), history shorter than the \(Format.fixed(config.upWindow, 1)) s up window")
            }
            if o.memorySome >= config.memoryPressureThreshold {
                return result(current, .memoryPressure,
                              "\(m) wants \(up), but memory pressure \(Format.percent(o.memorySome)) >= \(Format.percent(config.memoryPressureThreshold)) blocks scale-up")
            }
            if o.throttledShare >= config.throttleThreshold && !saturated {
                return result(current, .budget,
                              "pool throttled in \(Format.percent(o.throttledShare)) of periods at its own cpu budget while instances are throttled in \(Format.percent(instanceThrottle)): another instance adds no capacity")
            }
            if podThrottle >= pod.throttleThreshold && !saturated && pod.budgetCores == nil {
                return result(current, .budget,
                              "pod throttled in \(Format.percent(podThrottle)) of periods at its cpu budget while instances are throttled in \(Format.percent(instanceThrottle)): another instance adds no capacity")
            }
            if inCooldown {
                return result(current, .cooldown, "\(m) wants \(up); last change \(Format.fixed(t - state.lastChange!, 1)) s ago < cooldown \(Format.fixed(config.cooldown, 1)) s")
            }
            let step = config.stepUp(from: current)
            let to = min(up, current + step)
            let limited = to < up ? " (step limit \(step))" : ""
            let why = saturated ? "; instances throttled in \(Format.percent(instanceThrottle)) of periods at their own quota (saturated: demand)" : ""
            var proposal = result(to, .scaleUp, "\(m): min desired over \(Format.fixed(config.upWindow, 1)) s is \(up)\(limited)\(why)", want: to)
            proposal.keep = current
            return proposal
        }
        if down < current {
            if !downCovered {
                return result(current, .stabilising, "\(m): desired \(desired), history shorter than the \(Format.fixed(config.downWindow, 1)) s down window")
            }
            if inCooldown {
                return result(current, .cooldown, "\(m) wants \(down); last change \(Format.fixed(t - state.lastChange!, 1)) s ago < cooldown \(Format.fixed(config.cooldown, 1)) s")
            }
            let step = config.stepDown(from: current)
            let to = max(down, current - step)
            let limited = to > down ? " (step limit \(step))" : ""
            return result(to, .scaleDown, "\(m): max desired over \(Format.fixed(config.downWindow, 1)) s is \(down)\(limited)")
        }
        // Hold.
        if desired > current {
            return result(current, .stabilising, "\(m): desired \(desired), but min desired over the \(Format.fixed(config.upWindow, 1)) s up window is \(up)")
        }
        if desired < current {
            return result(current, .stabilising, "\(m): desired \(desired), but max desired over the \(Format.fixed(config.downWindow, 1)) s down window is \(down)")
        }
        if inBand {
            return result(current, .inBand, "\(m): within \(Format.percent(config.tolerance)) tolerance")
        }
        if raw > current && current == config.maxReplicas {
            return result(current, .atMax, "\(m) wants \(raw), at max \(config.maxReplicas)")
        }
        if raw < current && current == config.minReplicas {
            return result(current, .atMin, "\(m) wants \(raw), at min \(config.minReplicas)")
        }
        return result(current, .inBand, "\(m): desired equals current")
    }

    // MARK: - Pod budget

    mutating func arbitrate(_ proposals: inout [Proposal], budget: Double) {
        let requests = proposals.map {
            PodArbiter.Request(pool: $0.decision.pool, keep: $0.keep, want: $0.want, minReplicas: $0.minReplicas,
                               instanceCores: $0.instanceCores, pressure: $0.pressure)
        }
        let grants = PodArbiter.arbitrate(budgetCores: budget, requests: requests)
        for index in proposals.indices {
            let p = proposals[index]
            guard let granted = grants[p.decision.pool] else { continue }
            var d = p.decision
            let budgetText = "pod budget \(Format.fixed(budget, 2)) cores"
            if granted < p.keep {
                d.to = granted
                d.reason = .budgetReclaim
                d.text = "\(budgetText) exceeded: reduced to \(granted) (lowest cpu pressure per instance); " + d.text
            } else if p.want > p.keep && granted < p.want {
                if granted > d.from {
                    d.to = granted
                    d.text += "; granted \(granted) of \(p.want) by the \(budgetText)"
                } else {
                    d.to = d.from
                    d.reason = .budget
                    d.text = "wants \(p.want), but the \(budgetText) is taken (by pools with higher cpu pressure per instance)"
                }
            }
            proposals[index].decision = d
        }
    }

    // MARK: - memory.high

    mutating func adjustMemoryHigh(_ o: PoolObservation, _ config: PoolPolicy) -> Decision? {
        guard let policy = config.memoryHigh, let usage = o.memoryCurrentBytes, var state = states[o.pool] else {
            return nil
        }
        defer { states[o.pool] = state }
        if let last = state.lastMemoryAdjust, o.time - last < policy.interval { return nil }
        state.lastMemoryAdjust = o.time
        let high = o.memoryHighBytes ?? state.memoryHigh ?? usage
        let share = o.memorySome
        let target = max(policy.stallTarget, 1e-9)
        var next: Int64
        let reason: DecisionReason
        let text: String
        if share < target {
            let step = policy.lowerStep * (1 - share / target)
            next = Int64(Double(min(high, usage)) * (1 - step))
            next = max(next, policy.minBytes)
            reason = .memoryHighLower
            text = "memory pressure \(Format.percent(share, 3)) < target \(Format.percent(target, 3)): lower memory.high by \(Format.percent(step, 2)) of min(high, current)"
        } else {
            let step = policy.raiseStep * min(1, (share - target) / target)
            next = Int64(Double(high) * (1 + step))
            reason = .memoryHighRaise
            text = "memory pressure \(Format.percent(share, 3)) >= target \(Format.percent(target, 3)): raise memory.high by \(Format.percent(step, 2))"
        }
        if let cap = policy.maxBytes { next = min(next, cap) }
        if next == high { return nil }
        state.memoryHigh = next
        return Decision(time: o.time, pool: o.pool, from: o.replicas, to: o.replicas, reason: reason, text: text,
                        inputs: DecisionInputs(memorySome: share), memoryHigh: MemoryHighChange(from: o.memoryHighBytes ?? high, to: next))
    }
}
