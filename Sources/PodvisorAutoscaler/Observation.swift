/// What the policy sees of one pool at one time: rates over the sampler's window, as plain numbers.
/// Shares are fractions (0.10 = 10% of wall time); cpu in cores. Every field is an input the policy records
/// in its decisions, so a recording can be replayed.
public struct PoolObservation: Sendable, Equatable {
    /// Monotonic seconds (the sampler's clock); the policy only compares times with each other.
    public var time: Double
    public var pool: String
    /// Instances running now.
    public var replicas: Int
    public var cpuSome: Double
    public var cpuFull: Double
    public var memorySome: Double
    public var memoryFull: Double
    public var ioSome: Double
    public var ioFull: Double
    /// CPU used by the whole pool (all instances), in cores.
    public var cpuCores: Double
    /// Share of CFS periods in which the pool cgroup itself (its own cpu.max) was throttled.
    public var throttledShare: Double
    /// The same per instance, against each instance's own cpu.max.
    public var instanceThrottledShares: [Double]
    /// Each instance's own cpu limit, in cores (nil: unlimited or unknown).
    public var instanceQuotaCores: Double?
    /// Connections waiting to be accepted, summed over the pool's listeners (nil: no listener known).
    public var acceptQueue: Double?
    /// Per-instance memory use and memory.high in bytes, when the supervisor knows them (senpai-style tuning).
    public var memoryCurrentBytes: Int64?
    public var memoryHighBytes: Int64?

    public init(time: Double, pool: String, replicas: Int, cpuSome: Double = 0, cpuFull: Double = 0,
                memorySome: Double = 0, memoryFull: Double = 0, ioSome: Double = 0, ioFull: Double = 0,
                cpuCores: Double = 0, throttledShare: Double = 0, instanceThrottledShares: [Double] = [],
                instanceQuotaCores: Double? = nil, acceptQueue: Double? = nil,
                memoryCurrentBytes: Int64? = nil, memoryHighBytes: Int64? = nil) {
        self.time = time
        self.pool = pool
        self.replicas = replicas
        self.cpuSome = cpuSome
        self.cpuFull = cpuFull
        self.memorySome = memorySome
        self.memoryFull = memoryFull
        self.ioSome = ioSome
        self.ioFull = ioFull
        self.cpuCores = cpuCores
        self.throttledShare = throttledShare
        self.instanceThrottledShares = instanceThrottledShares
        self.instanceQuotaCores = instanceQuotaCores
        self.acceptQueue = acceptQueue
        self.memoryCurrentBytes = memoryCurrentBytes
        self.memoryHighBytes = memoryHighBytes
    }

    /// Builds an observation from sampler rates (missing rates count as 0).
    public init(pool: String, replicas: Int, rates: PoolRates, acceptQueue: Int? = nil) {
        self.init(time: rates.to, pool: pool, replicas: replicas,
                  cpuSome: rates.cpuSome ?? 0, cpuFull: rates.cpuFull ?? 0,
                  memorySome: rates.memorySome ?? 0, memoryFull: rates.memoryFull ?? 0,
                  ioSome: rates.ioSome ?? 0, ioFull: rates.ioFull ?? 0,
                  cpuCores: rates.cpuCores ?? 0, throttledShare: rates.throttledShare ?? 0,
                  instanceThrottledShares: rates.instances.map { $0.throttledShare ?? 0 },
                  instanceQuotaCores: rates.instances.lazy.compactMap(\.quotaCores).first,
                  acceptQueue: acceptQueue.map(Double.init))
    }

    /// Mean throttled share over instances (0 without instances).
    public var meanInstanceThrottledShare: Double {
        instanceThrottledShares.isEmpty ? 0
            : instanceThrottledShares.reduce(0, +) / Double(instanceThrottledShares.count)
    }
}

/// The pod cgroup (parent of the pools): its own throttling against the pod's cpu budget.
public struct PodObservation: Sendable, Equatable {
    public var time: Double
    public var throttledShare: Double
    public var cpuCores: Double
    public var cpuSome: Double

    public init(time: Double, throttledShare: Double = 0, cpuCores: Double = 0, cpuSome: Double = 0) {
        self.time = time
        self.throttledShare = throttledShare
        self.cpuCores = cpuCores
        self.cpuSome = cpuSome
    }

    public init(rates: PoolRates) {
        self.init(time: rates.to, throttledShare: rates.throttledShare ?? 0, cpuCores: rates.cpuCores ?? 0,
                  cpuSome: rates.cpuSome ?? 0)
    }
}
