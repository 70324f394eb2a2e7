// Benchmark driver for bench/ scripts (not installed for users). See bench/README.md.
import FlockerSSH
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

func usage() -> Never {
    print(
        """
        usage: flocker-bench ssh-stream --host H --port P --user U --identity KEY --known-hosts FILE
                                        [--bytes N] [--runs N] [--cipher LIST] [--mac LIST] [--window BYTES]
                                        [--sink handler|pipe]
               flocker-bench free-port
               flocker-bench relay --ssh-config CFG --from NODE --to NODE --dataset flocker/bench… --snapshot S [--compress zstd|lz4|none]

        ssh-stream  streams N bytes (default 1 GiB) of `head -c N /dev/zero` from the host through one exec
                    channel, --runs times (default 3), each on a new connection (connect and authentication are
                    inside the timing, as for `ssh HOST cat`). Prints the negotiated algorithms, every run and the
                    median in MiB/s, and the client's CPU time per GiB. --sink pipe sends the output through a
                    BytePipe drained by a task (the relay path) instead of a handler closure.
        free-port   prints a TCP port on 127.0.0.1 that was free a moment ago.
        relay       relays `zfs send DATASET@S` on one node into `zfs recv DATASET` on another through this machine,
                    as flocker-deploy moves a volume (the target dataset is destroyed first). See bench/relay.sh.
        """)
    exit(2)
}

func seconds(_ d: Duration) -> Double {
    let (s, atto) = d.components
    return Double(s) + Double(atto) / 1e18
}

func sshStream(_ arguments: [String]) async -> Int32 {
    var options: [String: String] = [:]
    var i = 0
    while i < arguments.count {
        guard arguments[i].hasPrefix("--"), i + 1 < arguments.count else { usage() }
        options[String(arguments[i].dropFirst(2))] = arguments[i + 1]
        i += 2
    }
    guard let host = options["host"], let port = options["port"].flatMap(Int.init), let user = options["user"],
        let identity = options["identity"], let knownHosts = options["known-hosts"]
    else { usage() }
    let bytes = options["bytes"].flatMap(Int.init) ?? 1 << 30
    let runs = options["runs"].flatMap(Int.init) ?? 3

    let settings = SSHHostSettings(
        alias: host, hostName: host, user: user, port: port, identityFiles: [identity],
        knownHostsFiles: [knownHosts], hostKeyPolicy: .strict, connectTimeout: .seconds(10))
    var connectOptions = SSHConnectOptions()
    connectOptions.useAgent = false
    connectOptions.cipherPreference = options["cipher"]
    connectOptions.macPreference = options["mac"]
    if let window = options["window"].flatMap(Int.init) { connectOptions.channelWindowSize = window }

    var rates: [Double] = []
    for run in 1...runs {
        let clock = ContinuousClock()
        let cpuStart = cpuSeconds()
        let start = clock.now
        do {
            let connection = try await SSHConnection.connect(settings, options: connectOptions)
            if run == 1 { print("negotiated: \(connection.algorithms)") }
            let counted = Atomic<Int>(0)
            let streamStart = clock.now
            let sink: SSHOutput
            switch options["sink"] ?? "handler" {
            case "pipe":
                // Into a BytePipe drained by a task (the relay path: no per-chunk arrays on the worker).
                let pipe = BytePipe(capacity: 4 << 20)
                sink = .pipe(pipe)
                Task {
                    while let chunk = try? await pipe.read(upTo: 1 << 20) { counted.add(chunk.count, ordering: .relaxed) }
                }
            default:
                sink = .handler { chunk in counted.add(chunk.count, ordering: .relaxed) }
            }
            let result = try await connection.execute("head -c \(bytes) /dev/zero", stdout: sink)
            let end = clock.now
            await connection.close()
            let total = counted.load(ordering: .relaxed)
            guard result.exit.isSuccess, total == bytes else {
                print("run \(run): FAILED: \(result.exit), \(total) of \(bytes) bytes")
                return 1
            }
            let mib = Double(bytes) / 1_048_576
            let rate = mib / seconds(end - start)
            rates.append(rate)
            let cpu = cpuSeconds() - cpuStart
            print(
                "run \(run): \(bytes) bytes in \(format3(seconds(end - start))) s = \(format1(rate)) MiB/s"
                    + " (streaming alone: \(format1(mib / seconds(end - streamStart))) MiB/s;"
                    + " client CPU \(format3(cpu)) s = \(format3(cpu / mib * 1024)) s/GiB)")
        } catch {
            print("run \(run): FAILED: \(error)")
            return 1
        }
    }
    let median = rates.sorted()[rates.count / 2]
    print("median: \(format1(median)) MiB/s")
    return 0
}

/// User + system CPU time of this process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(usage.ru_utime) + s(usage.ru_stime)
}

func format1(_ x: Double) -> String {
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

func format3(_ x: Double) -> String {
    let thousandths = Int((x * 1000).rounded())
    let fraction = String(thousandths % 1000)
    return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}

func freePort() -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return 1 }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard ok else { return 1 }
    print(UInt16(bigEndian: address.sin_port))
    return 0
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { usage() }
switch command {
case "ssh-stream":
    exit(await sshStream(Array(arguments.dropFirst())))
case "free-port":
    exit(freePort())
case "relay":
    exit(await relayBenchmark(Array(arguments.dropFirst())))
default:
    usage()
}
