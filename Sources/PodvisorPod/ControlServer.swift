import CLinux
import Glibc

/// The pod's control socket (`<root>/pods/<name>/control.sock`): one JSON request line per connection,
/// answered with JSON lines. Served from the supervisor's poll loop, never blocking it: a client that
/// does not keep up with an event stream is dropped.
final class ControlServer {
    let path: String
    let listener: Int32
    private var buffers: [Int32: [UInt8]] = [:]
    private var followers: Set<Int32> = []
    private var waiters: Set<Int32> = []

    init(path: String) throws(PodError) {
        self.path = path
        listener = pv_unix_listen(path)
        if listener < 0 { throw PodError("control socket \(path): \(String(cString: strerror(errno)))") }
        chmod(path, 0o600)
    }

    /// Connections whose requests (or hang-ups) the loop watches.
    var readingClients: [Int32] { Array(buffers.keys) }

    func accept() {
        while true {
            let fd = pv_accept_cloexec(listener)
            if fd < 0 { return }
            buffers[fd] = []
        }
    }

    /// Reads what the client sent; returns its request once a whole line is in.
    func read(_ fd: Int32) -> ControlRequest? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
        if n <= 0 {
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return nil }
            drop(fd)
            return nil
        }
        // Followers and waiters have had their request: anything more from them is ignored.
        guard !followers.contains(fd), !waiters.contains(fd) else { return nil }
        buffers[fd, default: []] += chunk[0..<n]
        guard let newline = buffers[fd]!.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffers[fd]!.count > 65536 { drop(fd) }
            return nil
        }
        let line = String(decoding: buffers[fd]![..<newline], as: UTF8.self)
        buffers[fd] = []
        guard let request = JSONLine.decode(ControlRequest.self, line) else {
            reply(fd, ControlReply(ok: false, error: "malformed request: \(line)"))
            return nil
        }
        return request
    }

    /// Answers and closes.
    func reply(_ fd: Int32, _ reply: ControlReply) {
        send(fd, JSONLine.encode(reply))
        drop(fd)
    }

    /// `stop`: the reply comes when the pod has stopped.
    func keepUntilFinished(_ fd: Int32) { waiters.insert(fd) }

    /// `events`: what happened so far, then (with follow) every new event.
    func sendHistory(_ fd: Int32, events: [PodEvent], follow: Bool) {
        for event in events where !send(fd, JSONLine.encode(ControlReply(event: event))) { return }
        if follow { followers.insert(fd) } else { drop(fd) }
    }

    func broadcast(_ event: PodEvent) {
        let line = JSONLine.encode(ControlReply(event: event))
        for fd in followers { send(fd, line) }
    }

    /// The pod has stopped: tell the waiters and followers, close everything, remove the socket.
    func finish(_ reply: ControlReply) {
        let line = JSONLine.encode(reply)
        for fd in waiters.union(followers) { send(fd, line) }
        for fd in Array(buffers.keys) { drop(fd) }
        close(listener)
        unlink(path)
    }

    /// Writes without blocking; a client that cannot take it is dropped.
    @discardableResult
    private func send(_ fd: Int32, _ text: String) -> Bool {
        var text = text
        let ok = text.withUTF8 { buffer in
            Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) == buffer.count
        }
        if !ok { drop(fd) }
        return ok
    }

    private func drop(_ fd: Int32) {
        guard buffers.removeValue(forKey: fd) != nil else { return }
        followers.remove(fd)
        waiters.remove(fd)
        close(fd)
    }
}

/// The client side, for the CLI and for programs that embed Podvisor.
public struct PodClient: Sendable {
    public let store: PodStore
    public let name: String

    public init(root: String, name: String) {
        store = PodStore(root: root)
        self.name = name
    }

    /// Sends a request; `onReply` gets each reply line and returns false to stop reading.
    public func request(_ request: ControlRequest, onReply: (ControlReply) -> Bool = { _ in false }) throws(PodError) {
        let fd = pv_unix_connect(store.controlPath(name))
        if fd < 0 {
            if (try? store.load(name)) == nil { throw PodError("no pod named \"\(name)\"") }
            throw PodError("pod \"\(name)\" is not running (its control socket: \(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var line = JSONLine.encode(request)
        _ = line.withUTF8 { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            pending += chunk[0..<n]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let text = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                guard let reply = JSONLine.decode(ControlReply.self, text) else { continue }
                if !onReply(reply) { return }
            }
        }
    }

    /// One reply: inspect, top, scale.
    public func call(_ request: ControlRequest) throws(PodError) -> ControlReply {
        var answer: ControlReply?
        try self.request(request) { reply in
            answer = reply
            return false
        }
        guard let answer else { throw PodError("pod \"\(name)\" closed the connection without an answer") }
        if !answer.ok { throw PodError(answer.error ?? "failed") }
        return answer
    }
}
