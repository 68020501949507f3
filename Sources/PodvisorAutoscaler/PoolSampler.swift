import PodvisorLinux

/// Sampling settings.
public struct SamplerConfig: Sendable, Equatable {
    /// How often the supervisor should call `sample()`. Default 250 ms; clamped to 10...250 ms (the policy's
    /// reaction time is this plus the rate window plus its stabilisation).
    public var interval: Double
    /// The window rates are computed over for observations (newest sample vs the one `window` seconds before).
    public var window: Double
    /// How much history each pool keeps (at least `window`), for `rates(over:)` with longer windows.
    public var history: Double
    /// Also read each instance's v2 cpu.stat for its own cpu use (`InstanceRates.cpuCores`). Off by default on
    /// hybrid hosts, where instance throttling comes from the v1 cpu.stat and the policy needs no more (one read
    /// per instance saved); on v2 hosts the one v2 cpu.stat holds both and is always read.
    public var instanceUsage: Bool

    public init(interval: Double = 0.25, window: Double = 2, history: Double = 30, instanceUsage: Bool = false) {
        self.instanceUsage = instanceUsage
        self.interval = min(max(interval, 0.01), 0.25)
        self.window = max(window, self.interval)
        self.history = max(history, self.window)
    }
}

/// Samples one cgroup (a pool, or the pod) and, optionally, its instance cgroups.
///
/// Files kept open per pool: cpu/memory/io.pressure and cpu.stat of the v2 directory, cpu.stat of the v1 cpu
/// directory (hybrid hosts keep throttling there) or cpuacct.usage (legacy hosts); per instance: cpu.stat in v2
/// and in v1 cpu. Missing files are skipped (their rates are nil). Not thread-safe: own it from one task/actor.
public final class PoolSampler {
    public let name: String
    public let location: CgroupLocation
    public let config: SamplerConfig
    /// Listening sockets of the pool (the supervisor's); their accept queues are summed into each sample.
    public var listenerFDs: [Int32] = []

    let files: any CounterFileSystem
    let buffer: UnsafeMutableRawBufferPointer
    var cpuPressure: Int32?
    var memoryPressure: Int32?
    var ioPressure: Int32?
    var cpuStatV2: Int32?
    var cpuStatV1: Int32?
    var cpuacctUsage: Int32?
    var instanceFiles: [InstanceFiles] = []
    /// Samples, oldest first, covering `config.history`.
    public private(set) var history: [PoolSample] = []

    struct InstanceFiles {
        var name: String
        var location: CgroupLocation
        var cpuStatV2: Int32?
        var cpuStatV1: Int32?
        var quotaCores: Double?
    }

    public init(name: String, location: CgroupLocation, instances: [(name: String, location: CgroupLocation)] = [],
                config: SamplerConfig = SamplerConfig(), files: any CounterFileSystem = KernelCounterFiles.shared) {
        self.name = name
        self.location = location
        self.config = config
        self.files = files
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        if let v2 = location.v2 {
            cpuPressure = files.open(v2 + "/cpu.pressure")
            memoryPressure = files.open(v2 + "/memory.pressure")
            ioPressure = files.open(v2 + "/io.pressure")
            cpuStatV2 = files.open(v2 + "/cpu.stat")
        }
        if let cpu = location.v1["cpu"] { cpuStatV1 = files.open(cpu + "/cpu.stat") }
        if location.v2 == nil, let acct = location.v1["cpuacct"] { cpuacctUsage = files.open(acct + "/cpuacct.usage") }
        setInstances(instances)
    }

    deinit {
        for handle in [cpuPressure, memoryPressure, ioPressure, cpuStatV2, cpuStatV1, cpuacctUsage] {
            if let handle { files.close(handle) }
        }
        closeInstances()
        buffer.deallocate()
    }

    /// The instance cgroups to sample (call again after scaling). Files of instances kept by name stay open;
    /// each instance's quota is (re-)read here.
    public func setInstances(_ instances: [(name: String, location: CgroupLocation)]) {
        var kept: [String: InstanceFiles] = [:]
        for old in instanceFiles { kept[old.name] = old }
        var next: [InstanceFiles] = []
        for (name, location) in instances {
            var entry: InstanceFiles
            if let old = kept.removeValue(forKey: name), old.location == location {
                entry = old
            } else {
                if let old = kept.removeValue(forKey: name) { close(old) }
                entry = InstanceFiles(name: name, location: location)
                if let cpu = location.v1["cpu"] { entry.cpuStatV1 = files.open(cpu + "/cpu.stat") }
                if let v2 = location.v2, config.instanceUsage || entry.cpuStatV1 == nil {
                    entry.cpuStatV2 = files.open(v2 + "/cpu.stat")
                }
            }
            entry.quotaCores = readQuota(location)
            next.append(entry)
        }
        for old in kept.values { close(old) }
        instanceFiles = next
    }

    /// Instances as the child directories of the pool's cgroup (v2 directory, else v1 cpu), sorted by name.
    public func discoverInstances() {
        guard let base = location.v2 ?? location.v1["cpu"], let names = try? FileIO.list(base) else { return }
        let children = names.filter { FileIO.isDirectory(base + "/" + $0) }.sorted()
        setInstances(children.map { ($0, location.child($0)) })
    }

    public var instanceNames: [String] { instanceFiles.map(\.name) }

    /// Files read per `sample()` (listeners not counted).
    public var filesPerRound: Int {
        [cpuPressure, memoryPressure, ioPressure, cpuStatV2, cpuStatV1, cpuacctUsage].compactMap { $0 }.count
            + instanceFiles.reduce(0) { $0 + ($1.cpuStatV2 == nil ? 0 : 1) + ($1.cpuStatV1 == nil ? 0 : 1) }
    }

    /// Reads every file once and appends the sample to the history.
    @discardableResult
    public func sample(at time: Double = MonotonicClock.now()) -> PoolSample {
        var sample = PoolSample(time: time)
        sample.cpuPressure = read(cpuPressure, CounterParser.pressure)
        sample.memoryPressure = read(memoryPressure, CounterParser.pressure)
        sample.ioPressure = read(ioPressure, CounterParser.pressure)
        sample.cpu = readCPU(v2: cpuStatV2, v1: cpuStatV1)
        if sample.cpu.usageUsec == nil, let ns = read(cpuacctUsage, CounterParser.number), ns >= 0 {
            sample.cpu.usageUsec = UInt64(ns) / 1000
        }
        if !instanceFiles.isEmpty {
            sample.instances.reserveCapacity(instanceFiles.count)
            for entry in instanceFiles {
                sample.instances.append(InstanceSample(name: entry.name, cpu: readCPU(v2: entry.cpuStatV2, v1: entry.cpuStatV1),
                                                       quotaCores: entry.quotaCores))
            }
        }
        if !listenerFDs.isEmpty {
            var total = 0
            for fd in listenerFDs { total += (try? AcceptQueue.length(listenerFD: fd).queued) ?? 0 }
            sample.acceptQueue = total
        }
        append(sample)
        return sample
    }

    /// Adds a sample taken elsewhere (tests, replays). Samples must come in time order.
    public func append(_ sample: PoolSample) {
        history.append(sample)
        // Keep one sample at or before (newest - history) so that the longest window stays computable.
        let horizon = sample.time - config.history
        var drop = 0
        while drop + 1 < history.count && history[drop + 1].time <= horizon { drop += 1 }
        if drop > 0 { history.removeFirst(drop) }
    }

    public var latest: PoolSample? { history.last }

    /// Rates between the newest sample and the newest one at least `window` seconds older (or the oldest kept, when
    /// the history is shorter). nil with fewer than two samples.
    public func rates(over window: Double? = nil) -> PoolRates? {
        guard history.count >= 2, let newest = history.last else { return nil }
        let boundary = newest.time - (window ?? config.window)
        // Binary search: the last index with time <= boundary.
        var low = 0
        var high = history.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if history[mid].time <= boundary { low = mid } else { high = mid - 1 }
        }
        let older = history[low].time <= boundary ? history[low] : history[0]
        if older.time >= newest.time { return nil }
        return PoolRates(from: older, to: newest)
    }

    /// The policy's input for this pool over `window` (default: the configured window). `replicas` defaults to
    /// the number of instances being sampled.
    public func observation(window: Double? = nil, replicas: Int? = nil) -> PoolObservation? {
        guard let rates = rates(over: window) else { return nil }
        return PoolObservation(pool: name, replicas: replicas ?? instanceFiles.count, rates: rates,
                               acceptQueue: history.last?.acceptQueue)
    }

    // MARK: - Reading

    @inline(__always)
    func read<T>(_ handle: Int32?, _ parse: (UnsafeRawBufferPointer) -> T?) -> T? {
        guard let handle else { return nil }
        let n = files.read(handle, into: buffer)
        if n <= 0 { return nil }
        return parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }

    func readCPU(v2: Int32?, v1: Int32?) -> CPUCounters {
        let unified = read(v2) { CounterParser.cpuStat($0) } ?? CPUCounters()
        guard let legacy = read(v1, { CounterParser.cpuStat($0) }) else { return unified }
        // Hybrid: usage from v2, throttling from v1 (where the quota is applied).
        var merged = unified
        if legacy.periods != nil {
            merged.periods = legacy.periods
            merged.throttledPeriods = legacy.throttledPeriods
            merged.throttledUsec = legacy.throttledUsec
        }
        return merged.filling(from: legacy)
    }

    func readQuota(_ location: CgroupLocation) -> Double? {
        func once(_ path: String, _ parse: (UnsafeRawBufferPointer) -> Double?) -> Double? {
            guard let handle = files.open(path) else { return nil }
            defer { files.close(handle) }
            return read(handle, parse)
        }
        if let cpu = location.v1["cpu"] {
            guard let quota = once(cpu + "/cpu.cfs_quota_us", { CounterParser.number($0).map(Double.init) }),
                  quota > 0,
                  let period = once(cpu + "/cpu.cfs_period_us", { CounterParser.number($0).map(Double.init) }),
                  period > 0 else { return nil }
            return quota / period
        }
        if let v2 = location.v2 { return once(v2 + "/cpu.max", CounterParser.cpuMax) }
        return nil
    }

    func close(_ entry: InstanceFiles) {
        if let h = entry.cpuStatV2 { files.close(h) }
        if let h = entry.cpuStatV1 { files.close(h) }
    }

    func closeInstances() {
        for entry in instanceFiles { close(entry) }
        instanceFiles = []
    }
}

/// The pod's sampler: the pod cgroup (for its budget throttling) and one `PoolSampler` per pool.
public final class Sampler {
    public let config: SamplerConfig
    public let pod: PoolSampler?
    public private(set) var pools: [PoolSampler] = []
    let files: any CounterFileSystem

    public init(pod: CgroupLocation? = nil, config: SamplerConfig = SamplerConfig(),
                files: any CounterFileSystem = KernelCounterFiles.shared) {
        self.config = config
        self.files = files
        self.pod = pod.map { PoolSampler(name: "(pod)", location: $0, config: config, files: files) }
    }

    /// Starts sampling a pool; replaces one of the same name.
    @discardableResult
    public func addPool(_ name: String, location: CgroupLocation,
                        instances: [(name: String, location: CgroupLocation)] = []) -> PoolSampler {
        removePool(name)
        let sampler = PoolSampler(name: name, location: location, instances: instances, config: config, files: files)
        pools.append(sampler)
        return sampler
    }

    public func removePool(_ name: String) {
        pools.removeAll { $0.name == name }
    }

    public func pool(_ name: String) -> PoolSampler? { pools.first { $0.name == name } }

    /// Files read per `sample()`, over the pod and all pools.
    public var filesPerRound: Int { (pod?.filesPerRound ?? 0) + pools.reduce(0) { $0 + $1.filesPerRound } }

    /// Samples the pod and every pool at one time stamp.
    public func sample(at time: Double = MonotonicClock.now()) {
        pod?.sample(at: time)
        for pool in pools { pool.sample(at: time) }
    }

    /// Observations of every pool with enough history, and of the pod.
    public func observations(window: Double? = nil) -> (pools: [PoolObservation], pod: PodObservation?) {
        (pools.compactMap { $0.observation(window: window) }, pod?.rates(over: window).map(PodObservation.init(rates:)))
    }
}
