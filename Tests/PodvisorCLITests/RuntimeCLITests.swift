import Foundation
import Testing

/// The runc-compatible command line itself: exit statuses, errors on stderr and in the --log file
/// (containerd's shim reads runc's JSON lines from it), spec, list and the refusals.
@Suite("podvisor command line", .enabled(if: Needs.isRoot, "needs root"),
       .enabled(if: Needs.hasRootfs, "needs the default rootfs: run Scripts/setup"),
       .enabled(if: FileManager.default.isExecutableFile(atPath: TestPaths.podvisorBinary), "needs the podvisor binary: swift build"))
struct RuntimeCLITests {
    let directory: String
    var root: String { directory + "/state" }

    init() throws {
        var template = Array("/tmp/pv-cli.XXXXXX".utf8CString)
        directory = String(cString: try #require(mkdtemp(&template)))
    }

    func podvisor(_ arguments: [String]) throws -> CommandResult {
        try Command.run([TestPaths.podvisorBinary, "--root", root] + arguments, timeout: 60)
    }

    /// `spec` writes runc's default config (with the default seccomp profile); the rootfs and args are set here.
    func bundle(_ args: [String]) throws -> String {
        let bundle = directory + "/bundle"
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        #expect(try podvisor(["spec", "--bundle", bundle]).status == 0)
        let path = bundle + "/config.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var process = config["process"] as! [String: Any]
        process["args"] = args
        config["process"] = process
        config["root"] = ["path": TestPaths.rootfs, "readonly": true]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
        return bundle
    }

    @Test func runExitsWithTheContainersStatusAndListsNothingAfter() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bundle = try bundle(["/bin/sh", "-c", "echo out; echo err >&2; exit 7"])
        let result = try podvisor(["run", "--bundle", bundle, "cli-run"])
        #expect(result.status == 7)
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
        let list = try podvisor(["list"])
        #expect(list.stdout == "ID   PID   STATUS   BUNDLE   CREATED   OWNER\n")
    }

    @Test func errorsGoToStderrAndTheLogAsRuncJSONLines() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/log.json"
        let result = try Command.run([TestPaths.podvisorBinary, "--root", root, "--log", log, "--log-format", "json",
                                      "kill", "no-such-container", "KILL"])
        #expect(result.status == 1)
        #expect(result.stderr == "podvisor: container \"no-such-container\" does not exist\n")
        let line = try String(contentsOfFile: log, encoding: .utf8)
        let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
        #expect(entry["level"] == "error")
        #expect(entry["msg"] == "container \"no-such-container\" does not exist")
        #expect(entry["time"] != nil)
    }

    @Test func specRefusesToOverwriteAndSystemdIsRefusedClearly() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bundle = try bundle(["/bin/true"])
        let again = try podvisor(["spec", "--bundle", bundle])
        #expect(again.status == 1)
        #expect(again.stderr.contains("config.json exists"))
        let systemd = try Command.run([TestPaths.podvisorBinary, "--root", root, "--systemd-cgroup", "run", "--bundle", bundle, "x"])
        #expect(systemd.status == 1)
        #expect(systemd.stderr.contains("--systemd-cgroup"))
        #expect(!FileManager.default.fileExists(atPath: root + "/x"))
    }

    @Test func createStartStateAndDeleteByTheFastPathAndTheFullParser() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bundle = try bundle(["/bin/sleep", "1000"])
        // `--bundle=B` and `-b B` are both runc's; the fast path takes the first, ArgumentParser the rest.
        #expect(try podvisor(["create", "--bundle=\(bundle)", "--pid-file", directory + "/pid", "cli-c"]).status == 0)
        let state = try podvisor(["state", "cli-c"])
        let json = try JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as! [String: Any]
        #expect(json["status"] as? String == "created")
        #expect(json["pid"] as? Int == Int(try String(contentsOfFile: directory + "/pid", encoding: .utf8)))
        #expect(try podvisor(["start", "cli-c"]).status == 0)
        let list = try JSONSerialization.jsonObject(with: Data(try podvisor(["list", "--format", "json"]).stdout.utf8)) as! [[String: Any]]
        #expect(list.map { $0["status"] as? String } == ["running"])
        #expect(try podvisor(["delete", "cli-c"]).status == 1, "a running container is not deleted without --force")
        #expect(try podvisor(["kill", "--all", "cli-c", "9"]).status == 0)
        #expect(try podvisor(["delete", "-f", "cli-c"]).status == 0)
        #expect(try podvisor(["state", "cli-c"]).status == 1)
    }
}
