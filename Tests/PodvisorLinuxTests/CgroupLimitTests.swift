import Glibc
import Testing
@testable import PodvisorLinux

/// Limits that bite. The same tests run on hybrid hosts (limits in v1 files) and on cgroup-v2 hosts (Scripts/vm-test),
/// the Cgroup API choosing the files. Each process starts gated (`read x`), is put into the cgroup, and only then
/// released, so everything it does is accounted there; the tests synchronise on pipes and waitpid.
@Suite("Cgroup limits", .serialized,
       .enabled(if: CgroupTestHost.isRoot, "needs root to create cgroups"),
       .enabled(if: CgroupTestHost.host != nil, "no cgroup hierarchy found"))
struct CgroupLimitTests {
    /// Starts `script` gated, inside `cgroup`, and releases it.
    func startInside(_ cgroup: Cgroup, _ script: String) throws -> CgroupTestProcess {
        let process = try CgroupTestProcess(["/bin/sh", "-c", "read gate; " + script])
        do {
            try cgroup.addProcess(process.pid, includingV2: true)
        } catch {
            process.finish()
            throw error
        }
        process.send("go")
        return process
    }

    @Test func pidsLimitRefusesTheSixthProcess() throws {
        let cgroup = try CgroupTestHost.create("pids", CgroupResources(pidsMax: 5))
        defer { try? cgroup.delete() }
        // The shell is process 1; it forks sleepers until a fork fails (dash then exits with "Cannot fork").
        let shell = try startInside(cgroup, """
            i=0; while [ $i -lt 10 ]; do sleep 1000 </dev/null >/dev/null 2>&1 & i=$((i+1)); echo "forked $i"; done
            """)
        defer { shell.finish() }
        let output = shell.readAll()  // EOF: the shell is gone (sleepers do not hold the pipe)
        let ending = shell.wait()

        #expect(output.filter { $0.hasPrefix("forked") } == ["forked 1", "forked 2", "forked 3", "forked 4"])
        #expect(output.contains { $0.lowercased().contains("fork") && !$0.hasPrefix("forked") })
        #expect(ending != .exited(0))
        #expect(try cgroup.events().pidsMax >= 1)
        #expect(try cgroup.processes().count == 4)  // the four sleepers
        #expect(try cgroup.stats().pidsCurrent == 4)
        try cgroup.kill()
        #expect(try cgroup.processes().isEmpty)
    }

    @Test func memoryLimitOOMKills() throws {
        let limit: Int64 = 32 << 20
        let cgroup = try CgroupTestHost.create("mem", CgroupResources(memoryMax: limit, memorySwapMax: limit))
        defer { try? cgroup.delete() }
        #expect(try cgroup.stats().memoryMax == UInt64(limit))
        // The shell keeps 200 MB of output in a variable: far beyond the limit.
        let shell = try startInside(cgroup, #"x=$(head -c 200000000 /dev/zero | tr "\0" a); echo "size ${#x}""#)
        defer { shell.finish() }
        let output = shell.readAll()
        let ending = shell.wait()

        #expect(ending == .signaled(SIGKILL))
        #expect(!output.contains("size 200000000"))
        let events = try cgroup.events()
        #expect(events.oomKill >= 1)
        if cgroup.location.v1["memory"] == nil {
            #expect(events.max >= 1)  // v2 memory.events max. (v1 memory.failcnt stays 0 on kernel 6.18: measured.)
        }
    }

    @Test func cpuQuotaThrottles() throws {
        // 10 % of one CPU.
        let cgroup = try CgroupTestHost.create("cpu", CgroupResources(cpuQuota: 10_000, cpuPeriod: 100_000))
        defer { try? cgroup.delete() }
        let start = Cgroup.now()
        // About 0.1 s of CPU on the project's machines; so about 1 s of wall time at 10 %.
        let shell = try startInside(cgroup, "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo done")
        defer { shell.finish() }
        #expect(shell.readAll() == ["done"])
        #expect(shell.wait() == .exited(0))
        let wall = Cgroup.now() - start

        let stats = try cgroup.stats()
        let usage = Double(try #require(stats.cpuUsageUsec)) / 1e6
        #expect(try #require(stats.cpuThrottled) > 0)
        #expect(try #require(stats.cpuThrottledUsec) > 0)
        #expect(usage > 0)
        // Ran at most about a tenth of the time it took (generous for noisy machines).
        #expect(wall > usage * 4, "cpu \(usage) s in \(wall) s of wall time")
        if CgroupTestHost.hasV2 {
            #expect(try cgroup.pressure(.cpu).some.total >= 0)
        }
    }

    /// Files only a real v2 host has (memory.high, cpu.weight, pids.max and raw unified keys in the v2 directory).
    @Test(.enabled(if: CgroupTestHost.mode == .unified, "needs a cgroup-v2 host: run Scripts/vm-test"))
    func v2FilesOnAV2Host() throws {
        let cgroup = try CgroupTestHost.create("v2", CgroupResources(
            memoryHigh: 16 << 20, cpuShares: 1024, pidsMax: 64, unified: ["memory.low": "1048576"]))
        defer { try? cgroup.delete() }
        let v2 = try #require(cgroup.location.v2)
        #expect(cgroup.location.v1.isEmpty)
        #expect(try FileIO.read(v2 + "/memory.high") == "\(16 << 20)\n")
        #expect(try FileIO.read(v2 + "/cpu.weight") == "39\n")
        #expect(try FileIO.read(v2 + "/pids.max") == "64\n")
        #expect(try FileIO.read(v2 + "/memory.low") == "1048576\n")
        let shell = try startInside(cgroup, "echo ready")
        defer { shell.finish() }
        #expect(shell.readAll() == ["ready"])
        #expect(shell.wait() == .exited(0))
        let stats = try cgroup.stats()
        #expect(stats.memoryCurrent != nil && stats.pidsCurrent == 0)
        #expect(try #require(stats.cpuUsageUsec) > 0)
    }
}
