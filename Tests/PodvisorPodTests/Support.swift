import Foundation
import Glibc
import PodvisorLinux
import PodvisorManifest
import PodvisorPod
import Testing

// Integration support: real pods, real processes, real cgroups. Every wait is bounded (`bound`)
// and synchronised on something the runtime reports (onReady, the event stream, pidfds), so a
// broken build fails instead of hanging.

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL.path
let defaultRootfs = ProcessInfo.processInfo.environment["PODVISOR_ROOTFS"] ?? repositoryRoot + "/Rootfs/out/rootfs"
let isRoot = getuid() == 0
let hasRootfs = FileManager.default.fileExists(atPath: defaultRootfs + "/bin/busybox")
let canRunPods = isRoot && hasRootfs
let skipReason: Comment = isRoot ? "needs the default rootfs: run Rootfs/build (\(defaultRootfs) is missing)" : "needs root"

/// The bound of every wait, in seconds.
let bound: Double = 20

/// A pod name unique to this test process.
func podName(_ what: String) -> String { "pv-test-\(what)-\(getpid())" }

/// The podvisor CLI: $PODVISOR_BIN, else the one built beside this test binary, else the usual build directories.
let cliBinary: String? = {
    let environment = ProcessInfo.processInfo.environment
    if let path = environment["PODVISOR_BIN"] { return path }
    let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var candidates: [String] = []
    var dir = (testBinary as NSString).deletingLastPathComponent
    for _ in 0..<4 where !dir.isEmpty && dir != "/" {
        candidates.append(dir + "/podvisor")
        dir = (dir as NSString).deletingLastPathComponent
    }
    candidates += [repositoryRoot + "/.build-podtests/debug/podvisor", repositoryRoot + "/.build/debug/podvisor"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Runs the CLI to completion (bounded); returns status, stdout, stderr.
@discardableResult
func cli(_ arguments: [String], timeout: Double = bound) throws -> (status: Int32, out: String, err: String) {
    guard let cliBinary else { throw TestFailure("the podvisor binary is not built") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: cliBinary)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["PODVISOR_ROOTFS"] = defaultRootfs
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes on other threads so a chatty child cannot block on a full pipe.
    let outData = Box<Data>(Data()), errData = Box<Data>(Data())
    let readers = DispatchGroup()
    for (pipe, box) in [(out, outData), (err, errData)] {
        readers.enter()
        Thread {
            box.value = pipe.fileHandleForReading.readDataToEndOfFile()
            readers.leave()
        }.start()
    }
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    if process.isRunning, exited.wait(timeout: .now() + timeout) == .timedOut {
        kill(process.processIdentifier, SIGKILL)
        throw TestFailure("podvisor \(arguments.joined(separator: " ")) did not finish within \(timeout)s")
    }
    process.waitUntilExit()
    _ = readers.wait(timeout: .now() + 5)
    return (process.terminationStatus, String(decoding: outData.value, as: UTF8.self), String(decoding: errData.value, as: UTF8.self))
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

// MARK: - Events

/// Every event of a pod, as its control socket streams them (`events` with follow: the history,
/// then each new one), collected on a thread of its own.
final class EventLog: @unchecked Sendable {
    private let condition = NSCondition()
    private var events: [PodEvent] = []
    private(set) var finalReply: ControlReply?
    private var closed = false
    var connectError: (any Error)?

    init(root: String, name: String) {
        let thread = Thread { [self] in
            do {
                try PodClient(root: root, name: name).request(ControlRequest(op: .events, follow: true)) { reply in
                    self.condition.lock()
                    if let event = reply.event { self.events.append(event) } else { self.finalReply = reply }
                    self.condition.broadcast()
                    self.condition.unlock()
                    return true
                }
            } catch {
                self.connectError = error
            }
            self.condition.lock()
            self.closed = true
            self.condition.broadcast()
            self.condition.unlock()
        }
        thread.start()
    }

    var all: [PodEvent] {
        condition.lock()
        defer { condition.unlock() }
        return events
    }

    /// Waits (at most `timeout`) until `predicate` holds for the events so far; returns them, or nil on timeout.
    @discardableResult
    func wait(timeout: Double = bound, until predicate: ([PodEvent]) -> Bool) -> [PodEvent]? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(events) {
            if closed { return predicate(events) ? events : nil }
            if !condition.wait(until: deadline) { return predicate(events) ? events : nil }
        }
        return events
    }

    /// Waits for the first event of `kind` (for `instance`, if given) at index `from` or later; returns it and its index.
    func next(_ kind: String, instance: String? = nil, from: Int = 0, timeout: Double = bound,
              matching: (PodEvent) -> Bool = { _ in true }) -> (event: PodEvent, index: Int)? {
        var found: (PodEvent, Int)?
        wait(timeout: timeout) { events in
            guard from < events.count else { return false }
            for index in from..<events.count {
                let event = events[index]
                if event.kind == kind, instance == nil || event.instance == instance, matching(event) {
                    found = (event, index)
                    return true
                }
            }
            return false
        }
        return found.map { (event: $0.0, index: $0.1) }
    }

    /// Waits until the stream ends (the pod stopped and closed it).
    func waitClosed(timeout: Double = bound) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !closed { if !condition.wait(until: deadline) { return closed } }
        return true
    }
}

/// An event's wall-clock time.
func eventDate(_ event: PodEvent) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: event.time)
}

/// The pid in "<id> started (pid N)".
func startedPID(_ event: PodEvent) -> Int32? {
    guard let range = event.message.range(of: "(pid ") else { return nil }
    return Int32(event.message[range.upperBound...].prefix { $0.isNumber })
}

// MARK: - A pod run by a PodRunner on a thread of the test

/// A pod bundle in a temporary directory with its own state root, run in this process.
final class TestPod: @unchecked Sendable {
    let name: String
    let directory: String
    var root: String { directory + "/root" }
    var bundle: String { directory + "/bundle" }
    var store: PodStore { PodStore(root: root) }
    var client: PodClient { PodClient(root: root, name: name) }
    private(set) var runner: PodRunner?
    private(set) var events: EventLog?
    private let finished = DispatchSemaphore(value: 0)
    private var status: Int32?
    private var running = false

    /// `yaml` gets the pod's name; relative paths in it are relative to the bundle.
    init(_ what: String, yaml: (String) -> String) throws {
        name = podName(what)
        // Short: the control socket's path must fit a sockaddr_un (108 bytes).
        var template = Array("/tmp/pvt.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw TestFailure("mkdtemp: \(String(cString: strerror(errno)))") }
        directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        try yaml(name).write(toFile: bundle + "/pod.yaml", atomically: true, encoding: .utf8)
    }

    /// Starts the runner on a thread and waits for onReady; returns the start error, if any.
    @discardableResult
    func start() throws -> PodError? {
        let runner = try PodRunner(bundle: bundle, options: .init(root: root, defaultRootfs: defaultRootfs))
        self.runner = runner
        let ready = DispatchSemaphore(value: 0)
        let readyError = Box<PodError?>(nil)
        runner.onReady = { error in
            readyError.value = error
            ready.signal()
        }
        running = true
        nonisolated(unsafe) let unsafeRunner = runner
        let thread = Thread { [self] in
            status = unsafeRunner.run()
            finished.signal()
        }
        thread.stackSize = 4 << 20
        thread.start()
        guard ready.wait(timeout: .now() + bound) == .success else {
            throw TestFailure("pod \(name) was not ready within \(bound)s")
        }
        if readyError.value == nil {
            let events = EventLog(root: root, name: name)
            self.events = events
            // The stream starts with the history: wait until it has caught up with the pod's ready event,
            // so that `events.all.count` marks "now" for the test.
            guard events.next("ready", matching: { $0.instance == nil }) != nil else {
                throw TestFailure("the event stream of \(name) did not deliver its history")
            }
        }
        return readyError.value
    }

    /// Waits (bounded) for run() to return; its status.
    func waitFinished(timeout: Double = bound) -> Int32? {
        guard running else { return status }
        guard finished.wait(timeout: .now() + timeout) == .success else { return nil }
        running = false
        return status
    }

    /// requestStop, then waits for run() to return.
    func stop(timeout: Double = bound) -> Int32? {
        guard running else { return status }
        runner?.requestStop()
        return waitFinished(timeout: timeout)
    }

    func inspect() throws -> PodStatus {
        guard let status = try client.call(ControlRequest(op: .inspect)).status else { throw TestFailure("inspect: no status") }
        return status
    }

    func pid(of instance: String) throws -> Int32? {
        try inspect().pools.flatMap(\.instances).first { $0.id == instance }?.pid
    }

    func log(_ instance: String) -> String {
        (try? String(contentsOfFile: store.logPath(name, instance: instance), encoding: .utf8)) ?? ""
    }

    func record() -> PodRecord? { try? store.load(name) }

    /// Stops the pod if it still runs, removes its cgroups if any were left, and the temporary directory.
    func remove() {
        if running, stop() == nil { Issue.record("pod \(name) did not stop within \(bound)s") }
        for dir in Leftovers.cgroups(name).sorted(by: { $0.count > $1.count }) { rmdir(dir) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

// MARK: - What a pod may leave on the host

enum Leftovers {
    /// Cgroup directories of the pod, in every hierarchy.
    static func cgroups(_ name: String) -> [String] {
        var found: [String] = []
        let base = "/sys/fs/cgroup"
        for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
            // The pod's cgroup is <own cgroup>/podvisor/pods/<name>: look below our own cgroup in each hierarchy.
            for own in ownCgroups() {
                let dir = base + "/" + hierarchy + own + "/podvisor/pods/" + name
                if FileManager.default.fileExists(atPath: dir) { found.append(dir) }
                for sub in subdirectories(dir) { found.append(sub) }
            }
        }
        return Array(Set(found)).sorted()
    }

    private static func ownCgroups() -> Set<String> {
        let text = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        var paths: Set<String> = [""]
        for line in text.split(separator: "\n") {
            let path = line.split(separator: ":", maxSplits: 2).last.map(String.init) ?? "/"
            paths.insert(path == "/" ? "" : path)
        }
        return paths
    }

    private static func subdirectories(_ dir: String) -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var result: [String] = []
        for entry in entries {
            var isDirectory: ObjCBool = false
            let path = dir + "/" + entry
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                result.append(path)
                result += subdirectories(path)
            }
        }
        return result
    }

    /// Processes in any cgroup of the pod.
    static func processes(_ name: String) -> [Int32] {
        let needle = "/podvisor/pods/" + name
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int32(entry), pid != getpid() else { return nil }
            // A zombie has ended; reaping it is its parent's business (pid 1 here, for orphans).
            if PodvisorLinux.ProcessInfo.state(of: pid) == "Z" { return nil }
            guard let text = try? String(contentsOfFile: "/proc/\(entry)/cgroup", encoding: .utf8) else { return nil }
            return text.split(separator: "\n").contains { $0.hasSuffix(needle) || $0.contains(needle + "/") } ? pid : nil
        }
    }

    /// Host mounts that mention the pod or its directory.
    static func mounts(_ name: String, directory: String) -> [String] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.contains(name) || $0.contains(directory) }
    }
}

/// Pidfds of processes, to wait for their end without polling.
struct Processes {
    var handles: [PidFD] = []

    init(_ pids: [Int32]) {
        handles = pids.compactMap { try? PidFD.open($0) }
    }

    /// True when all have ended within the timeout (each pidfd polls readable).
    func allExited(timeout: Double = bound) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        for handle in handles {
            let left = max(0, Int32(deadline.timeIntervalSinceNow * 1000))
            if !handle.hasExited(timeoutMilliseconds: left) { return false }
        }
        return true
    }

    func close() { handles.forEach { $0.close() } }
}

/// Whether a TCP connect to 127.0.0.1:port from this process (the host's network namespace) succeeds.
func hostConnects(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// Listening TCP sockets (state 0A) in the network namespace of `pid`, with their accept-queue length.
func listeningSockets(inNamespaceOf pid: Int32) -> [(port: Int, queued: Int)] {
    let text = ["tcp", "tcp6"].map { (try? String(contentsOfFile: "/proc/\(pid)/net/\($0)", encoding: .utf8)) ?? "" }
    return text.flatMap { $0.split(separator: "\n").dropFirst() }.compactMap { line in
        let fields = line.split(separator: " ")
        guard fields.count > 4, fields[3] == "0A" else { return nil }
        let port = fields[1].split(separator: ":").last.flatMap { Int($0, radix: 16) } ?? -1
        let queued = fields[4].split(separator: ":").last.flatMap { Int($0, radix: 16) } ?? -1
        return (port, queued)
    }
}

/// A port number unlikely to be taken on the host, different per test process.
func testPort(_ offset: Int) -> Int { 20000 + Int(getpid() % 4000) * 8 + offset }

/// Waits (bounded) until `condition` holds; for things with no event of their own (log files).
@discardableResult
func eventually(timeout: Double = bound, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while !condition() {
        if Date() > deadline { return false }
        usleep(5_000)
    }
    return true
}
