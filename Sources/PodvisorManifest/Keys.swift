/// Every key the parser accepts, per mapping. Anything else is an "unknown key" error.
/// docs/pod-manifest.schema.json must list exactly these (a test checks).
public enum ManifestKeys {
    public static let pod = ["name", "release", "rootfs", "hostname", "resources", "supervision", "services"]
    public static let resources = ["memory", "cpu", "pids"]
    public static let supervision = ["strategy", "intensity", "period"]
    public static let service = [
        "name", "command", "args", "env", "cwd", "user", "rootfs", "replicas", "resources", "restart",
        "backoff", "sockets", "readiness", "shutdown", "depends_on", "autoscale", "security",
    ]
    public static let replicas = ["min", "max", "initial"]
    public static let backoff = ["initial", "max", "multiplier"]
    public static let socket = ["name", "port", "protocol", "address", "backlog"]
    public static let readiness = ["tcp", "exec", "interval", "timeout"]
    public static let shutdown = ["signal", "timeout"]
    public static let security = ["seccomp", "capabilities", "no_new_privileges"]
    public static let autoscale = [
        "metric", "target", "interval", "scale_up_window", "scale_down_window", "cooldown", "tolerance",
        "step_up", "step_down",
    ]

    /// Each fixed-key mapping by its path pattern ("" is the top level; "[]" is any list element).
    public static let all: [(path: String, keys: [String])] = [
        ("", pod),
        ("resources", resources),
        ("supervision", supervision),
        ("services[]", service),
        ("services[].replicas", replicas),
        ("services[].resources", resources),
        ("services[].backoff", backoff),
        ("services[].sockets[]", socket),
        ("services[].readiness", readiness),
        ("services[].shutdown", shutdown),
        ("services[].autoscale", autoscale),
        ("services[].security", security),
    ]
}
