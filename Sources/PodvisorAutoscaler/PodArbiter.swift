/// Shares a pod's cpu budget between its pools, in instance-cpu units.
///
/// Each pool keeps `keep` instances (what its own policy decided, or its current count when it wants more) and asks
/// for `want`. The budget is what the pod may use: sum(n_i * instanceCores_i) <= budgetCores.
/// 1. Reclaim: while the kept instances exceed the budget, take one from the pool with the lowest cpu pressure per
///    instance (pressure_i / n_i) that is above its minimum (minimums are honoured even over budget).
/// 2. Grant: while budget is left, give one instance to the asking pool with the highest pressure per instance
///    (pressure_i / n_i at its tentative size; a pool with 0 instances first), if it fits.
/// Ties go to the pool whose name sorts first. Instances are never moved from one pool to another while the budget
/// is not exceeded: that would make two pools trade instances back and forth as their pressures cross.
public enum PodArbiter {
    public struct Request: Sendable, Equatable {
        public var pool: String
        public var keep: Int
        public var want: Int
        public var minReplicas: Int
        public var instanceCores: Double
        /// The pool's cpu some-pressure share.
        public var pressure: Double

        public init(pool: String, keep: Int, want: Int, minReplicas: Int = 0, instanceCores: Double = 1,
                    pressure: Double) {
            self.pool = pool
            self.keep = keep
            self.want = max(want, keep)
            self.minReplicas = minReplicas
            self.instanceCores = instanceCores
            self.pressure = pressure
        }
    }

    /// Granted replicas per pool.
    public static func arbitrate(budgetCores: Double, requests: [Request]) -> [String: Int] {
        let order = requests.indices.sorted { requests[$0].pool < requests[$1].pool }
        var granted = requests.map { max($0.keep, $0.minReplicas) }
        let epsilon = 1e-9
        var used = zip(requests, granted).reduce(0.0) { $0 + Double($1.1) * $1.0.instanceCores }
        func perInstance(_ i: Int) -> Double {
            granted[i] == 0 ? .infinity : requests[i].pressure / Double(granted[i])
        }
        // 1. Reclaim.
        while used > budgetCores + epsilon {
            var pick: Int?
            for i in order where granted[i] > requests[i].minReplicas {
                if pick == nil || perInstance(i) < perInstance(pick!) { pick = i }
            }
            guard let i = pick else { break }
            granted[i] -= 1
            used -= requests[i].instanceCores
        }
        // 2. Grant.
        var asking = Set(order.filter { granted[$0] < requests[$0].want })
        while !asking.isEmpty {
            var pick: Int?
            for i in order where asking.contains(i) {
                if pick == nil || perInstance(i) > perInstance(pick!) { pick = i }
            }
            let i = pick!
            if used + requests[i].instanceCores > budgetCores + epsilon {
                asking.remove(i)
                continue
            }
            granted[i] += 1
            used += requests[i].instanceCores
            if granted[i] >= requests[i].want { asking.remove(i) }
        }
        var result: [String: Int] = [:]
        for (i, request) in requests.enumerated() { result[request.pool] = granted[i] }
        return result
    }
}
