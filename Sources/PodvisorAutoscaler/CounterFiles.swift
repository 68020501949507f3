import Glibc

/// Where the sampler's counter files come from. The kernel one keeps each file open and re-reads it with
/// pread(2) at offset 0 (cgroup and PSI files regenerate their contents on every read from offset 0), so a sample
/// costs one system call per file and no path lookups. Tests inject their own.
public protocol CounterFileSystem: AnyObject {
    /// Opens `path` for repeated reads. nil when it does not exist or cannot be opened.
    func open(_ path: String) -> Int32?
    /// Reads the file from its start into `buffer`; the number of bytes, or -1.
    func read(_ handle: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int
    func close(_ handle: Int32)
}

/// The real files: open(O_RDONLY|O_CLOEXEC) once, pread at offset 0 for each sample.
public final class KernelCounterFiles: CounterFileSystem, Sendable {
    public static let shared = KernelCounterFiles()

    public init() {}

    public func open(_ path: String) -> Int32? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        return fd < 0 ? nil : fd
    }

    public func read(_ handle: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let n = pread(handle, buffer.baseAddress, buffer.count, 0)
            if n >= 0 || errno != EINTR { return n }
        }
    }

    public func close(_ handle: Int32) {
        _ = Glibc.close(handle)
    }
}

/// CLOCK_MONOTONIC in seconds: the sampler's (and so the policy's and the recording's) time base.
public enum MonotonicClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
