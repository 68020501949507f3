import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension OCIConfig {
    /// Reads and decodes `<bundle>/config.json`. Does not validate; call `validate(file:forCreate:)`.
    public static func load(bundle: String) throws(SpecError) -> OCIConfig {
        let file = bundle.hasSuffix("/") ? bundle + "config.json" : bundle + "/config.json"
        return try decode(try readSpecFile(file), file: file)
    }

    /// Decodes config.json text; `file` is only used in error messages.
    public static func decode(_ data: Data, file: String) throws(SpecError) -> OCIConfig {
        try decodeSpecJSON(OCIConfig.self, data, file: file)
    }

    /// Pretty-printed JSON with sorted keys (stable output), nil fields omitted.
    public func jsonData() -> Data { encodeSpecJSON(self) }
}

extension OCIState {
    public static func decode(_ data: Data, file: String) throws(SpecError) -> OCIState {
        try decodeSpecJSON(OCIState.self, data, file: file)
    }
}

func decodeSpecJSON<T: Decodable>(_ type: T.Type, _ data: Data, file: String) throws(SpecError) -> T {
    let tree: JSONValue
    do {
        tree = try JSONParser.parse(data)
    } catch {
        throw SpecError(file: file, reason: "invalid JSON: \(error.reason)", line: error.line, column: error.column)
    }
    do {
        return try TreeDecoder.decode(type, from: tree)
    } catch let failure as DecodeFailure {
        throw SpecError(file: file, field: failure.field.isEmpty ? "(top level)" : failure.field,
                        value: failure.value, reason: failure.reason)
    } catch let error as DecodingError {
        // Only reachable from hand-written init(from:) code; keep whatever path it gives.
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            throw SpecError(file: file, field: fieldPath(c.codingPath), reason: c.debugDescription)
        case .keyNotFound(let key, let c):
            throw SpecError(file: file, field: fieldPath(c.codingPath + [key]), reason: "required field is missing")
        @unknown default:
            throw SpecError(file: file, reason: "\(error)")
        }
    } catch {
        throw SpecError(file: file, reason: "\(error)")
    }
}

func encodeSpecJSON<T: Encodable>(_ value: T) -> Data {
    let encoder = JSONEncoder()
    // JSONEncoder does not keep declaration order, so sort keys for stable output.
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    // Encoding cannot fail: the spec types hold no floating-point values and only String map keys.
    return try! encoder.encode(value)
}

/// Reads a whole bundle file (config.json, pod.yaml) with errno-precise errors naming it
/// (no Foundation file APIs, no URL).
public func readSpecFile(_ path: String) throws(SpecError) -> Data {
    func failure(_ what: String) -> SpecError {
        let code = errno
        return SpecError(file: path, reason: "\(what): \(String(cString: strerror(code)))")
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw failure("cannot open") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw failure("cannot stat") }
    guard st.st_mode & S_IFMT == S_IFREG else { throw SpecError(file: path, reason: "not a regular file") }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw failure("cannot read")
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[..<n])
    }
    return Data(bytes)
}
