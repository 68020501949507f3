import CLinux
import Glibc
import PodvisorAutoscaler
import Prometheus

/// `--metrics ADDR`: the pod's pools in the Prometheus text format, served from the supervisor's poll
/// loop on a plain HTTP listener of the host (not the pod's network namespace).
final class PodMetrics {
    let registry = PrometheusCollectorRegistry()
    let listener: Int32
    let pod: String
    private var gauges: [String: Gauge] = [:]
    private var counters: [String: Counter] = [:]

    init(address: String, pod: String) throws(PodError) {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = Int32(parts[1]) else {
            throw PodError("--metrics: \"\(address)\": expected HOST:PORT, e.g. 127.0.0.1:9464")
        }
        listener = pv_inet_listen(String(parts[0]), port, 16, 0)
        if listener < 0 { throw PodError("--metrics: \(address): \(String(cString: strerror(errno)))") }
        self.pod = pod
    }

    deinit { close(listener) }

    func update(_ observations: [PoolObservation], restarts: [String: Int]) {
        for o in observations {
            set("podvisor_pool_replicas", o.pool, Double(o.replicas))
            set("podvisor_pool_cpu_pressure_some", o.pool, o.cpuSome)
            set("podvisor_pool_memory_pressure_some", o.pool, o.memorySome)
            set("podvisor_pool_io_pressure_some", o.pool, o.ioSome)
            set("podvisor_pool_cpu_cores", o.pool, o.cpuCores)
            set("podvisor_pool_throttled_share", o.pool, o.throttledShare)
            if let queue = o.acceptQueue { set("podvisor_pool_accept_queue", o.pool, queue) }
            set("podvisor_pool_restarts", o.pool, Double(restarts[o.pool] ?? 0))
        }
    }

    func countDecision(_ decision: Decision) {
        let key = decision.pool + (decision.to > decision.from ? "up" : "down")
        let counter = counters[key] ?? registry.makeCounter(
            name: "podvisor_autoscale_decisions_total",
            labels: [("pod", pod), ("pool", decision.pool), ("direction", decision.to > decision.from ? "up" : "down")])
        counters[key] = counter
        counter.increment()
    }

    private func set(_ name: String, _ pool: String, _ value: Double) {
        let key = name + "|" + pool
        let gauge = gauges[key] ?? registry.makeGauge(name: name, labels: [("pod", pod), ("pool", pool)])
        gauges[key] = gauge
        gauge.set(value)
    }

    /// Answers one scrape (any path) and closes the connection.
    func serve() {
        let fd = pv_accept_cloexec(listener)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var request = [UInt8](repeating: 0, count: 2048)
        _ = recv(fd, &request, request.count, Int32(MSG_DONTWAIT))
        let body = registry.emitToBuffer()
        var response = Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        response += body
        _ = send(fd, response, response.count, Int32(MSG_NOSIGNAL))
    }
}
