import PodvisorSpec

extension PodManifest {
    /// Services sorted so that each comes after everything it depends on; among services whose
    /// dependencies are all started, file order. (A parsed manifest has no cycles.)
    public var startOrder: [ServiceSpec] {
        PodManifest.topologicalOrder(services).map { services[$0] }
    }

    /// The reverse of `startOrder`: dependents stop before what they depend on.
    public var stopOrder: [ServiceSpec] { startOrder.reversed() }

    /// Kahn's algorithm taking the lowest file index among ready services; services caught
    /// in a cycle (only possible for unvalidated values) are appended in file order.
    static func topologicalOrder(_ services: [ServiceSpec]) -> [Int] {
        var index: [String: Int] = [:]
        for (i, s) in services.enumerated() where index[s.name] == nil { index[s.name] = i }
        var remaining = services.map { s in Set(s.dependsOn.compactMap { index[$0] }) }
        var done = [Bool](repeating: false, count: services.count)
        var order: [Int] = []
        while order.count < services.count {
            guard let next = remaining.indices.first(where: { !done[$0] && remaining[$0].isEmpty }) else {
                order += done.indices.filter { !done[$0] }
                break
            }
            done[next] = true
            order.append(next)
            for i in remaining.indices { remaining[i].remove(next) }
        }
        return order
    }
}

extension ManifestParser {
    func validate(_ m: PodManifest) throws(SpecError) {
        try checkName(m.name, "name", what: "pod name")
        if m.hostname.isEmpty || m.hostname.utf8.count > 64
            || !m.hostname.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") })
            || m.hostname.hasPrefix("-") || m.hostname.hasSuffix("-") || m.hostname.hasPrefix(".") {
            throw error(at: locations["hostname"] == nil ? "name" : "hostname",
                        "must be a valid hostname: 1...64 characters of [A-Za-z0-9.-]", value: m.hostname)
        }

        var serviceIndex: [String: Int] = [:]
        for (i, s) in m.services.enumerated() {
            let p = "services[\(i)]"
            try checkName(s.name, p + ".name", what: "service name")
            if let first = serviceIndex[s.name] {
                let line = locations["services[\(first)].name"]?.line.map { ", line \($0)" } ?? ""
                throw error(at: p + ".name", "duplicate service name (also services[\(first)].name\(line))")
            }
            serviceIndex[s.name] = i
        }

        var ports: [String: String] = [:]  // "8080/tcp" -> path of the first socket using it
        for (i, s) in m.services.enumerated() {
            let p = "services[\(i)]"
            var socketNames: [String: Int] = [:]
            for (j, socket) in s.sockets.enumerated() {
                let sp = "\(p).sockets[\(j)]"
                if let first = socketNames[socket.name] {
                    throw error(at: locations[sp + ".name"] == nil ? sp : sp + ".name",
                                "duplicate socket name in \(s.name) (also \(p).sockets[\(first)]); name the sockets",
                                value: socket.name)
                }
                socketNames[socket.name] = j
                let key = "\(socket.port)/\(socket.protocol.rawValue)"
                if let first = ports[key] {
                    throw error(at: sp + ".port",
                                "port \(key) is already used by \(first) (the pod has one network namespace)")
                }
                ports[key] = sp
            }
            var seenDeps: Set<String> = []
            for (j, dep) in s.dependsOn.enumerated() {
                let dp = "\(p).depends_on[\(j)]"
                if dep == s.name { throw error(at: dp, "a service cannot depend on itself") }
                if serviceIndex[dep] == nil {
                    let names = m.services.map(\.name).joined(separator: ", ")
                    throw error(at: dp, "unknown service (services: \(names))")
                }
                if !seenDeps.insert(dep).inserted { throw error(at: dp, "listed twice") }
            }
            if let a = s.autoscale {
                if a.metric == .acceptQueue && !s.sockets.contains(where: { $0.protocol == .tcp }) {
                    throw error(at: p + ".autoscale.metric", "accept_queue needs a tcp socket in sockets")
                }
                if a.metric == .utilisation && s.resources.cpu == nil {
                    throw error(at: p + ".autoscale.metric", "utilisation needs resources.cpu (the per-instance limit)")
                }
            }
        }

        try checkCycles(m.services, serviceIndex)

        if let budget = m.resources.memory {
            var total: Int64 = 0
            var parts: [String] = []
            for s in m.services {
                guard let mem = s.resources.memory, s.replicas.initial > 0 else { continue }
                let (need, o1) = mem.multipliedReportingOverflow(by: Int64(s.replicas.initial))
                let (sum, o2) = total.addingReportingOverflow(need)
                total = (o1 || o2) ? Int64.max : sum
                parts.append("\(s.name) \(s.replicas.initial) x \(ManifestValues.format(bytes: mem))")
            }
            if total > budget {
                throw error(at: "resources.memory",
                            "the initial instances need \(ManifestValues.format(bytes: total)) ("
                            + parts.joined(separator: " + ") + "), more than the pod's budget")
            }
        }
    }

    func checkName(_ name: String, _ path: String, what: String) throws(SpecError) {
        let ok = (1...63).contains(name.utf8.count)
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
            && !name.hasPrefix("-") && !name.hasSuffix("-")
        if !ok {
            throw error(at: path, "\(what) must be 1...63 characters of [a-z0-9-], not starting or ending with -",
                        value: name)
        }
    }

    /// Depth-first search in file order; the first back edge found is reported with its cycle.
    func checkCycles(_ services: [ServiceSpec], _ index: [String: Int]) throws(SpecError) {
        var state = [UInt8](repeating: 0, count: services.count)  // 0 new, 1 on stack, 2 done
        var stack: [Int] = []
        func visit(_ u: Int) throws(SpecError) {
            state[u] = 1
            stack.append(u)
            for (j, dep) in services[u].dependsOn.enumerated() {
                guard let v = index[dep] else { continue }
                if state[v] == 1 {
                    let start = stack.lastIndex(of: v)!
                    let cycle = (stack[start...] + [v]).map { services[$0].name }.joined(separator: " -> ")
                    throw error(at: "services[\(u)].depends_on[\(j)]", "dependency cycle: \(cycle)")
                }
                if state[v] == 0 { try visit(v) }
            }
            stack.removeLast()
            state[u] = 2
        }
        for i in services.indices where state[i] == 0 { try visit(i) }
    }
}
