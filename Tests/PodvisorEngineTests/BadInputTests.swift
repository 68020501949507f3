import Foundation
import Glibc
import PodvisorLinux
import PodvisorSpec
import Testing
@testable import PodvisorEngine

/// Every bad input fails with an error that names the file, field and value, and leaves nothing behind.
@Suite("Bad input", .enabled(if: isRoot, "needs root"), .enabled(if: hasRootfs, "needs the default rootfs: run Rootfs/build"))
struct BadInputTests {
    /// Runs `create`, expects it to fail with a message containing every fragment, and checks for leftovers.
    func expectRefusal(_ sandbox: Sandbox, id: String, _ fragments: [String]) {
        var message = ""
        do {
            try sandbox.runtime.create(id: id, options: .init(bundle: sandbox.bundle))
            try? sandbox.runtime.delete(id: id, force: true)
        } catch {
            message = error.description
        }
        for fragment in fragments { #expect(message.contains(fragment), "\(message)") }
        #expect(sandbox.leftovers(id) == [])
    }

    @Test func malformedConfig() throws {
        let sandbox = try Sandbox(["/bin/true"])
        defer { sandbox.finish() }
        try sandbox.writeConfigText("{\"ociVersion\": \"1.2.0\", \"process\": ")
        expectRefusal(sandbox, id: uniqueID("malformed"), [sandbox.bundle + "/config.json"])
    }

    @Test func unknownVersion() throws {
        let sandbox = try Sandbox(["/bin/true"]) { $0.ociVersion = "2.0.0" }
        defer { sandbox.finish() }
        expectRefusal(sandbox, id: uniqueID("version"), ["config.json", "ociVersion", "2.0.0"])
    }

    @Test func missingRootfs() throws {
        let sandbox = try Sandbox(["/bin/true"]) { $0.root = OCIRoot(path: "no-such-rootfs") }
        defer { sandbox.finish() }
        expectRefusal(sandbox, id: uniqueID("rootfs"), ["config.json", "root.path", "no-such-rootfs"])
    }

    @Test func missingProgram() throws {
        let sandbox = try Sandbox(["/bin/no-such-program"])
        defer { sandbox.finish() }
        expectRefusal(sandbox, id: uniqueID("program"), ["exec(/bin/no-such-program): No such file or directory"])
    }

    /// Without CAP_SYS_RESOURCE (this project's machines) no hard limit can be raised; with it (a VM), it can.
    static let canRaiseHardLimits = (try? FileIO.read("/proc/self/status"))?
        .split(separator: "\n").first { $0.hasPrefix("CapEff:") }
        .flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }
        .map { $0 & (1 << 24) != 0 } ?? false

    @Test(.enabled(if: !canRaiseHardLimits, "root here has CAP_SYS_RESOURCE and may raise hard limits"))
    func rlimitAboveTheHardLimit() throws {
        var current = rlimit()
        getrlimit(__rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue)), &current)
        let sandbox = try Sandbox(["/bin/true"]) {
            $0.process?.rlimits = [.init(type: "RLIMIT_NOFILE", hard: UInt64(current.rlim_max) + 1, soft: 1024)]
        }
        defer { sandbox.finish() }
        expectRefusal(sandbox, id: uniqueID("rlimit"), ["config.json", "process.rlimits[0].hard", String(current.rlim_max + 1)])
    }

    @Test(arguments: ["a/b", "..", ".", "", "bad id"])
    func invalidContainerID(_ id: String) throws {
        let sandbox = try Sandbox(["/bin/true"])
        defer { sandbox.finish() }
        #expect(throws: EngineError.self) { try sandbox.runtime.create(id: id, options: .init(bundle: sandbox.bundle)) }
        #expect((try? FileManager.default.contentsOfDirectory(atPath: sandbox.directory + "/state")) ?? [] == [])
    }

    @Test func duplicateID() throws {
        let sandbox = try Sandbox(["/bin/sleep", "1000"])
        defer { sandbox.finish() }
        let id = uniqueID("duplicate")
        let first = try sandbox.runtime.create(id: id, options: .init(bundle: sandbox.bundle))
        defer { try? sandbox.runtime.delete(id: id, force: true) }
        #expect(throws: EngineError.self) { try sandbox.runtime.create(id: id, options: .init(bundle: sandbox.bundle)) }
        // The first container is untouched.
        #expect(try sandbox.runtime.state(id: id).pid == Int(first.pid))
        #expect(try sandbox.runtime.state(id: id).status == .created)
    }

    @Test func unknownSignalAndMissingContainer() throws {
        let sandbox = try Sandbox(["/bin/sleep", "1000"])
        defer { sandbox.finish() }
        let id = uniqueID("signal")
        try sandbox.runtime.create(id: id, options: .init(bundle: sandbox.bundle))
        defer { try? sandbox.runtime.delete(id: id, force: true) }
        #expect { try sandbox.runtime.kill(id: id, signal: "SIGNOPE") } throws: { "\($0)" == "unknown signal \"SIGNOPE\"" }
        #expect(try sandbox.runtime.state(id: id).status == .created)
        #expect { try sandbox.runtime.state(id: "pv-absent") } throws: { "\($0)" == "container \"pv-absent\" does not exist" }
        #expect { try sandbox.runtime.start(id: "pv-absent") } throws: { "\($0)" == "container \"pv-absent\" does not exist" }
    }
}
