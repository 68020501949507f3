import Glibc
import PodvisorLinux

/// The accept queue of a listening TCP socket, from getsockopt(TCP_INFO).
/// For a socket in LISTEN state Linux reports the current accept-queue length in tcpi_unacked and the backlog
/// limit (listen()'s backlog, capped by net.core.somaxconn) in tcpi_sacked.
public struct AcceptQueue: Sendable, Equatable {
    /// Connections completed by the kernel and waiting for accept().
    public var queued: Int
    /// The backlog limit.
    public var limit: Int

    public init(queued: Int, limit: Int) {
        self.queued = queued
        self.limit = limit
    }

    public static func length(listenerFD: Int32) throws(SystemError) -> AcceptQueue {
        var info = tcp_info()
        var size = socklen_t(MemoryLayout<tcp_info>.size)
        if getsockopt(listenerFD, Int32(IPPROTO_TCP), TCP_INFO, &info, &size) != 0 {
            throw SystemError("getsockopt(TCP_INFO)", "fd \(listenerFD)")
        }
        return AcceptQueue(queued: Int(info.tcpi_unacked), limit: Int(info.tcpi_sacked))
    }
}
