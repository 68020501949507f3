import Foundation

/// The outcome of one command: exit status (128+signal when killed by a signal), output, errors.
struct CommandResult: CustomStringConvertible, Sendable {
    var argv: [String]
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool

    var description: String {
        "`\(argv.joined(separator: " "))` -> status \(status)\(timedOut ? " (timed out)" : "")\n"
            + "stdout: \(stdout)\nstderr: \(stderr)"
    }
}

struct CommandError: Error, CustomStringConvertible {
    var result: CommandResult
    var description: String { "command failed: \(result)" }
}

/// Runs commands with posix_spawn and waitpid. (Foundation's Process was tried first: on Linux
/// its termination monitoring left exited children unreaped, hanging the tests.) Output goes
/// to temporary files (no pipe deadlocks, and a daemon the command leaves behind holding the
/// output cannot block us); a command that outlives `timeout` is killed, so a hanging runtime
/// fails a test instead of hanging CI.
enum Command {
    static func run(
        _ argv: [String],
        environment: [String: String]? = nil,
        stdin: String? = nil,
        timeout: TimeInterval = 120
    ) throws -> CommandResult {
        precondition(!argv.isEmpty)
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("podvisor-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        let inURL = scratch.appendingPathComponent("stdin")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: inURL.path, contents: Data((stdin ?? "").utf8))

        let executable = try resolve(argv[0], environment: environment)
        var env = ProcessInfo.processInfo.environment
        if let environment { env.merge(environment) { _, new in new } }
        let pid = try spawn(executable, argv, env: env, stdin: inURL.path, stdout: outURL.path, stderr: errURL.path)

        // A timer kills a command that outlives `timeout`; waitpid blocks until it ends.
        let killed = TimeoutFlag()
        let timer = DispatchWorkItem { killed.set(); kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
        timer.cancel()
        let timedOut = killed.value
        // WIFEXITED / WEXITSTATUS / WTERMSIG, written out (the C macros are not imported).
        let signal = raw & 0x7f
        let status: Int32 = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        return CommandResult(
            argv: argv,
            status: status,
            stdout: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
            stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self),
            timedOut: timedOut)
    }

    /// Runs and requires exit status 0; returns stdout without its trailing newline.
    @discardableResult
    static func check(
        _ argv: [String], environment: [String: String]? = nil, stdin: String? = nil,
        timeout: TimeInterval = 120
    ) throws -> String {
        let result = try run(argv, environment: environment, stdin: stdin, timeout: timeout)
        guard result.status == 0 else { throw CommandError(result: result) }
        return result.stdout.trimmingCharacters(in: .newlines)
    }

    /// The absolute path of an executable: as given when it contains a slash, else found on PATH.
    static func which(_ name: String, environment: [String: String]? = nil) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = environment?["PATH"] ?? ProcessInfo.processInfo.environment["PATH"]
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func resolve(_ name: String, environment: [String: String]?) throws -> String {
        guard let path = which(name, environment: environment) else {
            throw CommandError(result: CommandResult(
                argv: [name], status: 127, stdout: "", stderr: "\(name): not found", timedOut: false))
        }
        return path
    }
}

private final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    func set() { lock.lock(); fired = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return fired }
}

/// posix_spawn with stdin/stdout/stderr opened from files, default signal dispositions and
/// an empty signal mask (the test runner's blocked signals must not leak into runtimes).
private func spawn(
    _ path: String, _ argv: [String], env: [String: String],
    stdin: String, stdout: String, stderr: String
) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_TRUNC, 0o644)

    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var empty = sigset_t(); sigemptyset(&empty)
    var all = sigset_t(); sigfillset(&all)
    posix_spawnattr_setsigmask(&attr, &empty)
    posix_spawnattr_setsigdefault(&attr, &all)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, &attr, cArgs, cEnv)
    guard rc == 0 else {
        throw CommandError(result: CommandResult(
            argv: argv, status: 127, stdout: "", stderr: "posix_spawn \(path): \(String(cString: strerror(rc)))",
            timedOut: false))
    }
    return pid
}
