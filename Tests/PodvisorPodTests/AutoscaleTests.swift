import Foundation
import PodvisorManifest
import PodvisorPod
import Testing

/// The in-pod autoscaler on real processes and real cgroups: a load step grows the pool, and removing
/// the load shrinks it, but not before the scale-down stabilisation window.
@Suite("Autoscaling a real pool", .enabled(if: canRunPods, skipReason))
struct AutoscaleTests {
    @Test func aLoadStepGrowsThePoolAndItsRemovalShrinksItAfterTheWindow() throws {
        // `switch` answers on 127.0.0.1:8000 while there is load; workers burn CPU at their own 0.1-core
        // quota while it answers (saturated: demand), and idle when it is gone.
        let pod = try TestPod("autoscale") { name in """
            name: \(name)
            release: "1"
            resources: { cpu: 2, pids: 256 }
            services:
              - name: switch
                command: [/bin/sh, -c, "mkdir -p /tmp/www && echo on > /tmp/www/state && exec httpd -f -p 127.0.0.1:8000 -h /tmp/www"]
                replicas: { min: 0, max: 1, initial: 1 }
                readiness: { tcp: 8000, interval: 50ms, timeout: 10s }
              - name: worker
                command:
                  - /bin/sh
                  - -c
                  - |
                    while :; do
                      if wget -qO- http://127.0.0.1:8000/state >/dev/null 2>&1; then
                        timeout 1 sh -c 'while :; do :; done'
                      else
                        sleep 0.2
                      fi
                    done
                depends_on: [switch]
                replicas: { min: 1, max: 4, initial: 1 }
                resources: { cpu: 0.1, pids: 16 }
                autoscale: { metric: utilisation, target: 0.05, interval: 100ms, scale_up_window: 0s, scale_down_window: 3s, cooldown: 500ms, step_up: 4, step_down: 4 }
            """ }
        defer { pod.remove() }
        #expect(try pod.start() == nil)
        let events = try #require(pod.events)

        // The pool grows to its maximum under load.
        let grown = events.next("autoscale", matching: { $0.message.contains("worker: ") && $0.message.contains("->4 ") })
        #expect(grown != nil, "worker never reached 4 instances: \(events.all.filter { $0.kind == "autoscale" }.map(\.message))")
        #expect(try pod.inspect().pools.first { $0.name == "worker" }?.desired == 4)

        // The load goes away; the pool shrinks back to its minimum, no earlier than its 3 s window.
        let from = events.all.count
        let removed = Date()
        _ = try pod.client.call(ControlRequest(op: .scale, service: "switch", replicas: 0))
        let shrunk = events.next("autoscale", from: from, timeout: 30, matching: { $0.message.contains("worker: 4->") })
        let shrunkEvent = try #require(shrunk, "worker never shrank: \(events.all[from...].map(\.message))")
        let waited = try #require(eventDate(shrunkEvent.event)).timeIntervalSince(removed)
        #expect(waited >= 2.9, "scaled down after \(waited) s, inside the 3 s stabilisation window")
        #expect(events.next("autoscale", from: from, timeout: 30, matching: { $0.message.contains("->1 ") }) != nil)
        #expect(pod.stop() == 0)
    }
}
