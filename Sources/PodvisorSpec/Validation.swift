extension OCIConfig {
    /// Throws the first problem found (see `validationErrors`). `file` names the config in
    /// messages; `forCreate` also requires `process` with non-empty `args`.
    public func validate(file: String, forCreate: Bool) throws(SpecError) {
        if let first = validationErrors(file: file, forCreate: forCreate).first { throw first }
    }

    /// Every problem found, in document order, each naming the field path and value.
    public func validationErrors(file: String, forCreate: Bool) -> [SpecError] {
        var v = SpecValidator(file: file)
        v.check(self, forCreate: forCreate)
        return v.errors
    }

    /// True for a semantic version "1.x.y" (with optional -prerelease / +build).
    public static func isSupportedVersion(_ version: String) -> Bool {
        let core = version.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
        else { return false }
        return parts[0] == "1"
    }
}

struct SpecValidator {
    let file: String
    var errors: [SpecError] = []

    mutating func fail(_ field: String, _ value: String?, _ reason: String) {
        errors.append(SpecError(file: file, field: field, value: value, reason: reason))
    }

    mutating func requireAbsolute(_ field: String, _ path: String) {
        if !path.hasPrefix("/") { fail(field, path, "must be an absolute path") }
    }

    mutating func check(_ c: OCIConfig, forCreate: Bool) {
        if !OCIConfig.isSupportedVersion(c.ociVersion) { fail("ociVersion", c.ociVersion, "unsupported version") }
        if let root = c.root {
            if root.path.isEmpty { fail("root.path", root.path, "must not be empty") }
        } else {
            fail("root", nil, "is required")
        }
        if let process = c.process {
            check(process, forCreate: forCreate)
        } else if forCreate {
            fail("process", nil, "is required")
        }
        let namespaces = c.linux?.namespaces ?? []
        let ownUTS = namespaces.contains { $0.type == "uts" && ($0.path ?? "").isEmpty }
        for (name, value) in [("hostname", c.hostname), ("domainname", c.domainname)] {
            if let value, !value.isEmpty, !ownUTS {
                fail(name, value, "requires a new uts namespace (one without a path)")
            }
        }
        for (i, m) in (c.mounts ?? []).enumerated() { check(m, "mounts[\(i)]") }
        for (name, hooks) in c.hooks?.all ?? [] {
            for (i, hook) in hooks.enumerated() {
                requireAbsolute("hooks.\(name)[\(i)].path", hook.path)
                if let t = hook.timeout, t <= 0 { fail("hooks.\(name)[\(i)].timeout", "\(t)", "must be greater than 0") }
            }
        }
        if let linux = c.linux { check(linux) }
    }

    mutating func check(_ p: OCIProcess, forCreate: Bool) {
        if forCreate && (p.args ?? []).isEmpty { fail("process.args", nil, "must not be empty") }
        requireAbsolute("process.cwd", p.cwd)
        for (i, e) in (p.env ?? []).enumerated() {
            guard let eq = e.firstIndex(of: "="), eq != e.startIndex else {
                fail("process.env[\(i)]", e, "must be of the form KEY=value")
                continue
            }
        }
        var seen: Set<String> = []
        for (i, r) in (p.rlimits ?? []).enumerated() {
            if r.kind == nil {
                fail("process.rlimits[\(i)].type", r.type, "unknown rlimit type")
            } else if !seen.insert(r.type).inserted {
                fail("process.rlimits[\(i)].type", r.type, "duplicate rlimit type")
            }
            if r.soft > r.hard { fail("process.rlimits[\(i)].soft", "\(r.soft)", "greater than the hard limit \(r.hard)") }
        }
        if let adj = p.oomScoreAdj, !(-1000...1000).contains(adj) {
            fail("process.oomScoreAdj", "\(adj)", "must be in -1000...1000")
        }
        if let io = p.ioPriority {
            if !["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"].contains(io.class) {
                fail("process.ioPriority.class", io.class, "unknown I/O priority class")
            }
            if let prio = io.priority, !(0...7).contains(prio) {
                fail("process.ioPriority.priority", "\(prio)", "must be in 0...7")
            }
        }
        if let s = p.scheduler {
            let policies = ["SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"]
            if !policies.contains(s.policy) { fail("process.scheduler.policy", s.policy, "unknown scheduling policy") }
            if let nice = s.nice, !(-20...19).contains(nice) { fail("process.scheduler.nice", "\(nice)", "must be in -20...19") }
        }
    }

    mutating func check(_ m: OCIMount, _ at: String) {
        requireAbsolute("\(at).destination", m.destination)
        let options = m.options ?? []
        for (j, o) in options.enumerated() where o.isEmpty || o.contains("\0") {
            fail("\(at).options[\(j)]", o, "invalid mount option")
        }
        let isBind = m.type == "bind" || MountOptions.parse(options).isBind
        if isBind && (m.source ?? "").isEmpty { fail("\(at).source", nil, "a bind mount requires a source") }
        if !isBind && (m.type ?? "").isEmpty { fail("\(at).type", nil, "is required unless the mount is a bind mount") }
        checkMappings(m.uidMappings, "\(at).uidMappings")
        checkMappings(m.gidMappings, "\(at).gidMappings")
    }

    mutating func checkMappings(_ mappings: [OCILinux.IDMapping]?, _ at: String) {
        for (i, m) in (mappings ?? []).enumerated() where m.size == 0 {
            fail("\(at)[\(i)].size", "0", "must be greater than 0")
        }
    }

    mutating func check(_ l: OCILinux) {
        var types: Set<String> = []
        for (i, ns) in (l.namespaces ?? []).enumerated() {
            if ns.kind == nil {
                fail("linux.namespaces[\(i)].type", ns.type, "unknown namespace type")
            } else if !types.insert(ns.type).inserted {
                fail("linux.namespaces[\(i)].type", ns.type, "duplicate namespace type")
            }
            if let path = ns.path, !path.isEmpty { requireAbsolute("linux.namespaces[\(i)].path", path) }
        }
        let nsList = l.namespaces ?? []
        let newUserNS = nsList.contains { $0.type == "user" && ($0.path ?? "").isEmpty }
        checkMappings(l.uidMappings, "linux.uidMappings")
        checkMappings(l.gidMappings, "linux.gidMappings")
        for (name, list) in [("uidMappings", l.uidMappings ?? []), ("gidMappings", l.gidMappings ?? [])] {
            if !list.isEmpty && !types.contains("user") {
                fail("linux.\(name)", nil, "requires a user namespace")
            } else if list.isEmpty && newUserNS {
                fail("linux.\(name)", nil, "required with a new user namespace")
            }
        }
        if let prop = l.rootfsPropagation, !prop.isEmpty, MountOptions.propagationTable[prop] == nil {
            fail("linux.rootfsPropagation", prop, "unknown propagation (want one of \(MountOptions.propagationTable.keys.sorted().joined(separator: ", ")))")
        }
        for key in (l.sysctl ?? [:]).keys.sorted() { checkSysctl(key, types) }
        if let offsets = l.timeOffsets, !offsets.isEmpty {
            if !types.contains("time") { fail("linux.timeOffsets", nil, "requires a time namespace") }
            for (clock, off) in offsets.sorted(by: { $0.key < $1.key }) {
                if clock != "monotonic" && clock != "boottime" {
                    fail("linux.timeOffsets", clock, "unknown clock (want monotonic or boottime)")
                } else if let ns = off.nanosecs, ns >= 1_000_000_000 {
                    fail("linux.timeOffsets.\(clock).nanosecs", "\(ns)", "must be less than 1000000000")
                }
            }
        }
        if let path = l.cgroupsPath, path.split(whereSeparator: { $0 == "/" || $0 == ":" }).contains("..") {
            fail("linux.cgroupsPath", path, "must not contain \"..\"")
        }
        for (i, d) in (l.devices ?? []).enumerated() {
            if !["c", "b", "u", "p"].contains(d.type) { fail("linux.devices[\(i)].type", d.type, "must be c, b, u or p") }
            requireAbsolute("linux.devices[\(i)].path", d.path)
            if d.type != "p" && (d.major == nil || d.minor == nil) {
                fail("linux.devices[\(i)].\(d.major == nil ? "major" : "minor")", nil, "required for a \(d.type) device")
            }
        }
        for (i, p) in (l.maskedPaths ?? []).enumerated() { requireAbsolute("linux.maskedPaths[\(i)]", p) }
        for (i, p) in (l.readonlyPaths ?? []).enumerated() { requireAbsolute("linux.readonlyPaths[\(i)]", p) }
        if let r = l.resources { check(r) }
        if let s = l.seccomp { check(s) }
        if let p = l.personality, p.domain != "LINUX", p.domain != "LINUX32" {
            fail("linux.personality.domain", p.domain, "must be LINUX or LINUX32")
        }
    }

    /// Name syntax, then runc's rule: only sysctls in a namespace the container owns.
    mutating func checkSysctl(_ key: String, _ namespaces: Set<String>) {
        let name = key.replacingSlashes()
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if name.isEmpty || name.contains("\0") || parts.contains(where: { $0.isEmpty || $0 == ".." }) {
            fail("linux.sysctl", key, "invalid sysctl name")
            return
        }
        let ipc: Set<String> = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]
        if ipc.contains(name) || name.hasPrefix("fs.mqueue.") {
            if !namespaces.contains("ipc") { fail("linux.sysctl", key, "requires an ipc namespace") }
        } else if name.hasPrefix("net.") {
            if !namespaces.contains("network") { fail("linux.sysctl", key, "requires a network namespace") }
        } else if name == "kernel.domainname" && namespaces.contains("uts") {
            // namespaced, allowed
        } else if name == "kernel.hostname" && namespaces.contains("uts") {
            fail("linux.sysctl", key, "conflicts with the hostname field; set hostname instead")
        } else {
            fail("linux.sysctl", key, "not in a namespace the container owns")
        }
    }

    mutating func check(_ r: OCIResources) {
        let at = "linux.resources"
        for (i, d) in (r.devices ?? []).enumerated() {
            if let t = d.type, !["a", "b", "c"].contains(t) { fail("\(at).devices[\(i)].type", t, "must be a, b or c") }
            if let a = d.access, !a.allSatisfy({ "rwm".contains($0) }) {
                fail("\(at).devices[\(i)].access", a, "must be a combination of r, w and m")
            }
        }
        if let m = r.memory {
            for (name, v) in [("limit", m.limit), ("reservation", m.reservation), ("swap", m.swap),
                              ("kernel", m.kernel), ("kernelTCP", m.kernelTCP)] {
                if let v, v < -1 { fail("\(at).memory.\(name)", "\(v)", "must be -1 (unlimited) or a byte count") }
            }
            if let limit = m.limit, let swap = m.swap, limit > 0, swap > 0, swap < limit {
                fail("\(at).memory.swap", "\(swap)", "must be at least memory.limit \(limit) (it is memory+swap)")
            }
            if let s = m.swappiness, s > 100 { fail("\(at).memory.swappiness", "\(s)", "must be in 0...100") }
        }
        if let cpu = r.cpu, let idle = cpu.idle, idle != 0 && idle != 1 {
            fail("\(at).cpu.idle", "\(idle)", "must be 0 or 1")
        }
        if let b = r.blockIO {
            for (name, w) in [("weight", b.weight), ("leafWeight", b.leafWeight)] {
                if let w, w != 0, !(10...1000).contains(w) { fail("\(at).blockIO.\(name)", "\(w)", "must be in 10...1000") }
            }
        }
        for (i, h) in (r.hugepageLimits ?? []).enumerated() {
            let digits = h.pageSize.prefix(while: \.isNumber)
            let unit = h.pageSize.dropFirst(digits.count)
            if digits.isEmpty || !["KB", "MB", "GB", "TB", "PB"].contains(String(unit)) {
                fail("\(at).hugepageLimits[\(i)].pageSize", h.pageSize, "must be a size such as 2MB or 1GB")
            }
        }
        for key in (r.unified ?? [:]).keys.sorted() where key.contains("/") || !key.contains(".") || key.hasPrefix(".") {
            fail("\(at).unified", key, "invalid cgroup file name")
        }
    }

    mutating func check(_ s: OCISeccomp) {
        let at = "linux.seccomp"
        if !OCISeccomp.actions.contains(s.defaultAction) { fail("\(at).defaultAction", s.defaultAction, "unknown seccomp action") }
        for (i, a) in (s.architectures ?? []).enumerated() where !OCISeccomp.architectureNames.contains(a) {
            fail("\(at).architectures[\(i)]", a, "unknown architecture")
        }
        for (i, f) in (s.flags ?? []).enumerated() where !OCISeccomp.filterFlags.contains(f) {
            fail("\(at).flags[\(i)]", f, "unknown seccomp flag")
        }
        var notify = s.defaultAction == "SCMP_ACT_NOTIFY"
        for (i, sc) in (s.syscalls ?? []).enumerated() {
            if sc.names.isEmpty { fail("\(at).syscalls[\(i)].names", nil, "must not be empty") }
            if !OCISeccomp.actions.contains(sc.action) { fail("\(at).syscalls[\(i)].action", sc.action, "unknown seccomp action") }
            if sc.action == "SCMP_ACT_NOTIFY" { notify = true }
            for (j, arg) in (sc.args ?? []).enumerated() {
                if arg.index > 5 { fail("\(at).syscalls[\(i)].args[\(j)].index", "\(arg.index)", "must be in 0...5") }
                if !OCISeccomp.operators.contains(arg.op) { fail("\(at).syscalls[\(i)].args[\(j)].op", arg.op, "unknown operator") }
            }
        }
        if notify && (s.listenerPath ?? "").isEmpty {
            fail("\(at).listenerPath", nil, "required when an action is SCMP_ACT_NOTIFY")
        }
    }
}

extension String {
    /// "net/ipv4/ip_forward" -> "net.ipv4.ip_forward" (runc accepts both spellings).
    func replacingSlashes() -> String { String(map { $0 == "/" ? "." : $0 }) }
}
