import CLinux
import Glibc

/// Signal names and numbers as kill(1) and runc accept them: "KILL", "SIGKILL", "9", "RTMIN+3".
public enum Signal {
    static let table: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT), ("IOT", SIGIOT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL),
        ("USR1", SIGUSR1), ("SEGV", SIGSEGV), ("USR2", SIGUSR2), ("PIPE", SIGPIPE), ("ALRM", SIGALRM),
        ("TERM", SIGTERM), ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD), ("CONT", SIGCONT), ("STOP", SIGSTOP),
        ("TSTP", SIGTSTP), ("TTIN", SIGTTIN), ("TTOU", SIGTTOU), ("URG", SIGURG), ("XCPU", SIGXCPU),
        ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM), ("PROF", SIGPROF), ("WINCH", SIGWINCH), ("IO", SIGIO),
        ("POLL", SIGPOLL), ("PWR", SIGPWR), ("SYS", SIGSYS),
    ]

    /// Parses a signal name or number; nil when it is not a signal of this system.
    public static func parse(_ text: String) -> Int32? {
        if let number = Int32(text) { return (1...pv_sigrtmax()).contains(number) ? number : nil }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let match = table.first(where: { $0.0 == name }) { return match.1 }
        return parseRealtime(name)
    }

    private static func parseRealtime(_ name: String) -> Int32? {
        let (low, high) = (pv_sigrtmin(), pv_sigrtmax())
        if name == "RTMIN" { return low }
        if name == "RTMAX" { return high }
        if name.hasPrefix("RTMIN+"), let offset = Int32(name.dropFirst(6)), low + offset <= high { return low + offset }
        if name.hasPrefix("RTMAX-"), let offset = Int32(name.dropFirst(6)), high - offset >= low { return high - offset }
        return nil
    }

    public static func name(of signal: Int32) -> String {
        if let match = table.first(where: { $0.1 == signal }) { return "SIG" + match.0 }
        return "signal \(signal)"
    }
}
