import ArgumentParser
import FoundationEssentials
import Glibc
import PodvisorEngine
import PodvisorLinux

/// runc's global flags. They come before the subcommand (`podvisor --root R create ...`), as
/// containerd's shim and conmon pass them; every subcommand includes this group to read them.
public struct GlobalOptions: ParsableArguments {
    @Option(help: "Root directory for container state.")
    var root: String = StateStore.defaultRoot

    @Option(help: "Log file for errors (containerd and conmon read it).")
    var log: String?

    @Option(name: .customLong("log-format"), help: "Log format: text or json.")
    var logFormat: LogFormat = .text

    @Flag(help: "Log debug information.")
    var debug = false

    @Flag(name: .customLong("systemd-cgroup"), help: "Use the systemd cgroup driver (not available: no systemd here).")
    var systemdCgroup = false

    @Option(help: .hidden)
    var criu: String?


    public init() {}

    /// The parsed values, as a plain value the command bodies (and the fast path) use.
    var globals: Globals { Globals(root: root, log: log, logFormat: logFormat, debug: debug, systemdCgroup: systemdCgroup) }
}

enum LogFormat: String, ExpressibleByArgument { case text, json }

/// The global options' values.
struct Globals {
    var root = StateStore.defaultRoot
    var log: String?
    var logFormat = LogFormat.text
    var debug = false
    var systemdCgroup = false

    var runtime: Runtime { Runtime(root: root) }

    /// Refuses what this runtime cannot honour, before any side effect.
    func check() throws(CLIError) {
        if systemdCgroup {
            throw CLIError("--systemd-cgroup: the systemd cgroup driver needs systemd as PID 1 and D-Bus, and this host has neither; use the cgroupfs driver (podman --cgroup-manager cgroupfs)")
        }
    }

    /// Writes an error to stderr and, with --log, to the log file (runc's JSON lines for json).
    func report(_ message: String, level: String = "error") {
        FileHandleOutput.standardError("podvisor: \(message)\n")
        guard let log else { return }
        let line: String
        switch logFormat {
        case .json:
            line = "{\"level\":\"\(level)\",\"msg\":\(JSONString.quote(message)),\"time\":\"\(Runtime.timestamp())\"}\n"
        case .text:
            line = "time=\"\(Runtime.timestamp())\" level=\(level) msg=\(JSONString.quote(message))\n"
        }
        let fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        FileHandleOutput.write(fd, line)
        close(fd)
    }
}

/// An error of the command line itself (its message is the whole story).
public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

enum FileHandleOutput {
    static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }

    static func standardOutput(_ text: String) { write(1, text) }
    static func standardError(_ text: String) { write(2, text) }
}
