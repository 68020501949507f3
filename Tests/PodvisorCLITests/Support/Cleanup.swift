import Foundation

enum Cleanup {
    /// Lazily unmounts everything mounted below `dir` (deepest first), then removes `dir`,
    /// so removal never walks into a mount a client left behind.
    static func removeTree(_ dir: String) {
        let prefix = dir.hasSuffix("/") ? dir : dir + "/"
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        let below = mounts.split(separator: "\n")
            .compactMap { line -> String? in
                let fields = line.split(separator: " ")
                guard fields.count > 1 else { return nil }
                let point = String(fields[1]).replacingOccurrences(of: "\\040", with: " ")
                return point.hasPrefix(prefix) ? point : nil
            }
            .sorted { $0.count > $1.count }
        for point in below { _ = umount2(point, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
