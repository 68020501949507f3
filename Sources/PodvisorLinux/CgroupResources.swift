/// A block-device throttle (OCI linux.resources.blockIO.throttle*Device, folded per device).
public struct IOLimit: Sendable, Equatable, Codable {
    public var major: Int64
    public var minor: Int64
    public var readBps: UInt64?
    public var writeBps: UInt64?
    public var readIops: UInt64?
    public var writeIops: UInt64?

    public init(major: Int64, minor: Int64, readBps: UInt64? = nil, writeBps: UInt64? = nil,
                readIops: UInt64? = nil, writeIops: UInt64? = nil) {
        self.major = major
        self.minor = minor
        self.readBps = readBps
        self.writeBps = writeBps
        self.readIops = readIops
        self.writeIops = writeIops
    }
}

/// The limits of a cgroup, in OCI's terms (the engine maps linux.resources onto this). `nil` leaves a setting
/// alone. Values of -1 mean "unlimited" where OCI says so (memory, swap, cpu quota, pids).
public struct CgroupResources: Sendable, Equatable, Codable {
    /// memory.max / memory.limit_in_bytes (bytes; -1 unlimited).
    public var memoryMax: Int64?
    /// memory.high (v2 only; bytes, -1 unlimited).
    public var memoryHigh: Int64?
    /// memory.low (v2) / memory.soft_limit_in_bytes (v1).
    public var memoryLow: Int64?
    /// OCI memory.swap: memory + swap (bytes; -1 unlimited). v1 memory.memsw.limit_in_bytes; on v2 converted to
    /// memory.swap.max = swap - memory, as runc does.
    public var memorySwapMax: Int64?
    /// OCI memory.reservation: memory.soft_limit_in_bytes (v1) / memory.low (v2, unless memoryLow is given).
    public var memoryReservation: Int64?
    /// CFS quota in microseconds per period (-1 unlimited).
    public var cpuQuota: Int64?
    /// CFS period in microseconds.
    public var cpuPeriod: UInt64?
    /// v1 cpu.shares (2...262144); on v2 converted to cpu.weight with runc's formula.
    public var cpuShares: UInt64?
    /// v2 cpu.weight (1...10000); wins over cpuShares on v2; converted to shares on v1.
    public var cpuWeight: UInt64?
    public var cpusetCpus: String?
    public var cpusetMems: String?
    /// pids.max (<= 0: unlimited).
    public var pidsMax: Int64?
    /// OCI blockIO.weight (10...1000): blkio.weight on v1, converted to io.weight (1...10000) on v2.
    public var ioWeight: UInt16?
    public var ioMax: [IOLimit]
    /// Raw v2 files (OCI linux.resources.unified): file name -> value, written to the v2 directory.
    public var unified: [String: String]

    public init(memoryMax: Int64? = nil, memoryHigh: Int64? = nil, memoryLow: Int64? = nil,
                memorySwapMax: Int64? = nil, memoryReservation: Int64? = nil,
                cpuQuota: Int64? = nil, cpuPeriod: UInt64? = nil, cpuShares: UInt64? = nil, cpuWeight: UInt64? = nil,
                cpusetCpus: String? = nil, cpusetMems: String? = nil, pidsMax: Int64? = nil,
                ioWeight: UInt16? = nil, ioMax: [IOLimit] = [], unified: [String: String] = [:]) {
        self.memoryMax = memoryMax
        self.memoryHigh = memoryHigh
        self.memoryLow = memoryLow
        self.memorySwapMax = memorySwapMax
        self.memoryReservation = memoryReservation
        self.cpuQuota = cpuQuota
        self.cpuPeriod = cpuPeriod
        self.cpuShares = cpuShares
        self.cpuWeight = cpuWeight
        self.cpusetCpus = cpusetCpus
        self.cpusetMems = cpusetMems
        self.pidsMax = pidsMax
        self.ioWeight = ioWeight
        self.ioMax = ioMax
        self.unified = unified
    }

    public var isEmpty: Bool { self == CgroupResources() }

    var needsMemory: Bool {
        memoryMax != nil || memoryHigh != nil || memoryLow != nil || memorySwapMax != nil || memoryReservation != nil
    }
    var needsCPU: Bool { cpuQuota != nil || cpuPeriod != nil || cpuShares != nil || cpuWeight != nil }
    var needsCpuset: Bool { cpusetCpus != nil || cpusetMems != nil }
    var needsPids: Bool { pidsMax != nil }
    var needsIO: Bool { ioWeight != nil || !ioMax.isEmpty }

    /// runc's conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000].
    public static func cpuWeight(fromShares shares: UInt64) -> UInt64 {
        if shares == 0 { return 0 }
        let clamped = min(max(shares, 2), 262_144)
        return 1 + ((clamped - 2) * 9999) / 262_142
    }

    /// The inverse, for a cpu.weight on a v1 host.
    public static func cpuShares(fromWeight weight: UInt64) -> UInt64 {
        let clamped = min(max(weight, 1), 10_000)
        return 2 + ((clamped - 1) * 262_142) / 9999
    }

    /// runc's conversion of blkio.weight [10, 1000] to io.weight [1, 10000].
    public static func ioWeight(fromBlkio weight: UInt16) -> UInt64 {
        let clamped = UInt64(min(max(weight, 10), 1000))
        return 1 + (clamped - 10) * 9999 / 990
    }

    /// OCI's memory+swap limit as memory.swap.max (runc's ConvertMemorySwapToCgroupV2Value); nil = leave alone,
    /// -1 = "max".
    public static func swapMaxV2(memorySwap: Int64?, memory: Int64?) throws(CgroupError) -> Int64? {
        guard let swap = memorySwap else {
            // Unlimited memory without a swap setting: unlimited swap too, as on v1.
            return memory == -1 ? -1 : nil
        }
        if swap == -1 { return -1 }
        if swap == 0 { return nil }
        guard let memory, memory > 0 else {
            throw .invalidResources("a swap limit (memory+swap \(swap)) without a memory limit")
        }
        if swap < memory {
            throw .invalidResources("memory+swap limit \(swap) is below the memory limit \(memory)")
        }
        return swap - memory
    }
}
