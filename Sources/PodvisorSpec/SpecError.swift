/// An error in a bundle's config.json (or a command-line value) that says where and why:
/// `/b/config.json: process.rlimits[1].type: "RLIMIT_FOO": unknown rlimit type`.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the error is in (or a label such as "container id").
    public var file: String
    /// Dotted path to the key with array indices, e.g. `linux.namespaces[2].type`; nil when
    /// the error is not about one field (unreadable file, malformed JSON).
    public var field: String?
    /// The offending value as written; nil when there is no scalar to show.
    public var value: String?
    public var reason: String
    /// Position of a JSON syntax error, when known.
    public var line: Int?
    public var column: Int?

    public init(file: String, field: String? = nil, value: String? = nil, reason: String,
                line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.field = field
        self.value = value
        self.reason = reason
        self.line = line
        self.column = column
    }

    public var description: String {
        // Compiler style when the position is known (`/b/pod.yaml:14:5: field: ...`), which editors and
        // terminals turn into links.
        var parts: [String] = []
        if !file.isEmpty {
            let position = line.map { line in ":\(line)" + (column.map { ":\($0)" } ?? "") } ?? ""
            parts.append(file + position)
        } else if let line {
            parts.append(column.map { "line \(line), column \($0)" } ?? "line \(line)")
        }
        if let field { parts.append(field) }
        if let value {
            // Without a file the field reads as a label: `container id "a/b": ...`.
            if file.isEmpty, field != nil, line == nil {
                parts[parts.count - 1] += " " + SpecError.quote(value)
            } else {
                parts.append(SpecError.quote(value))
            }
        }
        parts.append(reason)
        return parts.joined(separator: ": ")
    }

    /// Go's %q style quoting, so control characters and quotes stay visible.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Renders a coding path as `a.b[3].c`; map keys that are not identifiers as `["k.x"]`.
func fieldPath(_ keys: [any CodingKey]) -> String {
    var out = ""
    for key in keys {
        if let index = key as? IndexKey {
            out += "[\(index.index)]"
        } else if key.stringValue.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) && !key.stringValue.isEmpty {
            out += out.isEmpty ? key.stringValue : "." + key.stringValue
        } else {
            out += "[" + SpecError.quote(key.stringValue) + "]"
        }
    }
    return out
}
