import PodvisorSpec
import Yams
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension PodManifest {
    /// Reads, parses and validates `<bundle>/pod.yaml`.
    public static func load(bundle: String) throws(SpecError) -> PodManifest {
        let file = bundle.hasSuffix("/") ? bundle + fileName : bundle + "/" + fileName
        return try parse(yaml: try readTextFile(file), file: file)
    }

    /// Parses and validates manifest text; `file` is only used in error messages.
    public static func parse(yaml: String, file: String) throws(SpecError) -> PodManifest {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw yamlSyntaxError(error, file: file)
        } catch {
            throw SpecError(file: file, reason: "invalid YAML: \(error)")
        }
        guard let root else { throw SpecError(file: file, reason: "the manifest is empty") }
        var parser = ManifestParser(file: file)
        let manifest = try parser.pod(root)
        try parser.validate(manifest)
        return manifest
    }

    /// The pod's root filesystem: `rootfs` resolved against the bundle, or `defaultRootfs`.
    public func rootfsPath(bundle: String, defaultRootfs: String) -> String {
        rootfs.map { resolve($0, bundle: bundle) } ?? defaultRootfs
    }

    /// A service's root filesystem: its own `rootfs`, else the pod's.
    public func rootfsPath(of service: ServiceSpec, bundle: String, defaultRootfs: String) -> String {
        service.rootfs.map { resolve($0, bundle: bundle) } ?? rootfsPath(bundle: bundle, defaultRootfs: defaultRootfs)
    }

    private func resolve(_ path: String, bundle: String) -> String {
        if path.hasPrefix("/") { return path }
        return bundle.hasSuffix("/") ? bundle + path : bundle + "/" + path
    }
}

private func yamlSyntaxError(_ error: YamlError, file: String) -> SpecError {
    switch error {
    case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
         .composer(_, let problem, let mark, _):
        return SpecError(file: file, reason: "invalid YAML: \(problem)", line: mark.line, column: mark.column)
    default:
        return SpecError(file: file, reason: "invalid YAML: \(error)")
    }
}

/// Reads a whole file as UTF-8 with errno-precise errors.
func readTextFile(_ path: String) throws(SpecError) -> String {
    let bytes = try readSpecFile(path)
    if bytes.count > 16 << 20 { throw SpecError(file: path, reason: "larger than 16 MiB") }
    guard let text = String(validating: Array(bytes), as: UTF8.self) else {
        throw SpecError(file: path, reason: "not valid UTF-8")
    }
    return text
}

/// Where a value was written, for errors found after parsing.
struct Location {
    var line: Int?
    var column: Int?
    var value: String?
}

/// A mapping whose keys were checked against an allow list; null values read as absent.
struct Fields {
    let path: String
    let node: Node
    var values: [String: Node] = [:]

    func path(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
    subscript(key: String) -> Node? { values[key] }
}

struct ManifestParser {
    let file: String
    /// Locations of every value read, by field path.
    var locations: [String: Location] = [:]

    init(file: String) { self.file = file }

    // MARK: errors

    /// `value` defaults to the node's scalar; pass `.some(nil)` for none.
    func error(_ path: String, _ node: Node?, _ reason: String, value: String?? = .none) -> SpecError {
        let mark = node?.mark
        return SpecError(file: file, field: path.isEmpty ? nil : path, value: value ?? node?.scalarText,
                         reason: reason, line: mark?.line, column: mark?.column)
    }

    /// An error about an already parsed field: at its location, or its closest parent's.
    func error(at path: String, _ reason: String, value: String? = nil) -> SpecError {
        var p = Substring(path)
        var loc = locations[path]
        while loc == nil, let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) {
            p = p[..<cut]
            loc = locations[String(p)]
        }
        let exact = locations[path]
        return SpecError(file: file, field: path, value: value ?? exact?.value, reason: reason,
                         line: loc?.line, column: loc?.column)
    }

    mutating func note(_ path: String, _ node: Node) {
        locations[path] = Location(line: node.mark?.line, column: node.mark?.column, value: node.scalarText)
    }

    // MARK: shapes

    mutating func fields(_ node: Node, _ path: String, _ allowed: [String], what: String) throws(SpecError) -> Fields {
        guard case .mapping(let mapping) = node else {
            throw error(path, node, "expected \(what) (a mapping), got \(node.kindName)")
        }
        note(path, node)
        var result = Fields(path: path, node: node)
        var keyNodes: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                throw error(path, keyNode, "keys must be strings, got \(keyNode.kindName)")
            }
            let keyPath = result.path(displayKey(key.string))
            guard allowed.contains(key.string) else {
                throw error(keyPath, keyNode, "unknown key (expected one of: \(allowed.joined(separator: ", ")))",
                            value: .some(nil))
            }
            if let first = keyNodes[key.string] {
                throw error(keyPath, keyNode, "duplicate key (first on line \(first.mark?.line ?? 0))", value: .some(nil))
            }
            keyNodes[key.string] = keyNode
            if !value.isNull {
                result.values[key.string] = value
                note(keyPath, value)
            }
        }
        return result
    }

    func list(_ node: Node, _ path: String, what: String) throws(SpecError) -> [Node] {
        guard case .sequence(let seq) = node else {
            throw error(path, node, "expected \(what), got \(node.kindName)")
        }
        return Array(seq)
    }

    func scalar(_ node: Node, _ path: String, _ what: String) throws(SpecError) -> String {
        guard case .scalar(let s) = node, !node.isNull else {
            throw error(path, node, "expected \(what), got \(node.kindName)")
        }
        return s.string
    }

    func string(_ node: Node, _ path: String) throws(SpecError) -> String {
        try scalar(node, path, "a string")
    }

    func nonEmptyString(_ node: Node, _ path: String) throws(SpecError) -> String {
        let s = try string(node, path)
        if s.isEmpty { throw error(path, node, "must not be empty") }
        return s
    }

    func int(_ node: Node, _ path: String, _ range: ClosedRange<Int>? = nil) throws(SpecError) -> Int {
        let text = try scalar(node, path, "an integer")
        guard let n = parseInt(text) else { throw error(path, node, "expected an integer") }
        if let range, !range.contains(n) {
            if range.upperBound == Int.max {
                throw error(path, node, "must be at least \(range.lowerBound)")
            }
            throw error(path, node, "must be \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    func double(_ node: Node, _ path: String) throws(SpecError) -> Double {
        let text = try scalar(node, path, "a number")
        guard let d = Double(text.trimmingWhitespace), d.isFinite else { throw error(path, node, "expected a number") }
        return d
    }

    func duration(_ node: Node, _ path: String) throws(SpecError) -> Duration {
        let text = try scalar(node, path, "a duration")
        do { return try ManifestValues.duration(text) } catch { throw self.error(path, node, error.reason) }
    }

    func positiveDuration(_ node: Node, _ path: String) throws(SpecError) -> Duration {
        let d = try duration(node, path)
        if d <= .zero { throw error(path, node, "must be longer than 0") }
        return d
    }

    func size(_ node: Node, _ path: String) throws(SpecError) -> Int64 {
        let text = try scalar(node, path, "a size")
        let bytes: Int64
        do { bytes = try ManifestValues.size(text) } catch { throw self.error(path, node, error.reason) }
        if bytes <= 0 { throw error(path, node, "must be more than 0") }
        return bytes
    }

    func cpu(_ node: Node, _ path: String) throws(SpecError) -> Int {
        let text = try scalar(node, path, "a cpu amount")
        do { return try ManifestValues.cpu(text) } catch { throw self.error(path, node, error.reason) }
    }

    func choice<E: RawRepresentable & CaseIterable>(_ node: Node, _ path: String, _: E.Type) throws(SpecError) -> E
    where E.RawValue == String {
        let text = try scalar(node, path, "a string")
        guard let value = E(rawValue: text) else {
            let names = E.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(path, node, "expected one of: \(names)")
        }
        return value
    }

    mutating func stringList(_ node: Node, _ path: String) throws(SpecError) -> [String] {
        var out: [String] = []
        for (i, item) in try list(node, path, what: "a list of strings").enumerated() {
            out.append(try string(item, "\(path)[\(i)]"))
            note("\(path)[\(i)]", item)
        }
        return out
    }

    /// `/bin/x` or `[/bin/sh, -c, "..."]`.
    mutating func argv(_ node: Node, _ path: String) throws(SpecError) -> [String] {
        if case .scalar = node {
            let s = try nonEmptyString(node, path)
            if s.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
                throw error(path, node, "a string command is one executable and cannot contain spaces; "
                            + "use a list such as [/bin/sh, -c, \"...\"] or put the arguments in args")
            }
            return [s]
        }
        let items = try list(node, path, what: "a string or a list of strings")
        if items.isEmpty { throw error(path, node, "must not be empty") }
        let out = try stringList(node, path)
        if out[0].isEmpty { throw error("\(path)[0]", items[0], "must not be empty") }
        return out
    }
}

func parseInt(_ text: String) -> Int? {
    let t = text.trimmingWhitespace
    if let n = Int(t) { return n }
    if t.hasPrefix("+"), let n = Int(t.dropFirst()) { return n }
    return nil
}

/// Keys are shown as written when they are identifiers, quoted in brackets otherwise.
func displayKey(_ key: String) -> String {
    if !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) { return key }
    return "[" + SpecError.quote(key) + "]"
}

extension Node {
    var isNull: Bool {
        guard case .scalar(let s) = self, s.style == .plain || s.style == .any else { return false }
        return tag.description == Tag.Name.null.rawValue
    }

    var scalarText: String? {
        if case .scalar(let s) = self, !isNull { return s.string }
        return nil
    }

    var kindName: String {
        switch self {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar: isNull ? "null" : "a scalar"
        }
    }
}
