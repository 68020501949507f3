/// Why the policy decided what it did. Every evaluation yields one replicas decision per pool, a change or a hold,
/// so that a recording shows the reason for doing nothing as well.
public enum DecisionReason: String, Sendable, Equatable, CaseIterable {
    /// Changes.
    case scaleUp = "scale-up"
    case scaleDown = "scale-down"
    /// Replicas outside [min, max] (a new pool, or a changed config) are brought inside at once.
    case belowMin = "below-min"
    case aboveMax = "above-max"
    /// The arbiter took instances from this pool because the pod budget shrank below what the pools hold.
    case budgetReclaim = "budget-reclaim"
    /// Holds.
    /// |metric/target - 1| <= tolerance.
    case inBand = "in-band"
    /// Too soon after the last change.
    case cooldown
    /// The desired count moved, but not for the whole stabilisation window (or the history is shorter than it).
    case stabilising
    case atMax = "at-max"
    case atMin = "at-min"
    /// More instances would add no capacity: the pool or pod is throttled at its budget while instances are not
    /// at their own quota, or the pod budget is given to other pools.
    case budget
    /// Memory pressure above the threshold blocks scale-up.
    case memoryPressure = "memory-pressure"
    /// No metric for the target (e.g. accept queue without listeners).
    case noData = "no-data"
    /// memory.high adjustments (senpai-style).
    case memoryHighLower = "memory-high-lower"
    case memoryHighRaise = "memory-high-raise"

    public var isHold: Bool {
        switch self {
        case .scaleUp, .scaleDown, .belowMin, .aboveMax, .budgetReclaim, .memoryHighLower, .memoryHighRaise: false
        default: true
        }
    }
}

/// The numbers a decision was made from.
public struct DecisionInputs: Sendable, Equatable {
    /// The target's metric now (pressure share, cores per instance, or queued connections per instance).
    public var metric: Double
    public var target: Double
    /// ceil(current * metric / target), clamped to [min, max]; `current` when within the tolerance band.
    public var desired: Int
    /// Minimum of `desired` over the scale-up window and maximum over the scale-down window.
    public var upRecommendation: Int
    public var downRecommendation: Int
    public var cpuSome: Double
    public var memorySome: Double
    public var cpuCores: Double
    /// The pool's own throttled share, the mean over its instances, and the pod's.
    public var throttledShare: Double
    public var instanceThrottledShare: Double
    public var podThrottledShare: Double
    public var acceptQueue: Double?

    public init(metric: Double = 0, target: Double = 0, desired: Int = 0, upRecommendation: Int = 0,
                downRecommendation: Int = 0, cpuSome: Double = 0, memorySome: Double = 0, cpuCores: Double = 0,
                throttledShare: Double = 0, instanceThrottledShare: Double = 0, podThrottledShare: Double = 0,
                acceptQueue: Double? = nil) {
        self.metric = metric
        self.target = target
        self.desired = desired
        self.upRecommendation = upRecommendation
        self.downRecommendation = downRecommendation
        self.cpuSome = cpuSome
        self.memorySome = memorySome
        self.cpuCores = cpuCores
        self.throttledShare = throttledShare
        self.instanceThrottledShare = instanceThrottledShare
        self.podThrottledShare = podThrottledShare
        self.acceptQueue = acceptQueue
    }
}

/// A memory.high change for every instance of a pool, in bytes.
public struct MemoryHighChange: Sendable, Equatable {
    public var from: Int64?
    public var to: Int64
}

/// One decision: scale `pool` from `from` to `to` replicas (equal for a hold), or adjust memory.high.
public struct Decision: Sendable, Equatable, CustomStringConvertible {
    public var time: Double
    public var pool: String
    public var from: Int
    public var to: Int
    public var reason: DecisionReason
    /// A sentence with the numbers, for logs and plots.
    public var text: String
    public var inputs: DecisionInputs
    /// Set for .memoryHighLower / .memoryHighRaise (replicas unchanged).
    public var memoryHigh: MemoryHighChange?

    public init(time: Double, pool: String, from: Int, to: Int, reason: DecisionReason, text: String,
                inputs: DecisionInputs = DecisionInputs(), memoryHigh: MemoryHighChange? = nil) {
        self.time = time
        self.pool = pool
        self.from = from
        self.to = to
        self.reason = reason
        self.text = text
        self.inputs = inputs
        self.memoryHigh = memoryHigh
    }

    /// Whether the supervisor has something to apply (a replica change or a memory.high change).
    public var isChange: Bool { from != to || memoryHigh != nil }

    public var description: String {
        "\(Format.fixed(time, 2)) \(pool): \(from)->\(to) \(reason.rawValue): \(text)"
    }
}
