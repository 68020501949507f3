import FoundationEssentials
import Testing
@testable import PodvisorSpec

private func decode(_ json: String, file: String = "/b/config.json") throws(SpecError) -> OCIConfig {
    try OCIConfig.decode(Data(json.utf8), file: file)
}

private func decodeError(_ json: String) -> String? {
    do { _ = try decode(json); return nil } catch { return error.description }
}

@Suite struct DecodingTests {
    @Test func podmanConfigDecodesWithExactValues() throws {
        let c = try decode(podmanConfig)
        #expect(c.ociVersion == "1.0.2-dev")
        #expect(c.process?.user.additionalGids?.count == 11)
        #expect(c.process?.rlimits?[1] == .init(.nproc, hard: 4_194_304, soft: 4_194_304))
        #expect(c.hooks?.prestart?.first?.timeout == 10)
        #expect(c.hooks?.createRuntime?.first?.path == "/usr/bin/nvidia-container-runtime-hook")
        #expect(c.linux?.resources?.memory?.reservation == -1)
        #expect(c.linux?.resources?.memory?.limit == 536_870_912)
        #expect(c.linux?.resources?.devices?[2].minor == nil)
        #expect(c.linux?.resources?.blockIO?.throttleWriteIOPSDevice?.first?.rate == 1000)
        #expect(c.linux?.seccomp?.syscalls?[4].args?.first?.value == UInt64.max)
        #expect(c.linux?.seccomp?.defaultErrnoRet == 38)
        #expect(c.linux?.namespaces?[1] == .init(.network, path: "/run/netns/netns-1b2c"))
        #expect(c.linux?.devices?.first?.fileMode == 0o666)
        #expect(c.annotations?["io.container.manager"] == "libpod")
        try c.validate(file: "/b/config.json", forCreate: true)
    }

    @Test func fullConfigRoundTrips() throws {
        let c = try decode(podmanConfig)
        let encoded = c.jsonData()
        let again = try OCIConfig.decode(encoded, file: "re-encoded")
        #expect(again == c)
        // Stable output: encoding twice gives identical bytes (keys are sorted).
        #expect(again.jsonData() == encoded)
        let text = String(decoding: encoded, as: UTF8.self)
        #expect(!text.contains("null"))
        #expect(!text.contains("futureFeature"))
        #expect(text.contains("\"cgroupsPath\" : \"machine.slice:libpod:5b0a3c4e9d1f\""))
        #expect(text.contains("18446744073709551615"))
        #expect(text.hasPrefix("{\n  \"annotations\" : {\n    \"io.container.manager\""))
    }

    @Test func encodingOmitsNilFields() {
        let c = OCIConfig(root: OCIRoot(path: "rootfs"))
        let text = String(decoding: c.jsonData(), as: UTF8.self)
        #expect(text.contains("\"path\" : \"rootfs\""))
        for absent in ["process", "hostname", "readonly", "linux", "mounts", "null"] {
            #expect(!text.contains(absent), "\(absent) should be omitted")
        }
    }

    @Test func unknownKeysAreIgnoredAtEveryLevel() throws {
        let c = try decode(#"""
            {"ociVersion": "1.2.0", "x-extra": [1, {"a": null}], "root": {"path": "r", "weird": 1},
             "process": {"cwd": "/", "user": {"uid": 5, "gid": 6, "sid": 9}, "args": ["a"], "later": {}}}
            """#)
        #expect(c.process?.user == .init(uid: 5, gid: 6))
        #expect(c.root == OCIRoot(path: "r"))
    }

    @Test func malformedJSONNamesFileLineAndColumn() {
        let d = decodeError("{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": {\"path\": \"r\",}\n}")
        #expect(d == "/b/config.json:3:24: invalid JSON: expected a string key")
        #expect(decodeError("") == "/b/config.json:1:1: invalid JSON: unexpected end of input, expected a value")
        #expect(decodeError("{} x")?.hasPrefix("/b/config.json:1:4: invalid JSON") == true)
    }

    @Test func wrongTypesNameTheFieldAndValue() {
        let base = #""ociVersion": "1.0.0", "root": {"path": "r"}"#
        #expect(decodeError("{\(base), \"process\": {\"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}, \"args\": \"sh\"}}")
            == #"/b/config.json: process.args: "sh": expected an array, found a string"#)
        #expect(decodeError(#"{"ociVersion": "1.0.0", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "rlimits": [{"type": "RLIMIT_CORE", "hard": 1, "soft": 1}, {"type": "RLIMIT_NOFILE", "hard": -1, "soft": 1}]}}"#)
            == #"/b/config.json: process.rlimits[1].hard: "-1": expected a non-negative integer up to 18446744073709551615"#)
        #expect(decodeError("{\(base), \"process\": {\"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}, \"oomScoreAdj\": 1.5}}")
            == #"/b/config.json: process.oomScoreAdj: "1.5": expected an integer in -9223372036854775808...9223372036854775807"#)
        #expect(decodeError(#"{"ociVersion": "1.0.0", "root": {"readonly": true}}"#)
            == "/b/config.json: root.path: required field is missing")
        #expect(decodeError("{\(base), \"linux\": {\"sysctl\": {\"net.ipv4.ip_forward\": 1}}}")
            == #"/b/config.json: linux.sysctl["net.ipv4.ip_forward"]: "1": expected a string, found a number"#)
        #expect(decodeError("[1]") == "/b/config.json: (top level): expected an object, found an array")
        #expect(decodeError("{\(base), \"mounts\": [{\"destination\": \"/x\", \"options\": [\"ro\", true]}]}")
            == #"/b/config.json: mounts[0].options[1]: "true": expected a string, found a boolean"#)
    }

    @Test func loadReadsBundleAndReportsMissingFile() throws {
        let dir = "/tmp/podvisor-spec-test-\(UInt64.random(in: 0...UInt64.max))"
        let missing = dir + "/nope"
        #expect(throws: SpecError(file: missing + "/config.json", reason: "cannot open: No such file or directory")) {
            try OCIConfig.load(bundle: missing)
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(podmanConfig.utf8).write(to: URL(filePath: dir + "/config.json"))
        let c = try OCIConfig.load(bundle: dir + "/")
        #expect(c.hostname == "5b0a3c4e9d1f")
        // A directory where the file should be.
        try FileManager.default.createDirectory(atPath: dir + "/d/config.json", withIntermediateDirectories: true)
        #expect(throws: SpecError(file: dir + "/d/config.json", reason: "not a regular file")) {
            try OCIConfig.load(bundle: dir + "/d")
        }
    }

    @Test func stateMatchesRuncFieldsAndTimestamps() throws {
        let s = OCIState(id: "c1", pid: 42, status: .running, bundle: "/b", rootfs: "/b/rootfs",
                         created: OCIState.rfc3339(seconds: 1_709_288_130, nanoseconds: 123_456_000), owner: "")
        #expect(s.created == "2024-03-01T10:15:30.123456Z")
        #expect(OCIState.rfc3339(seconds: 0) == "1970-01-01T00:00:00Z")
        #expect(OCIState.rfc3339(seconds: 951_782_400, nanoseconds: 5) == "2000-02-29T00:00:00.000000005Z")
        let text = String(decoding: s.jsonData(), as: UTF8.self)
        #expect(text.contains("\"status\" : \"running\""))
        #expect(!text.contains("annotations"))
        #expect(try OCIState.decode(s.jsonData(), file: "state.json") == s)
        #expect(throws: SpecError.self) {
            try OCIState.decode(Data(#"{"ociVersion":"1","id":"x","pid":1,"status":"zombie","bundle":"","rootfs":"","created":"","owner":""}"#.utf8), file: "s")
        }
    }

    @Test func rlimitAndNamespaceNumbers() {
        #expect(RlimitType.nofile.resource == 7)
        #expect(RlimitType(rawValue: "RLIMIT_AS")?.resource == 9)
        #expect(RlimitType(resource: 15) == .rttime)
        #expect(Set(RlimitType.allCases.map(\.resource)) == Set(0...15))
        #expect(NamespaceType.network.cloneFlag == 0x4000_0000 && NamespaceType.mount.procName == "mnt")
        #expect(Capability.number("CAP_KILL") == 5 && Capability.number("CAP_CHECKPOINT_RESTORE") == 40)
        #expect(Capability.number("CAP_NOPE") == nil)
    }
}
