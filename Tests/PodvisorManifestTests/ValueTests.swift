import Testing
@testable import PodvisorManifest

@Suite struct ValueTests {
    @Test func durations() throws {
        #expect(try ManifestValues.duration("250ms") == .milliseconds(250))
        #expect(try ManifestValues.duration("5s") == .seconds(5))
        #expect(try ManifestValues.duration("1m") == .seconds(60))
        #expect(try ManifestValues.duration("1.5s") == .milliseconds(1500))
        #expect(try ManifestValues.duration("1m30s") == .seconds(90))
        #expect(try ManifestValues.duration("0") == .zero)
        #expect(try ManifestValues.duration("10us") == .microseconds(10))
        #expect(throws: ValueError.self) { try ManifestValues.duration("-1s") }
        #expect(throws: ValueError.self) { try ManifestValues.duration("s") }
        #expect(ManifestValues.format(.milliseconds(1500)) == "1500ms")
        #expect(ManifestValues.format(.seconds(120)) == "2m")
    }

    @Test func sizes() throws {
        #expect(try ManifestValues.size("64Mi") == 64 << 20)
        #expect(try ManifestValues.size("1Gi") == 1 << 30)
        #expect(try ManifestValues.size("512M") == 512_000_000)
        #expect(try ManifestValues.size("1000") == 1000)
        #expect(try ManifestValues.size("1.5Gi") == 3 << 29)
        #expect(throws: ValueError("a number of bytes must be whole")) { try ManifestValues.size("1.5") }
        #expect(throws: ValueError("size is too large")) { try ManifestValues.size("9000Ei") }
        #expect(ManifestValues.format(bytes: 129 << 20) == "129Mi")
    }

    @Test func cpus() throws {
        #expect(try ManifestValues.cpu("0.5") == 500)
        #expect(try ManifestValues.cpu("500m") == 500)
        #expect(try ManifestValues.cpu("1.5") == 1500)
        #expect(try ManifestValues.cpu("2") == 2000)
        #expect(try ManifestValues.cpu("0.250") == 250)
        #expect(throws: ValueError("cpu must be more than 0")) { try ManifestValues.cpu("0") }
    }

    @Test func signals() throws {
        #expect(try ManifestValues.signal("TERM") == (15, "TERM"))
        #expect(try ManifestValues.signal("SIGTERM") == (15, "TERM"))
        #expect(try ManifestValues.signal("kill") == (9, "KILL"))
        #expect(try ManifestValues.signal("SIGUSR2") == (12, "USR2"))
        #expect(try ManifestValues.signal("1") == (1, "HUP"))
        #expect(try ManifestValues.signal("40") == (40, "40"))
    }

    @Test func backoffDelays() {
        let b = Backoff(initial: .milliseconds(100), max: .seconds(1), multiplier: 2)
        #expect([1, 2, 3, 4, 5, 50].map { b.delay(attempt: $0) }
                == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(b.delay(attempt: 0) == .milliseconds(100))
    }
}
