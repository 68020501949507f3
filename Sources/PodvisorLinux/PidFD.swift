import CLinux
import Glibc

/// How a process ended, as a shell reports it: `code` for an exit, 128+signal for a signal.
public enum ProcessExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var shellCode: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal): return "killed by \(Signal.name(of: signal))"
        }
    }
}

/// A process handle that cannot be confused with a recycled pid (pidfd_open(2)).
public struct PidFD: Sendable {
    public let pid: Int32
    public let fd: Int32

    public init(pid: Int32, fd: Int32) {
        self.pid = pid
        self.fd = fd
    }

    public static func open(_ pid: Int32) throws(SystemError) -> PidFD {
        let fd = pv_pidfd_open(pid, 0)
        if fd < 0 { throw SystemError("pidfd_open", String(pid)) }
        _ = pv_fcntl_setfd(fd, FD_CLOEXEC)
        return PidFD(pid: pid, fd: fd)
    }

    public func signal(_ signal: Int32) throws(SystemError) {
        if pv_pidfd_send_signal(fd, signal, 0) != 0 { throw SystemError("pidfd_send_signal", "\(pid), \(Signal.name(of: signal))") }
    }

    /// Reaps the process (it must be our child). Blocks until it ends.
    public func wait() throws(SystemError) -> ProcessExit {
        var code: Int32 = 0
        var status: Int32 = 0
        if pv_pidfd_wait(fd, WEXITED, &code, &status, nil) != 0 { throw SystemError("waitid", String(pid)) }
        return code == CLD_EXITED ? .exited(status) : .signaled(status)
    }

    /// True once the process has ended (the pidfd polls readable), without reaping it.
    public func hasExited(timeoutMilliseconds: Int32 = 0) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return retryingOnEINTR { poll(&poller, 1, timeoutMilliseconds) } > 0
    }

    public func close() { _ = Glibc.close(fd) }
}

/// Process facts from /proc, used to recognise a container's init after the runtime restarted.
public enum ProcessInfo {
    /// Field 22 of /proc/PID/stat: start time in clock ticks since boot; with the pid it names a process uniquely.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? FileIO.read("/proc/\(pid)/stat"),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so field 22 is fields[19].
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// The process's state letter (R, S, Z...), or nil when it no longer exists.
    public static func state(of pid: Int32) -> Character? {
        guard let stat = try? FileIO.read("/proc/\(pid)/stat"),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first?.first
    }

    /// Alive and the same process as the one recorded (not a recycled pid, not a zombie).
    public static func isRunning(_ pid: Int32, startTime: UInt64?) -> Bool {
        guard pid > 0, let state = state(of: pid), state != "Z", state != "X" else { return false }
        return startTime == nil || Self.startTime(of: pid) == startTime
    }
}
