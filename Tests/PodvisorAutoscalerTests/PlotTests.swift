import Glibc
import PodvisorAutoscaler
import PodvisorLinux
import Testing

/// A synthetic two-pool trace: "web" follows a load step up and down under the policy, "worker" is held at the
/// pod budget for a while and sees memory pressure. Deterministic.
enum SyntheticTrace {
    static func lines() -> [RecordLine] {
        var policy = ScalingPolicy(pools: [
            "web": PoolPolicy(target: .cpuPressure(0.10), minReplicas: 2, maxReplicas: 12, upWindow: 3,
                              downWindow: 45, cooldown: 6),
            "worker": PoolPolicy(target: .utilisation(coresPerInstance: 0.7), minReplicas: 1, maxReplicas: 6,
                                 upWindow: 3, downWindow: 45, cooldown: 6),
        ])
        var replicas = ["web": 2, "worker": 1]
        var lines: [RecordLine] = []
        var t = 0.0
        while t <= 240 {
            // web: demand in cores; pressure grows as demand per instance passes 0.6 cores.
            let webDemand: Double = t < 30 ? 1.2 : (t < 120 ? 4.5 + 0.6 * sin(t / 4) : 1.5)
            let n = Double(replicas["web"]!)
            let perInstance = webDemand / n
            let webPressure = max(0, min(0.9, (perInstance - 0.45) * 0.55)) + 0.01 * (1 + sin(t * 1.7))
            let web = PoolObservation(time: t, pool: "web", replicas: replicas["web"]!, cpuSome: webPressure,
                                      cpuFull: webPressure * 0.3, cpuCores: min(webDemand, n))
            let workerDemand: Double = t < 60 ? 0.5 : (t < 120 ? 2.0 : (t < 200 ? 3.6 : 0.6))
            let m = Double(replicas["worker"]!)
            let budgetBound = t >= 60 && t < 80
            let memory = t >= 120 && t < 135 ? 0.18 : 0.002
            let worker = PoolObservation(time: t, pool: "worker", replicas: replicas["worker"]!,
                                         cpuSome: min(0.8, max(0, workerDemand / m - 0.6) * 0.4),
                                         memorySome: memory, cpuCores: min(workerDemand, m),
                                         throttledShare: budgetBound ? 0.4 : 0,
                                         instanceThrottledShares: Array(repeating: 0, count: replicas["worker"]!))
            let decisions = policy.evaluate([web, worker])
            for observation in [web, worker] {
                lines.append(RecordLine(observation: observation, decisions: decisions))
            }
            for d in decisions where d.from != d.to { replicas[d.pool] = d.to }
            t += 0.5
        }
        return lines
    }

    static var jsonLines: String { lines().map { $0.jsonLine + "\n" }.joined() }
}

func occurrences(of needle: String, in text: String) -> Int {
    var count = 0
    var rest = Substring(text)
    while let range = rest.firstRange(of: needle) {
        count += 1
        rest = rest[range.upperBound...]
    }
    return count
}

@Suite("Recorder and plot")
struct PlotTests {
    @Test func recordLinesRoundTrip() throws {
        let decision = Decision(time: 3.5, pool: "we\"b", from: 2, to: 3, reason: .scaleUp, text: "cpu \"hot\"\n",
                                inputs: DecisionInputs(metric: 0.2, target: 0.1, desired: 4))
        let observation = PoolObservation(time: 3.5, pool: "we\"b", replicas: 2, cpuSome: 0.2, cpuFull: 0.05,
                                          memorySome: 0.01, cpuCores: 1.25, throttledShare: 0.1,
                                          instanceThrottledShares: [0.5, 0.3], acceptQueue: 7)
        let line = RecordLine(observation: observation, decisions: [decision])
        let text = line.jsonLine
        #expect(!text.contains("\n"))
        #expect(text.hasPrefix("{\"t\":3.5,\"pool\":\"we\\\"b\",\"replicas\":2,\"pressure\":{\"cpu\":{\"some\":0.2,\"full\":0.05}"))
        let back = try RecordLine(jsonLine: text)
        #expect(back == line)
        #expect(back.decision?.reason == "scale-up" && back.decision?.desired == 4)
        #expect(abs(back.instanceThrottledShare - 0.4) < 1e-9)
    }

    @Test func recorderWritesJSONLines() throws {
        let path = "/tmp/pv-test-recorder-\(getpid()).jsonl"
        defer { unlink(path) }
        let recorder = try Recorder(path: path, truncate: true)
        var policy = ScalingPolicy(pools: ["a": PoolPolicy(target: .cpuPressure(0.1))])
        for i in 0..<3 {
            let o = PoolObservation(time: Double(i), pool: "a", replicas: 1, cpuSome: 0.1)
            try recorder.record(observations: [o], decisions: policy.evaluate(o))
        }
        recorder.close()
        let records = try Plot.parse(jsonLines: try FileIO.read(path))
        #expect(records.count == 3)
        #expect(records.map(\.time) == [0, 1, 2])
        #expect(records.allSatisfy { $0.decision?.reason == "in-band" })
    }

    @Test func svgHasEveryPoolAndAPathPerSeries() throws {
        let svg = try Plot.render(jsonLines: SyntheticTrace.jsonLines, title: "synthetic")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.contains(">web<") && svg.contains(">worker<"))
        for series in ["replicas", "cpu-cores", "cpu-pressure"] {
            #expect(occurrences(of: "class=\"series \(series)\"", in: svg) == 2, "\(series)")
        }
        // worker had memory pressure; web had none.
        #expect(occurrences(of: "class=\"series memory-pressure\"", in: svg) == 1)
        #expect(svg.contains("class=\"marker up\"") && svg.contains("class=\"marker down\""))
        #expect(svg.contains("class=\"hold budget\"") && svg.contains("class=\"hold memory-pressure\""))
        #expect(!svg.contains("<script"))
        #expect(!svg.contains("nan") && !svg.contains("inf"))
    }

    @Test func htmlEmbedsTheSVGAndPlotWritePicksTheFormat() throws {
        let html = try Plot.renderHTML(jsonLines: SyntheticTrace.jsonLines, title: "synthetic")
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.contains("<svg xmlns=") && html.contains("</svg>"))
        #expect(html.contains("<td>web</td>") && !html.contains("<script"))

        let base = "/tmp/pv-test-plot-\(getpid())"
        defer { for ext in ["jsonl", "svg", "html", "png"] { unlink("\(base).\(ext)") } }
        try FileIO.write("\(base).jsonl", SyntheticTrace.jsonLines, flags: O_WRONLY | O_CREAT | O_TRUNC)
        try Plot.write(input: "\(base).jsonl", output: "\(base).svg")
        try Plot.write(input: "\(base).jsonl", output: "\(base).html")
        #expect(try FileIO.read("\(base).svg").hasPrefix("<svg"))
        #expect(try FileIO.read("\(base).html").hasPrefix("<!doctype html>"))
        #expect(throws: PlotError.self) { try Plot.write(input: "\(base).jsonl", output: "\(base).png") }
        #expect(throws: PlotError.self) { try Plot.render(jsonLines: "{\"t\":1}\n") }
    }

    /// Writes the synthetic trace's plot to $PODVISOR_PLOT_OUT (svg/html) for eyeballing.
    @Test(.enabled(if: getenv("PODVISOR_PLOT_OUT") != nil)) func writeSamplePlot() throws {
        let out = String(cString: getenv("PODVISOR_PLOT_OUT"))
        let input = out + ".jsonl"
        try FileIO.write(input, SyntheticTrace.jsonLines, flags: O_WRONLY | O_CREAT | O_TRUNC)
        try Plot.write(input: input, output: out)
    }
}
