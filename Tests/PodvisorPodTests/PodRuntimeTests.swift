import Foundation
import Glibc
import PodvisorLinux
import PodvisorManifest
import PodvisorPod
import Testing

/// The pod runtime on real processes: loopback, socket activation, restarts, strategies, shutdown,
/// bad manifests, a dying supervisor, exec. Serialized: the timing checks must not share two cores
/// with other pods of this suite.
@Suite(.serialized, .enabled(if: canRunPods, skipReason))
struct PodRuntimeTests {
    // MARK: - Loopback

    @Test func servicesTalkOverThePodsOwnLoopback() throws {
        let port = testPort(0)
        // The port must be free on the host, so that "not reachable from the host" means something.
        try #require(!hostConnects(port: port), "port \(port) is taken on the host")
        let pod = try TestPod("loopback") { name in """
            name: \(name)
            release: "1"
            services:
              - name: server
                command: [nc, -ll, -p, "\(port)", -e, echo, hi]
                readiness: { tcp: \(port), interval: 20ms, timeout: 5s }
              - name: client
                command: [sh, -c, 'echo "got: $(nc 127.0.0.1 \(port) </dev/null)"']
                restart: transient
                depends_on: [server]
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let events = try #require(pod.events)
        // The client runs once and exits 0 (transient: not restarted): its log is complete then.
        try #require(events.next("exited", instance: "client.0") != nil, "the client did not finish")
        #expect(pod.log("client.0") == "got: hi\n")
        // The same output through the CLI, for scripts.
        if cliBinary != nil {
            let logs = try cli(["--root", pod.root, "pod", "logs", "--json", pod.name, "client"])
            #expect(logs.out == "{\"instance\":\"client.0\",\"line\":\"got: hi\"}\n")
        }
        // The server listens in the pod's network namespace, and only there.
        let sandbox = try #require(pod.record()?.sandboxPID)
        #expect(listeningSockets(inNamespaceOf: sandbox).contains { $0.port == port })
        #expect(!hostConnects(port: port), "the pod's port \(port) is reachable on the host's 127.0.0.1")
        #expect(pod.stop() == 0)
    }

    // MARK: - Socket activation

    @Test func socketActivationPassesFD3AndTheInstancePID() throws {
        let port = testPort(1)
        let pod = try TestPod("activation") { name in """
            name: \(name)
            release: "1"
            services:
              - name: act
                command: [sh, -c, 'echo "$LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$"; ls -l /proc/self/fd/3; echo done; exec sleep 1000']
                sockets: [{name: s, port: \(port)}]
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        // A log file has no event: wait (bounded) for the instance's last line.
        try #require(eventually { pod.log("act.0").hasSuffix("done\n") }, "act.0 wrote: \(pod.log("act.0"))")
        let lines = pod.log("act.0").split(separator: "\n").map(String.init)
        let fields = lines[0].split(separator: " ").map(String.init)
        try #require(fields.count == 4, "unexpected: \(lines[0])")
        #expect(fields[0] == "1")
        #expect(fields[1] == "s")
        #expect(Int(fields[2]) != nil)
        #expect(fields[2] == fields[3], "LISTEN_PID \(fields[2]) is not the instance's pid \(fields[3])")
        #expect(Int(fields[3]).map { $0 < 100 } == true, "the pid \(fields[3]) is not one of the pod's pid namespace")
        #expect(lines[1].contains("/proc/self/fd/3 -> socket:["), "fd 3: \(lines[1])")
        #expect(pod.stop() == 0)
    }

    /// Busybox has no program that accepts from an inherited fd, so the instances here never
    /// accept: what is proved is the socket-level guarantee activation gives. The pool's listening
    /// socket belongs to the supervisor, exists from before the first instance to the pod's end,
    /// and the kernel completes connections into its backlog whatever the pool's size — so a
    /// client inside the pod connecting in a loop while the pool scales 1 → 4 → 0 → 3 → 0 → 1 is
    /// never refused, including a stretch of at least 40 connections while no instance exists; the
    /// connections are then held in the socket's accept queue (counted from /proc/net/tcp).
    @Test func scalingThePoolNeverRefusesAConnection() throws {
        let port = testPort(2)
        let pod = try TestPod("never-refused") { name in """
            name: \(name)
            release: "1"
            supervision: { intensity: 0 }
            services:
              - name: pool
                command: [sleep, "1000"]
                replicas: { min: 0, max: 4, initial: 1 }
                sockets: [{name: s, port: \(port), backlog: 4096}]
              - name: client
                # 1200 connections; each is accepted by the kernel into the pool's backlog or refused.
                command: [sh, -c, 'i=0; while [ $i -lt 1200 ]; do i=$((i+1)); nc 127.0.0.1 \(port) -e true 2>/dev/null || echo "REFUSED $i"; [ $((i % 10)) = 0 ] && echo "ok $i"; done; echo end']
                restart: transient
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let events = try #require(pod.events)
        func attempts() -> Int {
            pod.log("client.0").split(separator: "\n").last { $0.hasPrefix("ok ") }.flatMap { Int($0.dropFirst(3)) } ?? 0
        }
        func scale(_ replicas: Int) throws {
            _ = try pod.client.call(ControlRequest(op: .scale, service: "pool", replicas: replicas))
            // Synchronise on the pool reaching its size: every start and stop is reported as an event.
            try #require(events.wait { self.runningCount($0) == replicas } != nil, "pool did not reach \(replicas)")
        }
        try #require(eventually { attempts() >= 10 }, "the client does not connect: \(pod.log("client.0"))")
        try scale(4)
        try scale(0)
        #expect(try pod.inspect().pools.first { $0.name == "pool" }?.instances.isEmpty == true)
        let atZero = attempts()
        try #require(eventually { attempts() >= atZero + 40 }, "no connections while the pool was empty")
        let sandbox = try #require(pod.record()?.sandboxPID)
        let listening = listeningSockets(inNamespaceOf: sandbox).first { $0.port == port }
        #expect(listening != nil, "the pool's socket is gone while the pool is empty")
        #expect((listening?.queued ?? 0) >= 40, "the accept queue holds \(listening?.queued ?? 0) connections")
        try scale(3)
        try scale(0)
        try scale(1)
        try #require(events.next("exited", instance: "client.0") != nil, "the client did not finish")
        let log = pod.log("client.0")
        #expect(log.hasSuffix("ok 1200\nend\n"))
        #expect(!log.contains("REFUSED"), "refused connections: \(log.split(separator: "\n").filter { $0.hasPrefix("REFUSED") }.prefix(5))")
        #expect(pod.stop() == 0)
    }

    /// Pool instances that run, from started/exited events.
    func runningCount(_ events: [PodEvent]) -> Int {
        var running: Set<String> = []
        for event in events where event.instance?.hasPrefix("pool.") == true {
            if event.kind == "started" { running.insert(event.instance!) }
            if event.kind == "exited" { running.remove(event.instance!) }
        }
        return running.count
    }

    // MARK: - Restarts

    @Test func aCrashLoopBacksOffThenFailsThePodLoudly() throws {
        let pod = try TestPod("crashloop") { name in """
            name: \(name)
            release: "1"
            services:
              - name: crash
                command: [sh, -c, 'exit 3']
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let events = try #require(pod.events)
        let record = try #require(pod.record())
        // The pod fails by itself: run() returns 1.
        #expect(pod.waitFinished() == 1)
        try #require(events.waitClosed(), "the event stream did not end")
        let all = events.all
        let delays = all.filter { $0.kind == "restarting" }.map { event in
            event.message.range(of: "restart in ").map { String(event.message[$0.upperBound...].prefix { $0 != " " }) } ?? "?"
        }
        #expect(delays == ["100ms", "200ms", "400ms", "800ms", "1.6s"], "\(delays)")
        // The restarts really waited: the gap from an exit to the next start grows with the delay.
        var gaps: [Double] = []
        for (index, event) in all.enumerated() where event.kind == "exited" {
            if let start = all[(index + 1)...].first(where: { $0.kind == "started" }), let a = eventDate(event), let b = eventDate(start) {
                gaps.append(b.timeIntervalSince(a))
            }
        }
        let expected = [0.1, 0.2, 0.4, 0.8, 1.6]
        #expect(gaps.count == 5)
        for (gap, delay) in zip(gaps, expected) { #expect(gap >= delay - 0.002 && gap < delay + 0.5, "gap \(gap) for \(delay)") }
        let escalated = all.first { $0.kind == "escalated" }
        #expect(escalated?.message.contains("restart intensity") == true)
        let failed = try #require(all.last)
        #expect(failed.kind == "failed")
        #expect(failed.message.contains("restart intensity"))
        #expect(events.finalReply?.ok == false)
        #expect(events.finalReply?.error?.contains("restart intensity") == true)
        let stored = try #require(pod.record())
        #expect(stored.state == .failed)
        #expect(stored.failure?.contains("restart intensity") == true)
        #expect(!FileManager.default.fileExists(atPath: pod.store.controlPath(pod.name)))
        // Nothing left: no cgroup (the record's and any below podvisor/pods/<name>), no process.
        for dir in [record.cgroup?.v2].compactMap({ $0 }) + (record.cgroup?.v1.values.map { $0 } ?? []) {
            #expect(!FileManager.default.fileExists(atPath: dir), "left: \(dir)")
        }
        #expect(Leftovers.cgroups(pod.name).isEmpty, "\(Leftovers.cgroups(pod.name))")
        #expect(Leftovers.processes(pod.name).isEmpty)
        if let sandbox = record.sandboxPID { #expect(kill(sandbox, 0) != 0, "the sandbox pid 1 (\(sandbox)) is still there") }
    }

    @Test func aKilledInstanceIsNoticedAtOnceAndReplaced() throws {
        let pod = try TestPod("sigkill") { name in """
            name: \(name)
            release: "1"
            services:
              - name: victim
                command: [sleep, "1000"]
                replicas: 2
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let events = try #require(pod.events)
        let pid = try #require(try pod.pid(of: "victim.1"))
        let from = events.all.count
        let killedAt = Date()
        #expect(kill(pid, SIGKILL) == 0)
        let exited = try #require(events.next("exited", instance: "victim.1", from: from))
        #expect(exited.event.message.contains("killed by SIGKILL"), "\(exited.event.message)")
        let noticed = try #require(eventDate(exited.event)).timeIntervalSince(killedAt)
        // Millisecond timestamps: allow 1 ms of rounding below zero.
        #expect(noticed > -0.002 && noticed < 0.2, "the exit was reported \(noticed)s after the kill")
        let restarted = try #require(events.next("started", instance: "victim.1", from: exited.index))
        let newPID = try #require(startedPID(restarted.event))
        #expect(newPID != pid)
        #expect(try pod.pid(of: "victim.1") == newPID)
        #expect(try pod.inspect().pools[0].instances.first { $0.id == "victim.1" }?.restarts == 1)
        #expect(pod.stop() == 0)
    }

    @Test func oneForAllRestartsEveryInstance() throws {
        let pod = try TestPod("one-for-all") { name in """
            name: \(name)
            release: "1"
            supervision: { strategy: one_for_all }
            services:
              - name: a
                command: [sleep, "1000"]
              - name: b
                command: [sleep, "1000"]
                replicas: 2
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let events = try #require(pod.events)
        let before = try pidMap(pod)
        let from = events.all.count
        kill(try #require(before["b.0"]), SIGKILL)
        // Everything comes back: a new start for every instance after the kill.
        try #require(events.wait { all in
            Set(all[from...].filter { $0.kind == "started" }.compactMap(\.instance)) == Set(before.keys)
        } != nil, "not every instance was restarted: \(events.all[from...].map { "\($0.kind) \($0.instance ?? "")" })")
        let after = try pidMap(pod)
        for (id, pid) in before { #expect(after[id] != pid, "\(id) kept pid \(pid)") }
        #expect(Processes(Array(before.values)).allExited())
        // The survivors were stopped by the supervisor (not counted as failures), and only b.0 failed.
        let stopped = events.all[from...].filter { $0.kind == "exited" && $0.message.contains("(stopped)") }.compactMap(\.instance)
        #expect(Set(stopped) == ["a.0", "b.1"])
        #expect(events.all[from...].filter { $0.kind == "restarting" }.count == 1)
        #expect(pod.stop() == 0)
    }

    /// A pod stopped while a group restart (one_for_all, rest_for_one) is still stopping an
    /// instance must stop: a slot stopped to be restarted does not come back during shutdown.
    @Test func stopDuringAGroupRestartFinishes() throws {
        let pod = try TestPod("group-stop") { name in """
            name: \(name)
            release: "1"
            supervision: { strategy: one_for_all }
            services:
              - name: a
                command: [sh, -c, "trap '' TERM; sleep 1000"]
                shutdown: { timeout: 1s }
              - name: b
                command: [sleep, "1000"]
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let events = try #require(pod.events)
        let from = events.all.count
        kill(try #require(try pod.pid(of: "b.0")), SIGKILL)
        // a.0 ignores TERM: the group restart is stopping it (for 1 s) when the pod is asked to stop.
        try #require(events.next("restarting", from: from) != nil)
        #expect(pod.stop(timeout: 5) == 0, "the pod did not stop within 5 s")
    }

    @Test func restForOneRestartsTheLaterServicesOnly() throws {
        let pod = try TestPod("rest-for-one") { name in """
            name: \(name)
            release: "1"
            supervision: { strategy: rest_for_one }
            services:
              - name: a
                command: [sleep, "1000"]
              - name: b
                command: [sleep, "1000"]
                replicas: 2
              - name: c
                command: [sleep, "1000"]
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let events = try #require(pod.events)
        let before = try pidMap(pod)
        let from = events.all.count
        kill(try #require(before["b.0"]), SIGKILL)
        try #require(events.wait { all in
            Set(all[from...].filter { $0.kind == "started" }.compactMap(\.instance)).isSuperset(of: ["b.0", "c.0"])
        } != nil, "b.0 and c.0 were not restarted")
        let after = try pidMap(pod)
        #expect(after["a.0"] == before["a.0"], "a (before b) was restarted")
        #expect(after["b.1"] == before["b.1"], "b.0's sibling was restarted")
        #expect(after["b.0"] != before["b.0"])
        #expect(after["c.0"] != before["c.0"], "c (after b) was not restarted")
        #expect(pod.stop() == 0)
    }

    func pidMap(_ pod: TestPod) throws -> [String: Int32] {
        var map: [String: Int32] = [:]
        for instance in try pod.inspect().pools.flatMap(\.instances) { map[instance.id] = instance.pid }
        return map
    }

    // MARK: - Stop and remove

    @Test func stopGoesInReverseOrderKillsWhatIgnoresTERMAndLeavesOnlyTheRecord() throws {
        let pod = try TestPod("stop") { name in """
            name: \(name)
            release: "1"
            services:
              - name: first
                command: [sleep, "1000"]
              - name: stubborn
                command: [sh, -c, "trap '' TERM; sleep 1000"]
                shutdown: { timeout: 1s }
                depends_on: [first]
              - name: last
                command: [sleep, "1000"]
                replicas: 2
                depends_on: [stubborn]
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let events = try #require(pod.events)
        let record = try #require(pod.record())
        let pids = Array(try pidMap(pod).values) + [record.sandboxPID].compactMap { $0 }
        let processes = Processes(pids)
        defer { processes.close() }
        #expect(processes.handles.count == 5)
        let requested = Date()
        #expect(pod.stop() == 0)
        let elapsed = Date().timeIntervalSince(requested)
        #expect(events.waitClosed())
        let exits = events.all.filter { $0.kind == "exited" }.compactMap(\.instance)
        // Reverse start order: last (both), then stubborn, then first.
        #expect(exits.count == 4)
        #expect(Set(exits.prefix(2)) == ["last.0", "last.1"])
        #expect(Array(exits.dropFirst(2)) == ["stubborn.0", "first.0"])
        let killed = events.all.first { $0.kind == "killed" }
        #expect(killed?.instance == "stubborn.0", "no SIGKILL after the timeout: \(events.all.map(\.kind))")
        #expect(events.all.first { $0.kind == "exited" && $0.instance == "stubborn.0" }?.message.contains("killed by SIGKILL") == true)
        #expect(elapsed >= 1 && elapsed < 5, "stop took \(elapsed)s")
        // No process, cgroup, mount or control socket; the stopped record, its events and logs remain.
        #expect(processes.allExited(timeout: 1))
        #expect(Leftovers.processes(pod.name).isEmpty)
        #expect(Leftovers.cgroups(pod.name).isEmpty, "\(Leftovers.cgroups(pod.name))")
        #expect(Leftovers.mounts(pod.name, directory: pod.directory).isEmpty)
        #expect(pod.record()?.state == .stopped)
        let left = try FileManager.default.contentsOfDirectory(atPath: pod.store.directory(pod.name)).sorted()
        #expect(left == ["events.jsonl", "logs", "pod.json"])
        // pod rm: nothing at all.
        if cliBinary != nil {
            let rm = try cli(["--root", pod.root, "pod", "rm", pod.name])
            #expect(rm.status == 0, "\(rm.err)")
            #expect(!FileManager.default.fileExists(atPath: pod.store.directory(pod.name)))
        }
    }

    // MARK: - Bad manifests

    @Test(arguments: [
        ("unknown-key", """
            services:
              - name: a
                command: [sleep, "1"]
                colour: blue
            """, "colour"),
        ("cycle", """
            services:
              - name: a
                command: [sleep, "1"]
                depends_on: [b]
              - name: b
                command: [sleep, "1"]
                depends_on: [a]
            """, "cycle"),
    ])
    func aBadManifestChangesNothing(what: String, services: String, mentions: String) throws {
        let pod = try TestPod("bad-\(what)") { name in "name: \(name)\nrelease: \"1\"\n" + services + "\n" }
        defer { pod.remove() }
        #expect {
            try PodRunner(bundle: pod.bundle, options: .init(root: pod.root, defaultRootfs: defaultRootfs))
        } throws: { error in
            "\(error)".contains(mentions) && "\(error)".contains("pod.yaml")
        }
        if cliBinary != nil {
            let up = try cli(["--root", pod.root, "pod", "up", "-d", pod.bundle])
            #expect(up.status != 0)
            #expect(up.err.contains(mentions), "\(up.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: pod.store.directory(pod.name)))
        #expect(Leftovers.cgroups(pod.name).isEmpty)
    }

    // MARK: - The supervisor dying

    @Test(.enabled(if: cliBinary != nil, "needs the podvisor binary (swift build)"))
    func theSupervisorDyingTakesThePodWithIt() throws {
        let pod = try TestPod("orphan") { name in """
            name: \(name)
            release: "1"
            services:
              - name: a
                command: [sleep, "1000"]
                replicas: 2
              - name: b
                command: [sh, -c, "trap '' TERM; sleep 1000"]
            """ }
        defer {
            _ = try? cli(["--root", pod.root, "pod", "rm", "--force", pod.name])
            pod.remove()
        }
        let up = try cli(["--root", pod.root, "pod", "up", "-d", pod.bundle])
        try #require(up.status == 0, "\(up.err)")
        let record = try #require(pod.record())
        let instances = try pod.inspect().pools.flatMap(\.instances).compactMap(\.pid)
        #expect(instances.count == 3)
        // Every process of the pod: instances, the sandbox's pid 1 and what the instances started.
        let all = Set(instances + [record.sandboxPID].compactMap { $0 } + Leftovers.processes(pod.name))
        let processes = Processes(Array(all))
        defer { processes.close() }
        #expect(processes.handles.count == all.count)
        #expect(kill(record.supervisorPID, SIGKILL) == 0)
        #expect(processes.allExited(), "pod processes outlived their supervisor")
        let left = Leftovers.processes(pod.name)
        #expect(left.isEmpty, "\(left.map { (try? String(contentsOfFile: "/proc/\($0)/status", encoding: .utf8)) ?? "" })")
        let ps = try cli(["--root", pod.root, "pod", "ps"])
        #expect(ps.out.contains("lost"), "\(ps.out)")
        let rm = try cli(["--root", pod.root, "pod", "rm", pod.name])
        #expect(rm.status == 0, "\(rm.err)")
        #expect(Leftovers.cgroups(pod.name).isEmpty, "\(Leftovers.cgroups(pod.name))")
        #expect(!FileManager.default.fileExists(atPath: pod.store.directory(pod.name)))
    }

    // MARK: - Exec

    @Test(.enabled(if: cliBinary != nil, "needs the podvisor binary (swift build)"))
    func execRunsInsideAnInstance() throws {
        let pod = try TestPod("exec") { name in """
            name: \(name)
            release: "1"
            hostname: pv-exec-host
            services:
              - name: app
                command: [sleep, "1000"]
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let exec = try cli(["--root", pod.root, "pod", "exec", pod.name, "app", "--", "sh", "-c",
                            "hostname; echo $$; ps -o pid,args | grep -v 'ps -o'; echo $PODVISOR_INSTANCE"])
        #expect(exec.status == 0, "\(exec.err)")
        let lines = exec.out.split(separator: "\n").map(String.init)
        try #require(lines.count >= 4, "\(exec.out)")
        #expect(lines[0] == "pv-exec-host")
        // The pod's pid namespace: small pids, the pod's processes only (pid 1, sleep, this shell).
        #expect(Int(lines[1]).map { $0 < 100 } == true, "pid \(lines[1])")
        let table = lines.dropFirst(3).dropLast()
        #expect(table.contains { $0.contains("sleep 1000") }, "\(exec.out)")
        #expect(table.count <= 5, "processes beyond the pod's: \(exec.out)")
        #expect(lines.last == "app.0")
        let failing = try cli(["--root", pod.root, "pod", "exec", pod.name, "app", "--", "sh", "-c", "exit 7"])
        #expect(failing.status == 7)
        #expect(pod.stop() == 0)
    }
}

/// Pods are confined by default (runc's capabilities, the default seccomp profile, no_new_privs), and a
/// service loosens that only in its manifest.
@Suite("Pod confinement", .enabled(if: canRunPods, skipReason))
struct PodConfinementTests {
    @Test func instancesAreConfinedUnlessTheManifestSaysOtherwise() throws {
        let pod = try TestPod("confined") { name in """
            name: \(name)
            release: "1"
            services:
              - name: strict
                command: [sh, -c, 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; exec sleep 1000']
              - name: loose
                command: [sh, -c, 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; exec sleep 1000']
                security: { seccomp: unconfined, capabilities: [CAP_KILL], no_new_privileges: false }
            """ }
        defer { pod.remove() }
        try #require(try pod.start() == nil)
        let deadline = Date(timeIntervalSinceNow: bound)
        while Date() < deadline, pod.log("strict.0").count < 3 || pod.log("loose.0").count < 3 { usleep(20_000) }
        #expect(pod.log("strict.0") == "CapEff:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\n")
        #expect(pod.log("loose.0") == "CapEff:\t0000000000000020\nNoNewPrivs:\t0\nSeccomp:\t0\n")
        #expect(pod.stop() == 0)
    }

    @Test func anUnknownCapabilityFailsBeforeAnythingExists() throws {
        let pod = try TestPod("badcap") { name in """
            name: \(name)
            release: "1"
            services:
              - name: a
                command: [sleep, "1000"]
                security: { capabilities: [CAP_FLY] }
            """ }
        defer { pod.remove() }
        #expect {
            _ = try PodRunner(bundle: pod.bundle, options: .init(root: pod.root, defaultRootfs: defaultRootfs))
        } throws: { error in
            "\(error)".contains("services[0].security.capabilities[0]") && "\(error)".contains("CAP_FLY")
        }
        #expect(!FileManager.default.fileExists(atPath: pod.root + "/pods/" + pod.name))
    }
}
