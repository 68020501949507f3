import PodvisorSpec
import Testing
@testable import PodvisorManifest

@Suite struct ErrorTests {
    @Test func replicasMaxNotAnInteger() {
        let yaml = pod("""
              - name: a
                command: /a
              - name: b
                command: /b
              - name: c
                command: /c
                replicas: { min: 1, max: ten }

            """)
        #expect(failure(yaml) == #"/b/pod.yaml:10:30: services[2].replicas.max: "ten": expected an integer"#)
        // The structured fields, for callers that render errors their own way.
        do {
            _ = try parse(yaml)
        } catch {
            #expect(error == SpecError(file: "/b/pod.yaml", field: "services[2].replicas.max", value: "ten",
                                       reason: "expected an integer", line: 10, column: 30))
        }
    }

    @Test func unknownKeys() {
        #expect(failure("name: p\nrelease: r\ncolour: red\nservices: []\n") == #"/b/pod.yaml:3:1: colour: unknown key (expected one of: name, release, rootfs, hostname, resources, supervision, services)"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    replicas: { min: 1, most: 2 }\n")) == #"/b/pod.yaml:6:25: services[0].replicas.most: unknown key (expected one of: min, max, initial)"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    dependsOn: [b]\n")) == #"/b/pod.yaml:6:5: services[0].dependsOn: unknown key (expected one of: name, command, args, env, cwd, user, rootfs, replicas, resources, restart, backoff, sockets, readiness, shutdown, depends_on, autoscale, security)"#)
    }

    @Test func duplicateKey() {
        #expect(failure(pod("  - name: a\n    command: /a\n    command: /b\n")) == #"/b/pod.yaml:6:5: services[0].command: duplicate key (first on line 5)"#)
    }

    @Test func missingKeys() {
        #expect(failure("name: p\nservices: []\n") == #"/b/pod.yaml:1:1: release: required key is missing"#)
        #expect(failure(pod("  - name: a\n    args: [x]\n")) == #"/b/pod.yaml:4:5: services[0].command: required key is missing"#)
        #expect(failure("name: p\nrelease: r\nservices: []\n") == #"/b/pod.yaml:3:11: services: needs at least one service"#)
    }

    @Test func wrongTypes() {
        #expect(failure(pod("  - name: a\n    command: { path: /a }\n")) == #"/b/pod.yaml:5:14: services[0].command: expected a string or a list of strings, got a mapping"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    args: -f\n")) == #"/b/pod.yaml:6:11: services[0].args: "-f": expected a list of strings, got a scalar"#)
        #expect(failure("name: p\nrelease: r\nservices: { a: 1 }\n") == #"/b/pod.yaml:3:11: services: expected a list of services, got a mapping"#)
        #expect(failure("- a\n- b\n") == #"/b/pod.yaml:1:1: expected the pod manifest (a mapping), got a list"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    restart: always\n")) == #"/b/pod.yaml:6:14: services[0].restart: "always": expected one of: permanent, transient, temporary"#)
        #expect(failure("name: p\nrelease: r\nsupervision: { strategy: one_for_some }\nservices: []\n") == #"/b/pod.yaml:3:26: supervision.strategy: "one_for_some": expected one of: one_for_one, one_for_all, rest_for_one"#)
        #expect(failure(pod("  - name: a\n    command: \"/bin/httpd -f\"\n")) == #"/b/pod.yaml:5:14: services[0].command: "/bin/httpd -f": a string command is one executable and cannot contain spaces; use a list such as [/bin/sh, -c, "..."] or put the arguments in args"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    user: alice\n")) == #"/b/pod.yaml:6:11: services[0].user: "alice": expected a numeric uid or uid:gid such as 1000:1000"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    env: [A]\n")) == #"/b/pod.yaml:6:11: services[0].env[0]: "A": expected KEY=value"#)
    }

    @Test func badDurationSizeCpuSignal() {
        func svc(_ line: String) -> String { failure(pod("  - name: a\n    command: /a\n    \(line)\n")) }
        #expect(svc("backoff: { initial: 10 }") == #"/b/pod.yaml:6:25: services[0].backoff.initial: "10": duration needs a unit (ns, us, ms, s, m, h), e.g. 10s"#)
        #expect(svc("backoff: { max: 5 sec }") == #"/b/pod.yaml:6:21: services[0].backoff.max: "5 sec": unknown duration unit " sec" (use ns, us, ms, s, m, h)"#)
        #expect(svc("readiness: { tcp: 80, timeout: soon }") == #"/b/pod.yaml:6:36: services[0].readiness.timeout: "soon": expected a duration such as 250ms, 5s, 1.5s, 1m"#)
        #expect(svc("resources: { memory: 64MB }") == #"/b/pod.yaml:6:26: services[0].resources.memory: "64MB": unknown size suffix in "64MB" (use Ki, Mi, Gi, Ti or K, M, G, T)"#)
        #expect(svc("resources: { memory: lots }") == #"/b/pod.yaml:6:26: services[0].resources.memory: "lots": unknown size suffix in "lots" (use Ki, Mi, Gi, Ti or K, M, G, T)"#)
        #expect(svc("resources: { cpu: 2 cores }") == #"/b/pod.yaml:6:23: services[0].resources.cpu: "2 cores": expected cpu cores such as 0.5, 2 or millicores such as 500m"#)
        #expect(svc("resources: { cpu: 0.0001 }") == #"/b/pod.yaml:6:23: services[0].resources.cpu: "0.0001": cpu is finer than 1m (0.001 cores)"#)
        #expect(svc("shutdown: { signal: STOPPLS }") == #"/b/pod.yaml:6:25: services[0].shutdown.signal: "STOPPLS": unknown signal (use TERM, INT, QUIT, HUP, KILL, USR1, USR2... or a number)"#)
        #expect(svc("shutdown: { signal: 99 }") == #"/b/pod.yaml:6:25: services[0].shutdown.signal: "99": signal number must be 1...64"#)
    }

    @Test func replicasBounds() {
        func svc(_ line: String) -> String { failure(pod("  - name: a\n    command: /a\n    \(line)\n")) }
        #expect(svc("replicas: { min: 5, max: 3 }") == #"/b/pod.yaml:6:30: services[0].replicas.max: "3": must be at least min (5)"#)
        #expect(svc("replicas: { min: 2, max: 4, initial: 1 }") == #"/b/pod.yaml:6:42: services[0].replicas.initial: "1": must be at least min (2)"#)
        #expect(svc("replicas: { max: 4, initial: 9 }") == #"/b/pod.yaml:6:34: services[0].replicas.initial: "9": must be at most max (4)"#)
        #expect(svc("replicas: { max: 0 }") == #"/b/pod.yaml:6:22: services[0].replicas.max: "0": must be at least 1"#)
        #expect(svc("replicas: { min: -1 }") == #"/b/pod.yaml:6:22: services[0].replicas.min: "-1": must be at least 0"#)
        #expect(svc("replicas: 0") == #"/b/pod.yaml:6:15: services[0].replicas: "0": must be at least 1"#)
    }

    @Test func names() {
        #expect(failure("name: Shop_1\nrelease: r\nservices: [ { name: a, command: /a } ]\n") == #"/b/pod.yaml:1:7: name: "Shop_1": pod name must be 1...63 characters of [a-z0-9-], not starting or ending with -"#)
        #expect(failure(pod("  - { name: a, command: /a }\n  - { name: b, command: /b }\n  - { name: a, command: /c }\n")) == #"/b/pod.yaml:6:13: services[2].name: "a": duplicate service name (also services[0].name, line 4)"#)
    }

    @Test func dependencies() {
        #expect(failure(pod("  - { name: a, command: /a, depends_on: [b, dbx] }\n  - { name: b, command: /b }\n")) == #"/b/pod.yaml:4:45: services[0].depends_on[1]: "dbx": unknown service (services: a, b)"#)
        #expect(failure(pod("  - { name: a, command: /a, depends_on: [a] }\n")) == #"/b/pod.yaml:4:42: services[0].depends_on[0]: "a": a service cannot depend on itself"#)
        let cycle = pod("""
              - { name: web, command: /w, depends_on: [api] }
              - { name: api, command: /a, depends_on: [db] }
              - { name: db, command: /d, depends_on: [cache] }
              - { name: cache, command: /c, depends_on: [api] }

            """)
        #expect(failure(cycle) == #"/b/pod.yaml:7:46: services[3].depends_on[0]: "api": dependency cycle: api -> db -> cache -> api"#)
    }

    @Test func duplicatePortsAcrossThePod() {
        let yaml = pod("""
              - { name: a, command: /a, sockets: [ { name: http, port: 8080 } ] }
              - { name: b, command: /b, sockets: [ { port: 53, protocol: udp }, { name: b2, port: 8080 } ] }

            """)
        #expect(failure(yaml) == #"/b/pod.yaml:5:87: services[1].sockets[1].port: "8080": port 8080/tcp is already used by services[0].sockets[0] (the pod has one network namespace)"#)
        #expect(failure(pod("  - { name: a, command: /a, sockets: [ { port: 70000 } ] }\n")) == #"/b/pod.yaml:4:48: services[0].sockets[0].port: "70000": must be 1...65535"#)
        #expect(failure(pod("  - { name: a, command: /a, readiness: { tcp: 0 } }\n")) == #"/b/pod.yaml:4:47: services[0].readiness.tcp: "0": port must be 1...65535"#)
        #expect(failure(pod("  - { name: a, command: /a, sockets: [ { port: 1 }, { port: 2 } ] }\n")) == #"/b/pod.yaml:4:53: services[0].sockets[1]: "a": duplicate socket name in a (also services[0].sockets[0]); name the sockets"#)
    }

    @Test func yamlSyntaxAndEmptyFiles() {
        #expect(failure("name: [unclosed\n") == "/b/pod.yaml:2:1: invalid YAML: did not find expected ',' or ']'")
        #expect(failure("") == "/b/pod.yaml: the manifest is empty")
        #expect(failure("# only a comment\n") == "/b/pod.yaml: the manifest is empty")
    }

    @Test func missingBundle() {
        #expect(throws: SpecError(file: "/nonexistent/pod.yaml", reason: "cannot open: No such file or directory")) {
            try PodManifest.load(bundle: "/nonexistent")
        }
    }
}

@Suite struct SecurityBlockTests {
    @Test func confinedByDefaultAndLoosenedExplicitly() throws {
        let plain = try PodManifest.parse(yaml: pod("  - name: a\n    command: /a\n"), file: "/b/pod.yaml")
        #expect(plain.services[0].security == SecuritySpec())
        let loose = try PodManifest.parse(yaml: pod("""
              - name: a
                command: /a
                security: { seccomp: unconfined, capabilities: [CAP_NET_BIND_SERVICE], no_new_privileges: false }

            """), file: "/b/pod.yaml")
        #expect(loose.services[0].security == SecuritySpec(seccomp: .unconfined, capabilities: ["CAP_NET_BIND_SERVICE"], noNewPrivileges: false))
    }

    @Test func badValuesNameTheKey() {
        #expect(failure(pod("  - name: a\n    command: /a\n    security: { seccomp: off }\n")).contains("services[0].security.seccomp: \"off\""))
        #expect(failure(pod("  - name: a\n    command: /a\n    security: { no_new_privileges: maybe }\n")).contains("services[0].security.no_new_privileges: \"maybe\": expected true or false"))
        #expect(failure(pod("  - name: a\n    command: /a\n    security: { apparmor: x }\n")).contains("unknown key"))
    }
}
