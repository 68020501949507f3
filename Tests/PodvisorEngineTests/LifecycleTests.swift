import Foundation
import Glibc
import PodvisorLinux
import PodvisorSpec
import Testing
@testable import PodvisorEngine

@Suite("Container lifecycle", .enabled(if: isRoot, "needs root"), .enabled(if: hasRootfs, "needs the default rootfs: run Rootfs/build"))
struct LifecycleTests {
    @Test func runReturnsTheContainersExitStatus() throws {
        let sandbox = try Sandbox(["/bin/sh", "-c", "echo $$ > /out/pid; hostname > /out/hostname; exit 42"]) {
            $0.hostname = "pv-host"
        }
        defer { sandbox.finish() }
        let id = uniqueID("run")
        let status = try sandbox.runtime.run(id: id, options: .init(bundle: sandbox.bundle))
        #expect(status == .exited(42))
        #expect(sandbox.read("pid") == "1\n")
        #expect(sandbox.read("hostname") == "pv-host\n")
        #expect(sandbox.leftovers(id) == [])
    }

    @Test func createStartKillDeleteAsPodmanDrivesIt() throws {
        let sandbox = try Sandbox(["/bin/sh", "-c", "echo started > /out/started; exec sleep 1000"])
        defer { sandbox.finish() }
        let id = uniqueID("lifecycle")
        let started = sandbox.output + "/started"
        #expect(mkfifo(started, 0o666) == 0)
        // A reader that is already open sees no writer until the container's shell runs.
        let early = open(started, O_RDONLY | O_NONBLOCK)
        defer { close(early) }
        let pidFile = sandbox.directory + "/pid"
        let record = try sandbox.runtime.create(id: id, options: .init(bundle: sandbox.bundle, pidFile: pidFile))
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == String(record.pid))
        #expect(try sandbox.runtime.state(id: id).status == .created)
        var byte: UInt8 = 0
        #expect(read(early, &byte, 1) == 0, "the process must not run before start")

        try sandbox.runtime.start(id: id)
        // The shell's write wakes the reader (an event); the bound only turns a broken start into a failure.
        var waiter = pollfd(fd: early, events: Int16(POLLIN), revents: 0)
        #expect(poll(&waiter, 1, 10_000) == 1, "the container never wrote to the fifo")
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = read(early, &buffer, buffer.count)
        #expect(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self) == "started\n")
        #expect(try sandbox.runtime.state(id: id).status == .running)
        #expect(throws: EngineError.self) { try sandbox.runtime.delete(id: id) }

        let process = try PidFD.open(record.pid)
        defer { process.close() }
        try sandbox.runtime.kill(id: id, signal: "KILL")
        #expect(process.hasExited(timeoutMilliseconds: 5000))
        #expect(try sandbox.runtime.state(id: id).status == .stopped)
        try sandbox.runtime.delete(id: id)
        #expect(sandbox.leftovers(id) == [])
    }

    @Test func deleteOfACreatedContainerKillsItsInit() throws {
        let sandbox = try Sandbox(["/bin/true"])
        defer { sandbox.finish() }
        let id = uniqueID("created-delete")
        let record = try sandbox.runtime.create(id: id, options: .init(bundle: sandbox.bundle))
        let process = try PidFD.open(record.pid)
        defer { process.close() }
        try sandbox.runtime.delete(id: id)
        #expect(process.hasExited(timeoutMilliseconds: 5000))
        #expect(sandbox.leftovers(id) == [])
    }

    @Test func killAllSignalsEveryProcess() throws {
        let sandbox = try Sandbox(["/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo $! > /out/child; wait"])
        defer { sandbox.finish() }
        let id = uniqueID("kill-all")
        try sandbox.runtime.run(id: id, options: .init(bundle: sandbox.bundle), detach: true)
        defer { try? sandbox.runtime.delete(id: id, force: true) }
        let pids = try #require(try sandbox.runtime.state(id: id)).pid
        #expect(pids > 0)
        try sandbox.runtime.kill(id: id, signal: "9", all: true)
        let record = try sandbox.runtime.store.load(id)
        let cgroup = Cgroup.open(location: try #require(record.cgroup))
        // Both processes die: the cgroup empties (bounded wait on the kernel, not a sleep).
        try cgroup.delete()
        #expect(try sandbox.runtime.state(id: id).status == .stopped)
    }

    @Test func resourcesReachTheCgroup() throws {
        let sandbox = try Sandbox(["/bin/sleep", "1000"]) {
            $0.linux?.resources = OCIResources(memory: .init(limit: 64 << 20), pids: .init(limit: 32))
        }
        defer { sandbox.finish() }
        let id = uniqueID("resources")
        try sandbox.runtime.run(id: id, options: .init(bundle: sandbox.bundle), detach: true)
        defer { try? sandbox.runtime.delete(id: id, force: true) }
        let location = try #require(try sandbox.runtime.store.load(id).cgroup)
        let host = try CgroupHost.detect()
        if host.mode == .unified {
            #expect(try FileIO.read(location.v2! + "/memory.max") == "67108864\n")
            #expect(try FileIO.read(location.v2! + "/pids.max") == "32\n")
        } else {
            #expect(try FileIO.read(try #require(location.v1["memory"]) + "/memory.limit_in_bytes") == "67108864\n")
            #expect(try FileIO.read(try #require(location.v1["pids"]) + "/pids.max") == "32\n")
        }
        try sandbox.runtime.delete(id: id, force: true)
        #expect(sandbox.leftovers(id) == [])
    }
}
