import ArgumentParser
import PodvisorEngine

/// The lifecycle commands podman, conmon and containerd's shim call for every container, parsed by hand.
///
/// Why: ArgumentParser finds a command's arguments by reflection, and in a static binary of this size its
/// protocol-conformance lookups cost about 2 ms per call (measured with perf: 46% of a `state` call),
/// a quarter of crun's whole `run`. This recognises exactly runc's flags for create, start, state, kill,
/// delete and run, and runs the same command bodies; anything else (help, an unknown or malformed flag,
/// other commands) returns nil and goes to ArgumentParser, which owns help and diagnostics.
public enum FastPath {
    /// Runs the command and returns its exit status, or nil when ArgumentParser must handle it.
    public static func run(_ arguments: [String]) -> Int32? {
        var scanner = Scanner(arguments: arguments)
        guard let global = scanner.globalOptions(), let command = scanner.next() else { return nil }
        do {
            switch command {
            case "create":
                guard let (options, _) = scanner.createOptions(allowDetach: false), let id = scanner.lastPositional(count: 1)?[0] else { return nil }
                try Create.execute(global, options, id: id)
            case "run":
                guard let (options, detach) = scanner.createOptions(allowDetach: true), let id = scanner.lastPositional(count: 1)?[0] else { return nil }
                try Run.execute(global, options, id: id, detach: detach)
            case "start":
                guard let id = scanner.lastPositional(count: 1)?[0] else { return nil }
                try Start.execute(global, id: id)
            case "state":
                guard let id = scanner.lastPositional(count: 1)?[0] else { return nil }
                try State.execute(global, id: id)
            case "kill":
                let all = scanner.flag("-a", "--all")
                guard let positional = scanner.lastPositional(count: 1...2) else { return nil }
                try Kill.execute(global, id: positional[0], signal: positional.count > 1 ? positional[1] : "TERM", all: all)
            case "delete":
                let force = scanner.flag("-f", "--force")
                guard let id = scanner.lastPositional(count: 1)?[0] else { return nil }
                try Delete.execute(global, id: id, force: force)
            default:
                return nil
            }
            return 0
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch {
            return 1
        }
    }

    private struct Scanner {
        var arguments: ArraySlice<String>

        init(arguments: [String]) { self.arguments = arguments[...] }

        mutating func next() -> String? { arguments.popFirst() }

        /// `--name value` or `--name=value`; nil when the flag is absent, .some(nil) when its value is missing.
        mutating func value(_ names: String...) -> String?? {
            guard let first = arguments.first else { return nil }
            for name in names {
                if first == name {
                    arguments.removeFirst()
                    return .some(arguments.popFirst())
                }
                if first.hasPrefix(name + "=") {
                    arguments.removeFirst()
                    return .some(String(first.dropFirst(name.count + 1)))
                }
            }
            return nil
        }

        mutating func flag(_ names: String...) -> Bool {
            guard let first = arguments.first, names.contains(first) else { return false }
            arguments.removeFirst()
            return true
        }

        mutating func globalOptions() -> Globals? {
            var global = Globals()
            while let first = arguments.first, first.hasPrefix("-") {
                if let root = value("--root") { guard let root else { return nil }; global.root = root }
                else if let log = value("--log") { guard let log else { return nil }; global.log = log }
                else if let format = value("--log-format") {
                    guard let format, let parsed = LogFormat(rawValue: format) else { return nil }
                    global.logFormat = parsed
                }
                else if flag("--debug") { global.debug = true }
                else { return nil }  // --systemd-cgroup, --help, --version...: ArgumentParser's
            }
            return global
        }

        mutating func createOptions(allowDetach: Bool) -> (Runtime.CreateOptions, Bool)? {
            var options = Runtime.CreateOptions(bundle: ".")
            var detach = false
            while let first = arguments.first, first.hasPrefix("-") {
                if let bundle = value("--bundle", "-b") { guard let bundle else { return nil }; options.bundle = bundle }
                else if let pidFile = value("--pid-file") { guard let pidFile else { return nil }; options.pidFile = pidFile }
                else if let count = value("--preserve-fds") {
                    guard let count, let number = Int32(count), number >= 0 else { return nil }
                    options.preserveFDs = number
                }
                else if flag("--no-pivot", "--no-new-keyring") {}
                else if allowDetach, flag("--detach", "-d") { detach = true }
                else { return nil }
            }
            return (options, detach)
        }

        /// The remaining arguments, when they are exactly `count` positionals.
        func lastPositional(count: Int) -> [String]? { lastPositional(count: count...count) }

        func lastPositional(count: ClosedRange<Int>) -> [String]? {
            let rest = Array(arguments)
            guard count.contains(rest.count), !rest.contains(where: { $0.hasPrefix("-") && $0 != "-" }) else { return nil }
            return rest
        }
    }
}
