import PodvisorManifest
import Testing
@testable import PodvisorSupervisor

/// A pod of `web` (2 instances) and `client` (1) started after it.
func makeSupervisor(_ strategy: SupervisionStrategy = .oneForOne, intensity: Int = 5, period: Double = 10,
                    webRestart: RestartType = .permanent) -> Supervisor {
    let backoff = Backoff(initial: .milliseconds(100), max: .seconds(5), multiplier: 2)
    return Supervisor(strategy: strategy, intensity: intensity, period: period, pools: [
        .init(name: "web", restart: webRestart, backoff: backoff, desired: 2, minimum: 1, maximum: 4),
        .init(name: "client", restart: .permanent, backoff: backoff, desired: 1, minimum: 0, maximum: 2),
    ])
}

let web0 = InstanceID(pool: "web", slot: 0)
let web1 = InstanceID(pool: "web", slot: 1)
let client0 = InstanceID(pool: "client", slot: 0)

func starts(_ actions: [SupervisorAction]) -> [InstanceID] {
    actions.compactMap { if case .start(let id) = $0 { return id } else { return nil } }
}

func stops(_ actions: [SupervisorAction]) -> [InstanceID] {
    actions.compactMap { if case .stop(let id) = $0 { return id } else { return nil } }
}

/// Starts the pod and makes every instance ready.
func started(_ supervisor: inout Supervisor) {
    _ = supervisor.start(now: 0)
    _ = supervisor.instanceStarted(web0, now: 0, ready: true)
    _ = supervisor.instanceStarted(web1, now: 0, ready: true)
    _ = supervisor.instanceStarted(client0, now: 0, ready: true)
}

@Suite("OTP supervision")
struct SupervisorTests {
    @Test func poolsStartInOrderOnceTheOnesBeforeAreReady() {
        var s = makeSupervisor()
        #expect(starts(s.start(now: 0)) == [web0, web1])
        #expect(starts(s.instanceStarted(web0, now: 0.1, ready: false)) == [])
        #expect(starts(s.instanceStarted(web1, now: 0.1, ready: false)) == [])
        #expect(starts(s.instanceReady(web0, now: 0.2)) == [])
        #expect(starts(s.instanceReady(web1, now: 0.3)) == [client0])
    }

    @Test func oneForOneRestartsTheInstanceAfterAGrowingBackoff() {
        var s = makeSupervisor()
        started(&s)
        #expect(starts(s.instanceExited(web0, normal: false, now: 1)) == [])
        #expect(s.nextDeadline == 1.1)
        #expect(starts(s.tick(now: 1.05)) == [])
        #expect(starts(s.tick(now: 1.1)) == [web0])
        _ = s.instanceStarted(web0, now: 1.1, ready: true)
        // It crashes again at once: the second backoff is twice the first.
        _ = s.instanceExited(web0, normal: false, now: 1.2)
        #expect(s.nextDeadline == 1.4)
        // The others were never touched.
        #expect(s.isReady(web1) && s.isReady(client0))
    }

    @Test func aHealthyRunForgivesEarlierFailures() {
        var s = makeSupervisor()
        started(&s)
        _ = s.instanceExited(web0, normal: false, now: 1)
        _ = s.tick(now: 1.1)
        _ = s.instanceStarted(web0, now: 1.1, ready: true)
        // Ran 10 s (> backoff.max): the next crash is treated as a first failure again.
        _ = s.instanceExited(web0, normal: false, now: 11.1)
        #expect(s.failures(of: web0) == 1)
        #expect(s.nextDeadline == 11.2)
    }

    @Test func intensityEscalatesAndShutsDownInReverseOrder() {
        var s = makeSupervisor(intensity: 2, period: 5)
        started(&s)
        _ = s.instanceExited(web0, normal: false, now: 1)
        _ = s.tick(now: 2)
        _ = s.instanceStarted(web0, now: 2, ready: true)
        _ = s.instanceExited(web0, normal: false, now: 3)
        _ = s.tick(now: 4)
        _ = s.instanceStarted(web0, now: 4, ready: true)
        // The third restart within 5 s exceeds an intensity of 2: the pod fails.
        let actions = s.instanceExited(web1, normal: false, now: 4.5)
        #expect(actions.contains { if case .event("escalated", _) = $0 { return true } else { return false } })
        #expect(stops(actions) == [client0], "the last pool stops first")
        #expect(stops(s.instanceExited(client0, normal: true, now: 4.6)) == [web0])
        let done = s.instanceExited(web0, normal: true, now: 4.7)
        #expect(done.contains { if case .finished(.some(let reason)) = $0 { return reason.contains("restart intensity") } else { return false } })
        #expect(starts(s.tick(now: 100)) == [])
    }

    @Test func restartsOutsideThePeriodDoNotAccumulate() {
        var s = makeSupervisor(intensity: 1, period: 5)
        started(&s)
        for time in stride(from: 1.0, through: 31.0, by: 6.0) {
            let actions = s.instanceExited(web0, normal: false, now: time)
            #expect(!actions.contains { if case .finished = $0 { return true } else { return false } })
            _ = s.tick(now: time + 0.5)
            _ = s.instanceStarted(web0, now: time + 0.5, ready: true)
        }
    }

    @Test func oneForAllRestartsEveryPoolInOrder() {
        var s = makeSupervisor(.oneForAll)
        started(&s)
        let actions = s.instanceExited(web0, normal: false, now: 1)
        #expect(stops(actions) == [client0, web1])
        _ = s.instanceExited(client0, normal: false, now: 1.01)
        _ = s.instanceExited(web1, normal: false, now: 1.02)
        #expect(starts(s.tick(now: 1.1)) == [web0, web1])
        _ = s.instanceStarted(web0, now: 1.1, ready: true)
        #expect(starts(s.instanceStarted(web1, now: 1.1, ready: true)) == [client0])
    }

    @Test func restForOneRestartsThePoolsStartedAfter() {
        var s = makeSupervisor(.restForOne)
        started(&s)
        let actions = s.instanceExited(web0, normal: false, now: 1)
        #expect(stops(actions) == [client0], "web.1 keeps running")
        _ = s.instanceExited(client0, normal: false, now: 1.01)
        #expect(starts(s.tick(now: 1.1)) == [web0])
        #expect(starts(s.instanceStarted(web0, now: 1.1, ready: true)) == [client0])
    }

    @Test func transientAndTemporaryRestartTypes() {
        var transient = makeSupervisor(webRestart: .transient)
        started(&transient)
        _ = transient.instanceExited(web0, normal: true, now: 1)
        #expect(transient.nextDeadline == nil, "a normal exit of a transient child is final")
        _ = transient.instanceExited(web1, normal: false, now: 1)
        #expect(transient.nextDeadline == 1.1)

        var temporary = makeSupervisor(webRestart: .temporary)
        started(&temporary)
        _ = temporary.instanceExited(web0, normal: false, now: 1)
        #expect(temporary.nextDeadline == nil)
        #expect(!temporary.instances.contains(web0))
        #expect(temporary.pool(named: "web")?.desired == 1)
    }

    @Test func scalingWithinBounds() throws {
        var s = makeSupervisor()
        started(&s)
        #expect(starts(try s.scale("web", to: 4, now: 1)) == [InstanceID(pool: "web", slot: 2), InstanceID(pool: "web", slot: 3)])
        #expect(stops(try s.scale("web", to: 1, now: 2)) == [web1, InstanceID(pool: "web", slot: 2), InstanceID(pool: "web", slot: 3)])
        #expect(throws: SupervisorError.outOfBounds(pool: "web", requested: 5, minimum: 1, maximum: 4)) { try s.scale("web", to: 5, now: 3) }
        #expect(throws: SupervisorError.unknownPool("db")) { try s.scale("db", to: 1, now: 3) }
        // A stopped surplus instance is not restarted.
        _ = s.instanceExited(web1, normal: false, now: 2.1)
        #expect(!s.instances.contains(web1))
        #expect(s.nextDeadline == nil)
    }

    @Test func shutdownStopsPoolsInReverseStartOrder() {
        var s = makeSupervisor()
        started(&s)
        #expect(stops(s.shutdown(now: 5)) == [client0])
        #expect(stops(s.instanceExited(client0, normal: false, now: 5.1)) == [web0, web1])
        #expect(s.instanceExited(web0, normal: false, now: 5.2).isEmpty)
        #expect(s.instanceExited(web1, normal: false, now: 5.3) == [.finished(failure: nil)])
    }

    @Test func aFailingStartCountsAsACrash() {
        var s = makeSupervisor()
        _ = s.start(now: 0)
        _ = s.instanceFailedToStart(web0, now: 0)
        #expect(s.nextDeadline == 0.1)
    }
}

@Suite("OTP supervision: shutdown during a group restart")
struct ShutdownDuringRestartTests {
    @Test func aStopDuringAGroupRestartFinishes() {
        var s = makeSupervisor(.oneForAll)
        started(&s)
        _ = s.instanceExited(web0, normal: false, now: 1)  // client.0 and web.1 are asked to stop, to restart
        let shutdown = s.shutdown(now: 1.01)
        #expect(stops(shutdown).isEmpty, "both are stopping already")
        #expect(stops(s.instanceExited(client0, normal: false, now: 1.02)).isEmpty)
        #expect(s.instanceExited(web1, normal: false, now: 1.03) == [.finished(failure: nil)])
    }
}
