import Glibc

/// A failed system call, named by the operation and the object it acted on, as in
/// `mkdir(/sys/fs/cgroup/unified/pv-1): Permission denied`.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public let operation: String
    public let subject: String
    public let errno: Int32

    public init(_ operation: String, _ subject: String = "", errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.subject = subject
        self.errno = errno
    }

    public var message: String { String(cString: strerror(errno)) }

    public var description: String {
        subject.isEmpty ? "\(operation): \(message)" : "\(operation)(\(subject)): \(message)"
    }
}

/// Retries a system call interrupted by a signal.
@inlinable
public func retryingOnEINTR<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result >= 0 || errno != EINTR { return result }
    }
}

/// Flags Swift's Glibc module does not export (they need _GNU_SOURCE).
public enum LinuxFlags {
    public static let openPath: Int32 = 0o10000000  // O_PATH
}
