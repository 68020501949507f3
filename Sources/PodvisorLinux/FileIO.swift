import CLinux
import Glibc

/// Small, allocation-light file access for /proc, /sys and state files.
/// Foundation is avoided on purpose: the CLI's start-up time is part of every container start.
public enum FileIO {
    /// Reads a whole (small) file as UTF-8.
    public static func read(_ path: String) throws(SystemError) -> String {
        let fd = retryingOnEINTR { pv_open(path, O_RDONLY | O_CLOEXEC, 0) }
        if fd < 0 { throw SystemError("open", path) }
        defer { close(fd) }
        return try read(fd: fd, path: path)
    }

    public static func read(fd: Int32, path: String = "") throws(SystemError) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { buffer in
                retryingOnEINTR { Glibc.read(fd, buffer.baseAddress, buffer.count) }
            }
            if n < 0 { throw SystemError("read", path) }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `contents` with a single write(2), as kernel interface files (cgroup, /proc) expect.
    public static func write(_ path: String, _ contents: String, flags: Int32 = O_WRONLY | O_TRUNC) throws(SystemError) {
        let fd = retryingOnEINTR { pv_open(path, flags | O_CLOEXEC, 0o644) }
        if fd < 0 { throw SystemError("open", path) }
        defer { close(fd) }
        var text = contents
        let n = text.withUTF8 { buffer in
            retryingOnEINTR { Glibc.write(fd, buffer.baseAddress, buffer.count) }
        }
        if n < 0 { throw SystemError("write", path) }
    }

    /// Writes a file atomically: a temporary beside it, then rename(2). Readers never see half a file.
    public static func writeAtomically(_ path: String, _ contents: String, mode: UInt32 = 0o644) throws(SystemError) {
        let temporary = path + ".tmp-\(getpid())"
        try write(temporary, contents, flags: O_WRONLY | O_CREAT | O_TRUNC)
        if chmod(temporary, mode) != 0 || rename(temporary, path) != 0 {
            let error = SystemError("rename", path)
            unlink(temporary)
            throw error
        }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// mkdir -p. Returns the directories it created, outermost first, so a caller can undo exactly them.
    @discardableResult
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o755) throws(SystemError) -> [String] {
        var created: [String] = []
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) == 0 {
                created.append(current)
            } else if errno != EEXIST {
                throw SystemError("mkdir", current)
            }
        }
        return created
    }

    /// Names in a directory, without "." and "..".
    public static func list(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
