import Glibc
import PodvisorLinux

/// A PSI trigger (kernel Documentation/accounting/psi.rst): writing "some|full STALL_US WINDOW_US" to a pressure
/// file (cgroup cpu/memory/io.pressure or /proc/pressure/*) arms it; the kernel then raises POLLPRI on that open
/// file when the stall time within any WINDOW reaches STALL, at most once per window.
///
/// Limits: the window must be 500 ms...10 s; without CAP_SYS_RESOURCE the kernel accepts only windows that are
/// multiples of 2 s (the unprivileged PSI monitor polls at 2 s granularity) and refuses others with EINVAL. On
/// this project's machines CAP_SYS_RESOURCE is missing, so "some 150000 1000000" fails and "some 300000 2000000"
/// works. `arm` reports `.sampling` when the trigger is refused: the caller then relies on `PoolSampler` (reading
/// the `total=` counters every interval reacts within one interval, which triggers cannot do below 2 s here).
///
/// The trigger lives as long as its file descriptor: `close()` (or deinit) removes it.
public final class PressureTrigger {
    public enum Kind: String, Sendable { case some, full }

    public enum Outcome {
        case armed(PressureTrigger)
        /// The kernel refused the trigger (EINVAL: window not allowed; ENOENT/EOPNOTSUPP: no PSI); sample instead.
        case sampling(reason: String)
    }

    public let path: String
    public private(set) var fd: Int32

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    /// Whether this process may use any window (has CAP_SYS_RESOURCE in its effective set).
    public static var hasSysResource: Bool {
        guard let status = try? FileIO.read("/proc/self/status") else { return false }
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            let hex = line.dropFirst("CapEff:".count).filter { $0 != "\t" && $0 != " " }
            guard let caps = UInt64(hex, radix: 16) else { return false }
            return caps & (1 << 24) != 0  // CAP_SYS_RESOURCE = 24
        }
        return false
    }

    /// Whether the kernel would accept `windowUsec`: 500 ms...10 s, and a multiple of 2 s without CAP_SYS_RESOURCE.
    public static func isWindowAllowed(windowUsec: UInt64, privileged: Bool = hasSysResource) -> Bool {
        guard windowUsec >= 500_000 && windowUsec <= 10_000_000 else { return false }
        return privileged || windowUsec % 2_000_000 == 0
    }

    /// Arms a trigger on `path` (e.g. "<cgroup v2 dir>/cpu.pressure"): stall of `stallUsec` within `windowUsec`.
    /// The write is attempted even when `isWindowAllowed` says no (the kernel is the judge); EINVAL and a missing
    /// file give `.sampling`, other errors throw.
    public static func arm(path: String, kind: Kind = .some, stallUsec: UInt64, windowUsec: UInt64)
        throws(SystemError) -> Outcome
    {
        let fd = Glibc.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let error = SystemError("open", path)
            if error.errno == ENOENT || error.errno == EOPNOTSUPP { return .sampling(reason: error.description) }
            throw error
        }
        // The kernel overwrites the last byte written with NUL: end with a newline, as echo does.
        var text = "\(kind.rawValue) \(stallUsec) \(windowUsec)\n"
        let n = text.withUTF8 { buffer in retryingOnEINTR { Glibc.write(fd, buffer.baseAddress, buffer.count) } }
        if n < 0 {
            let error = SystemError("write \"\(text.dropLast())\"", path)
            _ = Glibc.close(fd)
            if error.errno == EINVAL || error.errno == EOPNOTSUPP {
                let why = isWindowAllowed(windowUsec: windowUsec) ? "" :
                    " (without CAP_SYS_RESOURCE the window must be a multiple of 2 s)"
                return .sampling(reason: error.description + why)
            }
            throw error
        }
        return .armed(PressureTrigger(path: path, fd: fd))
    }

    /// Waits up to `timeout` seconds for the trigger to fire. true: fired (POLLPRI); false: timed out.
    /// Throws when the file reports an error (POLLERR: the cgroup was removed).
    public func wait(timeout: Double) throws(SystemError) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLPRI), revents: 0)
        let ms = timeout < 0 ? -1 : Int32(min(timeout * 1000, Double(Int32.max)))
        let n = retryingOnEINTR { poll(&entry, 1, ms) }
        if n < 0 { throw SystemError("poll", path) }
        if n == 0 { return false }
        if entry.revents & Int16(POLLERR) != 0 { throw SystemError("poll", path, errno: ENODEV) }
        return entry.revents & Int16(POLLPRI) != 0
    }
}
