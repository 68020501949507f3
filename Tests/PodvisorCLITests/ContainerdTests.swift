import Foundation
import Testing

/// containerd 1.6 (its runc v2 shim) driving the runtime under test through `ctr run --runc-binary`:
/// the shim calls `--root R --log FILE --log-format json create --bundle DIR --pid-file FILE ID`,
/// then `start`, `kill`, `delete`. Every test starts a private containerd (Scripts/peers/containerd-up)
/// in a temporary directory and stops it afterwards (containerd-down).
@Suite(
    "containerd drives the runtime",
    .serialized,
    .enabled("needs root") { Needs.isRoot },
    .enabled("needs containerd, ctr and containerd-shim-runc-v2: run Scripts/setup") { Needs.hasContainerd },
    .enabled("needs the rootfs and podman (to make the image tarball): run Scripts/setup") {
        Needs.hasRootfs && (Needs.hasPodman || FileManager.default.fileExists(atPath: TestPaths.imageTarball))
    },
    .enabled("needs the runtime under test: build podvisor or set PODVISOR_TEST_RUNTIME") { Needs.hasRuntime }
)
struct ContainerdTests {
    @Test("ctr run --rm: the task's output reaches ctr")
    func echo() throws {
        try Containerd.with { ctrd in
            let id = TestPaths.uniqueName("pv-echo")
            let out = try ctrd.check(ctrd.run(["--rm"], id: id, "echo", "hi"))
            #expect(out == "hi")
        }
    }

    @Test("ctr run --rm: the task's exit status is ctr's")
    func exitCode() throws {
        try Containerd.with { ctrd in
            let id = TestPaths.uniqueName("pv-exit")
            let result = try ctrd.run(ctrd.run(["--rm"], id: id, "sh", "-c", "exit 42"))
            #expect(result.status == 42, "\(result)")
            #expect(try ctrd.check(["container", "ls", "-q"]).isEmpty)
        }
    }

    @Test("ctr task kill of a sleeping task: it stops and ctr task delete reports exit code 137")
    func killTask() throws {
        try Containerd.with { ctrd in
            let id = TestPaths.uniqueName("pv-kill")
            try ctrd.check(ctrd.run(["-d"], id: id, "sleep", "600"))
            let tasks = try ctrd.check(["task", "ls"])
            #expect(tasks.contains(id) && tasks.contains("RUNNING"), "\(tasks)")
            let pid = try ctrd.check(["task", "ls"]).split(separator: "\n")
                .first { $0.hasPrefix(id) }?.split(separator: " ", omittingEmptySubsequences: true)
                .dropFirst().first.map(String.init) ?? ""
            #expect(processExists(pid), "task pid \(pid)")

            try ctrd.check(["task", "kill", "--signal", "SIGKILL", id])
            // ctr 1.6 has no `task wait`: poll its task list (bounded) until the task is STOPPED.
            #expect(try ctrd.waitForStatus(id, "STOPPED"), "task \(id) did not stop")
            #expect(!processExists(pid))
            // `ctr task delete` reports the task's exit status (128 + SIGKILL) as a warning.
            let deleted = try ctrd.run(["task", "delete", id])
            #expect(deleted.status == 0 && deleted.stderr.contains("exit code 137"), "\(deleted)")
            try ctrd.check(["container", "delete", id])
            #expect(!(try ctrd.check(["task", "ls", "-q"]).contains(id)))
            #expect(try ctrd.check(["container", "ls", "-q"]).isEmpty)
        }
    }
}

/// One private containerd with the localbusybox image imported.
struct Containerd {
    let dir: String
    let socket: String
    let image: String
    let runtime: String
    let cgroupParent: String?

    static func with(_ body: (Containerd) throws -> Void) throws {
        let cgroupParent = try TestCgroups.parent(TestPaths.uniqueName("pv-ctrd"))
        let dir = try TestPaths.makeTemporaryDirectory("pv-ctrd")
        let env = ["CONTAINERD_DIR": dir]
        defer {
            _ = try? Command.run([TestPaths.script("Scripts/peers/containerd-down")], environment: env)
            Cleanup.removeTree(dir)
            TestCgroups.remove(cgroupParent)
        }
        let socket = try Command.check([TestPaths.script("Scripts/peers/containerd-up")], environment: env)
        var importArgs = [TestPaths.script("Scripts/peers/ctr-import"), socket]
        if FileManager.default.fileExists(atPath: TestPaths.imageTarball), !Needs.hasPodman {
            importArgs.append(TestPaths.imageTarball)
        }
        let image = try Command.check(importArgs)
        let ctrd = Containerd(dir: dir, socket: socket, image: image, runtime: TestPaths.runtime,
                              cgroupParent: cgroupParent)
        defer {
            // Leave nothing running in the shims before containerd-down stops them.
            for id in (try? ctrd.check(["task", "ls", "-q"]))?.split(separator: "\n") ?? [] {
                _ = try? ctrd.run(["task", "kill", "--signal", "SIGKILL", String(id)])
                _ = try? ctrd.run(["task", "delete", "--force", String(id)])
            }
            for id in (try? ctrd.check(["container", "ls", "-q"]))?.split(separator: "\n") ?? [] {
                _ = try? ctrd.run(["container", "delete", String(id)])
            }
        }
        try body(ctrd)
    }

    /// `ctr run` arguments: OPTIONS, the image, the id, then the command.
    func run(_ options: [String], id: String, _ command: String...) -> [String] {
        var argv = ["run", "--runc-binary", runtime]
        if let cgroupParent { argv += ["--cgroup", "\(cgroupParent)/\(id)"] }
        return argv + options + [image, id] + command
    }

    /// Polls `ctr task ls` (at most ~10 s) until the task shows STATUS; ctr offers no wait here.
    func waitForStatus(_ id: String, _ status: String) throws -> Bool {
        for _ in 0..<200 {
            let row = try check(["task", "ls"]).split(separator: "\n").first { $0.hasPrefix(id + " ") }
            if let row, row.split(separator: " ", omittingEmptySubsequences: true).last == Substring(status) {
                return true
            }
            usleep(50_000)
        }
        return false
    }

    func run(_ arguments: [String]) throws -> CommandResult {
        try Command.run(["ctr", "--address", socket] + arguments)
    }

    @discardableResult
    func check(_ arguments: [String]) throws -> String {
        try Command.check(["ctr", "--address", socket] + arguments)
    }
}
