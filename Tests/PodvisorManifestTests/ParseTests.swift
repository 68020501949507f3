import PodvisorSpec
import Testing
@testable import PodvisorManifest

let fullManifest = """
    name: shop
    release: "2.3.1"
    rootfs: rootfs
    hostname: shop-host
    resources: { memory: 512Mi, cpu: 1.5, pids: 512 }
    supervision: { strategy: rest_for_one, intensity: 3, period: 30s }
    services:
      - name: db
        command: /bin/db
        replicas: 1
        restart: transient
        sockets: [ { port: 5432 } ]
        readiness: { exec: [/bin/db-ping, -q], interval: 1s, timeout: 1m }
        shutdown: { signal: SIGINT, timeout: 30s }
      - name: api
        command: /bin/httpd
        args: [-f, -p, "8080"]
        env: { KEY: value, N: 3, EMPTY: }
        cwd: /srv
        user: "1000:1001"
        rootfs: api-root
        replicas: { min: 1, max: 10, initial: 2 }
        resources: { memory: 64Mi, cpu: 500m, pids: 64 }
        restart: permanent
        backoff: { initial: 100ms, max: 5s, multiplier: 1.5 }
        sockets: [ { name: http, port: 8080, protocol: tcp, address: 127.0.0.1, backlog: 256 },
                   { name: dns, port: 8080, protocol: udp } ]
        readiness: { tcp: 8080, interval: 100ms, timeout: 5s }
        shutdown: { signal: TERM, timeout: 5s }
        depends_on: [db]
        autoscale: { metric: cpu_pressure, target: 0.10, interval: 250ms, scale_up_window: 0s,
                     scale_down_window: 30s, cooldown: 1s, tolerance: 0.1, step_up: 4, step_down: 1 }
      - name: worker
        command: [/bin/sh, -c, "exec worker"]
        env: [A=1, B=x=y]
        user: 7
        replicas: { max: 3 }
        restart: temporary
        shutdown: { signal: 3 }

    """

func parse(_ yaml: String) throws(SpecError) -> PodManifest {
    try PodManifest.parse(yaml: yaml, file: "/b/pod.yaml")
}

/// The error's description, or "no error".
func failure(_ yaml: String) -> String {
    do {
        _ = try parse(yaml)
        return "no error"
    } catch {
        return error.description
    }
}

/// A minimal valid pod whose services list is `services`.
func pod(_ services: String) -> String {
    "name: p\nrelease: \"1\"\nservices:\n" + services
}

@Suite struct ParseTests {
    @Test func fullManifestParsesIntoExactValues() throws {
        let m = try parse(fullManifest)
        #expect(m.name == "shop")
        #expect(m.release == "2.3.1")
        #expect(m.rootfs == "rootfs")
        #expect(m.hostname == "shop-host")
        #expect(m.resources == ResourceLimits(memory: 512 << 20, cpu: 1500, pids: 512))
        #expect(m.supervision == Supervision(strategy: .restForOne, intensity: 3, period: .seconds(30)))
        #expect(m.services.map(\.name) == ["db", "api", "worker"])

        let db = m.services[0]
        #expect(db.command == ["/bin/db"])
        #expect(db.replicas == Replicas(min: 1, max: 1, initial: 1))
        #expect(db.restart == .transient)
        #expect(db.sockets == [SocketSpec(name: "db", port: 5432, protocol: .tcp, address: "0.0.0.0", backlog: 128)])
        #expect(db.readiness == Readiness(check: .exec(["/bin/db-ping", "-q"]), interval: .seconds(1), timeout: .seconds(60)))
        #expect(db.shutdown == ShutdownSpec(signal: 2, signalName: "INT", timeout: .seconds(30)))

        let api = m.services[1]
        let expected = ServiceSpec(
            name: "api", command: ["/bin/httpd"], args: ["-f", "-p", "8080"], env: ["KEY=value", "N=3", "EMPTY="],
            cwd: "/srv", user: ServiceUser(uid: 1000, gid: 1001), rootfs: "api-root",
            replicas: Replicas(min: 1, max: 10, initial: 2),
            resources: ResourceLimits(memory: 64 << 20, cpu: 500, pids: 64), restart: .permanent,
            backoff: Backoff(initial: .milliseconds(100), max: .seconds(5), multiplier: 1.5),
            sockets: [
                SocketSpec(name: "http", port: 8080, protocol: .tcp, address: "127.0.0.1", backlog: 256),
                SocketSpec(name: "dns", port: 8080, protocol: .udp, address: "0.0.0.0", backlog: 128),
            ],
            readiness: Readiness(check: .tcp(port: 8080, address: "127.0.0.1"), interval: .milliseconds(100),
                                 timeout: .seconds(5)),
            shutdown: ShutdownSpec(signal: 15, signalName: "TERM", timeout: .seconds(5)), dependsOn: ["db"],
            autoscale: AutoscaleSpec(metric: .cpuPressure, target: 0.10, interval: .milliseconds(250),
                                     scaleUpWindow: .zero, scaleDownWindow: .seconds(30), cooldown: .seconds(1),
                                     tolerance: 0.1, stepUp: 4, stepDown: 1))
        #expect(api == expected)
        #expect(api.argv == ["/bin/httpd", "-f", "-p", "8080"])

        let worker = m.services[2]
        #expect(worker.command == ["/bin/sh", "-c", "exec worker"])
        #expect(worker.env == ["A=1", "B=x=y"])
        #expect(worker.user == ServiceUser(uid: 7, gid: 7))
        #expect(worker.replicas == Replicas(min: 1, max: 3, initial: 1))
        #expect(worker.restart == .temporary)
        #expect(worker.shutdown == ShutdownSpec(signal: 3, signalName: "QUIT", timeout: .seconds(5)))
    }

    @Test func defaults() throws {
        let m = try parse(pod("  - name: a\n    command: /a\n"))
        #expect(m.hostname == "p")
        #expect(m.rootfs == nil)
        #expect(m.resources.isUnlimited)
        #expect(m.supervision == Supervision(strategy: .oneForOne, intensity: 5, period: .seconds(10)))
        #expect(m.services == [ServiceSpec(name: "a", command: ["/a"])])
        let a = m.services[0]
        #expect(a.cwd == "/" && a.user == ServiceUser(uid: 0, gid: 0) && a.env.isEmpty && a.args.isEmpty)
        #expect(a.replicas == Replicas(min: 1, max: 1, initial: 1))
        #expect(a.restart == .permanent)
        #expect(a.backoff == Backoff(initial: .milliseconds(100), max: .seconds(5), multiplier: 2))
        #expect(a.shutdown == ShutdownSpec(signal: 15, signalName: "TERM", timeout: .seconds(5)))
        #expect(a.readiness == nil && a.autoscale == nil && a.sockets.isEmpty && a.dependsOn.isEmpty)
        #expect(m.rootfsPath(bundle: "/b", defaultRootfs: "/var/lib/podvisor/rootfs") == "/var/lib/podvisor/rootfs")
    }

    @Test func plainIntegerReplicas() throws {
        let m = try parse(pod("  - name: a\n    command: /a\n    replicas: 4\n"))
        #expect(m.services[0].replicas == Replicas(min: 4, max: 4, initial: 4))
    }

    @Test func partialReplicasMappings() throws {
        func replicas(_ r: String) throws -> Replicas {
            try parse(pod("  - name: a\n    command: /a\n    replicas: \(r)\n")).services[0].replicas
        }
        #expect(try replicas("{ initial: 3 }") == Replicas(min: 1, max: 3, initial: 3))
        #expect(try replicas("{ initial: 0, max: 5 }") == Replicas(min: 0, max: 5, initial: 0))
        #expect(try replicas("{ min: 2 }") == Replicas(min: 2, max: 2, initial: 2))
        #expect(try replicas("{ min: 0, max: 4 }") == Replicas(min: 0, max: 4, initial: 1))
        #expect(try replicas("{}") == Replicas(min: 1, max: 1, initial: 1))
    }

    @Test func listFormEnvKeepsOrder() throws {
        let m = try parse(pod("  - name: a\n    command: /a\n    env: [Z=1, A=, PATH=/bin:/usr/bin]\n"))
        #expect(m.services[0].env == ["Z=1", "A=", "PATH=/bin:/usr/bin"])
    }

    @Test func startAndStopOrder() throws {
        let m = try parse(pod("""
              - { name: web, command: /w, depends_on: [api, cache] }
              - { name: api, command: /a, depends_on: [db] }
              - { name: cache, command: /c }
              - { name: db, command: /d }
              - { name: cron, command: /x, depends_on: [db] }

            """))
        #expect(m.startOrder.map(\.name) == ["cache", "db", "api", "web", "cron"])
        #expect(m.stopOrder.map(\.name) == ["cron", "web", "api", "db", "cache"])
    }

    @Test func rootfsPaths() throws {
        let m = try parse(fullManifest)
        #expect(m.rootfsPath(bundle: "/b", defaultRootfs: "/d") == "/b/rootfs")
        #expect(m.rootfsPath(of: m.services[1], bundle: "/b/", defaultRootfs: "/d") == "/b/api-root")
        #expect(m.rootfsPath(of: m.services[0], bundle: "/b", defaultRootfs: "/d") == "/b/rootfs")
    }

    @Test func podMemoryBudgetCountsInitialInstances() throws {
        let ok = "name: p\nrelease: r\nresources: { memory: 128Mi }\nservices:\n"
            + "  - { name: a, command: /a, replicas: { initial: 2, max: 10 }, resources: { memory: 64Mi } }\n"
            + "  - { name: b, command: /b, replicas: 5 }\n"
        #expect(throws: Never.self) { try parse(ok) }
        let tooBig = ok + "  - { name: c, command: /c, resources: { memory: 1Mi } }\n"
        #expect(failure(tooBig) == #"/b/pod.yaml:3:22: resources.memory: "128Mi": the initial instances need 129Mi (a 2 x 64Mi + c 1 x 1Mi), more than the pod's budget"#)
    }
}
