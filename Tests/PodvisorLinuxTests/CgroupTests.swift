import Glibc
import Testing
@testable import PodvisorLinux

// MARK: - Fixtures

enum CgroupFixtures {
    /// This project's machines: v1 controllers, cgroup2 at /sys/fs/cgroup/unified, memory below process_api/<id>.
    static let hybridMountinfo = """
        23 1 253:0 / / rw,relatime - ext4 /dev/vda rw
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
    static let hybridCgroup = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/4c870c7c9d32ae4f746015fb9e7240eb
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/
        """

    /// A systemd distribution: cgroup2 only, with optional fields (shared:N) in mountinfo.
    static let unifiedMountinfo = """
        22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
        25 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        26 25 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
        """
    static let unifiedCgroup = "0::/user.slice/user-1000.slice/session-3.scope\n"

    /// A v1-only host with co-mounted cpu,cpuacct and a mount point with an escaped space.
    static let legacyMountinfo = #"""
        18 1 8:1 / / rw - ext4 /dev/sda1 rw
        24 18 0:20 / /sys/fs/cgroup rw - tmpfs tmpfs ro,mode=755
        25 24 0:21 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
        26 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
        27 24 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
        28 24 0:24 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
        29 24 0:25 / /sys/fs/cgroup/my\040freezer rw - cgroup cgroup rw,freezer
        """#
    static let legacyCgroup = """
        5:freezer:/
        4:pids:/system.slice/docker.service
        3:memory:/system.slice/docker.service
        2:cpu,cpuacct:/system.slice/docker.service
        1:name=systemd:/system.slice/docker.service
        """
}

// MARK: - Host detection and locations (unit)

@Suite("Cgroup host parsing")
struct CgroupParsingTests {
    @Test func hybridHost() throws {
        let host = CgroupHost.parse(mountinfo: CgroupFixtures.hybridMountinfo, procCgroup: CgroupFixtures.hybridCgroup)
        #expect(host.mode == .hybrid)
        #expect(host.unifiedMount == "/sys/fs/cgroup/unified")
        #expect(host.ownV2Path == "/")
        #expect(host.v1Mounts["memory"] == "/sys/fs/cgroup/memory")
        #expect(host.v1Mounts["cpuacct"] == "/sys/fs/cgroup/cpuacct")
        #expect(host.v1Mounts["systemd"] == nil && host.v1Mounts["name=systemd"] == nil)
        #expect(host.ownV1Paths["memory"] == "/process_api/4c870c7c9d32ae4f746015fb9e7240eb")
        #expect(host.ownV1Paths["cpu"] == "/")
        #expect(host.confinedV1Controllers == ["memory"])
        #expect(host.ownV2Directory == "/sys/fs/cgroup/unified")
        #expect(host.ownV1Directory("memory") == "/sys/fs/cgroup/memory/process_api/4c870c7c9d32ae4f746015fb9e7240eb")
    }

    @Test func unifiedHost() throws {
        let host = CgroupHost.parse(mountinfo: CgroupFixtures.unifiedMountinfo, procCgroup: CgroupFixtures.unifiedCgroup)
        #expect(host.mode == .unified)
        #expect(host.unifiedMount == "/sys/fs/cgroup")
        #expect(host.v1Mounts.isEmpty && host.ownV1Paths.isEmpty)
        #expect(host.ownV2Path == "/user.slice/user-1000.slice/session-3.scope")
        let location = try host.location(for: "web", name: "c1")
        #expect(location.v2 == "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/web")
        #expect(location.v1.isEmpty)
        let absolute = try host.location(for: "/machine/c1", name: "c1")
        #expect(absolute.v2 == "/sys/fs/cgroup/machine/c1")
        #expect(absolute.prunable.isEmpty)  // not below our own cgroup: never pruned
    }

    @Test func legacyHost() throws {
        let host = CgroupHost.parse(mountinfo: CgroupFixtures.legacyMountinfo, procCgroup: CgroupFixtures.legacyCgroup)
        #expect(host.mode == .legacy)
        #expect(host.unifiedMount == nil && host.ownV2Path == nil)
        #expect(host.v1Mounts["cpu"] == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(host.v1Mounts["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(host.v1Mounts["freezer"] == "/sys/fs/cgroup/my freezer")
        #expect(host.ownV1Paths["cpuacct"] == "/system.slice/docker.service")
        let location = try host.location(for: nil, name: "c1")
        #expect(location.v2 == nil)
        #expect(location.v1["cpu"] == "/sys/fs/cgroup/cpu,cpuacct/system.slice/docker.service/podvisor/c1")
        #expect(location.v1["cpuacct"] == location.v1["cpu"])
        #expect(location.v1["freezer"] == "/sys/fs/cgroup/my freezer/podvisor/c1")
        // co-mounted controllers are one directory
        #expect(location.directories.count == 4)
    }

    @Test func relativeAbsoluteAndDefaultPaths() throws {
        let host = CgroupHost.parse(mountinfo: CgroupFixtures.hybridMountinfo, procCgroup: CgroupFixtures.hybridCgroup)
        let own = "/process_api/4c870c7c9d32ae4f746015fb9e7240eb"

        let byDefault = try host.location(for: nil, name: "c1")
        #expect(byDefault.v2 == "/sys/fs/cgroup/unified/podvisor/c1")
        #expect(byDefault.v1["memory"] == "/sys/fs/cgroup/memory\(own)/podvisor/c1")
        #expect(byDefault.v1["pids"] == "/sys/fs/cgroup/pids/podvisor/c1")
        #expect(byDefault.v1["devices"] == nil)
        #expect(byDefault.prunable.contains("/sys/fs/cgroup/unified/podvisor"))
        #expect(byDefault.prunable.contains("/sys/fs/cgroup/memory\(own)/podvisor"))

        let relative = try host.location(for: "a/b", name: "c1")
        #expect(relative.v1["memory"] == "/sys/fs/cgroup/memory\(own)/a/b")
        #expect(relative.v1["cpu"] == "/sys/fs/cgroup/cpu/a/b")

        // An absolute path below our own memory cgroup is fine...
        let inside = try host.location(for: "\(own)/x", name: "c1")
        #expect(inside.v1["memory"] == "/sys/fs/cgroup/memory\(own)/x")
        #expect(inside.v1["cpu"] == "/sys/fs/cgroup/cpu\(own)/x")
        // ...one outside our own top-level subtree is nested below our own cgroup instead of written there,
        let elsewhere = try host.location(for: "/elsewhere/c1", name: "c1")
        #expect(elsewhere.v1["memory"] == "/sys/fs/cgroup/memory\(own)/elsewhere/c1")
        #expect(elsewhere.v1["cpu"] == "/sys/fs/cgroup/cpu/elsewhere/c1")
        // ...and a sibling in our own top-level subtree is honoured, as podman expects beside conmon.
        let topLevel = String(own.split(separator: "/")[0])
        let sibling = try host.location(for: "/\(topLevel)/sibling", name: "c1")
        #expect(sibling.v1["memory"] == "/sys/fs/cgroup/memory/\(topLevel)/sibling")
        #expect(throws: CgroupError.self) { _ = try host.location(for: "a/../../b", name: "c1") }
        #expect(throws: CgroupError.self) { _ = try host.location(for: "/", name: "c1") }
        #expect(throws: CgroupError.self) { _ = try host.location(for: "system.slice:podvisor:c1", name: "c1") }
    }

    @Test func locationCodableWithoutPrunable() throws {
        // state.json written without "prunable" still loads (decodeIfPresent); child() goes one level down.
        let location = CgroupLocation(v2: "/sys/fs/cgroup/unified/p", v1: ["memory": "/m/p"])
        let child = location.child("i1")
        #expect(child.v2 == "/sys/fs/cgroup/unified/p/i1" && child.v1["memory"] == "/m/p/i1")
    }
}

@Suite("Cgroup resource conversions")
struct CgroupConversionTests {
    @Test func sharesToWeight() {
        #expect(CgroupResources.cpuWeight(fromShares: 2) == 1)
        #expect(CgroupResources.cpuWeight(fromShares: 1024) == 39)
        #expect(CgroupResources.cpuWeight(fromShares: 262_144) == 10_000)
        #expect(CgroupResources.cpuShares(fromWeight: 1) == 2)
        #expect(CgroupResources.cpuShares(fromWeight: 10_000) == 262_144)
        #expect(CgroupResources.ioWeight(fromBlkio: 10) == 1)
        #expect(CgroupResources.ioWeight(fromBlkio: 1000) == 10_000)
    }

    @Test func swapConversion() throws {
        #expect(try CgroupResources.swapMaxV2(memorySwap: 300, memory: 100) == 200)
        #expect(try CgroupResources.swapMaxV2(memorySwap: -1, memory: 100) == -1)
        #expect(try CgroupResources.swapMaxV2(memorySwap: nil, memory: -1) == -1)
        #expect(try CgroupResources.swapMaxV2(memorySwap: nil, memory: 100) == nil)
        #expect(throws: CgroupError.self) { try CgroupResources.swapMaxV2(memorySwap: 50, memory: 100) }
        #expect(throws: CgroupError.self) { try CgroupResources.swapMaxV2(memorySwap: 50, memory: nil) }
    }

    @Test func emptiness() {
        #expect(CgroupResources().isEmpty)
        #expect(!CgroupResources(pidsMax: 5).isEmpty)
        #expect(!CgroupResources(unified: ["memory.high": "1M"]).isEmpty)
    }

    @Test func pressureAndErrorTexts() throws {
        let text = """
            some avg10=1.50 avg60=0.25 avg300=0.00 total=123456
            full avg10=0.00 avg60=0.00 avg300=0.00 total=42
            """
        let pressure = try Pressure.parse(text)
        #expect(pressure.some.avg10 == 1.5 && pressure.some.total == 123_456)
        #expect(pressure.full?.total == 42)
        #expect(try Pressure.parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n").full == nil)
        #expect(throws: CgroupError.self) { _ = try Pressure.parse("nonsense") }

        let error = CgroupError.write(path: "/sys/fs/cgroup/pids/x/pids.max", value: "abc",
                                      error: SystemError("write", "/sys/fs/cgroup/pids/x/pids.max", errno: EINVAL))
        #expect(error.description == #"write /sys/fs/cgroup/pids/x/pids.max "abc": Invalid argument"#)
        #expect(FlatKeyed.parse("populated 1\nfrozen 0\n") == ["populated": 1, "frozen": 0])
    }
}

// MARK: - Helpers for the integration tests

enum CgroupTestHost {
    static let host: CgroupHost? = try? CgroupHost.detect()
    static let isRoot = geteuid() == 0
    static var usable: Bool { isRoot && host != nil }
    static var mode: CgroupMode? { host?.mode }
    static var hasV2: Bool { host?.unifiedMount != nil }

    private static let counter = Counter()
    final class Counter: @unchecked Sendable {
        private var value = 0
        private var lock = pthread_mutex_t()
        init() { pthread_mutex_init(&lock, nil) }
        func next() -> Int {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            value += 1
            return value
        }
    }

    /// A unique relative cgroupsPath "pv-test-<label>-<pid>-<n>".
    static func uniqueName(_ label: String) -> String { "pv-test-\(label)-\(getpid())-\(counter.next())" }

    static func create(_ label: String, _ resources: CgroupResources = CgroupResources()) throws -> Cgroup {
        let host = try #require(host)
        let name = uniqueName(label)
        let location = try host.location(for: name, name: name)
        return try Cgroup.create(host: host, location: location, resources: resources)
    }

    static func remains(_ cgroup: Cgroup) -> [String] {
        cgroup.location.directories.filter { FileIO.exists($0) }
    }
}

/// glibc's pipe2, which Swift's Glibc module hides behind _GNU_SOURCE.
@_silgen_name("pipe2")
func cgroupTestPipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

/// A process started with posix_spawn (fork is not safe in a multithreaded Swift process), with its stdin and
/// stdout+stderr connected to pipes.
final class CgroupTestProcess {
    let pid: Int32
    private(set) var stdinFD: Int32
    let outputFD: Int32
    private var reaped = false
    private var buffer: [UInt8] = []

    init(_ arguments: [String]) throws {
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        // O_CLOEXEC at creation: tests running in parallel spawn too, and must not inherit our pipe ends.
        guard cgroupTestPipe2(&input, O_CLOEXEC) == 0, cgroupTestPipe2(&output, O_CLOEXEC) == 0 else {
            throw SystemError("pipe2")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, output[1], 2)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var pid: Int32 = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        close(input[0])
        close(output[1])
        guard rc == 0 else {
            close(input[1]); close(output[0])
            throw SystemError("posix_spawn", arguments[0], errno: rc)
        }
        self.pid = pid
        self.stdinFD = input[1]
        self.outputFD = output[0]
    }

    /// Writes a line to the process's stdin (the gate of `sh -c 'read x; ...'`).
    func send(_ line: String) {
        var text = line + "\n"
        _ = text.withUTF8 { Glibc.write(stdinFD, $0.baseAddress, $0.count) }
    }

    func closeInput() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// Reads the next line of output; nil at EOF.
    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let fd = outputFD
            let n = chunk.withUnsafeMutableBytes { bytes in retryingOnEINTR { Glibc.read(fd, bytes.baseAddress, bytes.count) } }
            if n <= 0 {
                if buffer.isEmpty { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer += chunk[0..<n]
        }
    }

    /// All remaining output up to EOF.
    func readAll() -> [String] {
        var lines: [String] = []
        while let line = readLine() { lines.append(line) }
        return lines
    }

    /// Whether output becomes readable within `milliseconds` (used only to show that a frozen process stays silent).
    func outputReady(withinMilliseconds milliseconds: Int32) -> Bool {
        if !buffer.isEmpty { return true }
        var entry = pollfd(fd: outputFD, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, milliseconds) > 0
    }

    enum Ending: Equatable { case exited(Int32), signaled(Int32) }

    @discardableResult
    func wait() -> Ending {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
        return (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
    }

    /// Kills and reaps the process if the test did not.
    func finish() {
        closeInput()
        if !reaped {
            Glibc.kill(pid, SIGKILL)
            wait()
        }
        close(outputFD)
    }

    func status() -> String {
        (try? FileIO.read("/proc/\(pid)/status")) ?? ""
    }

    var cgroupLines: String { (try? FileIO.read("/proc/\(pid)/cgroup")) ?? "" }
}

// MARK: - Integration on the real host

@Suite("Cgroup lifecycle on this host", .serialized,
       .enabled(if: CgroupTestHost.isRoot, "needs root to create cgroups"),
       .enabled(if: CgroupTestHost.host != nil, "no cgroup hierarchy found"))
struct CgroupLifecycleTests {
    @Test func createAndDeleteLeaveNothing() throws {
        let resources = CgroupResources(memoryMax: 64 << 20, cpuShares: 512, pidsMax: 100)
        let cgroup = try CgroupTestHost.create("life", resources)
        defer { try? cgroup.delete() }
        let dirs = cgroup.location.directories
        #expect(!dirs.isEmpty)
        #expect(CgroupTestHost.remains(cgroup) == dirs)
        let host = try #require(CgroupTestHost.host)
        if host.mode == .hybrid {
            // Process tree in v2; limits in v1 (memory below our own memory cgroup).
            #expect(cgroup.location.v2 != nil)
            let memory = try #require(cgroup.location.v1["memory"])
            #expect(memory.hasPrefix(try #require(host.ownV1Directory("memory")) + "/pv-test-"))
            #expect(try FileIO.read(memory + "/memory.limit_in_bytes") == "\(64 << 20)\n")
            #expect(try FileIO.read(cgroup.location.v1["cpu"]! + "/cpu.shares") == "512\n")
            #expect(cgroup.location.v1["cpuset"] == nil)  // not asked for: not made
        }
        let stats = try cgroup.stats()
        #expect(stats.memoryMax == 64 << 20)
        #expect(stats.pidsCurrent == 0)

        // A child (pool instance) and a bad value's error naming file and value.
        let child = try cgroup.createChild("i1", resources: CgroupResources(pidsMax: 3))
        #expect(CgroupTestHost.remains(child).count == child.location.directories.count)
        #expect(throws: CgroupError.self) { try child.apply(CgroupResources(cpusetCpus: "abc")) }
        // The kernel refuses a quota below 1 ms on v1 and v2 alike: the error names the file and the value.
        do {
            try child.apply(CgroupResources(cpuQuota: 1, cpuPeriod: 100_000))
            Issue.record("a 1 µs cpu quota was accepted")
        } catch {
            #expect(error.description.hasPrefix("write "))
            #expect(error.description.contains("\"1"))
        }
        // A memory limit below -1 is refused before anything is written.
        #expect(throws: CgroupError.invalidResources("memory limit -5: must be -1 (unlimited) or at least 0")) {
            try child.apply(CgroupResources(memoryMax: -5))
        }

        try cgroup.delete()
        #expect(CgroupTestHost.remains(child).isEmpty)
        #expect(CgroupTestHost.remains(cgroup).isEmpty)
        try cgroup.delete()  // idempotent
    }

    @Test func deletePrunesEmptyParents() throws {
        // Like the default "podvisor/<name>": a shared parent goes once its last child is deleted.
        let host = try #require(CgroupTestHost.host)
        let parent = CgroupTestHost.uniqueName("parent")
        let first = try Cgroup.create(host: host, location: try host.location(for: parent + "/c1", name: "c1"),
                                      resources: CgroupResources(pidsMax: 10))
        defer { try? first.delete() }
        let second = try Cgroup.create(host: host, location: try host.location(for: parent + "/c2", name: "c2"),
                                       resources: CgroupResources(pidsMax: 10))
        defer { try? second.delete() }
        #expect(!first.location.prunable.isEmpty)
        try first.delete()
        #expect(first.location.prunable.allSatisfy(FileIO.exists))  // still holds c2
        #expect(CgroupTestHost.remains(second).count == second.location.directories.count)
        try second.delete()
        #expect(!second.location.prunable.contains(where: FileIO.exists))
    }

    @Test func failedCreateRemovesWhatItMade() throws {
        let host = try #require(CgroupTestHost.host)
        let name = CgroupTestHost.uniqueName("undo")
        let location = try host.location(for: name, name: name)
        #expect(throws: CgroupError.self) {
            _ = try Cgroup.create(host: host, location: location, resources: CgroupResources(pidsMax: 5, unified: ["no.such-file": "1"]))
        }
        #expect(location.directories.allSatisfy { !FileIO.exists($0) })
    }

    @Test func addProcessListAndKill() throws {
        // As the engine does it later: reopened from the location create returned (persisted in state.json).
        let host = try #require(CgroupTestHost.host)
        let name = CgroupTestHost.uniqueName("kill")
        let created = try Cgroup.create(host: host, location: try host.location(for: name, name: name), resources: CgroupResources())
        defer { try? created.delete() }
        let cgroup = Cgroup.open(location: created.location)
        let sleeper = try CgroupTestProcess(["/bin/sleep", "1000"])
        defer { sleeper.finish() }
        try cgroup.addProcess(sleeper.pid, includingV2: true)

        #expect(try cgroup.processes() == [sleeper.pid])
        let leaf = (cgroup.location.directories.first! as String).split(separator: "/").last!
        #expect(sleeper.cgroupLines.contains(String(leaf)))

        try cgroup.kill()
        #expect(sleeper.wait() == .signaled(SIGKILL))
        #expect(try cgroup.processes().isEmpty)
        try cgroup.delete()
        #expect(CgroupTestHost.remains(cgroup).isEmpty)
    }

    @Test func deleteKillsWhatIsLeft() throws {
        let cgroup = try CgroupTestHost.create("del")
        defer { try? cgroup.delete() }
        let child = try cgroup.createChild("i1", resources: CgroupResources())
        let sleeper = try CgroupTestProcess(["/bin/sleep", "1000"])
        defer { sleeper.finish() }
        try child.addProcess(sleeper.pid, includingV2: true)
        #expect(try cgroup.processes() == [sleeper.pid])  // recursive over children
        try cgroup.delete()
        #expect(sleeper.wait() == .signaled(SIGKILL))
        #expect(CgroupTestHost.remains(child).isEmpty && CgroupTestHost.remains(cgroup).isEmpty)
    }

    @Test func freezeAndThaw() throws {
        let cgroup = try CgroupTestHost.create("freeze")
        defer { try? cgroup.delete() }
        let echo = try CgroupTestProcess(["/bin/sh", "-c", "while read l; do echo \"got $l\"; done"])
        defer { echo.finish() }
        try cgroup.addProcess(echo.pid, includingV2: true)
        echo.send("a")
        #expect(echo.readLine() == "got a")

        try cgroup.freeze()
        if let v2 = cgroup.location.v2 {
            #expect(try FileIO.read(v2 + "/cgroup.events").contains("frozen 1"))
        }
        echo.send("b")
        // Frozen: the answer does not come (a negative can only be shown over some time).
        #expect(!echo.outputReady(withinMilliseconds: 300))

        try cgroup.thaw()
        if let v2 = cgroup.location.v2 {
            #expect(try FileIO.read(v2 + "/cgroup.events").contains("frozen 0"))
        }
        #expect(echo.readLine() == "got b")
        echo.closeInput()
        #expect(echo.wait() == .exited(0))
    }

    @Test(.enabled(if: CgroupTestHost.hasV2, "PSI needs a cgroup v2 directory (legacy host)"))
    func pressureIsReadable() throws {
        let cgroup = try CgroupTestHost.create("psi")
        defer { try? cgroup.delete() }
        for resource in PressureResource.allCases {
            let pressure = try cgroup.pressure(resource)
            #expect(pressure.some.avg10 >= 0)
            if resource != .cpu { #expect(pressure.full != nil) }
        }
    }
}

// MARK: - Which files get which values (fake directories, no root needed)

/// A temporary directory of empty "interface files": shows the v1 and v2 translations on any host.
final class FakeCgroupDirectory {
    let path: String
    init(files: [String]) throws {
        var template = Array("/tmp/pv-fake-cgroup-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError("mkdtemp") }
        path = String(cString: made)
        for file in files { try FileIO.write(path + "/" + file, "", flags: O_WRONLY | O_CREAT | O_TRUNC) }
    }
    func value(_ file: String) -> String? { try? FileIO.read(path + "/" + file) }
    deinit {
        for name in (try? FileIO.list(path)) ?? [] { unlink(path + "/" + name) }
        rmdir(path)
    }
}

@Suite("Cgroup files and values")
struct CgroupFileTranslationTests {
    static let resources = CgroupResources(
        memoryMax: 100 << 20, memorySwapMax: 300 << 20, memoryReservation: 10 << 20,
        cpuQuota: 50_000, cpuPeriod: 100_000, cpuShares: 1024, cpusetCpus: "0", pidsMax: 0,
        ioWeight: 500, ioMax: [IOLimit(major: 8, minor: 0, readBps: 1000, writeIops: 5)])

    @Test func v2Files() throws {
        let dir = try FakeCgroupDirectory(files: [
            "memory.max", "memory.high", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max",
            "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "memory.oom.group",
        ])
        let cgroup = Cgroup.open(location: CgroupLocation(v2: dir.path, v1: [:]))
        var resources = Self.resources
        resources.unified = ["memory.oom.group": "1"]
        try cgroup.apply(resources)
        #expect(dir.value("memory.max") == "\(100 << 20)")
        #expect(dir.value("memory.swap.max") == "\(200 << 20)")  // OCI memory+swap minus memory
        #expect(dir.value("memory.low") == "\(10 << 20)")         // reservation
        #expect(dir.value("cpu.max") == "50000 100000")
        #expect(dir.value("cpu.weight") == "39")                  // from shares 1024
        #expect(dir.value("cpuset.cpus") == "0")
        #expect(dir.value("pids.max") == "max")
        #expect(dir.value("io.weight") == "default 4950")         // from blkio weight 500
        #expect(dir.value("io.max") == "8:0 rbps=1000 wiops=5")
        #expect(dir.value("memory.oom.group") == "1")
        try cgroup.apply(CgroupResources(memoryMax: -1, cpuQuota: -1))
        #expect(dir.value("memory.max") == "max" && dir.value("memory.swap.max") == "max")
        #expect(dir.value("cpu.max") == "max")
        #expect(throws: CgroupError.self) { try cgroup.apply(CgroupResources(unified: ["../x": "1"])) }
    }

    @Test func v1Files() throws {
        let memory = try FakeCgroupDirectory(files: [
            "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"])
        let cpu = try FakeCgroupDirectory(files: ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"])
        let other = try FakeCgroupDirectory(files: [
            "pids.max", "cpuset.cpus", "cpuset.mems", "blkio.weight", "blkio.throttle.read_bps_device",
            "blkio.throttle.write_iops_device"])
        let cgroup = Cgroup.open(location: CgroupLocation(v2: nil, v1: [
            "memory": memory.path, "cpu": cpu.path, "pids": other.path, "cpuset": other.path, "blkio": other.path]))
        try cgroup.apply(Self.resources)
        #expect(memory.value("memory.limit_in_bytes") == "\(100 << 20)")
        #expect(memory.value("memory.memsw.limit_in_bytes") == "\(300 << 20)")  // v1 takes memory+swap as is
        #expect(memory.value("memory.soft_limit_in_bytes") == "\(10 << 20)")
        #expect(cpu.value("cpu.shares") == "1024")
        #expect(cpu.value("cpu.cfs_quota_us") == "50000" && cpu.value("cpu.cfs_period_us") == "100000")
        #expect(other.value("pids.max") == "max" && other.value("cpuset.cpus") == "0")
        #expect(other.value("blkio.weight") == "500")
        #expect(other.value("blkio.throttle.read_bps_device") == "8:0 1000")
        #expect(other.value("blkio.throttle.write_iops_device") == "8:0 5")
        try cgroup.apply(CgroupResources(cpuWeight: 100))
        #expect(cpu.value("cpu.shares") == "2597")
        // memory.high has no v1 file: refused, not silently dropped; unified keys need a v2 directory.
        #expect(throws: CgroupError.self) { try cgroup.apply(CgroupResources(memoryHigh: 1 << 20)) }
        #expect(throws: CgroupError.self) { try cgroup.apply(CgroupResources(unified: ["memory.high": "1"])) }
    }

    @Test func requiredControllerMissing() throws {
        let root = try FakeCgroupDirectory(files: ["cgroup.controllers", "cgroup.subtree_control"])
        try FileIO.write(root.path + "/cgroup.controllers", "cpu memory\n")
        #expect(throws: CgroupError.controllerUnavailable(controller: "pids", directory: root.path)) {
            try Cgroup.enableControllers(for: root.path + "/c", boundary: root.path, isOwn: false,
                                         required: ["pids"], optional: [])
        }
    }
}
