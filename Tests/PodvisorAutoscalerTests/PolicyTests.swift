import PodvisorAutoscaler
import Testing

/// A synthetic pool: `demand(t)` cores of work; each instance can use at most 1 core, so usage is
/// min(demand, replicas). The policy's decisions are applied at once (replicas = decision.to).
struct Simulation {
    var policy: ScalingPolicy
    var replicas: Int
    var step = 0.25
    var pool = "web"
    var changes: [Decision] = []
    var decisions: [Decision] = []

    mutating func run(from start: Double = 0, to end: Double, demand: (Double) -> Double,
                      extra: (inout PoolObservation) -> Void = { _ in }) {
        var t = start
        while t <= end + 1e-9 {
            let used = min(demand(t), Double(replicas))
            var observation = PoolObservation(time: t, pool: pool, replicas: replicas, cpuCores: used)
            extra(&observation)
            for decision in policy.evaluate(observation) where decision.memoryHigh == nil {
                decisions.append(decision)
                if decision.from != decision.to {
                    changes.append(decision)
                    replicas = decision.to
                }
            }
            t += step
        }
    }
}

func utilisationPolicy(_ target: Double = 0.5, min: Int = 1, max: Int = 10, upWindow: Double = 3,
                       downWindow: Double = 60, cooldown: Double = 5) -> ScalingPolicy {
    ScalingPolicy(pools: ["web": PoolPolicy(target: .utilisation(coresPerInstance: target), minReplicas: min,
                                            maxReplicas: max, upWindow: upWindow, downWindow: downWindow,
                                            cooldown: cooldown)])
}

@Suite("Scaling policy")
struct PolicyTests {
    @Test func stepUpWaitsForTheUpWindowThenScalesWithinStepLimits() {
        var sim = Simulation(policy: utilisationPolicy(), replicas: 2)
        sim.run(to: 40) { $0 < 10 ? 1.0 : 4.0 }
        let first = try! #require(sim.changes.first)
        #expect(first.reason == .scaleUp)
        // Load rises at 10 s; the minimum desired over the 3 s up window exceeds 2 only from 13 s on.
        #expect(first.time >= 13 && first.time < 13.5)
        #expect(first.to == 4)  // usage is capped at 2 cores by 2 instances: desired ceil(2/0.5)
        #expect(sim.changes.allSatisfy { $0.to > $0.from })
        #expect(sim.replicas == 8)  // ceil(4 / 0.5)
        // The second step waits for the cooldown.
        #expect(sim.changes.count == 2 && sim.changes[1].time - first.time >= 5)
    }

    @Test func stepDownOnlyAfterTheDownWindow() {
        var sim = Simulation(policy: utilisationPolicy(), replicas: 8)
        sim.run(to: 220) { $0 < 100 ? 4.0 : 1.0 }
        let downs = sim.changes.filter { $0.to < $0.from }
        let first = try! #require(downs.first)
        #expect(sim.changes.count == downs.count)
        #expect(first.time >= 160 && first.time < 160.5)
        // Holds before it say why.
        let before = sim.decisions.filter { $0.time > 101 && $0.time < 160 }
        #expect(before.allSatisfy { $0.reason == .stabilising })
        #expect(before.first?.text.contains("down window") == true)
        #expect(first.to == 4)  // step max(1, 50% of 8)
        #expect(sim.replicas == 2)
    }

    @Test func oscillatingLoadDoesNotFlap() {
        var sim = Simulation(policy: utilisationPolicy(), replicas: 2)
        // 10 s at 3 cores, 10 s at 1 core, for 10 minutes.
        sim.run(to: 600) { Int($0 / 10) % 2 == 0 ? 3.0 : 1.0 }
        #expect(sim.changes.allSatisfy { $0.to > $0.from }, "\(sim.changes)")
        #expect(sim.changes.count <= 2)
        #expect(sim.replicas == 6)
        // No direction change within a down window, and at most one change per window after convergence.
        for (a, b) in zip(sim.changes, sim.changes.dropFirst()) where (a.to > a.from) != (b.to > b.from) {
            #expect(b.time - a.time >= 60)
        }
    }

    @Test func shortSpikeDoesNotScaleUpAndShortDipDoesNotScaleDown() {
        var sim = Simulation(policy: utilisationPolicy(), replicas: 4)
        sim.run(to: 200) { t in
            if t >= 20 && t < 22 { return 4.0 }  // 2 s spike < 3 s up window
            if t >= 100 && t < 150 { return 0.5 }  // 50 s dip < 60 s down window
            return 2.0
        }
        #expect(sim.changes.isEmpty, "\(sim.changes)")
    }

    @Test func minAndMaxAreHonoured() {
        var sim = Simulation(policy: utilisationPolicy(min: 2, max: 5, upWindow: 0, downWindow: 10, cooldown: 0),
                             replicas: 0)
        sim.run(to: 30) { _ in 100 }
        #expect(sim.changes.first?.reason == .belowMin && sim.changes.first?.to == 2)
        #expect(sim.replicas == 5)
        #expect(sim.decisions.last?.reason == .atMax)
        sim.run(from: 30.25, to: 80) { _ in 0 }
        #expect(sim.replicas == 2)
        #expect(sim.decisions.last?.reason == .atMin)
        #expect(sim.changes.allSatisfy { $0.to >= 2 && $0.to <= 5 })
    }

    @Test func toleranceBand() {
        // 4 instances, target 0.5 cores each: 2.16 cores is 1.08x (in band), 2.3 cores is 1.15x (out).
        var inBand = Simulation(policy: utilisationPolicy(upWindow: 1), replicas: 4)
        inBand.run(to: 20) { _ in 2.16 }
        #expect(inBand.changes.isEmpty)
        #expect(inBand.decisions.last?.reason == .inBand)
        var outOfBand = Simulation(policy: utilisationPolicy(upWindow: 1), replicas: 4)
        outOfBand.run(to: 20) { _ in 2.3 }
        #expect(outOfBand.changes.count == 1 && outOfBand.replicas == 5)
    }

    @Test func cooldownIsReported() {
        var burst = Simulation(policy: utilisationPolicy(upWindow: 0, cooldown: 5), replicas: 1)
        burst.run(to: 3) { _ in 50 }
        #expect(burst.changes.count == 1)  // 1 -> 2 (one instance uses at most 1 core), then the cooldown holds
        #expect(burst.replicas == 2)
        #expect(burst.decisions.last?.reason == .cooldown)
        #expect(burst.decisions.last?.text.contains("cooldown") == true)
        burst.run(from: 3.25, to: 6) { _ in 50 }
        #expect(burst.changes.count == 2 && burst.changes[1].time == 5 && burst.replicas == 4)
    }

    // MARK: - Throttling

    func pressurePolicy(budget: Double? = nil) -> ScalingPolicy {
        let pool = PoolPolicy(target: .cpuPressure(0.10), minReplicas: 1, maxReplicas: 10, upWindow: 0,
                              downWindow: 60, cooldown: 0)
        return ScalingPolicy(pools: ["a": pool, "b": pool], pod: PodPolicy(budgetCores: budget))
    }

    @Test func poolThrottledAtItsBudgetIsNotDemand() {
        var policy = pressurePolicy()
        // The pool's own cpu.max throttles it; its instances are far from their own quota.
        let observation = PoolObservation(time: 0, pool: "a", replicas: 2, cpuSome: 0.4, cpuCores: 1.0,
                                          throttledShare: 0.6, instanceThrottledShares: [0, 0.01])
        let decision = policy.evaluate(observation)[0]
        #expect(decision.reason == .budget)
        #expect(decision.to == 2)
        #expect(decision.text.contains("adds no capacity"))
    }

    @Test func instanceSaturatedAtItsOwnQuotaIsDemand() {
        var policy = pressurePolicy()
        let observation = PoolObservation(time: 0, pool: "a", replicas: 2, cpuSome: 0.4, cpuCores: 1.0,
                                          throttledShare: 0.6, instanceThrottledShares: [0.7, 0.8],
                                          instanceQuotaCores: 0.5)
        let decision = policy.evaluate(observation)[0]
        #expect(decision.reason == .scaleUp)
        #expect(decision.to == 6)  // ceil(2 * 0.4 / 0.1) = 8, step max(4, 100%) = 4
        #expect(decision.text.contains("saturated"))
    }

    @Test func podThrottledWithoutBudgetInfoHolds() {
        var policy = pressurePolicy()
        let observation = PoolObservation(time: 0, pool: "a", replicas: 2, cpuSome: 0.4, cpuCores: 1.0)
        let decisions = policy.evaluate([observation], pod: PodObservation(time: 0, throttledShare: 0.5))
        #expect(decisions[0].reason == .budget)
        #expect(decisions[0].inputs.podThrottledShare == 0.5)
    }

    @Test func twoPoolsCompetingForThePodBudget() {
        var policy = pressurePolicy(budget: 4)
        // Both at 1 instance (1 core each); 2 cores free. a: 80% pressure, wants 5 (step 4); b: 20%, wants 2.
        let a = PoolObservation(time: 0, pool: "a", replicas: 1, cpuSome: 0.8, instanceQuotaCores: 1)
        let b = PoolObservation(time: 0, pool: "b", replicas: 1, cpuSome: 0.2, instanceQuotaCores: 1)
        let decisions = policy.evaluate([a, b], pod: PodObservation(time: 0, throttledShare: 0.3))
        let da = decisions.first { $0.pool == "a" }!
        let db = decisions.first { $0.pool == "b" }!
        // Pressure per instance: a 0.8 > b 0.2 -> a; a 0.4 > 0.2 -> a; budget spent.
        #expect(da.reason == .scaleUp && da.to == 3)
        #expect(da.text.contains("granted 3 of 5"))
        #expect(db.reason == .budget && db.to == 1)
    }

    @Test func arbiterSharesByPressurePerInstanceAndReclaims() {
        let grants = PodArbiter.arbitrate(budgetCores: 6, requests: [
            .init(pool: "a", keep: 1, want: 6, pressure: 0.6),
            .init(pool: "b", keep: 1, want: 6, pressure: 0.3),
        ])
        // a: 0.6/1, 0.6/2=0.3 ties b 0.3/1 -> "a" sorts first; then b 0.3 vs a 0.2 -> b; ...
        #expect(grants["a"]! + grants["b"]! == 6)
        #expect(grants["a"]! == 4 && grants["b"]! == 2)
        // The budget shrank to 3 while 5 instances are kept: take from the lowest pressure per instance first.
        let reclaimed = PodArbiter.arbitrate(budgetCores: 3, requests: [
            .init(pool: "a", keep: 3, want: 3, minReplicas: 1, pressure: 0.6),
            .init(pool: "b", keep: 2, want: 2, minReplicas: 1, pressure: 0.1),
        ])
        #expect(reclaimed == ["a": 2, "b": 1])
        // Instances of half a core count half.
        let halves = PodArbiter.arbitrate(budgetCores: 2, requests: [
            .init(pool: "a", keep: 1, want: 10, instanceCores: 0.5, pressure: 0.5)
        ])
        #expect(halves["a"] == 4)
    }

    // MARK: - Memory

    @Test func memoryPressureBlocksScaleUp() {
        var policy = pressurePolicy()
        let observation = PoolObservation(time: 0, pool: "a", replicas: 2, cpuSome: 0.4, memorySome: 0.25)
        let decision = policy.evaluate(observation)[0]
        #expect(decision.reason == .memoryPressure)
        #expect(decision.to == 2)
        // Without memory pressure the same observation scales up.
        var other = pressurePolicy()
        #expect(other.evaluate(PoolObservation(time: 0, pool: "a", replicas: 2, cpuSome: 0.4))[0].reason == .scaleUp)
    }

    @Test func memoryHighIsLoweredWithoutPressureAndRaisedWithIt() {
        let mib: Int64 = 1 << 20
        var policy = ScalingPolicy(pools: ["a": PoolPolicy(target: .cpuPressure(0.1),
                                                           memoryHigh: MemoryHighPolicy(interval: 6, minBytes: 64 * mib))])
        func observe(_ t: Double, _ share: Double, high: Int64?) -> [Decision] {
            policy.evaluate(PoolObservation(time: t, pool: "a", replicas: 1, cpuSome: 0.1, memorySome: share,
                                            memoryCurrentBytes: 256 * mib, memoryHighBytes: high))
                .filter { $0.memoryHigh != nil }
        }
        let lower = try! #require(observe(0, 0, high: 512 * mib).first)
        #expect(lower.reason == .memoryHighLower)
        #expect(lower.memoryHigh!.to < 256 * mib && lower.memoryHigh!.to >= Int64(Double(256 * mib) * 0.99) - 1)
        #expect(observe(3, 0, high: lower.memoryHigh!.to).isEmpty)  // within the 6 s interval
        let raise = try! #require(observe(6, 0.01, high: lower.memoryHigh!.to).first)
        #expect(raise.reason == .memoryHighRaise)
        #expect(raise.memoryHigh!.to > lower.memoryHigh!.to)
        // Replicas are untouched by memory.high decisions.
        #expect(raise.from == raise.to)
    }

    @Test func acceptQueueTarget() {
        var policy = ScalingPolicy(pools: ["a": PoolPolicy(target: .acceptQueue(perInstance: 4), upWindow: 0)])
        let d = policy.evaluate(PoolObservation(time: 0, pool: "a", replicas: 2, acceptQueue: 20))[0]
        #expect(d.reason == .scaleUp && d.to == 5)  // ceil(20 / 4)
        var none = ScalingPolicy(pools: ["a": PoolPolicy(target: .acceptQueue(perInstance: 4), upWindow: 0)])
        #expect(none.evaluate(PoolObservation(time: 0, pool: "a", replicas: 2))[0].reason == .noData)
    }

    @Test func everyEvaluationYieldsOneDecisionPerPoolWithInputs() {
        var policy = pressurePolicy()
        let decisions = policy.evaluate([
            PoolObservation(time: 5, pool: "a", replicas: 3, cpuSome: 0.1),
            PoolObservation(time: 5, pool: "b", replicas: 1, cpuSome: 0.0),
            PoolObservation(time: 5, pool: "unknown", replicas: 1),
        ])
        #expect(decisions.map(\.pool) == ["a", "b"])
        #expect(decisions[0].reason == .inBand && decisions[0].inputs.metric == 0.1 && decisions[0].inputs.target == 0.1)
        #expect(decisions[1].reason == .atMin)
        #expect(decisions.allSatisfy { $0.time == 5 && $0.reason.isHold })
    }
}
