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
        #expect(failure(yaml) == #"/b/pod.yaml: services[2].replicas.max: line 10, column 30: "ten": expected an integer"#)
        // The structured fields, for callers that render errors their own way.
        do {
            _ = try parse(yaml)
        } catch {
            #expect(error == SpecError(file: "/b/pod.yaml", field: "services[2].replicas.max", value: "ten",
                                       reason: "expected an integer", line: 10, column: 30))
        }
    }

    @Test func unknownKeys() {
        #expect(failure("name: p\nrelease: r\ncolour: red\nservices: []\n") == #"/b/pod.yaml: colour: line 3, column 1: unknown key (expected one of: name, release, rootfs, hostname, resources, supervision, services)"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    replicas: { min: 1, most: 2 }\n")) == #"/b/pod.yaml: services[0].replicas.most: line 6, column 25: unknown key (expected one of: min, max, initial)"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    dependsOn: [b]\n")) == #"/b/pod.yaml: services[0].dependsOn: line 6, column 5: unknown key (expected one of: name, command, args, env, cwd, user, rootfs, replicas, resources, restart, backoff, sockets, readiness, shutdown, depends_on, autoscale)"#)
    }

    @Test func duplicateKey() {
        #expect(failure(pod("  - name: a\n    command: /a\n    command: /b\n")) == #"/b/pod.yaml: services[0].command: line 6, column 5: duplicate key (first on line 5)"#)
    }

    @Test func missingKeys() {
        #expect(failure("name: p\nservices: []\n") == #"/b/pod.yaml: release: line 1, column 1: required key is missing"#)
        #expect(failure(pod("  - name: a\n    args: [x]\n")) == #"/b/pod.yaml: services[0].command: line 4, column 5: required key is missing"#)
        #expect(failure("name: p\nrelease: r\nservices: []\n") == #"/b/pod.yaml: services: line 3, column 11: needs at least one service"#)
    }

    @Test func wrongTypes() {
        #expect(failure(pod("  - name: a\n    command: { path: /a }\n")) == #"/b/pod.yaml: services[0].command: line 5, column 14: expected a string or a list of strings, got a mapping"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    args: -f\n")) == #"/b/pod.yaml: services[0].args: line 6, column 11: "-f": expected a list of strings, got a scalar"#)
        #expect(failure("name: p\nrelease: r\nservices: { a: 1 }\n") == #"/b/pod.yaml: services: line 3, column 11: expected a list of services, got a mapping"#)
        #expect(failure("- a\n- b\n") == #"/b/pod.yaml: line 1, column 1: expected the pod manifest (a mapping), got a list"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    restart: always\n")) == #"/b/pod.yaml: services[0].restart: line 6, column 14: "always": expected one of: permanent, transient, temporary"#)
        #expect(failure("name: p\nrelease: r\nsupervision: { strategy: one_for_some }\nservices: []\n") == #"/b/pod.yaml: supervision.strategy: line 3, column 26: "one_for_some": expected one of: one_for_one, one_for_all, rest_for_one"#)
        #expect(failure(pod("  - name: a\n    command: \"/bin/httpd -f\"\n")) == #"/b/pod.yaml: services[0].command: line 5, column 14: "/bin/httpd -f": a string command is one executable and cannot contain spaces; use a list such as [/bin/sh, -c, "..."] or put the arguments in args"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    user: alice\n")) == #"/b/pod.yaml: services[0].user: line 6, column 11: "alice": expected a numeric uid or uid:gid such as 1000:1000"#)
        #expect(failure(pod("  - name: a\n    command: /a\n    env: [A]\n")) == #"/b/pod.yaml: services[0].env[0]: line 6, column 11: "A": expected KEY=value"#)
    }

    @Test func badDurationSizeCpuSignal() {
        func svc(_ line: String) -> String { failure(pod("  - name: a\n    command: /a\n    \(line)\n")) }
        #expect(svc("backoff: { initial: 10 }") == #"/b/pod.yaml: services[0].backoff.initial: line 6, column 25: "10": duration needs a unit (ns, us, ms, s, m, h), e.g. 10s"#)
        #expect(svc("backoff: { max: 5 sec }") == #"/b/pod.yaml: services[0].backoff.max: line 6, column 21: "5 sec": unknown duration unit " sec" (use ns, us, ms, s, m, h)"#)
        #expect(svc("readiness: { tcp: 80, timeout: soon }") == #"/b/pod.yaml: services[0].readiness.timeout: line 6, column 36: "soon": expected a duration such as 250ms, 5s, 1.5s, 1m"#)
        #expect(svc("resources: { memory: 64MB }") == #"/b/pod.yaml: services[0].resources.memory: line 6, column 26: "64MB": unknown size suffix in "64MB" (use Ki, Mi, Gi, Ti or K, M, G, T)"#)
        #expect(svc("resources: { memory: lots }") == #"/b/pod.yaml: services[0].resources.memory: line 6, column 26: "lots": unknown size suffix in "lots" (use Ki, Mi, Gi, Ti or K, M, G, T)"#)
        #expect(svc("resources: { cpu: 2 cores }") == #"/b/pod.yaml: services[0].resources.cpu: line 6, column 23: "2 cores": expected cpu cores such as 0.5, 2 or millicores such as 500m"#)
        #expect(svc("resources: { cpu: 0.0001 }") == #"/b/pod.yaml: services[0].resources.cpu: line 6, column 23: "0.0001": cpu is finer than 1m (0.001 cores)"#)
        #expect(svc("shutdown: { signal: STOPPLS }") == #"/b/pod.yaml: services[0].shutdown.signal: line 6, column 25: "STOPPLS": unknown signal (use TERM, INT, QUIT, HUP, KILL, USR1, USR2... or a number)"#)
        #expect(svc("shutdown: { signal: 99 }") == #"/b/pod.yaml: services[0].shutdown.signal: line 6, column 25: "99": signal number must be 1...64"#)
    }

    @Test func replicasBounds() {
        func svc(_ line: String) -> String { failure(pod("  - name: a\n    command: /a\n    \(line)\n")) }
        #expect(svc("replicas: { min: 5, max: 3 }") == #"/b/pod.yaml: services[0].replicas.max: line 6, column 30: "3": must be at least min (5)"#)
        #expect(svc("replicas: { min: 2, max: 4, initial: 1 }") == #"/b/pod.yaml: services[0].replicas.initial: line 6, column 42: "1": must be at least min (2)"#)
        #expect(svc("replicas: { max: 4, initial: 9 }") == #"/b/pod.yaml: services[0].replicas.initial: line 6, column 34: "9": must be at most max (4)"#)
        #expect(svc("replicas: { max: 0 }") == #"/b/pod.yaml: services[0].replicas.max: line 6, column 22: "0": must be at least 1"#)
        #expect(svc("replicas: { min: -1 }") == #"/b/pod.yaml: services[0].replicas.min: line 6, column 22: "-1": must be at least 0"#)
        #expect(svc("replicas: 0") == #"/b/pod.yaml: services[0].replicas: line 6, column 15: "0": must be at least 1"#)
    }

    @Test func names() {
        #expect(failure("name: Shop_1\nrelease: r\nservices: [ { name: a, command: /a } ]\n") == #"/b/pod.yaml: name: line 1, column 7: "Shop_1": pod name must be 1...63 characters of [a-z0-9-], not starting or ending with -"#)
        #expect(failure(pod("  - { name: a, command: /a }\n  - { name: b, command: /b }\n  - { name: a, command: /c }\n")) == #"/b/pod.yaml: services[2].name: line 6, column 13: "a": duplicate service name (also services[0].name, line 4)"#)
    }

    @Test func dependencies() {
        #expect(failure(pod("  - { name: a, command: /a, depends_on: [b, dbx] }\n  - { name: b, command: /b }\n")) == #"/b/pod.yaml: services[0].depends_on[1]: line 4, column 45: "dbx": unknown service (services: a, b)"#)
        #expect(failure(pod("  - { name: a, command: /a, depends_on: [a] }\n")) == #"/b/pod.yaml: services[0].depends_on[0]: line 4, column 42: "a": a service cannot depend on itself"#)
        let cycle = pod("""
              - { name: web, command: /w, depends_on: [api] }
              - { name: api, command: /a, depends_on: [db] }
              - { name: db, command: /d, depends_on: [cache] }
              - { name: cache, command: /c, depends_on: [api] }

            """)
        #expect(failure(cycle) == #"/b/pod.yaml: services[3].depends_on[0]: line 7, column 46: "api": dependency cycle: api -> db -> cache -> api"#)
    }

    @Test func duplicatePortsAcrossThePod() {
        let yaml = pod("""
              - { name: a, command: /a, sockets: [ { name: http, port: 8080 } ] }
              - { name: b, command: /b, sockets: [ { port: 53, protocol: udp }, { name: b2, port: 8080 } ] }

            """)
        #expect(failure(yaml) == #"/b/pod.yaml: services[1].sockets[1].port: line 5, column 87: "8080": port 8080/tcp is already used by services[0].sockets[0] (the pod has one network namespace)"#)
        #expect(failure(pod("  - { name: a, command: /a, sockets: [ { port: 70000 } ] }\n")) == #"/b/pod.yaml: services[0].sockets[0].port: line 4, column 48: "70000": must be 1...65535"#)
        #expect(failure(pod("  - { name: a, command: /a, readiness: { tcp: 0 } }\n")) == #"/b/pod.yaml: services[0].readiness.tcp: line 4, column 47: "0": port must be 1...65535"#)
        #expect(failure(pod("  - { name: a, command: /a, sockets: [ { port: 1 }, { port: 2 } ] }\n")) == #"/b/pod.yaml: services[0].sockets[1]: line 4, column 53: "a": duplicate socket name in a (also services[0].sockets[0]); name the sockets"#)
    }

    @Test func yamlSyntaxAndEmptyFiles() {
        #expect(failure("name: [unclosed\n") == "/b/pod.yaml: line 2, column 1: invalid YAML: did not find expected ',' or ']'")
        #expect(failure("") == "/b/pod.yaml: the manifest is empty")
        #expect(failure("# only a comment\n") == "/b/pod.yaml: the manifest is empty")
    }

    @Test func missingBundle() {
        #expect(throws: SpecError(file: "/nonexistent/pod.yaml", reason: "cannot open: No such file or directory")) {
            try PodManifest.load(bundle: "/nonexistent")
        }
    }
}
