import PodvisorLinux

public enum PlotError: Error, Sendable, CustomStringConvertible {
    case read(SystemError)
    case write(SystemError)
    case parse(line: Int, JSONValue.ParseError)
    case empty(String)
    case unknownFormat(String)

    public var description: String {
        switch self {
        case .read(let e), .write(let e): e.description
        case .parse(let line, let e): "line \(line): \(e)"
        case .empty(let what): "nothing to plot: \(what)"
        case .unknownFormat(let path): "cannot tell the format of \(path): name it .svg or .html"
        }
    }
}

/// Renders a recording (the `Recorder`'s JSON lines) as a self-contained SVG (no scripts, no external files):
/// one panel per pool on a shared time axis, with replicas (step line) and cpu used (cores) on the left axis,
/// cpu and memory pressure (some, %) on the right axis, scale-up/down markers (hover for the decision's reason) and
/// a strip marking holds for budget and memory pressure.
public enum Plot {
    /// Reads `input` (JSON lines) and writes `output` as SVG (.svg) or an HTML page (.html, .htm).
    public static func write(input: String, output: String) throws(PlotError) {
        let lower = output.lowercased()
        let isHTML = lower.hasSuffix(".html") || lower.hasSuffix(".htm")
        guard isHTML || lower.hasSuffix(".svg") else { throw .unknownFormat(output) }
        let text: String
        do { text = try FileIO.read(input) } catch { throw .read(error) }
        let title = "Autoscaling: " + (input.split(separator: "/").last.map(String.init) ?? input)
        let rendered = isHTML ? try renderHTML(jsonLines: text, title: title) : try render(jsonLines: text, title: title)
        do { try FileIO.writeAtomically(output, rendered) } catch { throw .write(error) }
    }

    public static func parse(jsonLines: String) throws(PlotError) -> [RecordLine] {
        var records: [RecordLine] = []
        for (index, line) in jsonLines.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            do { records.append(try RecordLine(jsonLine: String(line))) } catch { throw .parse(line: index + 1, error) }
        }
        return records
    }

    public static func render(jsonLines: String, title: String = "Autoscaling") throws(PlotError) -> String {
        let records = try parse(jsonLines: jsonLines)
        guard !records.isEmpty else { throw .empty("no records") }
        return render(records: records, title: title)
    }

    /// An HTML page with the SVG inline, a short legend and a per-pool summary table.
    public static func renderHTML(jsonLines: String, title: String = "Autoscaling") throws(PlotError) -> String {
        let records = try parse(jsonLines: jsonLines)
        guard !records.isEmpty else { throw .empty("no records") }
        let svg = render(records: records, title: title)
        var rows = ""
        for pool in poolOrder(records) {
            let r = records.filter { $0.pool == pool }
            let changes = r.compactMap(\.decision).filter(\.isChange)
            let ups = changes.filter { $0.to > $0.from }.count
            let meanPressure = r.map(\.cpuSome).reduce(0, +) / Double(r.count)
            let holds = Dictionary(grouping: r.compactMap(\.decision).filter { !$0.isChange }, by: \.reason)
                .sorted { $0.value.count > $1.value.count }.prefix(3)
                .map { "\(escape($0.key)) \(Format.percent(Double($0.value.count) / Double(r.count), 0))" }
                .joined(separator: ", ")
            rows += "<tr><td>\(escape(pool))</td><td>\(r.map(\.replicas).min()!)–\(r.map(\.replicas).max()!)</td>"
                + "<td>\(ups) up, \(changes.count - ups) down</td><td>\(Format.percent(meanPressure))</td>"
                + "<td>\(Format.percent(r.map(\.cpuSome).max()!))</td><td>\(holds)</td></tr>\n"
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:24px auto;max-width:1000px;padding:0 16px}
            h1{font-size:20px;font-weight:600;margin:0 0 4px}
            p.note{color:#555;font-size:13px;margin:0 0 12px}
            table{border-collapse:collapse;font-size:13px;margin:16px 0}
            th,td{text-align:left;padding:4px 12px 4px 0;border-bottom:1px solid #e3e3e3}
            th{font-weight:600;color:#444}
            svg{max-width:100%;height:auto}
            </style></head><body>
            <h1>\(escape(title))</h1>
            <p class="note">Per pool: replicas (step line) and cpu used in cores on the left axis; cpu and memory pressure
            (PSI "some", share of wall time) on the right axis. ▲/▼ mark scale-ups and scale-downs (hover for the
            policy's reason); the strip under each panel marks holds because of the cpu budget or memory pressure.</p>
            \(svg)
            <table><tr><th>pool</th><th>replicas</th><th>changes</th><th>mean cpu pressure</th><th>peak cpu pressure</th><th>most frequent holds</th></tr>
            \(rows)</table>
            </body></html>

            """
    }

    // MARK: - SVG

    static let width = 960.0
    static let marginLeft = 64.0
    static let marginRight = 72.0
    static let headerHeight = 64.0
    static let panelTitle = 30.0
    static let plotHeight = 170.0
    static let panelBottom = 44.0
    static var panelHeight: Double { panelTitle + plotHeight + panelBottom }

    enum Color {
        static let replicas = "#1f3a93"
        static let cores = "#2a9d8f"
        static let cpuPressure = "#e4572e"
        static let memoryPressure = "#8e44ad"
        static let up = "#2e7d32"
        static let down = "#c62828"
        static let budget = "#9e9e9e"
        static let memoryHold = "#c39bd3"
        static let grid = "#e8e8e8"
        static let axis = "#555"
        static let text = "#222"
        static let muted = "#666"
    }

    static func poolOrder(_ records: [RecordLine]) -> [String] {
        var seen = Set<String>()
        return records.map(\.pool).filter { seen.insert($0).inserted }
    }

    public static func render(records: [RecordLine], title: String = "Autoscaling") -> String {
        let pools = poolOrder(records)
        let t0 = records.map(\.time).min() ?? 0
        let span = max((records.map(\.time).max() ?? 0) - t0, 1)
        let useMinutes = span > 600
        let unit = useMinutes ? 60.0 : 1.0
        let xTicks = niceTicks(max: span / unit, count: 8)
        let xMax = max(xTicks.last ?? 1, span / unit)
        let plotWidth = width - marginLeft - marginRight
        func x(_ t: Double) -> Double { marginLeft + (t - t0) / unit / xMax * plotWidth }

        let height = headerHeight + Double(pools.count) * panelHeight + 8
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" viewBox="0 0 \(n(width)) \(n(height))" font-family="system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="#ffffff"/>
            <text x="\(n(marginLeft))" y="24" font-size="16" font-weight="600" fill="\(Color.text)">\(escape(title))</text>

            """
        s += legend(y: 46)
        for (index, pool) in pools.enumerated() {
            let top = headerHeight + Double(index) * panelHeight
            let rows = records.filter { $0.pool == pool }.sorted { $0.time < $1.time }
            s += panel(pool: pool, rows: rows, top: top, x: x, xTicks: xTicks, xMax: xMax, unit: useMinutes ? "min" : "s",
                       plotWidth: plotWidth)
        }
        s += "</svg>\n"
        return s
    }

    static func legend(y: Double) -> String {
        var s = "<g class=\"legend\" fill=\"\(Color.text)\">\n"
        var cursor = marginLeft
        func item(_ swatch: String, _ label: String, _ width: Double) {
            s += swatch + "<text x=\"\(n(cursor + 24))\" y=\"\(n(y + 4))\">\(escape(label))</text>\n"
            cursor += width
        }
        item(line(cursor, y, Color.replicas, 2.4, dash: nil), "replicas", 84)
        item(line(cursor, y, Color.cores, 1.6, dash: nil), "cpu used (cores)", 124)
        item(line(cursor, y, Color.cpuPressure, 1.6, dash: nil), "cpu pressure (some, right)", 176)
        item(line(cursor, y, Color.memoryPressure, 1.4, dash: "4 3"), "memory pressure", 130)
        item(triangle(cursor + 10, y, up: true), "scale up", 78)
        item(triangle(cursor + 10, y, up: false), "scale down", 92)
        item("<rect x=\"\(n(cursor + 2))\" y=\"\(n(y - 3))\" width=\"16\" height=\"6\" fill=\"\(Color.budget)\"/>", "budget hold", 96)
        item("<rect x=\"\(n(cursor + 2))\" y=\"\(n(y - 3))\" width=\"16\" height=\"6\" fill=\"\(Color.memoryHold)\"/>", "memory hold", 96)
        return s + "</g>\n"
    }

    static func line(_ x: Double, _ y: Double, _ color: String, _ width: Double, dash: String?) -> String {
        "<line x1=\"\(n(x))\" y1=\"\(n(y))\" x2=\"\(n(x + 18))\" y2=\"\(n(y))\" stroke=\"\(color)\" stroke-width=\"\(n(width))\""
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>"
    }

    static func triangle(_ x: Double, _ y: Double, up: Bool, title: String? = nil) -> String {
        let h = 6.0
        let points = up ? "\(n(x)),\(n(y - h)) \(n(x - h)),\(n(y + h * 0.7)) \(n(x + h)),\(n(y + h * 0.7))"
                        : "\(n(x)),\(n(y + h)) \(n(x - h)),\(n(y - h * 0.7)) \(n(x + h)),\(n(y - h * 0.7))"
        let color = up ? Color.up : Color.down
        let tip = title.map { "<title>\(escape($0))</title>" } ?? ""
        return "<polygon class=\"marker \(up ? "up" : "down")\" points=\"\(points)\" fill=\"\(color)\" stroke=\"#fff\" stroke-width=\"1\">\(tip)</polygon>"
    }

    static func panel(pool: String, rows: [RecordLine], top: Double, x: (Double) -> Double, xTicks: [Double],
                      xMax: Double, unit: String, plotWidth: Double) -> String {
        let plotTop = top + panelTitle
        let plotBottom = plotTop + plotHeight
        let right = marginLeft + plotWidth
        let leftMaxValue = max(rows.map { Double($0.replicas) }.max() ?? 1, rows.map(\.cpuCores).max() ?? 0, 1)
        let leftTicks = niceTicks(max: leftMaxValue * 1.08, count: 5, integer: true)
        let leftMax = leftTicks.last!
        let showMemory = rows.contains { $0.memorySome > 0.0005 }
        let rightMaxValue = max(rows.map(\.cpuSome).max() ?? 0, showMemory ? rows.map(\.memorySome).max()! : 0, 0.05)
        let rightTicks = niceTicks(max: rightMaxValue * 100 * 1.08, count: 5)
        let rightMax = rightTicks.last! / 100
        func yl(_ v: Double) -> Double { plotBottom - v / leftMax * plotHeight }
        func yr(_ v: Double) -> Double { plotBottom - v / rightMax * plotHeight }

        let changes = rows.compactMap { r in r.decision.flatMap { $0.isChange ? (r.time, $0) : nil } }
        let ups = changes.filter { $0.1.to > $0.1.from }.count
        let replicaRange = "\(rows.map(\.replicas).min() ?? 0)–\(rows.map(\.replicas).max() ?? 0)"
        let peak = Format.percent(rows.map(\.cpuSome).max() ?? 0)
        let summary = "replicas \(replicaRange) · \(ups) scale-up\(ups == 1 ? "" : "s"), \(changes.count - ups) scale-down\(changes.count - ups == 1 ? "" : "s") · peak cpu pressure \(peak)"

        var s = "<g class=\"pool\" data-pool=\"\(escape(pool))\">\n"
        s += "<text x=\"\(n(marginLeft))\" y=\"\(n(top + 20))\" font-size=\"14\" font-weight=\"600\" fill=\"\(Color.text)\">\(escape(pool))"
            + "<tspan dx=\"10\" font-size=\"11.5\" font-weight=\"400\" fill=\"\(Color.muted)\">\(escape(summary))</tspan></text>\n"
        // Grid and axes.
        s += "<rect x=\"\(n(marginLeft))\" y=\"\(n(plotTop))\" width=\"\(n(plotWidth))\" height=\"\(n(plotHeight))\" fill=\"#fcfcfd\"/>\n"
        for tick in leftTicks {
            let y = yl(tick)
            s += "<line x1=\"\(n(marginLeft))\" y1=\"\(n(y))\" x2=\"\(n(right))\" y2=\"\(n(y))\" stroke=\"\(Color.grid)\"/>"
            s += "<text x=\"\(n(marginLeft - 7))\" y=\"\(n(y + 3.5))\" text-anchor=\"end\" fill=\"\(Color.axis)\">\(Format.compact(tick, 2))</text>\n"
        }
        for tick in rightTicks {
            s += "<text x=\"\(n(right + 7))\" y=\"\(n(yr(tick / 100) + 3.5))\" fill=\"\(Color.cpuPressure)\">\(Format.compact(tick, 2))%</text>\n"
        }
        for tick in xTicks {
            let px = marginLeft + tick / xMax * plotWidth
            s += "<line x1=\"\(n(px))\" y1=\"\(n(plotTop))\" x2=\"\(n(px))\" y2=\"\(n(plotBottom))\" stroke=\"\(Color.grid)\"/>"
            s += "<line x1=\"\(n(px))\" y1=\"\(n(plotBottom))\" x2=\"\(n(px))\" y2=\"\(n(plotBottom + 4))\" stroke=\"\(Color.axis)\"/>"
            s += "<text x=\"\(n(px))\" y=\"\(n(plotBottom + 16))\" text-anchor=\"middle\" fill=\"\(Color.axis)\">\(Format.compact(tick, 2))</text>\n"
        }
        s += "<line x1=\"\(n(marginLeft))\" y1=\"\(n(plotBottom))\" x2=\"\(n(right))\" y2=\"\(n(plotBottom))\" stroke=\"\(Color.axis)\"/>\n"
        s += "<line x1=\"\(n(marginLeft))\" y1=\"\(n(plotTop))\" x2=\"\(n(marginLeft))\" y2=\"\(n(plotBottom))\" stroke=\"\(Color.axis)\"/>\n"
        s += "<line x1=\"\(n(right))\" y1=\"\(n(plotTop))\" x2=\"\(n(right))\" y2=\"\(n(plotBottom))\" stroke=\"\(Color.cpuPressure)\" stroke-opacity=\"0.5\"/>\n"
        s += "<text x=\"\(n(marginLeft + plotWidth / 2))\" y=\"\(n(plotBottom + 31))\" text-anchor=\"middle\" fill=\"\(Color.axis)\">time (\(unit))</text>\n"
        let midY = plotTop + plotHeight / 2
        s += "<text transform=\"translate(\(n(marginLeft - 40)),\(n(midY))) rotate(-90)\" text-anchor=\"middle\" fill=\"\(Color.axis)\">replicas · cores</text>\n"
        s += "<text transform=\"translate(\(n(right + 50)),\(n(midY))) rotate(90)\" text-anchor=\"middle\" fill=\"\(Color.cpuPressure)\">pressure (some)</text>\n"

        // Hold strip: runs of budget / memory-pressure holds.
        s += holdStrip(rows, reason: "budget", color: Color.budget, y: plotBottom - 6, x: x, end: right)
        s += holdStrip(rows, reason: "memory-pressure", color: Color.memoryHold, y: plotBottom - 6, x: x, end: right)

        // Series.
        let times = rows.map { x($0.time) }
        let pressurePoints = decimate(zip(times, rows.map { yr($0.cpuSome) }).map { ($0, $1) })
        if let first = pressurePoints.first, let last = pressurePoints.last {
            s += "<path class=\"series cpu-pressure-area\" d=\"M\(n(first.0)),\(n(plotBottom)) " + polyline(pressurePoints, move: false)
                + " L\(n(last.0)),\(n(plotBottom)) Z\" fill=\"\(Color.cpuPressure)\" fill-opacity=\"0.10\" stroke=\"none\"/>\n"
        }
        s += "<path class=\"series cpu-pressure\" d=\"\(polyline(pressurePoints))\" fill=\"none\" stroke=\"\(Color.cpuPressure)\" stroke-width=\"1.6\" stroke-linejoin=\"round\"/>\n"
        if showMemory {
            let points = decimate(zip(times, rows.map { yr($0.memorySome) }).map { ($0, $1) })
            s += "<path class=\"series memory-pressure\" d=\"\(polyline(points))\" fill=\"none\" stroke=\"\(Color.memoryPressure)\" stroke-width=\"1.4\" stroke-dasharray=\"4 3\"/>\n"
        }
        let cores = decimate(zip(times, rows.map { yl($0.cpuCores) }).map { ($0, $1) })
        s += "<path class=\"series cpu-cores\" d=\"\(polyline(cores))\" fill=\"none\" stroke=\"\(Color.cores)\" stroke-width=\"1.6\" stroke-linejoin=\"round\"/>\n"
        // Replicas as a step line: only the changes.
        var d = ""
        var previous: Int?
        for (i, r) in rows.enumerated() {
            if previous == nil {
                d = "M\(n(times[i])),\(n(yl(Double(r.replicas))))"
            } else if r.replicas != previous {
                d += " H\(n(times[i])) V\(n(yl(Double(r.replicas))))"
            }
            previous = r.replicas
        }
        if let last = times.last { d += " H\(n(last))" }
        s += "<path class=\"series replicas\" d=\"\(d)\" fill=\"none\" stroke=\"\(Color.replicas)\" stroke-width=\"2.4\" stroke-linejoin=\"miter\"/>\n"
        // Decision markers at the new replica count.
        for (time, decision) in changes {
            let up = decision.to > decision.from
            let tip = "t=\(Format.compact((time - (rows.first?.time ?? time)), 2)) s: \(Format.compact(decision.from, 0))→\(Format.compact(decision.to, 0)) \(decision.reason): \(decision.text)"
            s += triangle(x(time), yl(decision.to) + (up ? -9 : 9), up: up, title: tip) + "\n"
        }
        s += "</g>\n"
        return s
    }

    static func holdStrip(_ rows: [RecordLine], reason: String, color: String, y: Double, x: (Double) -> Double,
                          end: Double) -> String {
        var s = ""
        var start: Double?
        for (i, r) in rows.enumerated() {
            let holding = r.decision?.reason == reason
            if holding && start == nil { start = x(r.time) }
            if let begin = start, !holding || i == rows.count - 1 {
                let stop = holding ? x(r.time) : x(r.time)
                s += "<rect class=\"hold \(reason)\" x=\"\(n(begin))\" y=\"\(n(y))\" width=\"\(n(max(stop - begin, 1.5)))\" height=\"6\" fill=\"\(color)\" opacity=\"0.85\"><title>\(escape(reason)) hold</title></rect>\n"
                start = nil
            }
        }
        _ = end
        return s
    }

    /// At most two points (min and max, in time order) per pixel column.
    static func decimate(_ points: [(Double, Double)]) -> [(Double, Double)] {
        guard points.count > 2 * Int(width) else { return points }
        var result: [(Double, Double)] = []
        var column = -1
        var lo = (0.0, 0.0)
        var hi = (0.0, 0.0)
        func flush() {
            guard column >= 0 else { return }
            if lo.0 <= hi.0 { result.append(lo); if hi.0 != lo.0 || hi.1 != lo.1 { result.append(hi) } }
            else { result.append(hi); result.append(lo) }
        }
        for p in points {
            let c = Int(p.0)
            if c != column {
                flush()
                column = c
                lo = p
                hi = p
            } else {
                if p.1 > lo.1 { lo = p }  // SVG y grows downwards: larger y is the lower value
                if p.1 < hi.1 { hi = p }
            }
        }
        flush()
        return result
    }

    static func polyline(_ points: [(Double, Double)], move: Bool = true) -> String {
        var d = ""
        d.reserveCapacity(points.count * 14)
        for (i, p) in points.enumerated() {
            d += (i == 0 && move ? "M" : (i == 0 ? "L" : " L")) + n(p.0) + "," + n(p.1)
        }
        return d
    }

    /// Ticks 0, step, 2*step ... covering `max`, with step 1, 2 or 5 x 10^k.
    static func niceTicks(max value: Double, count: Int, integer: Bool = false) -> [Double] {
        let raw = Swift.max(value, 1e-9) / Double(Swift.max(count, 1))
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        var step = magnitude
        for factor in [1.0, 2.0, 2.5, 5.0, 10.0] where magnitude * factor >= raw {
            step = magnitude * factor
            break
        }
        if integer { step = Swift.max(1, step.rounded(.up)) }
        var ticks: [Double] = [0]
        while ticks.last! < value - 1e-9 { ticks.append(Double(ticks.count) * step) }
        if ticks.count == 1 { ticks.append(step) }
        return ticks
    }

    static func n(_ value: Double) -> String { Format.compact(value, 1) }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
