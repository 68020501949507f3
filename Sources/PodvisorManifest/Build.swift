import PodvisorSpec
import Yams
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension ManifestParser {
    func required(_ f: Fields, _ key: String) throws(SpecError) -> Node {
        guard let node = f[key] else {
            throw error(f.path(key), nil, "required key is missing", value: .some(nil)).at(f.node)
        }
        return node
    }

    mutating func pod(_ root: Node) throws(SpecError) -> PodManifest {
        let f = try fields(root, "", ManifestKeys.pod, what: "the pod manifest")
        let name = try string(try required(f, "name"), "name")
        let release = try nonEmptyString(try required(f, "release"), "release")
        let rootfs = try f["rootfs"].map { n throws(SpecError) in try nonEmptyString(n, "rootfs") }
        let hostname = try f["hostname"].map { n throws(SpecError) in try string(n, "hostname") }
        let resources = try f["resources"].map { n throws(SpecError) in try self.resources(n, "resources") } ?? .init()
        var supervision = Supervision()
        if let node = f["supervision"] {
            let s = try fields(node, "supervision", ManifestKeys.supervision, what: "supervision settings")
            if let n = s["strategy"] { supervision.strategy = try choice(n, s.path("strategy"), SupervisionStrategy.self) }
            if let n = s["intensity"] { supervision.intensity = try int(n, s.path("intensity"), 0...Int.max) }
            if let n = s["period"] { supervision.period = try positiveDuration(n, s.path("period")) }
        }
        let servicesNode = try required(f, "services")
        let items = try list(servicesNode, "services", what: "a list of services")
        if items.isEmpty { throw error("services", servicesNode, "needs at least one service") }
        var services: [ServiceSpec] = []
        for (i, item) in items.enumerated() {
            services.append(try service(item, "services[\(i)]"))
        }
        return PodManifest(name: name, release: release, rootfs: rootfs, hostname: hostname,
                           resources: resources, supervision: supervision, services: services)
    }

    mutating func resources(_ node: Node, _ path: String) throws(SpecError) -> ResourceLimits {
        let f = try fields(node, path, ManifestKeys.resources, what: "resource limits")
        var r = ResourceLimits()
        if let n = f["memory"] { r.memory = try size(n, f.path("memory")) }
        if let n = f["cpu"] { r.cpu = try cpu(n, f.path("cpu")) }
        if let n = f["pids"] { r.pids = try int(n, f.path("pids"), 1...Int.max) }
        return r
    }

    mutating func service(_ node: Node, _ path: String) throws(SpecError) -> ServiceSpec {
        let f = try fields(node, path, ManifestKeys.service, what: "a service")
        let name = try string(try required(f, "name"), f.path("name"))
        var s = ServiceSpec(name: name, command: try argv(try required(f, "command"), f.path("command")))
        if let n = f["args"] { s.args = try stringList(n, f.path("args")) }
        if let n = f["env"] { s.env = try env(n, f.path("env")) }
        if let n = f["cwd"] {
            s.cwd = try string(n, f.path("cwd"))
            if !s.cwd.hasPrefix("/") { throw error(f.path("cwd"), n, "must be an absolute path") }
        }
        if let n = f["user"] { s.user = try user(n, f.path("user")) }
        if let n = f["rootfs"] { s.rootfs = try nonEmptyString(n, f.path("rootfs")) }
        if let n = f["replicas"] { s.replicas = try replicas(n, f.path("replicas")) }
        if let n = f["resources"] { s.resources = try resources(n, f.path("resources")) }
        if let n = f["restart"] { s.restart = try choice(n, f.path("restart"), RestartType.self) }
        if let n = f["backoff"] { s.backoff = try backoff(n, f.path("backoff")) }
        if let n = f["sockets"] {
            let p = f.path("sockets")
            for (i, item) in try list(n, p, what: "a list of sockets").enumerated() {
                s.sockets.append(try socket(item, "\(p)[\(i)]", service: name))
            }
        }
        if let n = f["readiness"] { s.readiness = try readiness(n, f.path("readiness")) }
        if let n = f["shutdown"] {
            let g = try fields(n, f.path("shutdown"), ManifestKeys.shutdown, what: "shutdown settings")
            if let sig = g["signal"] {
                let text = try scalar(sig, g.path("signal"), "a signal name or number")
                do {
                    let (number, signalName) = try ManifestValues.signal(text)
                    s.shutdown.signal = number
                    s.shutdown.signalName = signalName
                } catch {
                    throw self.error(g.path("signal"), sig, error.reason)
                }
            }
            if let t = g["timeout"] { s.shutdown.timeout = try duration(t, g.path("timeout")) }
        }
        if let n = f["depends_on"] { s.dependsOn = try stringList(n, f.path("depends_on")) }
        if let n = f["autoscale"] { s.autoscale = try autoscale(n, f.path("autoscale")) }
        if let n = f["security"] {
            let g = try fields(n, f.path("security"), ManifestKeys.security, what: "security settings")
            if let m = g["seccomp"] { s.security.seccomp = try choice(m, g.path("seccomp"), SecuritySpec.Seccomp.self) }
            if let m = g["capabilities"] { s.security.capabilities = try stringList(m, g.path("capabilities")) }
            if let m = g["no_new_privileges"] {
                switch try scalar(m, g.path("no_new_privileges"), "true or false") {
                case "true": s.security.noNewPrivileges = true
                case "false": s.security.noNewPrivileges = false
                default: throw error(g.path("no_new_privileges"), m, "expected true or false")
                }
            }
        }
        return s
    }

    /// `{KEY: value}` or `[KEY=value]`.
    mutating func env(_ node: Node, _ path: String) throws(SpecError) -> [String] {
        var out: [String] = []
        var seen: [String: String] = [:]
        func add(_ key: String, _ value: String, _ at: String, _ n: Node) throws(SpecError) {
            if key.isEmpty || key.contains("=") || key.contains("\0") {
                throw error(at, n, "environment variable names must be non-empty and contain no '='", value: key)
            }
            if let first = seen[key] {
                throw error(at, n, "duplicate environment variable \(key) (also \(first))", value: key)
            }
            seen[key] = at
            out.append(key + "=" + value)
        }
        switch node {
        case .mapping(let mapping):
            note(path, node)
            for (k, v) in mapping {
                guard case .scalar(let key) = k else { throw error(path, k, "keys must be strings, got \(k.kindName)") }
                let at = path + "." + displayKey(key.string)
                let value = v.isNull ? "" : try scalar(v, at, "a string")
                try add(key.string, value, at, k)
            }
        case .sequence(let seq):
            for (i, item) in seq.enumerated() {
                let at = "\(path)[\(i)]"
                let text = try string(item, at)
                guard let eq = text.firstIndex(of: "=") else { throw error(at, item, "expected KEY=value") }
                try add(String(text[..<eq]), String(text[text.index(after: eq)...]), at, item)
            }
        default:
            throw error(path, node, "expected a mapping of KEY: value or a list of KEY=value")
        }
        return out
    }

    func user(_ node: Node, _ path: String) throws(SpecError) -> ServiceUser {
        let text = try scalar(node, path, "uid[:gid]")
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let uid = UInt32(parts[0]), parts.count == 1 || UInt32(parts[1]) != nil else {
            throw error(path, node, "expected a numeric uid or uid:gid such as 1000:1000")
        }
        return ServiceUser(uid: uid, gid: parts.count == 2 ? UInt32(parts[1])! : uid)
    }

    mutating func replicas(_ node: Node, _ path: String) throws(SpecError) -> Replicas {
        if case .scalar = node {
            let n = try int(node, path, 1...Int.max)
            return Replicas(fixed: n)
        }
        let f = try fields(node, path, ManifestKeys.replicas, what: "an integer or {min, max, initial}")
        let min = try f["min"].map { n throws(SpecError) in try int(n, f.path("min"), 0...Int.max) }
        let max = try f["max"].map { n throws(SpecError) in try int(n, f.path("max"), 1...Int.max) }
        let initial = try f["initial"].map { n throws(SpecError) in try int(n, f.path("initial"), 0...Int.max) }
        let lo = min ?? Swift.min(1, initial ?? 1)
        var start = initial ?? Swift.max(lo, 1)
        if initial == nil, let max { start = Swift.min(start, max) }
        let hi = max ?? Swift.max(start, lo)
        if lo > hi {
            throw error(f.path("max"), f["max"] ?? node, "must be at least min (\(lo))", value: String(hi))
        }
        if start < lo {
            throw error(f.path("initial"), f["initial"] ?? node, "must be at least min (\(lo))", value: String(start))
        }
        if start > hi {
            throw error(f.path("initial"), f["initial"] ?? node, "must be at most max (\(hi))", value: String(start))
        }
        return Replicas(min: lo, max: hi, initial: start)
    }

    mutating func backoff(_ node: Node, _ path: String) throws(SpecError) -> Backoff {
        let f = try fields(node, path, ManifestKeys.backoff, what: "backoff settings")
        var b = Backoff()
        if let n = f["initial"] { b.initial = try duration(n, f.path("initial")) }
        if let n = f["max"] { b.max = try duration(n, f.path("max")) }
        if let n = f["multiplier"] {
            b.multiplier = try double(n, f.path("multiplier"))
            if b.multiplier < 1 || b.multiplier > 1000 { throw error(f.path("multiplier"), n, "must be 1...1000") }
        }
        if b.max < b.initial {
            throw error(f.path("max"), f["max"] ?? node, "must be at least initial (\(ManifestValues.format(b.initial)))",
                        value: ManifestValues.format(b.max))
        }
        return b
    }

    mutating func socket(_ node: Node, _ path: String, service: String) throws(SpecError) -> SocketSpec {
        let f = try fields(node, path, ManifestKeys.socket, what: "a socket")
        let port = try int(try required(f, "port"), f.path("port"), 1...65535)
        var s = SocketSpec(name: service, port: port)
        if let n = f["name"] {
            s.name = try nonEmptyString(n, f.path("name"))
            let ok = s.name.utf8.count <= 255 && s.name.allSatisfy {
                $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".")
            }
            if !ok { throw error(f.path("name"), n, "must be 1...255 characters of [A-Za-z0-9._-]") }
        }
        if let n = f["protocol"] { s.protocol = try choice(n, f.path("protocol"), SocketProtocol.self) }
        if let n = f["address"] {
            var a = try nonEmptyString(n, f.path("address"))
            if a.hasPrefix("[") && a.hasSuffix("]") { a = String(a.dropFirst().dropLast()) }
            guard isIPAddress(a) else { throw error(f.path("address"), n, "expected an IPv4 or IPv6 address") }
            s.address = a
        }
        if let n = f["backlog"] { s.backlog = try int(n, f.path("backlog"), 1...65535) }
        return s
    }

    mutating func readiness(_ node: Node, _ path: String) throws(SpecError) -> Readiness {
        let f = try fields(node, path, ManifestKeys.readiness, what: "a readiness check")
        let check: ReadinessCheck
        switch (f["tcp"], f["exec"]) {
        case (let tcp?, nil):
            let p = f.path("tcp")
            let text = try scalar(tcp, p, "a port or address:port")
            var host = "127.0.0.1"
            var portText = Substring(text)
            if let colon = text.lastIndex(of: ":") {
                host = String(text[..<colon])
                portText = text[text.index(after: colon)...]
                if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
                guard isIPAddress(host) else { throw error(p, tcp, "expected a port or address:port such as 127.0.0.1:8080") }
            }
            guard let port = parseInt(String(portText)) else {
                throw error(p, tcp, "expected a port or address:port such as 127.0.0.1:8080")
            }
            guard (1...65535).contains(port) else { throw error(p, tcp, "port must be 1...65535") }
            check = .tcp(port: port, address: host)
        case (nil, let exec?):
            check = .exec(try argv(exec, f.path("exec")))
        case (nil, nil):
            throw error(path, node, "needs tcp or exec", value: .some(nil))
        case (_?, _?):
            throw error(f.path("exec"), f["exec"], "tcp and exec cannot both be set", value: .some(nil))
        }
        var r = Readiness(check: check)
        if let n = f["interval"] { r.interval = try positiveDuration(n, f.path("interval")) }
        if let n = f["timeout"] { r.timeout = try positiveDuration(n, f.path("timeout")) }
        return r
    }

    mutating func autoscale(_ node: Node, _ path: String) throws(SpecError) -> AutoscaleSpec {
        let f = try fields(node, path, ManifestKeys.autoscale, what: "autoscale settings")
        var a = AutoscaleSpec()
        if let n = f["metric"] {
            a.metric = try choice(n, f.path("metric"), AutoscaleMetric.self)
            a.target = a.metric.defaultTarget
        }
        if let n = f["target"] {
            a.target = try double(n, f.path("target"))
            if a.target <= 0 { throw error(f.path("target"), n, "must be more than 0") }
            if a.metric != .acceptQueue && a.target > 1 {
                throw error(f.path("target"), n, "\(a.metric.rawValue) is a fraction: must be more than 0 and at most 1")
            }
        }
        if let n = f["interval"] { a.interval = try positiveDuration(n, f.path("interval")) }
        if let n = f["scale_up_window"] { a.scaleUpWindow = try duration(n, f.path("scale_up_window")) }
        if let n = f["scale_down_window"] { a.scaleDownWindow = try duration(n, f.path("scale_down_window")) }
        if let n = f["cooldown"] { a.cooldown = try duration(n, f.path("cooldown")) }
        if let n = f["tolerance"] {
            a.tolerance = try double(n, f.path("tolerance"))
            if a.tolerance < 0 || a.tolerance >= 1 { throw error(f.path("tolerance"), n, "must be at least 0 and less than 1") }
        }
        if let n = f["step_up"] { a.stepUp = try int(n, f.path("step_up"), 1...Int.max) }
        if let n = f["step_down"] { a.stepDown = try int(n, f.path("step_down"), 1...Int.max) }
        return a
    }
}

func isIPAddress(_ s: String) -> Bool {
    var buf = [UInt8](repeating: 0, count: 16)
    return inet_pton(AF_INET, s, &buf) == 1 || inet_pton(AF_INET6, s, &buf) == 1
}

extension SpecError {
    /// Fills in the line and column of `node` when the error has none (a missing key: its mapping).
    func at(_ node: Node) -> SpecError {
        var e = self
        if e.line == nil, let mark = node.mark {
            e.line = mark.line
            e.column = mark.column
        }
        return e
    }
}
