import Glibc
import PodvisorAutoscaler
import PodvisorLinux
import Testing

/// In-memory counter files: path -> contents, changeable between samples.
final class FakeFiles: CounterFileSystem {
    var contents: [String: String] = [:]
    var handles: [Int32: String] = [:]
    var next: Int32 = 100
    var reads = 0

    func open(_ path: String) -> Int32? {
        guard contents[path] != nil else { return nil }
        next += 1
        handles[next] = path
        return next
    }

    func read(_ handle: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        reads += 1
        guard let path = handles[handle], let text = contents[path] else { return -1 }
        let bytes = Array(text.utf8.prefix(buffer.count))
        buffer.copyBytes(from: bytes)
        return bytes.count
    }

    func close(_ handle: Int32) { handles[handle] = nil }
}

func psi(_ some: UInt64, _ full: UInt64) -> String {
    "some avg10=1.00 avg60=0.50 avg300=0.10 total=\(some)\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=\(full)\n"
}

func v2CPU(_ usage: UInt64) -> String {
    "usage_usec \(usage)\nuser_usec \(usage / 2)\nsystem_usec \(usage / 2)\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
}

func v1CPU(periods: UInt64, throttled: UInt64, ns: UInt64) -> String {
    "nr_periods \(periods)\nnr_throttled \(throttled)\nthrottled_time \(ns)\n"
}

@Suite("Sampler")
struct SamplerTests {
    @Test func parsesPressureAndCPUStat() {
        let p = CounterParser.pressure(psi(123_456, 7_890))
        #expect(p == PressureCounters(someUsec: 123_456, fullUsec: 7_890))
        #expect(CounterParser.pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n")
                == PressureCounters(someUsec: 42, fullUsec: nil))
        #expect(CounterParser.pressure("garbage") == nil)
        let v2 = CounterParser.cpuStat("usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 10\nnr_throttled 3\nthrottled_usec 2500\nnr_bursts 0\n")
        #expect(v2 == CPUCounters(usageUsec: 1000, periods: 10, throttledPeriods: 3, throttledUsec: 2500))
        let v1 = CounterParser.cpuStat(v1CPU(periods: 20, throttled: 5, ns: 7_000_000))
        #expect(v1 == CPUCounters(usageUsec: nil, periods: 20, throttledPeriods: 5, throttledUsec: 7000))
    }

    @Test func ratesFromTwoFixedSamples() {
        let files = FakeFiles()
        let pool = CgroupLocation(v2: "/u/pod/web", v1: ["cpu": "/cpu/pod/web"])
        let i0 = pool.child("i0")
        let i1 = pool.child("i1")
        func set(_ t: Int) {
            let k = UInt64(t)
            files.contents["/u/pod/web/cpu.pressure"] = psi(1_000_000 + k * 100_000, 500_000 + k * 10_000)
            files.contents["/u/pod/web/memory.pressure"] = psi(0, 0)
            files.contents["/u/pod/web/io.pressure"] = psi(10 * k * 1000, 0)
            files.contents["/u/pod/web/cpu.stat"] = v2CPU(5_000_000 + k * 1_500_000)
            files.contents["/cpu/pod/web/cpu.stat"] = v1CPU(periods: 100 + k * 10, throttled: 2 * k, ns: k * 50_000_000)
            files.contents["/u/pod/web/i0/cpu.stat"] = v2CPU(k * 1_000_000)
            files.contents["/cpu/pod/web/i0/cpu.stat"] = v1CPU(periods: k * 10, throttled: k * 8, ns: 0)
            files.contents["/u/pod/web/i1/cpu.stat"] = v2CPU(k * 500_000)
            files.contents["/cpu/pod/web/i1/cpu.stat"] = v1CPU(periods: k * 10, throttled: 0, ns: 0)
        }
        set(0)
        files.contents["/cpu/pod/web/i0/cpu.cfs_quota_us"] = "50000\n"
        files.contents["/cpu/pod/web/i0/cpu.cfs_period_us"] = "100000\n"
        files.contents["/cpu/pod/web/i1/cpu.cfs_quota_us"] = "-1\n"
        files.contents["/cpu/pod/web/i1/cpu.cfs_period_us"] = "100000\n"
        let sampler = PoolSampler(name: "web", location: pool, instances: [("i0", i0), ("i1", i1)],
                                  config: SamplerConfig(window: 2, instanceUsage: true), files: files)
        sampler.sample(at: 100)
        set(1)
        sampler.sample(at: 100.5)
        set(4)
        sampler.sample(at: 102)  // 2 s after the first sample, counters at k = 4
        let rates = try! #require(sampler.rates())
        #expect(rates.seconds == 2)
        #expect(abs(rates.cpuSome! - 0.2) < 1e-9)  // 400 ms of stall in 2 s
        #expect(abs(rates.cpuFull! - 0.02) < 1e-9)
        #expect(rates.memorySome == 0)
        #expect(abs(rates.ioSome! - 0.02) < 1e-9)
        #expect(abs(rates.cpuCores! - 3.0) < 1e-9)  // 6 s of cpu in 2 s
        #expect(abs(rates.throttledShare! - 0.2) < 1e-9)  // 8 of 40 periods
        #expect(abs(rates.throttledCores! - 0.1) < 1e-9)  // 200 ms in 2 s
        #expect(rates.instances.map(\.name) == ["i0", "i1"])
        #expect(abs(rates.instances[0].cpuCores! - 2.0) < 1e-9)
        #expect(abs(rates.instances[0].throttledShare! - 0.8) < 1e-9)
        #expect(rates.instances[0].quotaCores == 0.5)
        #expect(rates.instances[1].throttledShare == 0 && rates.instances[1].quotaCores == nil)
        // A shorter window uses the sample 0.5 s before.
        #expect(sampler.rates(over: 1.5)?.from == 100.5)
        let observation = try! #require(sampler.observation())
        #expect(observation.replicas == 2 && observation.pool == "web")
        #expect(abs(observation.meanInstanceThrottledShare - 0.4) < 1e-9)
        #expect(observation.instanceQuotaCores == 0.5)
        // One read per file per sample: 3 pressure + 2 cpu.stat + 2 x 2 instance cpu.stat, plus 3 quota reads at setup.
        #expect(files.reads == 3 + 3 * 9)
        #expect(sampler.filesPerRound == 9)
        // Without instance usage, hybrid instances are read once (v1 cpu.stat: throttling).
        let lean = PoolSampler(name: "web", location: pool, instances: [("i0", i0), ("i1", i1)], files: files)
        #expect(lean.filesPerRound == 7)
    }

    @Test func historyIsBoundedAndCounterResetsGiveNoRate() {
        let files = FakeFiles()
        files.contents["/u/p/cpu.pressure"] = psi(1000, 0)
        let sampler = PoolSampler(name: "p", location: CgroupLocation(v2: "/u/p", v1: [:]),
                                  config: SamplerConfig(window: 1, history: 5), files: files)
        for i in 0..<100 { sampler.sample(at: Double(i) * 0.25) }
        #expect(sampler.history.count <= 22)
        #expect(sampler.history.first!.time <= 24.75 - 5)
        files.contents["/u/p/cpu.pressure"] = psi(10, 0)  // re-created cgroup: counter went back
        sampler.sample(at: 25)
        #expect(sampler.rates()?.cpuSome == nil)
    }

    @Test func samplerConfigClampsTheInterval() {
        #expect(SamplerConfig().interval == 0.25)
        #expect(SamplerConfig(interval: 1).interval == 0.25)
        #expect(SamplerConfig(interval: 0.1).interval == 0.1)
    }

    @Test func acceptQueueOfAListener() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0)
        try #require(listen(listener, 8) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        #expect(try AcceptQueue.length(listenerFD: listener) == AcceptQueue(queued: 0, limit: 8))
        var clients: [Int32] = []
        defer { for c in clients { close(c) } }
        for _ in 0..<3 {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(client >= 0)
            clients.append(client)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(connected == 0)
        }
        let queue = try AcceptQueue.length(listenerFD: listener)
        #expect(queue.queued == 3)
        #expect(queue.limit == 8)
        // The pool sampler sums its listeners.
        let sampler = PoolSampler(name: "p", location: CgroupLocation(v2: nil, v1: [:]), files: FakeFiles())
        sampler.listenerFDs = [listener]
        #expect(sampler.sample(at: 1).acceptQueue == 3)
    }

    @Test func pressureTriggerWindows() throws {
        #expect(PressureTrigger.isWindowAllowed(windowUsec: 2_000_000, privileged: false))
        #expect(!PressureTrigger.isWindowAllowed(windowUsec: 1_000_000, privileged: false))
        #expect(PressureTrigger.isWindowAllowed(windowUsec: 1_000_000, privileged: true))
        #expect(!PressureTrigger.isWindowAllowed(windowUsec: 12_000_000, privileged: true))
        guard FileIO.exists("/proc/pressure/cpu") else { return }
        // A 2 s window is accepted everywhere.
        switch try PressureTrigger.arm(path: "/proc/pressure/cpu", stallUsec: 300_000, windowUsec: 2_000_000) {
        case .armed(let trigger):
            _ = try trigger.wait(timeout: 0)
            trigger.close()
        case .sampling(let reason):
            Issue.record("2 s trigger refused: \(reason)")
        }
        // A 1 s window needs CAP_SYS_RESOURCE; without it the kernel says EINVAL and we fall back to sampling.
        let outcome = try PressureTrigger.arm(path: "/proc/pressure/cpu", stallUsec: 150_000, windowUsec: 1_000_000)
        switch outcome {
        case .armed: #expect(PressureTrigger.hasSysResource)
        case .sampling(let reason):
            #expect(!PressureTrigger.hasSysResource)
            #expect(reason.contains("multiple of 2 s"))
        }
    }
}

// MARK: - A real cgroup (root, cgroup v2 with PSI)

enum RealCgroup {
    static var available: Bool {
        getuid() == 0 && (try? CgroupHost.detect())?.unifiedMount != nil
    }

    /// Runs `/bin/sh -c 'while :; do :; done'`; the caller kills and reaps it.
    static func spawnBusyLoop() throws -> pid_t {
        var pid: pid_t = 0
        let args = ["/bin/sh", "-c", "while :; do :; done"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var env: [UnsafeMutablePointer<CChar>?] = [nil]
        let rc = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, &env)
        try #require(rc == 0)
        return pid
    }

    static func stop(_ pid: pid_t) {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    static func sleep(_ seconds: Double) {
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&ts, &remaining) != 0 && errno == EINTR { ts = remaining }
    }
}

@Suite("Sampler on a real cgroup", .serialized, .enabled(if: RealCgroup.available))
struct RealSamplerTests {
    @Test func seesABusyLoopsUtilisationAndItsInstanceThrottling() throws {
        let host = try CgroupHost.detect()
        let name = "pv-test-sampler-\(getpid())"
        // cpu shares at their default: the pool joins the v1 cpu hierarchy too (hybrid hosts keep throttling there).
        let pool = try Cgroup.create(host: host, location: try host.location(for: name, name: name),
                                     resources: CgroupResources(cpuShares: 1024))
        defer { try? pool.delete() }
        // The instance gets its own quota of 0.9 cores (v1 cpu on hybrid hosts, cpu.max on v2 ones).
        let instance = try pool.createChild("i0", resources: CgroupResources(cpuQuota: 90_000, cpuPeriod: 100_000))
        let pid = try RealCgroup.spawnBusyLoop()
        defer { RealCgroup.stop(pid) }
        try instance.addProcess(pid, includingV2: true)

        let sampler = PoolSampler(name: "busy", location: pool.location, instances: [("i0", instance.location)])
        sampler.sample()
        for _ in 0..<8 {
            RealCgroup.sleep(0.25)
            sampler.sample()
        }
        let observation = try #require(sampler.observation(window: 1.5))
        #expect(observation.cpuCores > 0.5, "\(observation)")
        #expect(observation.replicas == 1)
        if host.mode == .hybrid || instance.location.v2 != nil {
            #expect(observation.instanceQuotaCores == 0.9)
            #expect(observation.meanInstanceThrottledShare > 0.2, "\(observation)")
        }
        #expect(observation.cpuSome >= 0 && observation.cpuSome <= 1)
        // The pool's own cgroup has no quota: not throttled.
        #expect(observation.throttledShare == 0)
    }

    @Test func pressureTriggerOnACgroup() throws {
        let host = try CgroupHost.detect()
        let name = "pv-test-trigger-\(getpid())"
        let cgroup = try Cgroup.create(host: host, location: try host.location(for: name, name: name),
                                       resources: CgroupResources())
        defer { try? cgroup.delete() }
        let path = try #require(cgroup.location.v2) + "/cpu.pressure"
        guard case .armed(let trigger) = try PressureTrigger.arm(path: path, stallUsec: 100_000, windowUsec: 2_000_000)
        else {
            Issue.record("a 2 s window must be accepted")
            return
        }
        #expect(try trigger.wait(timeout: 0) == false)  // an empty cgroup does not stall
        trigger.close()
    }
}
