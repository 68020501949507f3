import Testing
@testable import PodvisorSpec

struct BadConfig: Sendable, CustomTestStringConvertible {
    let expected: String
    let change: @Sendable (inout OCIConfig) -> Void
    init(_ expected: String, _ change: @escaping @Sendable (inout OCIConfig) -> Void) {
        self.expected = expected
        self.change = change
    }
    var testDescription: String { expected }
}

private func valid() -> OCIConfig {
    var c = OCIConfig.defaultSpec(rootless: false, cgroupNamespace: true)
    c.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
    return c
}

@Suite struct ValidationTests {
    static let cases: [BadConfig] = [
        .init(#"/b/config.json: ociVersion: "2.0.0": unsupported version"#) { $0.ociVersion = "2.0.0" },
        .init(#"/b/config.json: ociVersion: "1.0": unsupported version"#) { $0.ociVersion = "1.0" },
        .init("/b/config.json: root: is required") { $0.root = nil },
        .init(#"/b/config.json: root.path: "": must not be empty"#) { $0.root?.path = "" },
        .init("/b/config.json: process: is required") { $0.process = nil },
        .init("/b/config.json: process.args: must not be empty") { $0.process?.args = [] },
        .init(#"/b/config.json: process.cwd: "tmp": must be an absolute path"#) { $0.process?.cwd = "tmp" },
        .init(#"/b/config.json: process.env[1]: "NOVALUE": must be of the form KEY=value"#) {
            $0.process?.env = ["A=1", "NOVALUE"]
        },
        .init(#"/b/config.json: process.rlimits[1].type: "RLIMIT_FOO": unknown rlimit type"#) {
            $0.process?.rlimits?.append(.init(type: "RLIMIT_FOO", hard: 1, soft: 1))
        },
        .init(#"/b/config.json: process.rlimits[1].type: "RLIMIT_NOFILE": duplicate rlimit type"#) {
            $0.process?.rlimits?.append(.init(.nofile, hard: 1, soft: 1))
        },
        .init(#"/b/config.json: process.rlimits[0].soft: "2048": greater than the hard limit 1024"#) {
            $0.process?.rlimits?[0].soft = 2048
        },
        .init(#"/b/config.json: process.oomScoreAdj: "1001": must be in -1000...1000"#) { $0.process?.oomScoreAdj = 1001 },
        .init(#"/b/config.json: linux.namespaces[6].type: "net": unknown namespace type"#) {
            $0.linux?.namespaces?.append(.init(type: "net"))
        },
        .init(#"/b/config.json: linux.namespaces[6].type: "pid": duplicate namespace type"#) {
            $0.linux?.namespaces?.append(.init(.pid))
        },
        .init(#"/b/config.json: hostname: "runc": requires a new uts namespace (one without a path)"#) {
            $0.linux?.namespaces?.removeAll { $0.type == "uts" }
        },
        .init(#"/b/config.json: domainname: "example.org": requires a new uts namespace (one without a path)"#) {
            $0.hostname = nil
            $0.domainname = "example.org"
            let joined = $0.linux?.namespaces?.map { $0.type == "uts" ? OCILinux.Namespace(.uts, path: "/proc/1/ns/uts") : $0 }
            $0.linux?.namespaces = joined
        },
        .init(#"/b/config.json: mounts[2].destination: "dev/pts": must be an absolute path"#) {
            $0.mounts?[2].destination = "dev/pts"
        },
        .init(#"/b/config.json: mounts[0].options[1]: "": invalid mount option"#) { $0.mounts?[0].options = ["ro", ""] },
        .init("/b/config.json: mounts[7].source: a bind mount requires a source") {
            $0.mounts?.append(.init(destination: "/data", options: ["rbind", "ro"]))
        },
        .init(#"/b/config.json: linux.rootfsPropagation: "rsharde": unknown propagation (want one of private, rprivate, rshared, rslave, runbindable, shared, slave, unbindable)"#) {
            $0.linux?.rootfsPropagation = "rsharde"
        },
        .init("/b/config.json: linux.uidMappings: requires a user namespace") {
            $0.linux?.uidMappings = [.init(containerID: 0, hostID: 1000, size: 1)]
        },
        .init(#"/b/config.json: linux.gidMappings[0].size: "0": must be greater than 0"#) {
            $0.linux?.namespaces?.append(.init(.user))
            $0.linux?.uidMappings = [.init(containerID: 0, hostID: 1000, size: 1)]
            $0.linux?.gidMappings = [.init(containerID: 0, hostID: 1000, size: 0)]
        },
        .init("/b/config.json: linux.gidMappings: required with a new user namespace") {
            $0.linux?.namespaces?.append(.init(.user))
            $0.linux?.uidMappings = [.init(containerID: 0, hostID: 1000, size: 1)]
        },
        .init(#"/b/config.json: linux.sysctl: "net..ipv4": invalid sysctl name"#) { $0.linux?.sysctl = ["net..ipv4": "1"] },
        .init(#"/b/config.json: linux.sysctl: "net/ipv4/../x": invalid sysctl name"#) { $0.linux?.sysctl = ["net/ipv4/../x": "1"] },
        .init(#"/b/config.json: linux.sysctl: "vm.swappiness": not in a namespace the container owns"#) {
            $0.linux?.sysctl = ["vm.swappiness": "1"]
        },
        .init(#"/b/config.json: linux.sysctl: "kernel.shmmax": requires an ipc namespace"#) {
            $0.linux?.sysctl = ["kernel.shmmax": "1"]
            $0.linux?.namespaces?.removeAll { $0.type == "ipc" }
        },
        .init("/b/config.json: linux.timeOffsets: requires a time namespace") {
            $0.linux?.timeOffsets = ["monotonic": .init(secs: 10)]
        },
        .init(#"/b/config.json: linux.cgroupsPath: "/a/../b": must not contain "..""#) { $0.linux?.cgroupsPath = "/a/../b" },
        .init(#"/b/config.json: linux.resources.memory.limit: "-2": must be -1 (unlimited) or a byte count"#) {
            $0.linux?.resources?.memory = .init(limit: -2)
        },
        .init(#"/b/config.json: linux.resources.devices[0].access: "rwx": must be a combination of r, w and m"#) {
            $0.linux?.resources?.devices?[0].access = "rwx"
        },
        .init(#"/b/config.json: linux.seccomp.syscalls[0].args[0].op: "SCMP_CMP_LIKE": unknown operator"#) {
            $0.linux?.seccomp = .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                .init(names: ["clone"], action: "SCMP_ACT_ERRNO", args: [.init(index: 0, value: 1, op: "SCMP_CMP_LIKE")]),
            ])
        },
        .init("/b/config.json: linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY") {
            $0.linux?.seccomp = .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["mount"], action: "SCMP_ACT_NOTIFY")])
        },
        .init(#"/b/config.json: hooks.poststop[1].path: "hook.sh": must be an absolute path"#) {
            $0.hooks = .init(poststop: [.init(path: "/bin/true"), .init(path: "hook.sh")])
        },
    ]

    @Test(arguments: cases)
    func eachErrorNamesFieldAndValue(_ bad: BadConfig) {
        var c = valid()
        bad.change(&c)
        let errors = c.validationErrors(file: "/b/config.json", forCreate: true)
        #expect(errors.map(\.description) == [bad.expected])
    }

    @Test func baseConfigIsValid() throws {
        try valid().validate(file: "/b/config.json", forCreate: true)
    }

    @Test func processIsOptionalUnlessCreating() throws {
        var c = valid()
        c.process = nil
        try c.validate(file: "x", forCreate: false)
        #expect(throws: SpecError(file: "x", field: "process", reason: "is required")) {
            try c.validate(file: "x", forCreate: true)
        }
    }

    @Test func versionsWithPrereleaseAndBuildAreAccepted() {
        for v in ["1.0.0", "1.0.2-dev", "1.1.0-rc.1", "1.2.0+build.5"] { #expect(OCIConfig.isSupportedVersion(v), "\(v)") }
        for v in ["0.9.0", "1.0", "v1.0.0", "1.x.0", "", "1.0.0.0"] { #expect(!OCIConfig.isSupportedVersion(v), "\(v)") }
    }

    @Test func containerIDRule() throws {
        for id in ["abc", "a.b_c+d-e", "1", ".a", String(repeating: "x", count: 1024)] { try ContainerID.validate(id) }
        #expect(throws: SpecError.self) { try ContainerID.validate("") }
        #expect(throws: SpecError.self) { try ContainerID.validate(String(repeating: "x", count: 1025)) }
        for id in [".", "..", "a/b", "a b", "ü", "a\0b"] {
            #expect(throws: SpecError.self, "\(id)") { try ContainerID.validate(id) }
        }
        do {
            try ContainerID.validate("a/b")
            Issue.record("accepted a/b")
        } catch {
            #expect(error.description == #"container id "a/b": must match [a-zA-Z0-9_+.-]+ and not be . or .."#)
        }
    }

    @Test func errorDescriptionQuotesControlCharacters() {
        let e = SpecError(file: "f", field: "process.env[0]", value: "A\n\"B\"\u{1}", reason: "r")
        #expect(e.description == #"f: process.env[0]: "A\n\"B\"\x01": r"#)
    }
}
