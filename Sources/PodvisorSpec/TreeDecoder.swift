import FoundationEssentials

/// A decoding failure with the field path already rendered; `OCIConfig.decode` turns it
/// into a `SpecError` for the file.
struct DecodeFailure: Error {
    var field: String
    var value: String?
    var reason: String
}

struct IndexKey: CodingKey {
    let index: Int
    init(_ index: Int) { self.index = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.index = intValue }
    var stringValue: String { "\(index)" }
    var intValue: Int? { index }
}

/// Decodes `Decodable` values from a `JSONValue` tree, with Go-like semantics (unknown keys
/// ignored, integers must be exact and in range) and errors that name the field and value.
struct TreeDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: TreeDecoder(value: value, codingPath: []))
    }

    func mismatch(_ expected: String) -> DecodeFailure {
        DecodeFailure(field: fieldPath(codingPath), value: value.scalarText,
                      reason: "expected \(expected), found \(value.kind)")
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch("an object") }
        return KeyedDecodingContainer(KeyedContainer<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch("an array") }
        return UnkeyedContainer(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }
}

extension TreeDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { value == .null }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b) = value else { throw mismatch("a boolean") }
        return b
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let s) = value else { throw mismatch("a string") }
        return s
    }

    func decode(_ type: Double.Type) throws -> Double {
        guard case .number(let n) = value, let d = Double(n) else { throw mismatch("a number") }
        return d
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        guard case .number(let n) = value else { throw mismatch("an integer") }
        if let v = T(n, radix: 10) { return v }
        let range = T.isSigned ? "an integer in \(T.min)...\(T.max)" : "a non-negative integer up to \(T.max)"
        throw DecodeFailure(field: fieldPath(codingPath), value: n, reason: "expected \(range)")
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: self) }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.keys.sorted().compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    func child(_ key: Key) throws -> TreeDecoder {
        guard let v = members[key.stringValue] else {
            throw DecodeFailure(field: fieldPath(codingPath + [key]), value: nil, reason: "required field is missing")
        }
        return TreeDecoder(value: v, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { members[key.stringValue] == .null }
    func decode(_ t: Bool.Type, forKey k: Key) throws -> Bool { try child(k).decode(t) }
    func decode(_ t: String.Type, forKey k: Key) throws -> String { try child(k).decode(t) }
    func decode(_ t: Double.Type, forKey k: Key) throws -> Double { try child(k).decode(t) }
    func decode(_ t: Float.Type, forKey k: Key) throws -> Float { try child(k).decode(t) }
    func decode(_ t: Int.Type, forKey k: Key) throws -> Int { try child(k).decode(t) }
    func decode(_ t: Int8.Type, forKey k: Key) throws -> Int8 { try child(k).decode(t) }
    func decode(_ t: Int16.Type, forKey k: Key) throws -> Int16 { try child(k).decode(t) }
    func decode(_ t: Int32.Type, forKey k: Key) throws -> Int32 { try child(k).decode(t) }
    func decode(_ t: Int64.Type, forKey k: Key) throws -> Int64 { try child(k).decode(t) }
    func decode(_ t: UInt.Type, forKey k: Key) throws -> UInt { try child(k).decode(t) }
    func decode(_ t: UInt8.Type, forKey k: Key) throws -> UInt8 { try child(k).decode(t) }
    func decode(_ t: UInt16.Type, forKey k: Key) throws -> UInt16 { try child(k).decode(t) }
    func decode(_ t: UInt32.Type, forKey k: Key) throws -> UInt32 { try child(k).decode(t) }
    func decode(_ t: UInt64.Type, forKey k: Key) throws -> UInt64 { try child(k).decode(t) }
    func decode<T: Decodable>(_ t: T.Type, forKey k: Key) throws -> T { try T(from: child(k)) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey> { try child(key).container(keyedBy: type) }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder { TreeDecoder(value: .object(members), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    mutating func next() throws -> TreeDecoder {
        guard !isAtEnd else {
            throw DecodeFailure(field: fieldPath(codingPath), value: nil, reason: "array has too few elements")
        }
        defer { currentIndex += 1 }
        return TreeDecoder(value: elements[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        if !isAtEnd && elements[currentIndex] == .null { currentIndex += 1; return true }
        return false
    }
    mutating func decode(_ t: Bool.Type) throws -> Bool { try next().decode(t) }
    mutating func decode(_ t: String.Type) throws -> String { try next().decode(t) }
    mutating func decode(_ t: Double.Type) throws -> Double { try next().decode(t) }
    mutating func decode(_ t: Float.Type) throws -> Float { try next().decode(t) }
    mutating func decode(_ t: Int.Type) throws -> Int { try next().decode(t) }
    mutating func decode(_ t: Int8.Type) throws -> Int8 { try next().decode(t) }
    mutating func decode(_ t: Int16.Type) throws -> Int16 { try next().decode(t) }
    mutating func decode(_ t: Int32.Type) throws -> Int32 { try next().decode(t) }
    mutating func decode(_ t: Int64.Type) throws -> Int64 { try next().decode(t) }
    mutating func decode(_ t: UInt.Type) throws -> UInt { try next().decode(t) }
    mutating func decode(_ t: UInt8.Type) throws -> UInt8 { try next().decode(t) }
    mutating func decode(_ t: UInt16.Type) throws -> UInt16 { try next().decode(t) }
    mutating func decode(_ t: UInt32.Type) throws -> UInt32 { try next().decode(t) }
    mutating func decode(_ t: UInt64.Type) throws -> UInt64 { try next().decode(t) }
    mutating func decode<T: Decodable>(_ t: T.Type) throws -> T { try T(from: next()) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey> { try next().container(keyedBy: type) }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}
