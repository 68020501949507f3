import ArgumentParser
import PodvisorAutoscaler

/// `podvisor plot FILE -o out.svg|out.html`: replicas and pressure over time, per pool.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plot",
                                                    abstract: "Draw a recorded time series (pod up --record) as SVG or HTML.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A recording (JSON lines).") var recording: String
    @Option(name: .shortAndLong, help: "The output: .svg or .html.") var output: String

    func run() throws {
        try reporting(global.globals) {
            do { try Plot.write(input: recording, output: output) } catch { throw CLIError("\(error)") }
        }
    }
}
