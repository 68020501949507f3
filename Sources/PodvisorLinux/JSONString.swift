/// JSON string quoting for the hand-written JSON of hot paths (log lines, recordings), where
/// Foundation's encoder would cost more than the line itself.
public enum JSONString {
    /// Appends `text` as a quoted JSON string.
    public static func write(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    public static func quote(_ text: String) -> String {
        var out = ""
        write(text, to: &out)
        return out
    }
}
