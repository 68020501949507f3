import Glibc

/// Owns the C memory of one flattened plan. The child gets a copy of it at clone;
/// the parent frees it when the arena goes away.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { blocks.forEach { free($0) } }

    func string(_ text: String) -> UnsafePointer<CChar> {
        let copy = strdup(text)!
        blocks.append(UnsafeMutableRawPointer(copy))
        return UnsafePointer(copy)
    }

    func string(_ text: String?) -> UnsafePointer<CChar>? {
        text.map { string($0) }
    }

    /// A NULL-terminated array of C strings.
    func strings(_ texts: [String]) -> UnsafePointer<UnsafePointer<CChar>?> {
        let array = buffer(of: UnsafePointer<CChar>?.self, count: texts.count + 1)
        for (index, text) in texts.enumerated() { array[index] = string(text) }
        array[texts.count] = nil
        return UnsafePointer(array)
    }

    func array<Element>(_ elements: [Element]) -> UnsafePointer<Element>? {
        if elements.isEmpty { return nil }
        let array = buffer(of: Element.self, count: elements.count)
        for (index, element) in elements.enumerated() { (array + index).initialize(to: element) }
        return UnsafePointer(array)
    }

    private func buffer<Element>(of type: Element.Type, count: Int) -> UnsafeMutablePointer<Element> {
        let raw = malloc(max(1, count) * MemoryLayout<Element>.stride)!
        blocks.append(raw)
        return raw.bindMemory(to: Element.self, capacity: count)
    }
}
