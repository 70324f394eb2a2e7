import FlockerCore
import FlockerSSH
import Foundation

/// `flocker-bench relay`: one `zfs send` on a node relayed into `zfs recv` on another through this machine,
/// exactly as flocker-deploy moves a volume (FlockerCore's SSHRemoteHost.relay over two FlockerSSH connections).
/// The target dataset must not exist (bench/relay.sh removes it). Prints bytes, seconds (connections included)
/// and MiB/s.
func relayBenchmark(_ arguments: [String]) async -> Int32 {
    var options: [String: String] = [:]
    var i = 0
    while i + 1 < arguments.count, arguments[i].hasPrefix("--") {
        options[String(arguments[i].dropFirst(2))] = arguments[i + 1]
        i += 2
    }
    guard let config = options["ssh-config"], let from = options["from"], let to = options["to"],
        let dataset = options["dataset"], let snapshot = options["snapshot"], dataset.hasPrefix("flocker/bench")
    else {
        print("usage: flocker-bench relay --ssh-config CFG --from NODE --to NODE --dataset flocker/bench… --snapshot NAME [--compress zstd|lz4|none]")
        return 2
    }
    do {
        // Timed from before connecting, like `ssh A … | ssh B …` (whose timing includes both connections).
        let clock = ContinuousClock()
        let start = clock.now
        let connector = SSHNodeConnector(config: try SSHClientConfig.load(path: config), options: SSHConnectOptions())
        async let sourceConnection = connector.connect(from)
        async let targetConnection = connector.connect(to)
        let source = try await sourceConnection
        let target = try await targetConnection
        _ = try await target.run(RemoteCommand("sync"), stdin: [], timeout: .seconds(120))
        var send = RemoteCommand("zfs", "send", "\(dataset)@\(snapshot)")
        var receive = RemoteCommand("zfs", "recv", dataset)
        // Diagnostics: --raw-send/--raw-recv replace the zfs commands with shell text (e.g. head -c N /dev/zero, cat).
        if let raw = options["raw-send"] { send = RemoteCommand("sh", "-c", raw) }
        if let raw = options["raw-recv"] { receive = RemoteCommand("sh", "-c", raw) }
        if let name = options["compress"], name != "none", let c = NodeCommands.compressor(name) {
            send = send.piped(into: c.compress)
            receive = c.decompress.piped(into: receive)
        }
        let result = try await source.relay(send, to: target, receive, idleTimeout: .seconds(120)) { _ in }
        let elapsed = clock.now - start
        guard result.isSuccess else {
            print("relay failed: sender \(result.sender.status) \(result.sender.stderrText) receiver \(result.receiver.status) \(result.receiverText)")
            return 1
        }
        let s = Seconds.value(elapsed)
        print("relay bytes=\(result.bytes) seconds=\(String(format: "%.3f", s)) MiBps=\(String(format: "%.1f", Double(result.bytes) / 1_048_576 / s))")
        await source.close()
        await target.close()
        return 0
    } catch {
        print("relay: \(error)")
        return 1
    }
}

extension RelayResult {
    var receiverText: String { receiver.stderrText }
}
