import CLinux
import Glibc

/// A container's (or a pool's) cgroup, spread over the v2 tree and, on hybrid/legacy hosts, the v1 hierarchies.
///
/// Where things live:
/// - unified: everything in the v2 directory.
/// - hybrid (this project's machines): the process tree, cgroup.freeze, cgroup.kill, PSI and cpu usage in the v2
///   directory; limits and their counters in v1 directories (cpu, cpuacct, memory, pids; cpuset and blkio when
///   asked for). A controller mounted in v1 is always used there; one only offered by v2 goes to v2.
/// - legacy: v1 only; freezing uses the v1 freezer, PSI is unavailable.
public struct Cgroup: Sendable {
    public let location: CgroupLocation
    let host: CgroupHost?

    init(location: CgroupLocation, host: CgroupHost?) {
        self.location = location
        self.host = host
    }

    /// A cgroup made earlier (location from state.json).
    public static func open(location: CgroupLocation) -> Cgroup {
        Cgroup(location: location, host: nil)
    }

    // MARK: - Creation

    /// Makes the directories, enables the v2 controllers the resources need (and cpu/memory/pids/io for stats where
    /// available) in the ancestors' cgroup.subtree_control from our own cgroup down, and applies `resources`.
    ///
    /// No-internal-process rule: if enabling controllers in our own v2 cgroup fails with EBUSY because it holds
    /// processes, this moves our own process (and only it) into the leaf "<own>/podvisor-supervisor" and retries;
    /// if other processes remain there it throws `internalProcesses`. That move is not undone.
    ///
    /// The returned cgroup's location lists only the v1 directories actually used; persist that one.
    /// On failure it removes the directories it created (controllers it enabled in ancestors stay enabled) and throws.
    ///
    /// On a hybrid host the process tree lives in v2, and a v1 hierarchy is joined only for the controllers
    /// whose limits `resources` sets, plus any listed in `v1Controllers` (a pod asks for the ones its pools
    /// and instances will need). Joining v1 costs a process migration (a write to cgroup.procs waits for an
    /// RCU grace period, 5-15 ms here), while v2 placement comes free with CLONE_INTO_CGROUP.
    public static func create(host: CgroupHost, location: CgroupLocation, resources: CgroupResources,
                              v1Controllers: Set<String> = []) throws(CgroupError) -> Cgroup
    {
        try make(host: host, location: location, resources: resources, v2Boundary: host.ownV2Directory, isOwn: true,
                 v1Controllers: v1Controllers)
    }

    /// A child cgroup (for pools and their instances) one level below this one, in every hierarchy this one uses.
    public func createChild(_ name: String, resources: CgroupResources) throws(CgroupError) -> Cgroup {
        if name.isEmpty || name == "." || name == ".." || name.contains("/") || name.utf8.contains(0) {
            throw .invalidPath(name, reason: "a child cgroup name must be one path component")
        }
        let host: CgroupHost
        if let known = self.host {
            host = known
        } else {
            do { host = try CgroupHost.detect() } catch { throw .system(error) }
        }
        return try Cgroup.make(host: host, location: location.child(name), resources: resources,
                               v2Boundary: location.v2, isOwn: false, v1Controllers: Set(location.v1.keys))
    }

    static func make(host: CgroupHost, location: CgroupLocation, resources: CgroupResources,
                     v2Boundary: String?, isOwn: Bool, v1Controllers: Set<String> = []) throws(CgroupError) -> Cgroup
    {
        // Which v1 hierarchies get a directory: on a legacy host all of them (they hold the process tree),
        // on a hybrid one those the limits need (see `create`).
        var selected: [String: String] = [:]
        if host.mode != .unified {
            var wanted: Set<String> = location.v2 == nil ? ["cpu", "cpuacct", "memory", "pids"] : v1Controllers
            if resources.needsMemory { wanted.insert("memory") }
            if resources.needsCPU { wanted.formUnion(["cpu", "cpuacct"]) }
            if resources.needsPids { wanted.insert("pids") }
            if resources.needsCpuset { wanted.insert("cpuset") }
            if resources.needsIO { wanted.insert("blkio") }
            if location.v2 == nil { wanted.insert("freezer") }
            for controller in wanted {
                if let dir = location.v1[controller], host.usesV1(controller) { selected[controller] = dir }
            }
        }
        // Controllers the resources need from v2, and the ones worth having there for statistics.
        var required: Set<String> = []
        func need(_ v1Name: String, _ v2Name: String, _ needed: Bool) {
            if needed && selected[v1Name] == nil { required.insert(v2Name) }
        }
        need("memory", "memory", resources.needsMemory)
        need("cpu", "cpu", resources.needsCPU)
        need("cpuset", "cpuset", resources.needsCpuset)
        need("pids", "pids", resources.needsPids)
        need("blkio", "io", resources.needsIO)
        if location.v2 == nil, let missing = required.sorted().first {
            throw .controllerUnavailable(controller: missing, directory: "(no cgroup v2 directory on this host)")
        }
        var optional: Set<String> = []
        if selected["memory"] == nil { optional.insert("memory") }
        if selected["cpu"] == nil { optional.insert("cpu") }
        if selected["pids"] == nil { optional.insert("pids") }
        if selected["blkio"] == nil && !host.usesV1("blkio") { optional.insert("io") }

        var created: [String] = []
        func rollBack() {
            for dir in created.reversed() { rmdir(dir) }
        }
        do throws(CgroupError) {
            if let v2 = location.v2 {
                created += try makeDirectories(v2)
                if !required.isEmpty || !optional.isEmpty {
                    try enableControllers(for: v2, boundary: v2Boundary ?? CgroupPath.parent(v2), isOwn: isOwn,
                                          required: required, optional: optional)
                }
            }
            for dir in CgroupPath.unique(selected.keys.sorted().map { selected[$0]! }) {
                let made = try makeDirectories(dir)
                created += made
                if dir == selected["cpuset"] {
                    for path in made { try copyCpusetFromParent(path) }
                }
            }
            var used = CgroupLocation(v2: location.v2, v1: selected)
            let dirs = used.directories
            used.prunable = location.prunable.filter { parent in dirs.contains { CgroupPath.isBelow($0, parent) } }
            let cgroup = Cgroup(location: used, host: host)
            try cgroup.apply(resources)
            return cgroup
        } catch {
            rollBack()
            throw error
        }
    }

    /// mkdir -p, retrying when a concurrent delete pruned a shared parent between our mkdirs.
    static func makeDirectories(_ path: String) throws(CgroupError) -> [String] {
        var attempt = 0
        while true {
            do {
                return try FileIO.makeDirectories(path)
            } catch {
                attempt += 1
                if error.errno != ENOENT || attempt >= 5 { throw .system(error) }
            }
        }
    }

    /// A new v1 cpuset starts with empty cpus/mems, in which no task may run: inherit the parent's.
    static func copyCpusetFromParent(_ dir: String) throws(CgroupError) {
        let parent = CgroupPath.parent(dir)
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = try read(dir + "/" + file).cgroupTrimmed()
            if !mine.isEmpty { continue }
            let value = try read(parent + "/" + file).cgroupTrimmed()
            try write(dir + "/" + file, value)
        }
    }

    /// Enables controllers in cgroup.subtree_control of `boundary` and of every directory between it and `target`,
    /// writing only those not yet enabled (so nothing is written where all is in place, e.g. a host's root).
    static func enableControllers(for target: String, boundary: String, isOwn: Bool,
                                  required: Set<String>, optional: Set<String>) throws(CgroupError)
    {
        guard CgroupPath.isBelow(target, boundary), target != boundary else { return }
        let chain = [boundary] + CgroupPath.intermediates(from: boundary, to: target)
        let available = words(try read(boundary + "/cgroup.controllers"))
        if let missing = required.subtracting(available).sorted().first {
            throw .controllerUnavailable(controller: missing, directory: boundary)
        }
        let wanted = required.union(optional.intersection(available))
        var movedSelf = false
        // The no-internal-process rule, before the first write: a threaded controller (cpu, pids) enabled
        // beside tasks would make our cgroup a thread root that then refuses domain controllers and even a
        // leaf for us. So if our own cgroup (not the root, which is exempt) holds tasks and must delegate
        // controllers that are not delegated yet, move ourselves into a leaf first.
        let undelegated = wanted.subtracting(words(try read(boundary + "/cgroup.subtree_control")))
        if isOwn, !undelegated.isEmpty, FileIO.exists(boundary + "/cgroup.type"),
           !((try? readPids(boundary + "/cgroup.procs")) ?? []).isEmpty {
            try moveSelfToLeaf(of: boundary)
            movedSelf = true
        }
        for dir in chain {
            let offered = dir == boundary ? available : words(try read(dir + "/cgroup.controllers"))
            let enabled = words(try read(dir + "/cgroup.subtree_control"))
            for controller in wanted.intersection(offered).subtracting(enabled).sorted() {
                let file = dir + "/cgroup.subtree_control"
                while true {
                    do {
                        try FileIO.write(file, "+" + controller)
                        break
                    } catch {
                        // The no-internal-process rule: our own cgroup has tasks (EBUSY), or it became a
                        // thread root when a threaded controller (cpu, pids) was enabled beside its tasks, and
                        // then refuses domain controllers (EOPNOTSUPP). Either way: move ourselves to a leaf.
                        if (error.errno == EBUSY || error.errno == EOPNOTSUPP) && dir == boundary {
                            if isOwn && !movedSelf {
                                try moveSelfToLeaf(of: boundary)
                                movedSelf = true
                                continue
                            }
                            let pids = (try? readPids(boundary + "/cgroup.procs")) ?? []
                            throw .internalProcesses(directory: dir, pids: pids)
                        }
                        if required.contains(controller) {
                            throw .write(path: file, value: "+" + controller, error: error)
                        }
                        break  // optional: statistics will lack it
                    }
                }
            }
        }
    }

    /// Moves this process (only it) into "<own>/podvisor-supervisor" so that our own cgroup has no processes.
    static func moveSelfToLeaf(of own: String) throws(CgroupError) {
        let leaf = own + "/podvisor-supervisor"
        if mkdir(leaf, 0o755) != 0 && errno != EEXIST { throw .system(SystemError("mkdir", leaf)) }
        try write(leaf + "/cgroup.procs", String(getpid()))
    }

    // MARK: - Processes

    /// An O_RDONLY|O_DIRECTORY|O_CLOEXEC descriptor of the v2 directory, for clone3's CLONE_INTO_CGROUP.
    public func directoryFD() throws(SystemError) -> Int32 {
        guard let v2 = location.v2 else { throw SystemError("open", "cgroup v2 directory (none on this host)", errno: ENOENT) }
        let fd = retryingOnEINTR { pv_open(v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) }
        if fd < 0 { throw SystemError("open", v2) }
        return fd
    }

    /// Writes `pid` to cgroup.procs of each v1 directory, and of the v2 directory when asked (not needed for a
    /// process cloned with CLONE_INTO_CGROUP).
    /// A v1 directory that does not exist is skipped (a location straight from `CgroupHost.location` lists every
    /// hierarchy, `create` makes only those it needs), unless none of them exists.
    public func addProcess(_ pid: Int32, includingV2: Bool) throws(CgroupError) {
        let v1 = CgroupPath.unique(location.v1.keys.sorted().map { location.v1[$0]! })
        let present = v1.filter(FileIO.isDirectory)
        for dir in present.isEmpty ? v1 : present {
            try Cgroup.write(dir + "/cgroup.procs", String(pid))
        }
        if includingV2, let v2 = location.v2 {
            try Cgroup.write(v2 + "/cgroup.procs", String(pid))
        }
    }

    /// The directory whose cgroup.procs is authoritative: v2, else v1 memory/pids/any.
    var processDirectory: String? {
        location.v2 ?? location.v1["memory"] ?? location.v1["pids"] ?? location.v1.values.sorted().first
    }

    /// Processes in the cgroup and its children (v2 directory; the v1 memory or pids directory on legacy hosts).
    public func processes() throws(CgroupError) -> [Int32] {
        guard let dir = processDirectory else { return [] }
        return try Cgroup.pidsRecursively(dir).sorted()
    }

    static func pidsRecursively(_ dir: String) throws(CgroupError) -> [Int32] {
        var result = try readPids(dir + "/cgroup.procs")
        for child in try subdirectories(dir) {
            result += try pidsRecursively(child)
        }
        return result
    }

    /// Every process in any of our directories (v2 and v1), recursively; a missing directory counts as empty.
    func allProcesses() throws(CgroupError) -> Set<Int32> {
        var all = Set<Int32>()
        for dir in location.directories where FileIO.exists(dir) {
            do throws(CgroupError) {
                all.formUnion(try Cgroup.pidsRecursively(dir))
            } catch {
                if case .system(let e) = error, e.errno == ENOENT { continue }
                throw error
            }
        }
        return all
    }

    // MARK: - Freeze, kill

    /// Whether the cgroup is frozen now ("frozen 1" in cgroup.events; v1: freezer.state FROZEN). False if unreadable.
    public var isFrozen: Bool {
        if let v2 = location.v2 {
            guard let text = try? FileIO.read(v2 + "/cgroup.events") else { return false }
            return FlatKeyed.parse(text)["frozen"] == 1
        }
        if let dir = location.v1["freezer"] {
            return (try? FileIO.read(dir + "/freezer.state"))?.cgroupTrimmed() == "FROZEN"
        }
        return false
    }

    /// Freezes every process: cgroup.freeze 1 (v2), waiting for "frozen 1" in cgroup.events by poll(POLLPRI);
    /// on legacy hosts freezer.state FROZEN, re-read until the kernel reports FROZEN (v1 has no notification).
    public func freeze(timeout: Double = 10) throws(CgroupError) { try setFrozen(true, timeout: timeout) }

    public func thaw(timeout: Double = 10) throws(CgroupError) { try setFrozen(false, timeout: timeout) }

    private func setFrozen(_ frozen: Bool, timeout: Double) throws(CgroupError) {
        if let v2 = location.v2 {
            try Cgroup.write(v2 + "/cgroup.freeze", frozen ? "1" : "0")
            try Cgroup.waitForEvent(v2 + "/cgroup.events", key: "frozen", value: frozen ? 1 : 0, timeout: timeout)
        } else if let dir = location.v1["freezer"] {
            let state = frozen ? "FROZEN" : "THAWED"
            try Cgroup.write(dir + "/freezer.state", state)
            try Cgroup.waitUntil(timeout: timeout, "\(dir)/freezer.state to read \(state)") { () throws(CgroupError) in
                try Cgroup.read(dir + "/freezer.state").cgroupTrimmed() == state
            }
        } else {
            throw .unsupported("\(frozen ? "freeze" : "thaw") without a v2 directory or a v1 freezer directory")
        }
    }

    /// SIGKILLs every process and returns when the cgroup is empty: cgroup.kill where present (kernel 5.14+),
    /// then SIGKILL to whatever is left in any of our directories (v1 ones too), until none is left.
    /// Killed children of the caller stay zombies until it reaps them; they no longer count as members.
    public func kill(timeout: Double = 10) throws(CgroupError) {
        if let v2 = location.v2, FileIO.exists(v2 + "/cgroup.kill") {
            try Cgroup.write(v2 + "/cgroup.kill", "1")
            try Cgroup.waitForEvent(v2 + "/cgroup.events", key: "populated", value: 0, timeout: timeout)
        }
        try Cgroup.waitUntil(timeout: timeout, "cgroup \(location.directories) to empty") { () throws(CgroupError) in
            let pids = try allProcesses()
            for pid in pids { Glibc.kill(pid, SIGKILL) }
            return pids.isEmpty
        }
    }

    // MARK: - Limits

    /// Writes the limits. A setting that is nil is left alone.
    public func apply(_ resources: CgroupResources) throws(CgroupError) {
        let v2 = location.v2
        func v2Dir(_ what: String) throws(CgroupError) -> String {
            guard let v2 else { throw .unsupported("\(what): no v1 directory for it and no cgroup v2 directory") }
            return v2
        }
        func v1OrV2(_ controller: String) throws(CgroupError) -> String {
            if let dir = location.v1[controller] { return dir }
            return try v2Dir(controller)
        }

        // Memory. -1 means unlimited in OCI; anything else below 0 is no limit at all, on either version.
        for (name, value) in [("memory", resources.memoryMax), ("memory swap", resources.memorySwapMax),
                              ("memory reservation", resources.memoryReservation)] {
            if let value, value < -1 { throw .invalidResources("\(name) limit \(value): must be -1 (unlimited) or at least 0") }
        }
        if resources.needsMemory {
            if let dir = location.v1["memory"] {
                if resources.memoryHigh != nil {
                    throw .unsupported("memory.high (memoryHigh) needs cgroup v2; this host keeps memory in cgroup v1")
                }
                if let soft = resources.memoryReservation ?? resources.memoryLow {
                    try Cgroup.write(dir + "/memory.soft_limit_in_bytes", String(soft))
                }
                var swap = resources.memorySwapMax
                if swap == nil && resources.memoryMax == -1 { swap = -1 }
                try Cgroup.setV1Memory(dir: dir, limit: resources.memoryMax, memsw: swap)
            } else {
                let dir = try v2Dir("memory")
                if let max = resources.memoryMax { try Cgroup.write(dir + "/memory.max", Cgroup.v2Limit(max)) }
                if let high = resources.memoryHigh { try Cgroup.write(dir + "/memory.high", Cgroup.v2Limit(high)) }
                if let low = resources.memoryLow ?? resources.memoryReservation {
                    try Cgroup.write(dir + "/memory.low", Cgroup.v2Limit(low))
                }
                if let swap = try CgroupResources.swapMaxV2(memorySwap: resources.memorySwapMax,
                                                           memory: resources.memoryMax) {
                    let file = dir + "/memory.swap.max"
                    if FileIO.exists(file) {
                        try Cgroup.write(file, Cgroup.v2Limit(swap))
                    } else if swap > 0 {
                        // Without swap accounting there is no file: no swap (0) or unlimited (-1) asks for nothing.
                        throw .unsupported("swap limit \(swap): \(file) does not exist (no swap accounting)")
                    }
                }
            }
        }

        // CPU.
        if resources.needsCPU {
            if let dir = location.v1["cpu"] {
                if let shares = resources.cpuShares ?? resources.cpuWeight.map(CgroupResources.cpuShares(fromWeight:)),
                   shares > 0 {
                    try Cgroup.write(dir + "/cpu.shares", String(shares))
                }
                let quota = resources.cpuQuota.map { $0 > 0 ? String($0) : "-1" }
                let period = resources.cpuPeriod.map { String($0) }
                // The kernel checks each value against the other: if period-then-quota is refused, try the reverse.
                do throws(CgroupError) {
                    if let period { try Cgroup.write(dir + "/cpu.cfs_period_us", period) }
                    if let quota { try Cgroup.write(dir + "/cpu.cfs_quota_us", quota) }
                } catch {
                    if let quota { try Cgroup.write(dir + "/cpu.cfs_quota_us", quota) }
                    if let period { try Cgroup.write(dir + "/cpu.cfs_period_us", period) }
                }
            } else {
                let dir = try v2Dir("cpu")
                if let weight = resources.cpuWeight ?? resources.cpuShares.map(CgroupResources.cpuWeight(fromShares:)),
                   weight > 0 {
                    try Cgroup.write(dir + "/cpu.weight", String(weight))
                }
                if resources.cpuQuota != nil || resources.cpuPeriod != nil {
                    var value = resources.cpuQuota.map { $0 > 0 ? String($0) : "max" } ?? "max"
                    if let period = resources.cpuPeriod { value += " \(period)" }
                    try Cgroup.write(dir + "/cpu.max", value)
                }
            }
        }

        // Cpuset.
        if resources.needsCpuset {
            let dir = try v1OrV2("cpuset")
            if let cpus = resources.cpusetCpus { try Cgroup.write(dir + "/cpuset.cpus", cpus) }
            if let mems = resources.cpusetMems { try Cgroup.write(dir + "/cpuset.mems", mems) }
        }

        // Pids.
        if let max = resources.pidsMax {
            let dir = try v1OrV2("pids")
            try Cgroup.write(dir + "/pids.max", max > 0 ? String(max) : "max")
        }

        // Block I/O.
        if resources.needsIO {
            if let dir = location.v1["blkio"] {
                if let weight = resources.ioWeight {
                    try Cgroup.writeFirstPresent([dir + "/blkio.weight", dir + "/blkio.bfq.weight"], String(weight))
                }
                for limit in resources.ioMax {
                    let device = "\(limit.major):\(limit.minor)"
                    let pairs: [(String, UInt64?)] = [
                        ("blkio.throttle.read_bps_device", limit.readBps),
                        ("blkio.throttle.write_bps_device", limit.writeBps),
                        ("blkio.throttle.read_iops_device", limit.readIops),
                        ("blkio.throttle.write_iops_device", limit.writeIops),
                    ]
                    for (file, value) in pairs {
                        if let value { try Cgroup.write(dir + "/" + file, "\(device) \(value)") }
                    }
                }
            } else {
                let dir = try v2Dir("io")
                if let weight = resources.ioWeight {
                    let value = CgroupResources.ioWeight(fromBlkio: weight)
                    if FileIO.exists(dir + "/io.weight") {
                        try Cgroup.write(dir + "/io.weight", "default \(value)")
                    } else {
                        try Cgroup.write(dir + "/io.bfq.weight", String(value))
                    }
                }
                for limit in resources.ioMax {
                    var value = "\(limit.major):\(limit.minor)"
                    if let v = limit.readBps { value += " rbps=\(v)" }
                    if let v = limit.writeBps { value += " wbps=\(v)" }
                    if let v = limit.readIops { value += " riops=\(v)" }
                    if let v = limit.writeIops { value += " wiops=\(v)" }
                    try Cgroup.write(dir + "/io.max", value)
                }
            }
        }

        // Raw v2 files.
        for key in resources.unified.keys.sorted() {
            if key.isEmpty || key.contains("/") || key.hasPrefix(".") || !key.contains(".") {
                throw .invalidResources("unified key \"\(key)\" is not a cgroup file name")
            }
            let dir = try v2Dir("unified[\(key)]")
            try Cgroup.write(dir + "/" + key, resources.unified[key]!)
        }
    }

    static func v2Limit(_ value: Int64) -> String { value < 0 ? "max" : String(value) }

    /// memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes at every step: try limit first, and on
    /// refusal memsw first.
    static func setV1Memory(dir: String, limit: Int64?, memsw: Int64?) throws(CgroupError) {
        let swapFile = dir + "/memory.memsw.limit_in_bytes"
        var swapValue = memsw
        if let value = memsw, !FileIO.exists(swapFile) {
            // No swap accounting: a swap limit equal to the memory limit (or unlimited) asks for nothing more.
            if value == -1 || value == limit { swapValue = nil } else {
                throw .unsupported("memory+swap limit \(value): \(swapFile) does not exist (no swap accounting)")
            }
        }
        do throws(CgroupError) {
            if let limit { try write(dir + "/memory.limit_in_bytes", String(limit)) }
            if let swapValue { try write(swapFile, String(swapValue)) }
        } catch {
            if let swapValue { try write(swapFile, String(swapValue)) }
            if let limit { try write(dir + "/memory.limit_in_bytes", String(limit)) }
        }
    }

    // MARK: - Observation

    /// Limit events: memory.events and pids.events (v2), memory.oom_control, memory.failcnt, pids.events (v1).
    public func events() throws(CgroupError) -> CgroupEvents {
        var events = CgroupEvents()
        if let dir = location.v1["memory"] {
            let control = FlatKeyed.parse(try Cgroup.read(dir + "/memory.oom_control"))
            events.oomKill = control["oom_kill"] ?? 0
            events.oom = events.oomKill
            // With a memory+swap limit the memsw counter is the one that fails first.
            events.max = UInt64(try Cgroup.read(dir + "/memory.failcnt").cgroupTrimmed()) ?? 0
            if let memsw = try? Cgroup.read(dir + "/memory.memsw.failcnt"), let count = UInt64(memsw.cgroupTrimmed()) {
                events.max = Swift.max(events.max, count)
            }
        } else if let v2 = location.v2, FileIO.exists(v2 + "/memory.events") {
            let memory = FlatKeyed.parse(try Cgroup.read(v2 + "/memory.events"))
            events.oom = memory["oom"] ?? 0
            events.oomKill = memory["oom_kill"] ?? 0
            events.max = memory["max"] ?? 0
            events.high = memory["high"] ?? 0
        }
        if let dir = location.v1["pids"] ?? location.v2, FileIO.exists(dir + "/pids.events") {
            events.pidsMax = FlatKeyed.parse(try Cgroup.read(dir + "/pids.events"))["max"] ?? 0
        }
        return events
    }

    /// CPU time and throttling, memory and pids use. On hybrid hosts usage comes from the v2 cpu.stat and
    /// throttling from the v1 cpu.stat (where the quota is).
    public func stats() throws(CgroupError) -> CgroupStats {
        var stats = CgroupStats()
        if let v2 = location.v2 {
            let cpu = FlatKeyed.parse(try Cgroup.read(v2 + "/cpu.stat"))
            stats.cpuUsageUsec = cpu["usage_usec"]
            stats.cpuUserUsec = cpu["user_usec"]
            stats.cpuSystemUsec = cpu["system_usec"]
            stats.cpuPeriods = cpu["nr_periods"]
            stats.cpuThrottled = cpu["nr_throttled"]
            stats.cpuThrottledUsec = cpu["throttled_usec"]
        } else if let acct = location.v1["cpuacct"] {
            if let ns = UInt64(try Cgroup.read(acct + "/cpuacct.usage").cgroupTrimmed()) {
                stats.cpuUsageUsec = ns / 1000
            }
            let ticks = FlatKeyed.parse(try Cgroup.read(acct + "/cpuacct.stat"))
            let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
            stats.cpuUserUsec = ticks["user"].map { $0 * 1_000_000 / hz }
            stats.cpuSystemUsec = ticks["system"].map { $0 * 1_000_000 / hz }
        }
        if let cpu = location.v1["cpu"] {
            let v1 = FlatKeyed.parse(try Cgroup.read(cpu + "/cpu.stat"))
            stats.cpuPeriods = v1["nr_periods"]
            stats.cpuThrottled = v1["nr_throttled"]
            stats.cpuThrottledUsec = v1["throttled_time"].map { $0 / 1000 }
        }
        if let memory = location.v1["memory"] {
            stats.memoryCurrent = UInt64(try Cgroup.read(memory + "/memory.usage_in_bytes").cgroupTrimmed())
            stats.memoryMax = UInt64(try Cgroup.read(memory + "/memory.limit_in_bytes").cgroupTrimmed())
        } else if let v2 = location.v2, FileIO.exists(v2 + "/memory.current") {
            stats.memoryCurrent = UInt64(try Cgroup.read(v2 + "/memory.current").cgroupTrimmed())
            stats.memoryMax = UInt64(try Cgroup.read(v2 + "/memory.max").cgroupTrimmed())  // "max" -> nil
        }
        if let dir = location.v1["pids"] ?? location.v2, FileIO.exists(dir + "/pids.current") {
            stats.pidsCurrent = UInt64(try Cgroup.read(dir + "/pids.current").cgroupTrimmed())
        }
        return stats
    }

    /// PSI of the cgroup (v2 only; PSI works in v2 directories on hybrid hosts too).
    public func pressure(_ resource: PressureResource) throws(CgroupError) -> Pressure {
        guard let v2 = location.v2 else { throw .unsupported("pressure (PSI) needs a cgroup v2 directory") }
        return try Pressure.read(v2 + "/" + resource.fileName)
    }

    // MARK: - Deletion

    /// Kills what is left, waits until empty, removes child directories deepest first and then our own, in every
    /// hierarchy, then the empty `prunable` parents. Missing directories are fine: deleting twice succeeds.
    public func delete(timeout: Double = 10) throws(CgroupError) {
        let existing = location.directories.filter { FileIO.exists($0) }
        if !existing.isEmpty {
            try kill(timeout: timeout)
            for dir in existing { try Cgroup.removeTree(dir, timeout: timeout) }
        }
        for dir in location.prunable.reversed() {
            rmdir(dir)  // ENOENT, ENOTEMPTY, EBUSY: gone already or still in use by another container
        }
    }

    static func removeTree(_ dir: String, timeout: Double) throws(CgroupError) {
        let children: [String]
        do {
            children = try subdirectories(dir)
        } catch {
            if case .system(let e) = error, e.errno == ENOENT { return }
            throw error
        }
        for child in children { try removeTree(child, timeout: timeout) }
        // A process that just exited may keep the cgroup busy for a moment.
        try waitUntil(timeout: timeout, "rmdir \(dir)") { () throws(CgroupError) in
            if rmdir(dir) == 0 || errno == ENOENT { return true }
            if errno == EBUSY { return false }
            throw .system(SystemError("rmdir", dir))
        }
    }

    // MARK: - Files

    static func read(_ path: String) throws(CgroupError) -> String {
        do { return try FileIO.read(path) } catch { throw .system(error) }
    }

    static func write(_ path: String, _ value: String) throws(CgroupError) {
        do { try FileIO.write(path, value) } catch { throw .write(path: path, value: value, error: error) }
    }

    static func writeFirstPresent(_ paths: [String], _ value: String) throws(CgroupError) {
        let path = paths.first(where: FileIO.exists) ?? paths[0]
        try write(path, value)
    }

    static func readPids(_ path: String) throws(CgroupError) -> [Int32] {
        try read(path).split(separator: "\n").compactMap { Int32($0) }
    }

    static func words(_ text: String) -> Set<String> {
        Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    static func subdirectories(_ dir: String) throws(CgroupError) -> [String] {
        let names: [String]
        do { names = try FileIO.list(dir) } catch { throw .system(error) }
        return names.map { dir + "/" + $0 }.filter(FileIO.isDirectory).sorted()
    }

    // MARK: - Waiting

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Waits until `key` in a v2 events file (cgroup.events) has `value`: the kernel signals changes with
    /// POLLPRI. A missing file while waiting for "populated 0" means the cgroup is gone: done.
    static func waitForEvent(_ path: String, key: String, value: UInt64, timeout: Double) throws(CgroupError) {
        let fd = retryingOnEINTR { pv_open(path, O_RDONLY | O_CLOEXEC, 0) }
        if fd < 0 {
            if errno == ENOENT && key == "populated" && value == 0 { return }
            throw .system(SystemError("open", path))
        }
        defer { close(fd) }
        let deadline = now() + timeout
        while true {
            lseek(fd, 0, SEEK_SET)
            let text: String
            do { text = try FileIO.read(fd: fd, path: path) } catch { throw .system(error) }
            if FlatKeyed.parse(text)[key] == value { return }
            let remaining = deadline - now()
            if remaining <= 0 { throw .timeout("\(path) to show \"\(key) \(value)\" (last: \(text.split(separator: "\n")))") }
            var entry = pollfd(fd: fd, events: Int16(POLLPRI), revents: 0)
            // The kernel wakes us on every change; the cap only bounds a missed wake-up.
            _ = poll(&entry, 1, Int32(min(remaining, 1.0) * 1000) + 1)
        }
    }

    /// Re-checks a condition with a short, growing pause (for v1 files, which have no change notification).
    static func waitUntil(timeout: Double, _ what: String, _ condition: () throws(CgroupError) -> Bool)
        throws(CgroupError)
    {
        let deadline = now() + timeout
        var pause = 200_000  // ns
        while true {
            if try condition() { return }
            if now() >= deadline { throw .timeout(what) }
            var ts = timespec(tv_sec: 0, tv_nsec: pause)
            nanosleep(&ts, nil)
            pause = min(pause * 2, 20_000_000)
        }
    }
}

extension String {
    func cgroupTrimmed() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\n" || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\n" || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
