import Foundation
import Testing

/// podman 4 driving the runtime under test ($PODVISOR_TEST_RUNTIME, default the podvisor binary):
/// it calls `create --bundle DIR --pid-file FILE ID`, `start ID`, `kill ID SIG`, `delete --force ID`.
/// Every test has its own podman storage (root, runroot, tmpdir) in a temporary directory, so nothing
/// is shared with the host's podman state, and its own cgroup parent below ours on a hybrid host.
@Suite(
    "podman drives the runtime",
    .serialized,
    .enabled("needs root") { Needs.isRoot },
    .enabled("needs podman and conmon: run Scripts/setup") { Needs.hasPodman },
    .enabled("needs runc (runc spec) and the rootfs: run Scripts/setup (Rootfs/build)") { Needs.hasRunc && Needs.hasRootfs },
    .enabled("needs the runtime under test: build podvisor or set PODVISOR_TEST_RUNTIME") { Needs.hasRuntime }
)
struct PodmanTests {
    @Test("echo: the container's output reaches podman")
    func echo() throws {
        try Podman.with { podman in
            let out = try podman.check(podman.run(["--rm"], "echo", "hello from podvisor"))
            #expect(out == "hello from podvisor")
        }
    }

    @Test("the container's exit status is podman's")
    func exitCode() throws {
        try Podman.with { podman in
            let result = try podman.run(podman.run(["--rm"], "sh", "-c", "exit 42"))
            #expect(result.status == 42, "\(result)")
        }
    }

    @Test("--memory 64m is the container cgroup's limit, as the host sees it")
    func memoryLimitOnHost() throws {
        try Podman.with { podman in
            let name = TestPaths.uniqueName("pv-mem")
            try podman.check(podman.run(["-d", "--name", name, "--memory", "64m"], "sleep", "600"))
            let pid = try podman.check(["inspect", "--format", "{{.State.Pid}}", name])
            #expect(try hostMemoryLimit(pid: pid) == "67108864")
            try podman.check(["rm", "-f", "-t", "0", name])
        }
    }

    @Test("--memory 64m is visible inside, through the cgroup mount podman asks for")
    func memoryLimitInside() throws {
        try Podman.with { podman in
            // podman's config.json mounts type "cgroup" at /sys/fs/cgroup: on v2 the container's
            // cgroup with memory.max, on v1 one directory per hierarchy (memory/memory.limit_in_bytes).
            let inside = try podman.check(podman.run(
                ["--rm", "--memory", "64m"], "sh", "-c",
                "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"))
            #expect(inside == "67108864")
        }
    }

    @Test("podman stop of a detached sleep: stopped within the timeout, then gone")
    func stop() throws {
        try Podman.with { podman in
            let name = TestPaths.uniqueName("pv-stop")
            try podman.check(podman.run(["-d", "--name", name], "sleep", "600"))
            #expect(try podman.check(["inspect", "--format", "{{.State.Status}}", name]) == "running")
            let pid = try podman.check(["inspect", "--format", "{{.State.Pid}}", name])
            // sleep is PID 1 and ignores SIGTERM: podman must escalate to SIGKILL after 2 s.
            try podman.check(["stop", "-t", "2", name])
            #expect(try podman.check(["inspect", "--format", "{{.State.Status}}", name]) == "exited")
            #expect(!processExists(pid))
            try podman.check(["rm", name])
            #expect(try podman.run(["container", "exists", name]).status == 1)
        }
    }

    @Test("podman kill: the container dies of SIGKILL and podman wait reports 137")
    func killContainer() throws {
        try Podman.with { podman in
            let name = TestPaths.uniqueName("pv-kill")
            try podman.check(podman.run(["-d", "--name", name], "sleep", "600"))
            try podman.check(["kill", "--signal", "KILL", name])
            #expect(try podman.check(["wait", name]) == "137")
            try podman.check(["rm", name])
            #expect(try podman.run(["container", "exists", name]).status == 1)
        }
    }

    @Test("podman rm: of an exited container, and rm -f of a running one")
    func remove() throws {
        try Podman.with { podman in
            let exited = TestPaths.uniqueName("pv-rm")
            let result = try podman.run(podman.run(["--name", exited], "sh", "-c", "exit 3"))
            #expect(result.status == 3, "\(result)")
            try podman.check(["rm", exited])
            #expect(try podman.run(["container", "exists", exited]).status == 1)

            let running = TestPaths.uniqueName("pv-rmf")
            try podman.check(podman.run(["-d", "--name", running], "sleep", "600"))
            let pid = try podman.check(["inspect", "--format", "{{.State.Pid}}", running])
            try podman.check(["rm", "-f", "-t", "0", running])
            #expect(try podman.run(["container", "exists", running]).status == 1)
            #expect(!processExists(pid))
        }
    }
}

/// One private podman: storage in a temporary directory, the localbusybox image imported into it.
struct Podman {
    let dir: String
    let runtime: String
    let cgroupParent: String?

    static func with(_ body: (Podman) throws -> Void) throws {
        let cgroupParent = try TestCgroups.parent(TestPaths.uniqueName("pv-podman"))
        let dir = try TestPaths.makeTemporaryDirectory("pv-podman")
        let podman = Podman(dir: dir, runtime: TestPaths.runtime, cgroupParent: cgroupParent)
        defer {
            _ = try? podman.run(["rm", "--all", "--force", "--time", "0"])
            _ = try? podman.run(["system", "reset", "--force"])
            Cleanup.removeTree(dir)
            TestCgroups.remove(cgroupParent)
        }
        try Command.check([TestPaths.script("Scripts/peers/podman-image")] + podman.storage)
        try body(podman)
    }

    var storage: [String] {
        ["--root", "\(dir)/root", "--runroot", "\(dir)/runroot", "--tmpdir", "\(dir)/tmp",
         "--storage-driver", "vfs"]
    }

    var global: [String] {
        storage + ["--runtime", runtime, "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    }

    /// `podman run` arguments: OPTIONS, the image, then the command.
    func run(_ options: [String], _ command: String...) -> [String] {
        var argv = ["run", "--network", "none",
                    "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
        if let cgroupParent { argv += ["--cgroup-parent", cgroupParent] }
        return argv + options + ["localbusybox"] + command
    }

    func run(_ arguments: [String]) throws -> CommandResult {
        try Command.run(["podman"] + global + arguments)
    }

    @discardableResult
    func check(_ arguments: [String]) throws -> String {
        try Command.check(["podman"] + global + arguments)
    }
}

func processExists(_ pid: String) -> Bool {
    guard let n = Int32(pid), n > 0 else { return false }
    // A zombie is gone for our purposes: its /proc/PID/stat state is Z.
    guard let stat = try? String(contentsOfFile: "/proc/\(n)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[close...].hasPrefix(") Z")
}

/// The memory limit of PID's cgroup as the host sees it (v2 memory.max, else v1 limit_in_bytes).
func hostMemoryLimit(pid: String) throws -> String {
    let lines = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8).split(separator: "\n")
    for line in lines {
        let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { continue }
        if parts[1].split(separator: ",").contains("memory") {
            return try String(contentsOfFile: "/sys/fs/cgroup/memory\(parts[2])/memory.limit_in_bytes", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if parts[0] == "0", let max = try? String(contentsOfFile: "/sys/fs/cgroup\(parts[2])/memory.max", encoding: .utf8) {
            return max.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
    throw CommandError(result: CommandResult(argv: ["memory limit of \(pid)"], status: 1, stdout: "",
                                             stderr: "no memory cgroup", timedOut: false))
}
