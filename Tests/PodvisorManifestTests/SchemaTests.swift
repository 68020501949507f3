import Foundation
import PodvisorSpec
import Testing
@testable import PodvisorManifest

/// The repository root, from this file's path (Tests/PodvisorManifestTests/SchemaTests.swift).
let repoRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// Runs python3 with a script and arguments; nil when python3 cannot be started.
func runPython(_ script: String, _ args: [String] = []) -> (status: Int32, output: String)? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script] + args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

let pythonHasJsonschema: Bool = runPython("import jsonschema, yaml")?.status == 0

@Suite struct SchemaTests {
    let schemaPath = repoRoot + "/docs/pod-manifest.schema.json"

    @Test func exampleParses() throws {
        let m = try PodManifest.load(bundle: repoRoot + "/Examples/hello-pod")
        #expect(m.name == "hello")
        #expect(m.rootfs == nil)
        #expect(m.services.map(\.name) == ["web", "client"])
        #expect(m.startOrder.map(\.name) == ["web", "client"])
        let web = m.services[0]
        #expect(web.replicas == Replicas(fixed: 2))
        #expect(web.readiness?.check == .tcp(port: 8080, address: "127.0.0.1"))
        #expect(web.sockets.isEmpty)
        #expect(web.command.first == "/bin/sh")
        #expect(m.services[1].dependsOn == ["web"])
    }

    @Test(.enabled(if: pythonHasJsonschema, "needs python3 with the jsonschema and yaml modules"))
    func exampleAndFullManifestValidateAgainstTheSchema() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("podvisor-schema-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = dir.appendingPathComponent("full.yaml").path
        let bad = dir.appendingPathComponent("bad.yaml").path
        try fullManifest.write(toFile: full, atomically: true, encoding: .utf8)
        // The schema must reject what the parser rejects: an unknown key, a duration without unit.
        try (fullManifest + "colour: red\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let script = """
            import json, sys, yaml, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            v = jsonschema.Draft202012Validator(schema)
            for path in sys.argv[2:4]:
                errors = [f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(yaml.safe_load(open(path)))]
                if errors:
                    print("\\n".join(errors)); sys.exit(1)
            if v.is_valid(yaml.safe_load(open(sys.argv[4]))):
                print("the schema accepted an unknown key"); sys.exit(1)
            doc = yaml.safe_load(open(sys.argv[2]))
            doc["services"][0]["backoff"] = {"initial": "10"}
            if v.is_valid(doc):
                print("the schema accepted a duration without a unit"); sys.exit(1)
            print("ok")
            """
        let result = try #require(runPython(script, [schemaPath, repoRoot + "/Examples/hello-pod/pod.yaml", full, bad]))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output == "ok\n")
    }

    /// Every mapping the parser reads has exactly the parser's keys in the schema, with
    /// additionalProperties: false.
    @Test func schemaListsExactlyTheKeysTheParserAccepts() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: schemaPath))
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let defs = schema["$defs"] as? [String: Any] ?? [:]

        func deref(_ node: Any?) -> [String: Any]? {
            var node = node as? [String: Any]
            while let ref = node?["$ref"] as? String, ref.hasPrefix("#/$defs/") {
                node = defs[String(ref.dropFirst("#/$defs/".count))] as? [String: Any]
            }
            return node
        }
        /// The object branch of a node (through $ref, anyOf, oneOf).
        func object(_ node: Any?) -> [String: Any]? {
            guard let n = deref(node) else { return nil }
            if n["properties"] != nil { return n }
            for key in ["anyOf", "oneOf"] {
                for branch in n[key] as? [Any] ?? [] {
                    if let o = object(branch) { return o }
                }
            }
            return nil
        }
        func array(_ node: Any?) -> [String: Any]? {
            guard let n = deref(node) else { return nil }
            if n["items"] != nil { return n }
            for key in ["anyOf", "oneOf"] {
                for branch in n[key] as? [Any] ?? [] {
                    if let a = array(branch) { return a }
                }
            }
            return nil
        }

        for (path, keys) in ManifestKeys.all {
            var node: Any? = schema
            for segment in path.split(separator: ".") {
                let isList = segment.hasSuffix("[]")
                let name = isList ? String(segment.dropLast(2)) : String(segment)
                node = (object(node)?["properties"] as? [String: Any])?[name]
                if isList { node = array(node)?["items"] }
            }
            let o = try #require(object(node), "schema has no object at \(path.isEmpty ? "(top)" : path)")
            let properties = Set((o["properties"] as? [String: Any] ?? [:]).keys)
            #expect(properties == Set(keys), "at \(path.isEmpty ? "(top)" : path)")
            #expect(o["additionalProperties"] as? Bool == false, "at \(path.isEmpty ? "(top)" : path)")
        }
    }
}

@Suite struct DocumentationTests {
    /// The example at the end of docs/POD-BUNDLE.md parses.
    @Test func podBundleDocExampleParses() throws {
        let doc = try String(contentsOfFile: repoRoot + "/docs/POD-BUNDLE.md", encoding: .utf8)
        let section = try #require(doc.range(of: "## Example\n"))
        let rest = doc[section.upperBound...]
        let start = try #require(rest.range(of: "```yaml\n"))
        let end = try #require(rest[start.upperBound...].range(of: "```"))
        let m = try PodManifest.parse(yaml: String(rest[start.upperBound..<end.lowerBound]), file: "POD-BUNDLE.md")
        #expect(m.startOrder.map(\.name) == ["db", "api"])
        #expect(m.services[1].sockets == [SocketSpec(name: "http", port: 8080, address: "127.0.0.1")])
    }
}
