import CSeccomp
import Glibc
import PodvisorSpec

/// A seccomp filter compiled in the parent: classic BPF (`struct sock_filter` records of 8 bytes)
/// that the child loads with seccomp(SECCOMP_SET_MODE_FILTER, flags) as late as it can.
public struct CompiledSeccomp: Sendable, Equatable {
    public var program: [UInt8]
    /// SECCOMP_FILTER_FLAG_* passed to seccomp(2) at load time.
    public var flags: UInt32
    /// Names libseccomp does not know for the filter's architectures: skipped, as runc does.
    public var ignoredSyscalls: [String]

    public var instructionCount: Int { program.count / 8 }
}

/// Compiles the OCI `linux.seccomp` object with libseccomp. Every error names the field:
/// `/b/config.json: linux.seccomp.syscalls[3].action: "SCMP_ACT_NOPE": unknown seccomp action`.
public enum SeccompCompiler {
    /// The kernel's BPF_MAXINSNS: a longer program cannot be loaded.
    public static let maximumInstructions = 4096

    static let filterFlags: [String: UInt32] = [
        "SECCOMP_FILTER_FLAG_TSYNC": 1,
        "SECCOMP_FILTER_FLAG_LOG": 2,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
    ]

    static let operators: [String: scmp_compare] = [
        "SCMP_CMP_NE": SCMP_CMP_NE, "SCMP_CMP_LT": SCMP_CMP_LT, "SCMP_CMP_LE": SCMP_CMP_LE,
        "SCMP_CMP_EQ": SCMP_CMP_EQ, "SCMP_CMP_GE": SCMP_CMP_GE, "SCMP_CMP_GT": SCMP_CMP_GT,
        "SCMP_CMP_MASKED_EQ": SCMP_CMP_MASKED_EQ,
    ]

    public static func compile(_ profile: OCISeccomp, file: String) throws(SpecError) -> CompiledSeccomp {
        let at = "linux.seccomp"
        func fail(_ field: String, _ value: String?, _ reason: String) -> SpecError {
            SpecError(file: file, field: field, value: value, reason: reason)
        }
        let defaultAction = try action(profile.defaultAction, errnoRet: profile.defaultErrnoRet, field: "\(at).defaultAction", file: file)

        var flags: UInt32 = 0
        for (index, name) in (profile.flags ?? []).enumerated() {
            guard let bit = filterFlags[name] else { throw fail("\(at).flags[\(index)]", name, "unknown seccomp flag") }
            if name == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" {
                throw fail("\(at).flags[\(index)]", name, "only meaningful with SCMP_ACT_NOTIFY, which podvisor does not support")
            }
            flags |= bit
        }

        var architectures: [UInt32] = []
        for (index, name) in (profile.architectures ?? []).enumerated() {
            guard name.hasPrefix("SCMP_ARCH_"), OCISeccomp.architectureNames.contains(name) else {
                throw fail("\(at).architectures[\(index)]", name, "unknown architecture")
            }
            let token = seccomp_arch_resolve_name(String(name.dropFirst("SCMP_ARCH_".count)).lowercased())
            if token == 0 { throw fail("\(at).architectures[\(index)]", name, "architecture not supported by this libseccomp") }
            architectures.append(token)
        }

        // Check every rule before libseccomp sees any: the whole object is refused at once.
        struct Rule { var action: UInt32; var names: [String]; var args: [scmp_arg_cmp]; var separate: Bool; var index: Int }
        var rules: [Rule] = []
        for (index, call) in (profile.syscalls ?? []).enumerated() {
            let field = "\(at).syscalls[\(index)]"
            if call.names.isEmpty { throw fail("\(field).names", nil, "must not be empty") }
            let callAction = try action(call.action, errnoRet: call.errnoRet, field: "\(field).action", file: file)
            var args: [scmp_arg_cmp] = []
            var perIndex = [Int](repeating: 0, count: 6)
            for (j, arg) in (call.args ?? []).enumerated() {
                guard arg.index < 6 else { throw fail("\(field).args[\(j)].index", String(arg.index), "must be in 0...5") }
                guard let op = operators[arg.op] else { throw fail("\(field).args[\(j)].op", arg.op, "unknown operator") }
                perIndex[Int(arg.index)] += 1
                args.append(scmp_arg_cmp(arg: UInt32(arg.index), op: op, datum_a: arg.value, datum_b: arg.valueTwo ?? 0))
            }
            // A rule equal to the default action is a no-op, and libseccomp refuses it (runc skips it too).
            if callAction == defaultAction { continue }
            // Conditions on the same argument cannot all hold at once: as runc does, each becomes its own rule.
            rules.append(Rule(action: callAction, names: call.names, args: args, separate: perIndex.contains { $0 > 1 }, index: index))
        }

        guard let context = seccomp_init(defaultAction) else {
            throw fail(at, nil, "seccomp_init failed (libseccomp refused the default action)")
        }
        defer { seccomp_release(context) }
        // The child decides about no_new_privs; the bad-arch action stays libseccomp's (kill).
        _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0)
        for (index, token) in architectures.enumerated() {
            let rc = seccomp_arch_add(context, token)
            if rc < 0 && rc != -EEXIST {
                throw fail("\(at).architectures[\(index)]", profile.architectures![index], "libseccomp: \(String(cString: strerror(-rc)))")
            }
        }

        var ignored: [String] = []
        for rule in rules {
            for (j, name) in rule.names.enumerated() {
                let number = seccomp_syscall_resolve_name(name)
                if number == __NR_SCMP_ERROR {
                    ignored.append(name)
                    continue
                }
                let groups: [[scmp_arg_cmp]] = rule.separate ? rule.args.map { [$0] } : [rule.args]
                for conditions in groups {
                    let rc = conditions.withUnsafeBufferPointer { buffer in
                        seccomp_rule_add_array(context, rule.action, number, UInt32(buffer.count), buffer.baseAddress)
                    }
                    if rc < 0 {
                        throw fail("\(at).syscalls[\(rule.index)].names[\(j)]", name, "libseccomp refused the rule: \(String(cString: strerror(-rc)))")
                    }
                }
            }
        }

        let program = try export(context, file: file)
        if program.count / 8 > maximumInstructions {
            throw fail(at, nil, "the filter compiles to \(program.count / 8) BPF instructions; the kernel loads at most \(maximumInstructions)")
        }
        return CompiledSeccomp(program: program, flags: flags, ignoredSyscalls: ignored)
    }

    /// The libseccomp action for an OCI action name; ERRNO and TRACE take errnoRet (EPERM when absent).
    static func action(_ name: String, errnoRet: UInt32?, field: String, file: String) throws(SpecError) -> UInt32 {
        let code = (errnoRet ?? UInt32(EPERM)) & 0xffff
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return 0x0000_0000
        case "SCMP_ACT_KILL_PROCESS": return 0x8000_0000
        case "SCMP_ACT_TRAP": return 0x0003_0000
        case "SCMP_ACT_ERRNO": return 0x0005_0000 | code
        case "SCMP_ACT_TRACE": return 0x7ff0_0000 | code
        case "SCMP_ACT_ALLOW": return 0x7fff_0000
        case "SCMP_ACT_LOG": return 0x7ffc_0000
        case "SCMP_ACT_NOTIFY":
            throw SpecError(file: file, field: field, value: name, reason: "seccomp user notification needs a listener, which podvisor does not support")
        default:
            throw SpecError(file: file, field: field, value: name, reason: "unknown seccomp action")
        }
    }

    /// seccomp_export_bpf writes to an fd: a non-blocking pipe larger than any loadable program.
    private static func export(_ context: scmp_filter_ctx, file: String) throws(SpecError) -> [UInt8] {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw SpecError(file: file, field: "linux.seccomp", reason: "pipe: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        defer { close(fds[0]); if fds[1] >= 0 { close(fds[1]) } }
        // Room for more than BPF_MAXINSNS records, so that an oversized program is measured, not blocked on.
        _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, 256 * 1024)
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        let rc = seccomp_export_bpf(context, fds[1])
        close(fds[1])
        fds[1] = -1
        if rc < 0 {
            throw SpecError(file: file, field: "linux.seccomp", reason: "seccomp_export_bpf: \(String(cString: strerror(-rc)))")
        }
        var program: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            program += buffer[0..<n]
        }
        return program
    }
}

extension SeccompCompiler {
    /// `compile`, through a cache of compiled programs in `directory` (libseccomp takes about 10 ms
    /// for the default profile on three architectures; a cached program is one small read). Each
    /// file holds the whole canonical key before the program and is used only when the key matches
    /// byte for byte, so a crafted config cannot collide with another's entry. The directory must be
    /// ours and private (0700); otherwise the cache is skipped. Failures to cache are not errors.
    public static func compile(_ profile: OCISeccomp, file: String, cacheDirectory directory: String?) throws(SpecError) -> CompiledSeccomp {
        guard let directory, let key = cacheKey(profile), prepare(directory) else { return try compile(profile, file: file) }
        let path = directory + "/" + hexHash(key)
        if let cached = readCache(path, key: key) { return cached }
        let compiled = try compile(profile, file: file)
        var entry = Array(key.utf8) + [0]
        withUnsafeBytes(of: compiled.flags.littleEndian) { entry += $0 }
        entry += compiled.program
        let temporary = path + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            let written = entry.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            if written == entry.count { rename(temporary, path) } else { unlink(temporary) }
        }
        return compiled
    }

    /// Everything the program depends on: the object, the native architecture and libseccomp's version.
    static func cacheKey(_ profile: OCISeccomp) -> String? {
        guard let version = seccomp_version() else { return nil }
        var key = "v1 \(DefaultProfile.nativeArchitecture) libseccomp \(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)\n"
        key += "\(profile.defaultAction) \(profile.defaultErrnoRet.map(String.init) ?? "-")\n"
        key += "arch \((profile.architectures ?? []).joined(separator: ","))\nflags \((profile.flags ?? []).joined(separator: ","))\n"
        for call in profile.syscalls ?? [] {
            key += "\(call.action) \(call.errnoRet.map(String.init) ?? "-") \(call.names.joined(separator: ","))"
            for arg in call.args ?? [] { key += " [\(arg.index) \(arg.op) \(arg.value) \(arg.valueTwo.map(String.init) ?? "-")]" }
            key += "\n"
        }
        return key.utf8.contains(0) ? nil : key
    }

    private static func hexHash(_ key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: names the file only, the key is compared in full
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }

    private static func prepare(_ directory: String) -> Bool {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { return false }
        var info = stat()
        return lstat(directory, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR && info.st_uid == geteuid() && info.st_mode & 0o077 == 0
    }

    private static func readCache(_ path: String, key: String) -> CompiledSeccomp? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        let keyBytes = Array(key.utf8)
        guard bytes.count >= keyBytes.count + 5, bytes[keyBytes.count] == 0, bytes.starts(with: keyBytes) else { return nil }
        let rest = bytes[(keyBytes.count + 1)...]
        let flags = rest.prefix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let program = Array(rest.dropFirst(4))
        guard !program.isEmpty, program.count % 8 == 0 else { return nil }
        return CompiledSeccomp(program: program, flags: flags, ignoredSyscalls: [])
    }
}
