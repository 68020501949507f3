/// One reading of a pool's counters at a monotonic time (seconds).
public struct PoolSample: Sendable, Equatable {
    public var time: Double
    public var cpuPressure: PressureCounters?
    public var memoryPressure: PressureCounters?
    public var ioPressure: PressureCounters?
    /// The pool cgroup's cpu.stat: usage (v2, or v1 cpuacct) and its own throttling (v1 cpu on hybrid hosts).
    public var cpu: CPUCounters
    public var instances: [InstanceSample]
    /// Connections waiting in the pool's listeners' accept queues now (a level, not a counter).
    public var acceptQueue: Int?

    public init(time: Double, cpuPressure: PressureCounters? = nil, memoryPressure: PressureCounters? = nil,
                ioPressure: PressureCounters? = nil, cpu: CPUCounters = CPUCounters(),
                instances: [InstanceSample] = [], acceptQueue: Int? = nil) {
        self.time = time
        self.cpuPressure = cpuPressure
        self.memoryPressure = memoryPressure
        self.ioPressure = ioPressure
        self.cpu = cpu
        self.instances = instances
        self.acceptQueue = acceptQueue
    }
}

/// One instance's cpu.stat reading (throttling against the instance's own cpu.max / cfs quota).
public struct InstanceSample: Sendable, Equatable {
    public var name: String
    public var cpu: CPUCounters
    /// The instance's own quota in cores (cpu.max or cfs_quota_us/cfs_period_us); nil when unlimited or unknown.
    public var quotaCores: Double?

    public init(name: String, cpu: CPUCounters, quotaCores: Double? = nil) {
        self.name = name
        self.cpu = cpu
        self.quotaCores = quotaCores
    }
}

/// Rates between two samples.
///
/// - pressure share = Δstall_usec / Δwall_usec (0...1; "some": at least one task stalled, "full": all non-idle
///   tasks stalled)
/// - cpu utilisation in cores = Δusage_usec / Δwall_usec
/// - throttled share = Δnr_throttled / Δnr_periods (share of CFS periods in which the group ran out of quota)
/// - throttled cores = Δthrottled_usec / Δwall_usec
public struct PoolRates: Sendable, Equatable {
    public var from: Double
    public var to: Double
    public var cpuSome: Double?
    public var cpuFull: Double?
    public var memorySome: Double?
    public var memoryFull: Double?
    public var ioSome: Double?
    public var ioFull: Double?
    public var cpuCores: Double?
    public var throttledShare: Double?
    public var throttledCores: Double?
    public var instances: [InstanceRates]

    public var seconds: Double { to - from }

    public init(from older: PoolSample, to newer: PoolSample) {
        from = older.time
        to = newer.time
        let wallUsec = (newer.time - older.time) * 1_000_000
        instances = []
        guard wallUsec > 0 else { return }
        func share(_ a: UInt64?, _ b: UInt64?) -> Double? {
            guard let a, let b, b >= a else { return nil }
            return min(1, Double(b - a) / wallUsec)
        }
        cpuSome = share(older.cpuPressure?.someUsec, newer.cpuPressure?.someUsec)
        cpuFull = share(older.cpuPressure?.fullUsec, newer.cpuPressure?.fullUsec)
        memorySome = share(older.memoryPressure?.someUsec, newer.memoryPressure?.someUsec)
        memoryFull = share(older.memoryPressure?.fullUsec, newer.memoryPressure?.fullUsec)
        ioSome = share(older.ioPressure?.someUsec, newer.ioPressure?.someUsec)
        ioFull = share(older.ioPressure?.fullUsec, newer.ioPressure?.fullUsec)
        cpuCores = PoolRates.rate(older.cpu.usageUsec, newer.cpu.usageUsec, wallUsec)
        throttledShare = PoolRates.periodShare(older.cpu, newer.cpu)
        throttledCores = PoolRates.rate(older.cpu.throttledUsec, newer.cpu.throttledUsec, wallUsec)
        // Instances present in both samples, matched by name (usually in the same order: try that first).
        instances.reserveCapacity(newer.instances.count)
        for (index, instance) in newer.instances.enumerated() {
            let previous: InstanceSample?
            if index < older.instances.count && older.instances[index].name == instance.name {
                previous = older.instances[index]
            } else {
                previous = older.instances.first { $0.name == instance.name }
            }
            guard let previous else { continue }
            instances.append(InstanceRates(
                name: instance.name,
                cpuCores: PoolRates.rate(previous.cpu.usageUsec, instance.cpu.usageUsec, wallUsec),
                throttledShare: PoolRates.periodShare(previous.cpu, instance.cpu),
                quotaCores: instance.quotaCores))
        }
    }

    static func rate(_ a: UInt64?, _ b: UInt64?, _ wallUsec: Double) -> Double? {
        guard let a, let b, b >= a else { return nil }
        return Double(b - a) / wallUsec
    }

    /// nil when the counters are missing; 0 when no period elapsed (no quota, or idle).
    static func periodShare(_ a: CPUCounters, _ b: CPUCounters) -> Double? {
        guard let p0 = a.periods, let p1 = b.periods, let t0 = a.throttledPeriods, let t1 = b.throttledPeriods,
              p1 >= p0, t1 >= t0 else { return nil }
        if p1 == p0 { return 0 }
        return min(1, Double(t1 - t0) / Double(p1 - p0))
    }
}

public struct InstanceRates: Sendable, Equatable {
    public var name: String
    public var cpuCores: Double?
    public var throttledShare: Double?
    public var quotaCores: Double?
}
