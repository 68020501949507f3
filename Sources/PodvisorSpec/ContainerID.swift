/// runc's container id rule.
public enum ContainerID {
    public static let maxLength = 1024

    /// Non-empty, at most 1024 characters of [A-Za-z0-9_+.-], and not "." or "..".
    public static func validate(_ id: String) throws(SpecError) {
        let allowed = id.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
        }
        if id.isEmpty {
            throw SpecError(file: "", field: "container id", reason: "must not be empty")
        }
        if !allowed || id == "." || id == ".." {
            throw SpecError(file: "", field: "container id", value: id,
                            reason: "must match [a-zA-Z0-9_+.-]+ and not be . or ..")
        }
        if id.utf8.count > maxLength {
            throw SpecError(file: "", field: "container id", value: String(id.prefix(32)) + "...",
                            reason: "longer than \(maxLength) characters")
        }
    }
}
