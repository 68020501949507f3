import Glibc
import PodvisorAutoscaler
import PodvisorLinux
import Testing

/// The sampler's own CPU cost: 20 pools of 2 instances each, sampled every 100 ms for 10 s, observations computed
/// each round. Skipped unless PODVISOR_BENCH=1 (Scripts/bench-sampler). Measures the sampling thread's CPU time
/// (getrusage RUSAGE_THREAD) over the loop and prints it as a share of one core.
@Suite("SamplerCost", .serialized, .enabled(if: getenv("PODVISOR_BENCH").map { String(cString: $0) == "1" } ?? false))
struct SamplerCostTests {
    @Test func samplerCost() throws {
        let pools = Int(getenv("PODVISOR_BENCH_POOLS").map { String(cString: $0) } ?? "") ?? 20
        let seconds = Double(getenv("PODVISOR_BENCH_SECONDS").map { String(cString: $0) } ?? "") ?? 10
        let interval = 0.1
        let host = try CgroupHost.detect()
        let rootName = "pv-test-bench-\(getpid())"
        let root = try Cgroup.create(host: host, location: try host.location(for: rootName, name: rootName),
                                     resources: CgroupResources(cpuShares: 1024))
        defer { try? root.delete() }
        let sampler = Sampler(pod: root.location, config: SamplerConfig(interval: interval, window: 2))
        for p in 0..<pools {
            let pool = try root.createChild("pool\(p)", resources: CgroupResources(cpuShares: 1024))
            var instances: [(name: String, location: CgroupLocation)] = []
            for i in 0..<2 {
                let instance = try pool.createChild("i\(i)", resources: CgroupResources(cpuQuota: 50_000, cpuPeriod: 100_000))
                instances.append(("i\(i)", instance.location))
            }
            sampler.addPool("pool\(p)", location: pool.location, instances: instances)
        }

        func threadCPU() -> (user: Double, system: Double) {
            var usage = rusage()
            getrusage(1, &usage)  // RUSAGE_THREAD (needs _GNU_SOURCE in C)
            return (Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
                    Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
        }
        let start = MonotonicClock.now()
        let cpuStart = threadCPU()
        var rounds = 0
        var observed = 0
        var deadline = start
        while true {
            sampler.sample()
            let (observations, _) = sampler.observations()
            observed += observations.count
            rounds += 1
            deadline += interval
            if deadline - start >= seconds { break }
            var ts = timespec(tv_sec: Int(deadline), tv_nsec: Int((deadline - Double(Int(deadline))) * 1e9))
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
        }
        let cpuEnd = threadCPU()
        let user = cpuEnd.user - cpuStart.user
        let system = cpuEnd.system - cpuStart.system
        let cpu = user + system
        let wall = MonotonicClock.now() - start
        let share = cpu / wall
        let perRound = cpu / Double(rounds) * 1e6
        print("SamplerCost: \(pools) pools x 2 instances, \(rounds) rounds at \(Int(interval * 1000)) ms over "
              + "\(Int(wall * 10) / 10) s: cpu \(Int(cpu * 1e6)) us = \(Double(Int(share * 100_000)) / 1000)% of a core "
              + "(user \(Int(user * 1e6)) us, system \(Int(system * 1e6)) us; \(Int(perRound)) us per round, "
              + "\(sampler.filesPerRound) files per round, \(observed) observations)")
        #expect(rounds >= Int(seconds / interval) - 1)
        #expect(share < 0.01, "sampler cost \(share * 100)% of a core")
    }
}
