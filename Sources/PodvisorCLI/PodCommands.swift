import ArgumentParser
import CLinux
import FoundationEssentials
import Glibc
import PodvisorLinux
import PodvisorPod
import PodvisorSpawn

/// `podvisor pod ...`: pod bundles, supervised by a podvisor process per pod.
struct PodCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pod",
        abstract: "Run and manage pods: one release of every service, each a supervised pool.",
        subcommands: [PodUp.self, PodPs.self, PodInspect.self, PodLogs.self, PodScale.self, PodAutoscale.self, PodExec.self,
                      PodStop.self, PodRm.self, PodEvents.self, PodTop.self, PodSupervise.self])
}

/// The root filesystem for services whose bundle names none: $PODVISOR_ROOTFS, or the one Rootfs/build
/// makes beside the checkout this binary was built in, or an installed one.
func defaultRootfs() -> String {
    if let path = getenv("PODVISOR_ROOTFS") { return String(cString: path) }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let exe = length > 0 ? String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    var dir = exe
    for _ in 0..<4 {
        dir = String(dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)])
        for candidate in [dir + "/Rootfs/out/rootfs", dir + "/share/podvisor/rootfs"] where FileIO.isDirectory(candidate) {
            return candidate
        }
    }
    return "/usr/local/share/podvisor/rootfs"
}

func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
    let cwd = getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "/"
    return path == "." ? cwd : cwd + "/" + path
}

func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    if let data = try? encoder.encode(value) { FileHandleOutput.standardOutput(String(decoding: data, as: UTF8.self) + "\n") }
}

func describe(_ event: PodEvent) -> String {
    "\(event.time)  \(event.kind.padding(12))  \(event.message)\n"
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

struct PodUp: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Start a pod from a bundle (a directory with pod.yaml).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The pod bundle.") var bundle: String
    @Flag(name: .shortAndLong, help: "Return once the pod is ready and leave it running.") var detach = false
    @OptionGroup var supervision: SupervisionFlags

    func run() throws {
        try reporting(global.globals) {
            let bundle = absolute(self.bundle)
            // Validate before anything is created: a bad manifest changes nothing on the host.
            let runner = try PodRunner(bundle: bundle, options: supervision.options(root: global.root))
            if detach { return try startDetached(bundle: bundle, name: runner.manifest.name) }
            runner.onEvent = { FileHandleOutput.standardOutput(describe($0)) }
            runner.onReady = { error in
                if error == nil {
                    FileHandleOutput.standardOutput("pod \(runner.manifest.name) is up; logs: podvisor pod logs \(runner.manifest.name); Ctrl-C stops it\n")
                }
            }
            let status = runner.run()
            if status != 0 { throw ExitCode(status) }
        }
    }

    /// Starts `podvisor pod supervise` in its own session and waits for its ready line.
    private func startDetached(bundle: String, name: String) throws {
        var pipe: [Int32] = [-1, -1]
        guard pv_pipe2(&pipe, O_CLOEXEC) == 0 else { throw CLIError("pipe: \(String(cString: strerror(errno)))") }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        var plan = SpawnPlan(argv: ["/proc/self/exe", "--root", global.root, "pod", "supervise", "--ready-fd", "3"]
                             + supervision.arguments + [bundle])
        plan.environment = ProcessEnvironment.current()
        plan.newSession = true
        plan.cwd = nil
        plan.umask = nil
        plan.fdMappings = [(devNull, 0), (devNull, 1), (devNull, 2), (pipe[1], 3)]
        plan.keepFDs = 4
        let spawned: SpawnedProcess
        do { spawned = try Spawner.spawn(plan) } catch {
            close(pipe[0]); close(pipe[1]); close(devNull)
            throw CLIError("starting the supervisor: \(error)")
        }
        close(pipe[1])
        close(devNull)
        let answer = (try? FileIO.read(fd: pipe[0])) ?? ""
        close(pipe[0])
        spawned.process.close()
        if answer.hasPrefix("ready") {
            FileHandleOutput.standardOutput("pod \(name) is up\n")
            return
        }
        throw CLIError(answer.hasPrefix("error: ") ? String(answer.dropFirst(7).trimmingCharacters(in: .newlines))
                                                    : "the supervisor of pod \(name) exited before the pod was ready")
    }
}

/// The detached supervisor of one pod (started by `pod up -d`).
struct PodSupervise: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "supervise", abstract: "Supervise a pod (used by pod up -d).",
                                                    shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("ready-fd")) var readyFD: Int32 = -1
    @OptionGroup var supervision: SupervisionFlags
    @Argument var bundle: String

    func run() throws {
        let fd = readyFD
        func tell(_ text: String) {
            guard fd >= 0 else { return }
            FileHandleOutput.write(fd, text)
            close(fd)
        }
        _ = pv_fcntl_setfd(fd, FD_CLOEXEC)
        let runner: PodRunner
        do {
            runner = try PodRunner(bundle: bundle, options: supervision.options(root: global.root))
        } catch {
            tell("error: \(error)\n")
            throw ExitCode(1)
        }
        runner.onReady = { error in tell(error.map { "error: \($0)\n" } ?? "ready\n") }
        let status = runner.run()
        throw ExitCode(status)
    }
}

/// What the pod's supervisor does besides supervising: recording and metrics.
struct SupervisionFlags: ParsableArguments {
    @Option(help: "Record the autoscaler's time series (JSON lines) to this file; plot it with `podvisor plot`.")
    var record: String?
    @Option(help: "Serve the pools' metrics in the Prometheus text format on HOST:PORT.")
    var metrics: String?

    func options(root: String) -> PodRunner.Options {
        .init(root: root, defaultRootfs: defaultRootfs(), handleSignals: true, recordPath: record.map(absolute), metricsAddress: metrics)
    }

    /// The same flags for the detached supervisor's command line.
    var arguments: [String] {
        (record.map { ["--record", absolute($0)] } ?? []) + (metrics.map { ["--metrics", $0] } ?? [])
    }
}

struct PodAutoscale: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "autoscale",
                                                    abstract: "Change a service's autoscaling while the pod runs.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "A new target for the service's metric (e.g. 0.10 for cpu_pressure).") var target: Double?
    @Flag(help: "Stop autoscaling the service.") var off = false
    @Argument var pod: String
    @Argument var service: String

    func run() throws {
        try reporting(global.globals) {
            _ = try PodClient(root: global.root, name: pod).call(
                ControlRequest(op: .autoscale, service: service, target: target, enabled: !off))
        }
    }
}

struct PodPs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List pods.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        try reporting(global.globals) {
            let store = PodStore(root: global.root)
            var statuses: [PodListing] = []
            for name in store.names() {
                guard let record = try? store.load(name) else { continue }
                var listing = PodListing(name: name, release: record.release, state: store.liveState(of: record),
                                         created: record.created, services: 0, instances: 0, ready: 0, failure: record.failure)
                if listing.state == .running || listing.state == .starting || listing.state == .stopping,
                   let status = try? PodClient(root: global.root, name: name).call(ControlRequest(op: .inspect)).status {
                    listing.state = status.state
                    listing.services = status.pools.count
                    listing.instances = status.pools.reduce(0) { $0 + $1.instances.count }
                    listing.ready = status.pools.reduce(0) { $0 + $1.instances.filter(\.ready).count }
                }
                statuses.append(listing)
            }
            if json { return printJSON(statuses) }
            FileHandleOutput.standardOutput(Table.render(
                header: ["NAME", "RELEASE", "STATE", "SERVICES", "READY", "CREATED"],
                rows: statuses.map { [$0.name, $0.release, $0.state.rawValue, String($0.services), "\($0.ready)/\($0.instances)", $0.created] }))
        }
    }

    struct PodListing: Encodable {
        var name: String
        var release: String
        var state: PodState
        var created: String
        var services: Int
        var instances: Int
        var ready: Int
        var failure: String?
    }
}

struct PodInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Print a pod's state and pools as JSON.")
    @OptionGroup var global: GlobalOptions
    @Argument var pod: String

    func run() throws {
        try reporting(global.globals) {
            let store = PodStore(root: global.root)
            let record = try store.load(pod)
            if store.liveState(of: record) == .running || store.liveState(of: record) == .starting,
               let status = try? PodClient(root: global.root, name: pod).call(ControlRequest(op: .inspect)).status {
                return printJSON(status)
            }
            var stopped = record
            stopped.state = store.liveState(of: record)
            printJSON(stopped)
        }
    }
}

struct PodScale: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scale", abstract: "Set the number of instances of a service.")
    @OptionGroup var global: GlobalOptions
    @Argument var pod: String
    @Argument var service: String
    @Argument var replicas: Int

    func run() throws {
        try reporting(global.globals) {
            _ = try PodClient(root: global.root, name: pod).call(ControlRequest(op: .scale, service: service, replicas: replicas))
        }
    }
}

struct PodStop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop a pod: services in reverse start order, signal, timeout, kill.")
    @OptionGroup var global: GlobalOptions
    @Argument var pod: String

    func run() throws {
        try reporting(global.globals) {
            let store = PodStore(root: global.root)
            let record = try store.load(pod)
            guard store.liveState(of: record) != .stopped, store.liveState(of: record) != .failed else {
                FileHandleOutput.standardOutput("pod \(pod) is already \(store.liveState(of: record).rawValue)\n")
                return
            }
            if store.liveState(of: record) == .lost {
                try store.cleanUpLost(record)
                return FileHandleOutput.standardOutput("pod \(record.name): its supervisor had died; cleaned up\n")
            }
            var failure: String?
            try PodClient(root: global.root, name: pod).request(ControlRequest(op: .stop)) { reply in
                guard reply.event == nil else { return true }
                failure = reply.error
                return false
            }
            // The supervisor closes the socket as it exits; wait for it so that nothing is left running.
            if let process = try? PidFD.open(record.supervisorPID) {
                _ = process.hasExited(timeoutMilliseconds: 30_000)
                process.close()
            }
            if let failure { throw CLIError("pod \(pod) failed: \(failure)") }
            FileHandleOutput.standardOutput("pod \(pod) stopped\n")
        }
    }
}

struct PodRm: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a stopped pod's state, events and logs.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Stop the pod first if it runs.") var force = false
    @Argument var pod: String

    func run() throws {
        try reporting(global.globals) {
            let store = PodStore(root: global.root)
            let record = try store.load(pod)
            switch store.liveState(of: record) {
            case .running, .starting, .stopping:
                guard force else { throw CLIError("pod \(pod) is running: stop it first, or use --force") }
                try PodStop.parse(["--root", global.root, pod]).run()
            case .lost:
                try store.cleanUpLost(record)
                FileHandleOutput.standardOutput("pod \(record.name): its supervisor had died; cleaned up\n")
            default:
                break
            }
            store.remove(pod)
        }
    }
}

struct PodEvents: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Print a pod's events as JSON lines.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Keep printing new events.") var follow = false
    @Argument var pod: String

    func run() throws {
        try reporting(global.globals) {
            let store = PodStore(root: global.root)
            let record = try store.load(pod)
            if store.liveState(of: record) == .running || store.liveState(of: record) == .starting {
                try PodClient(root: global.root, name: pod).request(ControlRequest(op: .events, follow: follow)) { reply in
                    if let event = reply.event { FileHandleOutput.standardOutput(event.jsonLine) }
                    return reply.event != nil
                }
            } else {
                FileHandleOutput.standardOutput((try? FileIO.read(store.eventsPath(pod))) ?? "")
            }
        }
    }
}

struct PodLogs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print the output of a pod's instances.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Keep printing new output.") var follow = false
    @Flag(help: "JSON lines: {\"instance\": ..., \"line\": ...}.") var json = false
    @Argument var pod: String
    @Argument var service: String?

    func run() throws {
        try reporting(global.globals) {
            let store = PodStore(root: global.root)
            _ = try store.load(pod)
            let directory = store.logsDirectory(pod)
            var offsets: [String: Int] = [:]
            repeat {
                let files = ((try? FileIO.list(directory)) ?? []).filter { name in
                    name.hasSuffix(".log") && (service == nil || name.hasPrefix(service! + "."))
                }.sorted()
                for file in files {
                    let instance = String(file.dropLast(4))
                    let text = (try? FileIO.read(directory + "/" + file)) ?? ""
                    let bytes = Array(text.utf8)
                    let start = offsets[file] ?? 0
                    guard bytes.count > start else { continue }
                    // Only whole lines; a partial last line waits for its newline.
                    let end = follow ? (bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? start) : bytes.count
                    guard end > start else { continue }
                    let chunk = String(decoding: bytes[start..<end], as: UTF8.self)
                    offsets[file] = end
                    let lines = chunk.split(separator: "\n", omittingEmptySubsequences: false)
                    for line in lines.dropLast(chunk.hasSuffix("\n") ? 1 : 0) {
                        if json {
                            FileHandleOutput.standardOutput("{\"instance\":\(JSONString.quote(instance)),\"line\":\(JSONString.quote(String(line)))}\n")
                        } else {
                            FileHandleOutput.standardOutput("\(instance.padding(10)) | \(line)\n")
                        }
                    }
                }
                if follow { usleep(200_000) }
            } while follow
        }
    }
}

struct PodExec: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Run a command inside a service's first running instance.")
    @OptionGroup var global: GlobalOptions
    @Argument var pod: String
    @Argument var service: String
    @Argument(parsing: .postTerminator) var command: [String]

    func run() throws {
        var status: ProcessExit = .exited(0)
        try reporting(global.globals) {
            guard !command.isEmpty else { throw CLIError("pod exec: give a command after --") }
            let reply = try PodClient(root: global.root, name: pod).call(ControlRequest(op: .inspect))
            guard let pool = reply.status?.pools.first(where: { $0.name == service }) else {
                throw CLIError("pod \(pod) has no service \"\(service)\"")
            }
            guard let instance = pool.instances.first(where: { $0.pid != nil && $0.state == "running" }), let pid = instance.pid else {
                throw CLIError("\(service) has no running instance")
            }
            var plan = try InstanceExec.plan(root: global.root, pod: pod, service: service, instancePID: pid, command: command)
            plan.environment.append("PODVISOR_INSTANCE=\(instance.id)")
            let spawned: SpawnedProcess
            do { spawned = try Spawner.spawn(plan) } catch { throw CLIError("\(error)") }
            status = (try? spawned.process.wait()) ?? .exited(255)
            spawned.process.close()
        }
        if status.shellCode != 0 { throw ExitCode(status.shellCode) }
    }
}

struct PodTop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "A live table of a pod's instances: CPU, memory, pressure, restarts.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one table and exit.") var once = false
    @Flag(help: "JSON output (implies --once).") var json = false
    @Option(help: "Seconds between refreshes.") var interval: Double = 1
    @Argument var pod: String

    func run() throws {
        try reporting(global.globals) {
            let client = PodClient(root: global.root, name: pod)
            var previous = try client.call(ControlRequest(op: .top)).status
            var previousTime = Date.now
            repeat {
                usleep(useconds_t(interval * 1_000_000))
                guard var status = try client.call(ControlRequest(op: .top)).status else { return }
                let elapsed = Date.now.timeIntervalSince(previousTime)
                // Turn cumulative CPU seconds into cores over the interval.
                let before = Dictionary((previous?.pools.flatMap(\.instances) ?? []).map { ($0.id + "\($0.pid ?? 0)", $0.cpu ?? 0) },
                                        uniquingKeysWith: { a, _ in a })
                for p in status.pools.indices {
                    for i in status.pools[p].instances.indices {
                        let instance = status.pools[p].instances[i]
                        let key = instance.id + "\(instance.pid ?? 0)"
                        status.pools[p].instances[i].cpu = instance.cpu.map { max(0, ($0 - (before[key] ?? $0)) / elapsed) }
                    }
                }
                previous = try client.call(ControlRequest(op: .top)).status
                previousTime = Date.now
                if json { return printJSON(status) }
                if !once { FileHandleOutput.standardOutput("\u{1B}[H\u{1B}[2J") }
                FileHandleOutput.standardOutput("pod \(status.name) release \(status.release): \(status.state.rawValue)\n\n")
                let rows: [[String]] = status.pools.flatMap { pool in pool.instances.map(Self.row) }
                FileHandleOutput.standardOutput(Table.render(header: ["INSTANCE", "PID", "STATE", "READY", "RESTARTS", "CPU", "MEMORY", "CPU PRESSURE"], rows: rows))
            } while !once
        }
    }
}

extension PodTop {
    static func row(_ instance: InstanceStatus) -> [String] {
        let pid: String = instance.pid.map { String($0) } ?? "-"
        let cpu: String = instance.cpu.map { String(format1: $0) } ?? "-"
        let memory: String = instance.memory.map { String(format1: Double($0) / 1_048_576) + " MiB" } ?? "-"
        let pressure: String = instance.cpuPressure.map { String(format1: $0) + "%" } ?? "-"
        return [instance.id, pid, instance.state, instance.ready ? "yes" : "no", String(instance.restarts), cpu, memory, pressure]
    }
}

extension String {
    /// One decimal, without Foundation's formatter.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}

enum ProcessEnvironment {
    static func current() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }
}
