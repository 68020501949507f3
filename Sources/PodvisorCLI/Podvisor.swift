import ArgumentParser
import Glibc
import PodvisorEngine
import PodvisorLinux
import PodvisorSecurity
import PodvisorSpec

/// `podvisor`: a runc-compatible command line over the Podvisor engine.
public struct PodvisorCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "podvisor",
        abstract: "A container runtime for pods, with a runc-compatible command line.",
        version: "podvisor version \(PodvisorVersion.current)\nspec: \(OCIConfig.specVersion)",
        subcommands: [Create.self, Start.self, State.self, Kill.self, Delete.self, Run.self, List.self, Spec.self, PodCommand.self, PlotCommand.self]
    )

    @OptionGroup var global: GlobalOptions

    public init() {}
}

public enum PodvisorVersion {
    public static let current = "0.1.0"
}

/// Runs a command body, turning its errors into a one-line report and exit status 1.
func reporting(_ global: Globals, _ body: () throws -> Void) throws {
    do {
        try global.check()
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        global.report(String(describing: error))
        throw ExitCode(1)
    }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a container; its process waits for `start`.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var create: CreateFlags
    @Argument(help: "The container id.") var id: String

    func run() throws { try Self.execute(global.globals, create.options, id: id) }

    static func execute(_ global: Globals, _ options: Runtime.CreateOptions, id: String) throws {
        try reporting(global) { try global.runtime.create(id: id, options: options) }
    }
}

/// The flags `create` and `run` share with runc.
struct CreateFlags: ParsableArguments {
    @Option(name: [.short, .long], help: "Path to the bundle (the directory with config.json).")
    var bundle: String = "."
    @Option(name: .customLong("pid-file"), help: "File to write the container's pid to.")
    var pidFile: String?
    @Option(name: .customLong("console-socket"), help: .hidden)
    var consoleSocket: String?
    @Option(name: .customLong("preserve-fds"), help: "Pass N more fds (3..3+N-1) to the container.")
    var preserveFDs: Int32 = 0
    @Flag(name: .customLong("no-pivot"), help: .hidden) var noPivot = false
    @Flag(name: .customLong("no-new-keyring"), help: .hidden) var noNewKeyring = false

    var options: Runtime.CreateOptions {
        Runtime.CreateOptions(bundle: bundle, pidFile: pidFile, preserveFDs: preserveFDs)
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start a created container.")
    @OptionGroup var global: GlobalOptions
    @Argument var id: String

    func run() throws { try Self.execute(global.globals, id: id) }

    static func execute(_ global: Globals, id: String) throws {
        try reporting(global) { try global.runtime.start(id: id) }
    }
}

struct State: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a container's state as the runtime spec's JSON.")
    @OptionGroup var global: GlobalOptions
    @Argument var id: String

    func run() throws { try Self.execute(global.globals, id: id) }

    static func execute(_ global: Globals, id: String) throws {
        try reporting(global) {
            let state = try global.runtime.state(id: id)
            FileHandleOutput.standardOutput(String(decoding: state.jsonData(), as: UTF8.self) + "\n")
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal (name or number, default TERM) to a container.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Signal every process of the container.") var all = false
    @Argument var id: String
    @Argument var signal: String = "TERM"

    func run() throws { try Self.execute(global.globals, id: id, signal: signal, all: all) }

    static func execute(_ global: Globals, id: String, signal: String, all: Bool) throws {
        try reporting(global) { try global.runtime.kill(id: id, signal: signal, all: all) }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a stopped container (any container with --force).")
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Kill the container first if it runs.") var force = false
    @Argument var id: String

    func run() throws { try Self.execute(global.globals, id: id, force: force) }

    static func execute(_ global: Globals, id: String, force: Bool) throws {
        try reporting(global) { try global.runtime.delete(id: id, force: force) }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create, start and wait for a container, then delete it; exits with its status.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var create: CreateFlags
    @Flag(name: [.short, .long], help: "Return once the container runs.") var detach = false
    @Flag(name: .customLong("keep"), help: .hidden) var keep = false
    @Argument var id: String

    func run() throws { try Self.execute(global.globals, create.options, id: id, detach: detach) }

    static func execute(_ global: Globals, _ options: Runtime.CreateOptions, id: String, detach: Bool) throws {
        var status: ProcessExit?
        try reporting(global) { status = try global.runtime.run(id: id, options: options, detach: detach) }
        if let status, status.shellCode != 0 { throw ExitCode(status.shellCode) }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List containers.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "table or json") var format: String = "table"
    @Flag(name: [.short, .long], help: "Print only ids.") var quiet = false

    func run() throws {
        try reporting(global.globals) {
            let states = global.globals.runtime.list()
            if quiet {
                FileHandleOutput.standardOutput(states.map { $0.id + "\n" }.joined())
            } else if format == "json" {
                FileHandleOutput.standardOutput("[" + states.map { String(decoding: $0.jsonData(), as: UTF8.self) }.joined(separator: ",") + "]\n")
            } else if format == "table" {
                FileHandleOutput.standardOutput(Table.render(
                    header: ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
                    rows: states.map { [$0.id, String($0.pid), $0.status.rawValue, $0.bundle, $0.created, $0.owner] }))
            } else {
                throw CLIError("--format: \"\(format)\": must be table or json")
            }
        }
    }
}

struct Spec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a default config.json into the bundle.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "The bundle directory.") var bundle: String = "."
    @Flag(help: "A config for an unprivileged user (user namespace with the caller mapped to root).") var rootless = false

    func run() throws {
        try reporting(global.globals) {
            let path = bundle + "/config.json"
            if access(path, F_OK) == 0 { throw CLIError("\(path) exists; remove it first") }
            // runc's default config, with the default seccomp profile for its capabilities (runc spec has none).
            var config = OCIConfig.defaultSpec(rootless: rootless)
            config.linux?.seccomp = DefaultProfile.seccomp(for: config.process?.capabilities)
            let text = String(decoding: config.jsonData(), as: UTF8.self)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd < 0 { throw CLIError("\(path): \(String(cString: strerror(errno)))") }
            FileHandleOutput.write(fd, text + "\n")
            close(fd)
        }
    }
}

/// Aligned columns for terminal output.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 3)
            }.joined() + "\n"
        }.joined()
    }
}
