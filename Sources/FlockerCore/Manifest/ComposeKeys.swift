import FlockerYAML

/// What flocker-deploy does with one key of a Compose service.
enum ComposeKeyStatus: String, Sendable {
    /// Honoured (a `docker run` flag, or flocker-deploy's own meaning).
    case supported
    /// Accepted, with a warning that says what happens instead.
    case warning
    /// Refused, with an error that says why and what to do.
    case refused
}

/// A Compose service while its keys are decoded: the draft and what the keys add to it.
struct ComposeService {
    var draft: ApplicationDraft
    /// The service mapping's pairs and position (for keys that look at each other: `build` beside `image`).
    let pairs: [YAMLNode.Pair]
    let mark: Mark
    let declaredVolumes: Set<String>
    let context: ComposeContext
    var links: [ComposeDecoder.PendingLink] = []
    /// `depends_on` targets, checked once every service is known.
    var dependencies: [ComposeDecoder.PendingDependency] = []
    /// The top-level `configs:` and `secrets:`, by kind and name (see `ComposeFiles`).
    var files: [AppFile.Kind: [String: ComposeFiles.Declared]] = [:]
}

/// One key of a Compose service: its status, what it does (the documentation's key table), and its decoder.
struct ComposeKey: Sendable {
    typealias Decode = @Sendable (YAMLNode, ManifestPath, inout ComposeService, inout Diagnostics) -> Void

    var name: String
    var status: ComposeKeyStatus
    /// For the documentation: the `docker run` flag, or what happens (supported, warning), or why not (refused).
    var effect: String
    /// The error of a refused key.
    var refusal: String?
    var decode: Decode?

    static func supported(_ name: String, _ effect: String, _ decode: @escaping Decode) -> ComposeKey {
        ComposeKey(name: name, status: .supported, effect: effect, refusal: nil, decode: decode)
    }

    static func warning(_ name: String, _ effect: String, _ decode: @escaping Decode) -> ComposeKey {
        ComposeKey(name: name, status: .warning, effect: effect, refusal: nil, decode: decode)
    }

    static func refused(_ name: String, _ why: String) -> ComposeKey {
        ComposeKey(name: name, status: .refused, effect: why, refusal: "`\(name)` is not supported: \(why)", decode: nil)
    }
}

/// The one table of Compose service keys: it drives the schema (known and refused keys), the dispatch (each
/// key's decoder runs in table order, so `docker run` options come out in the same order whatever the file's
/// order) and the key table of docs/configuration.md (a test keeps the two equal).
enum ComposeKeys {
    static let service: [ComposeKey] = {
        var keys: [ComposeKey] = [
            .supported("image", "the image to run (pulled on the node when missing)") { n, p, s, d in
                s.draft.image = d.image(n, p) ?? ""
            },
            .warning("build", "ignored beside `image`, with a warning (the image is what runs); refused without `image`") {
                n, p, s, d in
                let mark = s.keyMark("build") ?? n.mark
                if s.pairs.contains(where: { $0.key.scalar == "image" }) {
                    d.warn(
                        mark, p,
                        "`build` is ignored: nodes do not build images, the image named by `image` runs (build and push it first)")
                } else {
                    d.add(
                        mark, p,
                        "`build` without `image` is not supported: nodes do not build images; build the image, push it to a registry the nodes can pull from and name it under `image`")
                }
            },
            .supported("command", "arguments after the image (`docker run IMAGE ARGS…`)") { n, p, s, d in
                s.draft.command = d.command(n, p)
            },
            .supported("entrypoint", "`--entrypoint` (its first word; further words come before `command`)") {
                n, p, s, d in
                guard let words = d.words(n, p, allowEmpty: true) else { return }
                s.draft.runOptions.append("--entrypoint=" + (words.first ?? ""))
                s.draft.entrypointArguments = Array(words.dropFirst())
            },
            .supported("ports", "published on every node through the routing mesh") { n, p, s, d in
                ComposeDecoder.decodePorts(n, p, &s.draft, &d)
            },
            .supported("expose", "`--expose`; published on the service's own address only, so other services reach `NAME:PORT` by name on every node (not from outside)") { n, p, s, d in
                guard let items = d.list(n, p, expected: "a list of container ports like \"5432\"") else { return }
                for (i, item) in items.enumerated() {
                    guard let text = d.text(item, p.index(i), expected: "a container port like \"5432\"") else {
                        continue
                    }
                    if ComposeKeys.isExposeSpec(text) {
                        s.draft.runOptions.append("--expose=" + text)
                    } else {
                        d.add(item.mark, p.index(i), "expected a container port like \"5432\" or \"5432/tcp\", found \(found(item))")
                    }
                }
            },
            .supported("environment", "the container's environment (passed in a file, never on a command line)") {
                n, p, s, d in
                for (name, value) in ComposeDecoder.decodeEnvironment(n, p, &d) { s.draft.environment[name] = value }
            },
            .supported("env_file", "read on the machine running flocker-deploy; its variables join `environment`, which wins") {
                n, p, s, d in
                ComposeDecoder.decodeEnvFiles(n, p, &s, &d)
            },
            .supported("links", "Flocker links: `ALIAS_PORT_…` variables and a connection through the mesh; ALIAS is also a name of the service") { n, p, s, d in
                s.links = ComposeDecoder.decodeLinks(n, p, &d)
            },
            .supported("depends_on", "where both run on one node, the dependency starts first and is ready (healthy) before the dependent starts; names must exist") {
                n, p, s, d in
                s.dependencies = ComposeDecoder.decodeDependsOn(n, p, &d)
            },
            .supported("volumes", "managed volumes (ZFS datasets that move with the service); a writable folder beside the Compose file becomes a managed volume seeded from its contents; a file, or a folder with `:ro`, beside it is uploaded to the node and mounted read-only") { n, p, s, d in
                let errorsBefore = d.count
                ComposeDecoder.decodeVolumes(n, p, &s, &d)
                s.draft.volumesIncomplete = d.count > errorsBefore
            },
            .supported("configs", "the config's file is uploaded to the node that runs the service and mounted read-only (mode 0444) at `target`, `/NAME` by default") { n, p, s, d in
                ComposeFiles.decodeReferences(.config, n, p, &s, &d)
            },
            .supported("secrets", "the secret's file is uploaded to the node that runs the service (mode 0400, never on a command line or in a log) and mounted read-only at `target`, `/run/secrets/NAME` by default") { n, p, s, d in
                ComposeFiles.decodeReferences(.secret, n, p, &s, &d)
            },
            .supported("restart", "`--restart`") { n, p, s, d in
                s.draft.restartPolicy = ComposeDecoder.decodeRestart(n, p, &d) ?? .never
            },
            .supported("mem_limit", "`--memory`") { n, p, s, d in s.draft.memoryLimit = d.memoryLimit(n, p) },
            .supported("cpu_shares", "`--cpu-shares`") { n, p, s, d in s.draft.cpuShares = d.cpuShares(n, p) },
            .supported("healthcheck", "`--health-cmd`, `--health-interval`, `--health-timeout`, `--health-retries`, `--health-start-period` or `--no-healthcheck`; decides readiness") {
                n, p, s, d in
                if let options = ComposeKeys.healthcheck(n, p, &d) { s.draft.runOptions += options }
            },
            .supported("user", "`--user`") { n, p, s, d in s.option("--user", d.word(n, p)) },
            .supported("working_dir", "`--workdir`") { n, p, s, d in s.option("--workdir", d.absolutePath(n, p)) },
            .supported("labels", "`--label` (labels starting `flocker.` are flocker-deploy's own and refused)") {
                n, p, s, d in
                for (key, value, mark) in d.keyValues(n, p, what: "label") {
                    if key.hasPrefix("flocker.") {
                        d.add(mark, p.key(key), "labels starting `flocker.` are flocker-deploy's own: rename it")
                    } else {
                        s.draft.runOptions.append("--label=\(key)=\(value ?? "")")
                    }
                }
            },
            .supported("hostname", "`--hostname`") { n, p, s, d in s.option("--hostname", d.word(n, p)) },
            .supported("domainname", "`--domainname`") { n, p, s, d in s.option("--domainname", d.word(n, p)) },
            .supported("cap_add", "`--cap-add`") { n, p, s, d in s.options("--cap-add", d.words(n, p)) },
            .supported("cap_drop", "`--cap-drop`") { n, p, s, d in s.options("--cap-drop", d.words(n, p)) },
            .supported("security_opt", "`--security-opt`") { n, p, s, d in
                s.options("--security-opt", d.words(n, p))
            },
            .supported("sysctls", "`--sysctl`") { n, p, s, d in s.keyValueOptions("--sysctl", n, p, what: "sysctl", &d) },
            .supported("ulimits", "`--ulimit NAME=SOFT:HARD`") { n, p, s, d in
                s.draft.runOptions += ComposeKeys.ulimits(n, p, &d)
            },
            .supported("init", "`--init`") { n, p, s, d in s.flag("--init", d.boolean(n, p)) },
            .supported("read_only", "`--read-only`") { n, p, s, d in s.flag("--read-only", d.boolean(n, p)) },
            .supported("stdin_open", "`--interactive`") { n, p, s, d in s.flag("--interactive", d.boolean(n, p)) },
            .supported("tty", "`--tty`") { n, p, s, d in s.flag("--tty", d.boolean(n, p)) },
            .supported("shm_size", "`--shm-size`") { n, p, s, d in
                s.option("--shm-size", d.byteCount(n, p, minimum: 1, what: "a size").map(String.init))
            },
            .supported("tmpfs", "`--tmpfs` (memory-backed, does not move with the service)") { n, p, s, d in
                s.options("--tmpfs", d.words(n, p))
            },
            .supported("stop_signal", "`--stop-signal`") { n, p, s, d in s.option("--stop-signal", d.word(n, p)) },
            .supported("stop_grace_period", "`--stop-timeout` (whole seconds, rounded up)") { n, p, s, d in
                s.option("--stop-timeout", d.duration(n, p).map { String(Int($0.rounded(.up))) })
            },
            .supported("platform", "`--platform`") { n, p, s, d in s.option("--platform", d.word(n, p)) },
            .supported("extra_hosts", "`--add-host`") { n, p, s, d in
                s.draft.runOptions += ComposeKeys.extraHosts(n, p, &d)
            },
            .supported("dns", "`--dns`") { n, p, s, d in s.options("--dns", d.words(n, p)) },
            .supported("dns_search", "`--dns-search`") { n, p, s, d in s.options("--dns-search", d.words(n, p)) },
            .supported("dns_opt", "`--dns-option`") { n, p, s, d in s.options("--dns-option", d.words(n, p)) },
            .supported("logging", "`--log-driver` and `--log-opt`") { n, p, s, d in
                s.draft.runOptions += ComposeKeys.logging(n, p, &d)
            },
            .supported("mem_reservation", "`--memory-reservation`") { n, p, s, d in
                s.option("--memory-reservation", d.memoryLimit(n, p).map(String.init))
            },
            .supported("memswap_limit", "`--memory-swap`") { n, p, s, d in
                s.option("--memory-swap", d.memoryLimit(n, p).map(String.init))
            },
            .supported("cpus", "`--cpus`") { n, p, s, d in s.option("--cpus", d.cpus(n, p)) },
            .supported("cpuset", "`--cpuset-cpus`") { n, p, s, d in s.option("--cpuset-cpus", d.word(n, p)) },
            .supported("pids_limit", "`--pids-limit`") { n, p, s, d in
                s.option("--pids-limit", d.integer(n, p, in: -1...Int(Int32.max)).map(String.init))
            },
            .supported("oom_score_adj", "`--oom-score-adj`") { n, p, s, d in
                s.option("--oom-score-adj", d.integer(n, p, in: -1000...1000).map(String.init))
            },
            .supported("group_add", "`--group-add`") { n, p, s, d in s.options("--group-add", d.words(n, p)) },
            .supported("cpu_period", "`--cpu-period` (microseconds)") { n, p, s, d in
                s.option("--cpu-period", d.integer(n, p, in: 1_000...1_000_000).map(String.init))
            },
            .supported("cpu_quota", "`--cpu-quota` (microseconds per period; -1: none)") { n, p, s, d in
                s.option("--cpu-quota", d.integer(n, p, in: -1...Int(Int32.max)).map(String.init))
            },
            .supported("cpu_rt_period", "`--cpu-rt-period` (microseconds)") { n, p, s, d in
                s.option("--cpu-rt-period", d.integer(n, p, in: 1...1_000_000).map(String.init))
            },
            .supported("cpu_rt_runtime", "`--cpu-rt-runtime` (microseconds)") { n, p, s, d in
                s.option("--cpu-rt-runtime", d.integer(n, p, in: -1...1_000_000).map(String.init))
            },
            .supported("mem_swappiness", "`--memory-swappiness`") { n, p, s, d in
                s.option("--memory-swappiness", d.integer(n, p, in: 0...100).map(String.init))
            },
            .supported("oom_kill_disable", "`--oom-kill-disable`") { n, p, s, d in s.flag("--oom-kill-disable", d.boolean(n, p)) },
            .supported("blkio_config", "`weight` → `--blkio-weight`; the per-device settings are refused (a node's devices)") { n, p, s, d in
                guard let pairs = d.mapping(n, p, expected: "a mapping like {weight: 300}") else { return }
                for pair in pairs {
                    let key = pair.key.scalar ?? ""
                    if key == "weight" {
                        s.option("--blkio-weight", d.integer(pair.value, p.key(key), in: 10...1000).map(String.init))
                    } else {
                        d.add(pair.key.mark, p.key(key), "\(code(key)) is refused: host devices are those of one node, and the service may move to another; use `weight`")
                    }
                }
            },
            .supported("mac_address", "`--mac-address`") { n, p, s, d in s.option("--mac-address", d.word(n, p)) },
            .supported("storage_opt", "`--storage-opt KEY=VALUE` (the node's storage driver must support it)") { n, p, s, d in
                s.keyValueOptions("--storage-opt", n, p, what: "storage option", &d)
            },
            .supported("pull_policy", "`always` → `--pull=always`, `never` → `--pull=never`; `missing` is what happens anyway") { n, p, s, d in
                guard let policy = d.word(n, p) else { return }
                switch policy {
                case "always": s.option("--pull", "always")
                case "never": s.option("--pull", "never")
                case "missing", "if_not_present": break
                case "build": d.add(n.mark, p, "`build` is refused: nodes do not build images; build and push the image, and name it under `image`")
                default: d.add(n.mark, p, "expected always, never or missing, found \(found(n))")
                }
            },
            .supported("deploy", "`resources.limits` (`--cpus`, `--memory`, `--pids-limit`), `resources.reservations.memory` (`--memory-reservation`), `restart_policy` (`--restart`); placement and replicas are the deployment file's") {
                n, p, s, d in
                ComposeKeys.deploy(n, p, &s, &d)
            },
            .warning("container_name", "ignored with a warning: the container is named `flocker--SERVICE`") { n, p, s, d in
                _ = d.word(n, p)
                d.warn(
                    s.keyMark("container_name") ?? n.mark, p,
                    "`container_name` is ignored: flocker-deploy names the container \(quoted(NodeCommands.containerName(s.draft.name))), and other services reach it by its service name, on every node")
            },
            .warning("networks", "ignored with a warning: containers use their node's default Docker network, and every service reaches every other by name on every node") { n, p, s, d in
                d.warn(
                    s.keyMark("networks") ?? n.mark, p,
                    "`networks` is ignored: containers use Docker's default network on their node, and services reach each other by name on every node (each name is a stable address that follows its service)")
            },
            .supported("profiles", "the service is left out unless one of its profiles is enabled (`--profile`, `COMPOSE_PROFILES`)") {
                n, p, s, d in
                _ = d.words(n, p)
            },
        ]
        func refuse(_ names: [String], _ why: String) { keys += names.map { ComposeKey.refused($0, why) } }
        refuse(["network_mode"], "a container's network cannot follow it to another node (`host` shares the node's own); remove it, services reach each other by name on every node")
        refuse(["privileged"], "a privileged container owns its node, which no move can carry; grant what it needs with `cap_add`")
        refuse(["devices", "device_cgroup_rules", "gpus"], "host devices are those of one node, and the service may move to another; remove it")
        refuse(["pid", "ipc", "uts", "userns_mode", "cgroup", "cgroup_parent", "isolation", "runtime"], "sharing a namespace or cgroup of the node ties the service to that node; remove it")
        refuse(["volumes_from"], "give each service its own volumes")
        refuse(["extends"], "write each service in full (YAML anchors and `<<` merges work)")
        refuse(["external_links"], "link to services of this file with `links`")
        refuse(["scale"], "each application runs once, on the node the deployment file names; remove it")
        refuse(["label_file", "annotations"], "write the labels under `labels`")
        refuse(["cpu_count", "cpu_percent", "credential_spec"], "Windows containers only; on Linux use `cpus` or `cpu_shares`")
        refuse(["attach", "develop", "post_start", "pre_stop", "use_api_socket", "volume_driver", "models", "provider"], "flocker-deploy does not set it; remove it")
        return keys
    }()

    static let byName: [String: ComposeKey] = Dictionary(uniqueKeysWithValues: service.map { ($0.name, $0) })

    /// The schema of a service mapping, from the table.
    static let schema = FieldSchema(
        known: service.filter { $0.status != .refused }.map(\.name),
        refused: Dictionary(uniqueKeysWithValues: service.compactMap { key in key.refusal.map { (key.name, $0) } }),
        hints: [
            "restart_policy": "restart", "env": "environment", "memory": "mem_limit", "mem": "mem_limit",
            "memory_limit": "mem_limit", "port": "ports", "volume": "volumes", "link": "links",
        ],
        allowsExtensions: true)

    /// The Markdown table of docs/configuration.md: every key, its status and what it does (or why not).
    static func markdownTable() -> String {
        var lines = ["| key | status | what flocker-deploy does |", "|---|---|---|"]
        for key in service.sorted(by: { $0.name < $1.name }) {
            lines.append("| `\(key.name)` | \(key.status.rawValue) | \(key.effect.replacingAll("|", with: "\\|")) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: values

    /// `"5432"`, `"5432/tcp"`, `"8000-8010"`.
    static func isExposeSpec(_ text: String) -> Bool {
        var spec = Substring(text)
        if let slash = spec.lastIndex(of: "/") {
            guard ["tcp", "udp", "sctp"].contains(spec[spec.index(after: slash)...].lowercased()) else { return false }
            spec = spec[..<slash]
        }
        let bounds = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        return bounds.allSatisfy { b in
            !b.isEmpty && b.count <= 5 && b.utf8.allSatisfy(ManifestRules.isDigit) && (1...65535).contains(Int(b) ?? 0)
        }
    }

    static let healthcheckSchema = FieldSchema(
        known: ["test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"])

    /// `docker run` health options. `test` is `["CMD", args…]` (quoted for the container's shell, as
    /// `--health-cmd` runs it there), `["CMD-SHELL", "cmd"]` or a string (run by the shell), or `["NONE"]`.
    static func healthcheck(_ node: YAMLNode, _ path: ManifestPath, _ d: inout Diagnostics) -> [String]? {
        guard let pairs = d.mapping(node, path, expected: "a mapping with `test`, `interval`, `timeout`, `retries`…")
        else { return nil }
        let f = d.fields(pairs, mark: node.mark, path, healthcheckSchema)
        if let n = f["disable"], d.boolean(n, path.key("disable")) == true { return ["--no-healthcheck"] }
        var options: [String] = []
        if let n = f["test"] {
            let testPath = path.key("test")
            if let items = n.sequence {
                var words: [String] = []
                for (i, item) in items.enumerated() {
                    if let w = d.text(item, testPath.index(i), expected: "a word (a string)") { words.append(w) }
                }
                guard words.count == items.count else { return nil }
                switch words.first {
                case "NONE"?: return ["--no-healthcheck"]
                case "CMD"? where words.count > 1:
                    options.append("--health-cmd=" + words.dropFirst().map(ManifestRules.shellQuoted).joined(separator: " "))
                case "CMD-SHELL"? where words.count == 2:
                    options.append("--health-cmd=" + words[1])
                default:
                    d.add(n.mark, testPath, "expected [\"CMD\", \"program\", args…], [\"CMD-SHELL\", \"command\"] or [\"NONE\"], found \(found(n))")
                    return nil
                }
            } else if let text = d.text(n, testPath, expected: "a command (a string or a list)") {
                guard !text.isEmpty, !text.utf8.contains(0) else {
                    d.add(n.mark, testPath, "expected a command, found \(found(n))")
                    return nil
                }
                options.append("--health-cmd=" + text)
            }
        }
        for (key, flag) in [("interval", "--health-interval"), ("timeout", "--health-timeout"), ("start_period", "--health-start-period")] {
            if let n = f[key], let seconds = d.duration(n, path.key(key)) {
                options.append("\(flag)=\(ComposeKeys.dockerDuration(seconds))")
            }
        }
        if let n = f["start_interval"] {
            d.warn(n.mark, path.key("start_interval"), "`start_interval` is ignored: the nodes' Docker may predate it; `interval` applies from the start")
        }
        if let n = f["retries"], let retries = d.integer(n, path.key("retries"), in: 1...Int(Int32.max)) {
            options.append("--health-retries=\(retries)")
        }
        return options
    }

    /// Seconds as a Go duration Docker parses (`1.5s`, `30s`).
    static func dockerDuration(_ seconds: Double) -> String {
        let ms = Int((seconds * 1000).rounded())
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }

    static func ulimits(_ node: YAMLNode, _ path: ManifestPath, _ d: inout Diagnostics) -> [String] {
        guard let pairs = d.mapping(node, path, expected: "a mapping of NAME: LIMIT or NAME: {soft, hard}") else {
            return []
        }
        var options: [String] = []
        let range = -1...Int.max
        for pair in pairs {
            guard let name = pair.key.scalar, !name.isEmpty, name.utf8.allSatisfy(ManifestRules.isAlphanumeric) else {
                d.add(pair.key.mark, path, "expected a ulimit name like nofile, found \(found(pair.key))")
                continue
            }
            let itemPath = path.key(name)
            if let limits = pair.value.mapping {
                let f = d.fields(limits, mark: pair.value.mark, itemPath, FieldSchema(known: ["soft", "hard"], required: ["soft", "hard"]))
                if let s = f["soft"].flatMap({ d.integer($0, itemPath.key("soft"), in: range) }),
                    let h = f["hard"].flatMap({ d.integer($0, itemPath.key("hard"), in: range) })
                {
                    options.append("--ulimit=\(name)=\(s):\(h)")
                }
            } else if let n = d.integer(pair.value, itemPath, in: range) {
                options.append("--ulimit=\(name)=\(n)")
            }
        }
        return options
    }

    /// `["host:ip", "host=ip"]` or `{host: ip}`.
    static func extraHosts(_ node: YAMLNode, _ path: ManifestPath, _ d: inout Diagnostics) -> [String] {
        var entries: [(String, String, Mark, ManifestPath)] = []
        if let pairs = node.mapping {
            for pair in pairs {
                guard let host = pair.key.scalar, let ip = d.text(pair.value, path.key(host), expected: "an address")
                else { continue }
                entries.append((host, ip, pair.value.mark, path.key(host)))
            }
        } else if let items = d.list(node, path, expected: "a list of \"HOST:ADDRESS\" or a mapping of HOST: ADDRESS") {
            for (i, item) in items.enumerated() {
                guard let text = d.text(item, path.index(i), expected: "\"HOST:ADDRESS\"") else { continue }
                let sep = text.firstIndex(of: "=") ?? text.firstIndex(of: ":")
                guard let sep else {
                    d.add(item.mark, path.index(i), "expected \"HOST:ADDRESS\" or \"HOST=ADDRESS\", found \(found(item))")
                    continue
                }
                entries.append((String(text[..<sep]), String(text[text.index(after: sep)...]), item.mark, path.index(i)))
            }
        }
        var options: [String] = []
        for (host, ip, mark, itemPath) in entries {
            guard !host.isEmpty, !ip.isEmpty, !host.contains(":"), !(host + ip).utf8.contains(where: { $0 <= 0x20 }) else {
                d.add(mark, itemPath, "expected a host name and an address, found \(quoted(host)) and \(quoted(ip))")
                continue
            }
            let address = ip.hasPrefix("[") && ip.hasSuffix("]") ? String(ip.dropFirst().dropLast()) : ip
            options.append("--add-host=\(host):\(address)")
        }
        return options
    }

    static func logging(_ node: YAMLNode, _ path: ManifestPath, _ d: inout Diagnostics) -> [String] {
        guard let pairs = d.mapping(node, path, expected: "a mapping with `driver` and `options`") else { return [] }
        let f = d.fields(pairs, mark: node.mark, path, FieldSchema(known: ["driver", "options"]))
        var options: [String] = []
        if let n = f["driver"], let driver = d.word(n, path.key("driver")) { options.append("--log-driver=" + driver) }
        if let n = f["options"] {
            for (key, value, mark) in d.keyValues(n, path.key("options"), what: "log option") {
                guard let value else {
                    d.add(mark, path.key("options").key(key), "log option \(quoted(key)) has no value")
                    continue
                }
                options.append("--log-opt=\(key)=\(value)")
            }
        }
        return options
    }

    static let deploySchema = FieldSchema(
        known: ["resources", "restart_policy"],
        refused: Dictionary(uniqueKeysWithValues: ["replicas", "placement", "mode", "endpoint_mode", "update_config", "rollback_config", "labels"].map {
            ($0, "`deploy.\($0)` is not supported: the deployment file says which node runs the service (and its `replicas`); remove it")
        }))

    static func deploy(_ node: YAMLNode, _ path: ManifestPath, _ s: inout ComposeService, _ d: inout Diagnostics) {
        guard let pairs = d.mapping(node, path, expected: "a mapping with `resources` or `restart_policy`") else { return }
        let f = d.fields(pairs, mark: node.mark, path, deploySchema)
        if let n = f["resources"], let r = d.mapping(n, path.key("resources")) {
            let rp = path.key("resources")
            let rf = d.fields(r, mark: n.mark, rp, FieldSchema(known: ["limits", "reservations"]))
            if let l = rf["limits"], let lp = d.mapping(l, rp.key("limits")) {
                let lpath = rp.key("limits")
                let lf = d.fields(lp, mark: l.mark, lpath, FieldSchema(known: ["cpus", "memory", "pids"], refused: ["devices": "host devices are those of one node; remove it"]))
                if let c = lf["cpus"] { s.option("--cpus", d.cpus(c, lpath.key("cpus"))) }
                if let m = lf["memory"], let bytes = d.memoryLimit(m, lpath.key("memory")) { s.draft.memoryLimit = bytes }
                if let p = lf["pids"] { s.option("--pids-limit", d.integer(p, lpath.key("pids"), in: 1...Int(Int32.max)).map(String.init)) }
            }
            if let v = rf["reservations"], let vp = d.mapping(v, rp.key("reservations")) {
                let vpath = rp.key("reservations")
                let vf = d.fields(vp, mark: v.mark, vpath, FieldSchema(
                    known: ["memory", "cpus"],
                    refused: ["devices": "host devices (GPUs among them) are those of one node, and the service may move to another; remove it",
                              "generic_resources": "`generic_resources` is a Swarm setting; remove it"]))
                if let m = vf["memory"] { s.option("--memory-reservation", d.memoryLimit(m, vpath.key("memory")).map(String.init)) }
                if let c = vf["cpus"] {
                    d.warn(c.mark, vpath.key("cpus"), "a CPU reservation is ignored: `docker run` has none (use `cpu_shares` for a relative weight)")
                }
            }
        }
        if let n = f["restart_policy"], let rp = d.mapping(n, path.key("restart_policy")) {
            let ppath = path.key("restart_policy")
            let pf = d.fields(rp, mark: n.mark, ppath, FieldSchema(known: ["condition", "max_attempts", "delay", "window"]))
            var attempts: Int?
            if let a = pf["max_attempts"] { attempts = d.integer(a, ppath.key("max_attempts"), in: 1...Int(Int32.max)) }
            for key in ["delay", "window"] {
                if let x = pf[key] { d.warn(x.mark, ppath.key(key), "`\(key)` is ignored: Docker's restart policy has no such setting") }
            }
            if let c = pf["condition"], let condition = d.text(c, ppath.key("condition"), expected: "none, on-failure or any") {
                switch condition {
                case "none": s.draft.restartPolicy = .never
                case "on-failure": s.draft.restartPolicy = .onFailure(maximumRetryCount: attempts)
                case "any": s.draft.restartPolicy = .always
                default: d.add(c.mark, ppath.key("condition"), "expected none, on-failure or any, found \(found(c))")
                }
            } else if pf["condition"] == nil {
                s.draft.restartPolicy = attempts.map { .onFailure(maximumRetryCount: $0) } ?? .always
            }
        }
    }
}

extension ComposeService {
    /// Where `key` is written in the service mapping.
    func keyMark(_ key: String) -> Mark? { pairs.first(where: { $0.key.scalar == key })?.key.mark }

    mutating func option(_ flag: String, _ value: String?) {
        if let value { draft.runOptions.append("\(flag)=\(value)") }
    }

    mutating func options(_ flag: String, _ values: [String]?) {
        for value in values ?? [] { draft.runOptions.append("\(flag)=\(value)") }
    }

    mutating func flag(_ flag: String, _ on: Bool?) {
        if on == true { draft.runOptions.append(flag) }
    }

    /// `FLAG=KEY=VALUE` for each entry of a mapping or `KEY=VALUE` list (`sysctls`, `storage_opt`); an entry
    /// without a value is an error.
    mutating func keyValueOptions(_ flag: String, _ node: YAMLNode, _ path: ManifestPath, what: String, _ d: inout Diagnostics) {
        for (key, value, mark) in d.keyValues(node, path, what: what) {
            guard let value else {
                d.add(mark, path.key(key), "\(what) \(quoted(key)) has no value")
                continue
            }
            draft.runOptions.append("\(flag)=\(key)=\(value)")
        }
    }
}

extension Diagnostics {
    /// A non-empty string without NUL or line breaks: one `docker run` option value.
    mutating func word(_ node: YAMLNode, _ path: ManifestPath) -> String? {
        guard let s = text(node, path, expected: "a string") else { return nil }
        if s.isEmpty || s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            add(node.mark, path, "expected a non-empty value without control characters, found \(found(node))")
            return nil
        }
        return s
    }

    /// A string or a list of strings (each a `word`).
    mutating func words(_ node: YAMLNode, _ path: ManifestPath, allowEmpty: Bool = false) -> [String]? {
        if let items = node.sequence {
            var out: [String] = []
            for (i, item) in items.enumerated() {
                if let w = word(item, path.index(i)) { out.append(w) }
            }
            return out.count == items.count ? out : nil
        }
        if allowEmpty, node.scalar == "", node.isQuoted { return [] }
        if allowEmpty, let s = node.scalar, !node.isNull {
            switch ManifestRules.splitWords(s) {
            case .success(let split): return split
            case .failure:
                add(node.mark, path, "the value has an unclosed quote or a trailing backslash: \(quoted(s))")
                return nil
            }
        }
        return word(node, path).map { [$0] }
    }

    mutating func absolutePath(_ node: YAMLNode, _ path: ManifestPath) -> String? {
        guard let s = word(node, path) else { return nil }
        guard s.hasPrefix("/") else {
            add(node.mark, path, "expected an absolute path inside the container, found \(found(node))")
            return nil
        }
        return s
    }

    /// `KEY: value` pairs or a list of `"KEY=value"` (value nil when there is none: `KEY` alone, `KEY:` empty).
    mutating func keyValues(_ node: YAMLNode, _ path: ManifestPath, what: String) -> [(String, String?, Mark)] {
        var out: [(String, String?, Mark)] = []
        func checkedKey(_ key: String, _ mark: Mark, _ p: ManifestPath) -> Bool {
            if key.isEmpty || key.contains("=") || key.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
                add(mark, p, "\(what) name \(quoted(key)) is not allowed: it must be non-empty, without `=`, spaces or control characters")
                return false
            }
            return true
        }
        func checkedValue(_ value: String, _ mark: Mark, _ p: ManifestPath) -> Bool {
            if value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) {
                add(mark, p, "the value cannot contain a line break or another control character")
                return false
            }
            return true
        }
        if let pairs = node.mapping {
            for pair in pairs {
                guard let key = pair.key.scalar else { continue }
                guard checkedKey(key, pair.key.mark, path.key(key)) else { continue }
                if pair.value.isNull {
                    out.append((key, nil, pair.key.mark))
                } else if let v = text(pair.value, path.key(key), expected: "a string value"), checkedValue(v, pair.value.mark, path.key(key)) {
                    out.append((key, v, pair.key.mark))
                }
            }
            return out
        }
        guard let items = list(node, path, expected: "a mapping of NAME: value, or a list of \"NAME=value\"") else { return [] }
        for (i, item) in items.enumerated() {
            guard let entry = text(item, path.index(i), expected: "\"NAME=value\"") else { continue }
            let key = entry.firstIndex(of: "=").map { String(entry[..<$0]) } ?? entry
            let value = entry.firstIndex(of: "=").map { String(entry[entry.index(after: $0)...]) }
            guard checkedKey(key, item.mark, path.index(i)) else { continue }
            if let value, !checkedValue(value, item.mark, path.index(i)) { continue }
            out.append((key, value, item.mark))
        }
        return out
    }

    /// A Compose duration (`1m30s`, `10s`, `1.5s`, `500ms`, `2h`), in seconds.
    mutating func duration(_ node: YAMLNode, _ path: ManifestPath) -> Double? {
        guard let s = node.scalar, !node.isNull, let seconds = ManifestRules.parseDuration(s) else {
            add(node.mark, path, "expected a duration like \"30s\", \"1m30s\" or \"500ms\", found \(found(node))")
            return nil
        }
        return seconds
    }

    /// `cpus`: a positive decimal number of CPUs (`0.5`, `2`).
    mutating func cpus(_ node: YAMLNode, _ path: ManifestPath) -> String? {
        guard let s = node.scalar, !node.isNull, let v = Double(s), v > 0, v <= 4096,
            s.utf8.allSatisfy({ ManifestRules.isDigit($0) || $0 == UInt8(ascii: ".") })
        else {
            add(node.mark, path, "expected a positive number of CPUs like 0.5 or 2, found \(found(node))")
            return nil
        }
        return s
    }
}

extension ComposeDecoder {
    static let longEnvFile = FieldSchema(known: ["path", "required", "format"], required: ["path"])

    /// `env_file`: a path, a list of paths, or of `{path, required}`; relative to the Compose file's folder, read on
    /// the machine running flocker-deploy. Variables already under `environment` win.
    static func decodeEnvFiles(_ node: YAMLNode, _ path: ManifestPath, _ s: inout ComposeService, _ d: inout Diagnostics) {
        let items = node.sequence ?? [node]
        for (i, item) in items.enumerated() {
            let itemPath = node.sequence == nil ? path : path.index(i)
            var file: String?
            var required = true
            if let pairs = item.mapping {
                let f = d.fields(pairs, mark: item.mark, itemPath, longEnvFile)
                file = f["path"].flatMap { d.word($0, itemPath.key("path")) }
                if let r = f["required"] { required = d.boolean(r, itemPath.key("required")) ?? true }
            } else {
                file = d.word(item, itemPath)
            }
            guard let file else { continue }
            guard let full = s.context.path(file) else {
                d.add(item.mark, itemPath, "cannot read \(quoted(file)) here: relative files are read beside the Compose file, which was not read from disk")
                continue
            }
            let bytes: [UInt8]
            switch s.context.readFile(full) {
            case .success(let b): bytes = b
            case .failure(let error):
                if required { d.add(item.mark, itemPath, "\(quoted(file)): \(error.message)") }
                continue
            }
            for (name, value) in DotEnv.parse(String(decoding: bytes, as: UTF8.self)) where s.draft.environment[name] == nil {
                guard d.environmentName(name, item.mark, itemPath),
                    d.environmentValue(value, name: name, item.mark, itemPath)
                else { continue }
                s.draft.environment[name] = value
            }
        }
    }

    static let longDependency = FieldSchema(known: ["condition", "restart", "required"])

    /// `depends_on`: a list of service names, or a mapping of name → `{condition: service_started|service_healthy}`.
    /// Where both services run on one node, the dependency starts first and is ready (healthy, when it has a health
    /// check) before the dependent starts.
    static func decodeDependsOn(_ node: YAMLNode, _ path: ManifestPath, _ d: inout Diagnostics) -> [PendingDependency] {
        var out: [PendingDependency] = []
        if let pairs = node.mapping {
            for pair in pairs {
                guard let name = pair.key.scalar else { continue }
                let itemPath = path.key(name)
                if !pair.value.isNull, let options = d.mapping(pair.value, itemPath, expected: "a mapping with `condition`") {
                    let f = d.fields(options, mark: pair.value.mark, itemPath, longDependency)
                    if let c = f["condition"], let condition = d.text(c, itemPath.key("condition")) {
                        if condition == "service_completed_successfully" {
                            d.add(c.mark, itemPath.key("condition"), "`service_completed_successfully` is not supported: services run continuously here; use service_started or service_healthy")
                        } else if condition != "service_started" && condition != "service_healthy" {
                            d.add(c.mark, itemPath.key("condition"), "expected service_started or service_healthy, found \(found(c))")
                        }
                    }
                }
                out.append(PendingDependency(target: name, node: pair.key, path: itemPath))
            }
            return out
        }
        guard let items = d.list(node, path, expected: "a list of service names, or a mapping of name → {condition}") else { return [] }
        for (i, item) in items.enumerated() {
            if let name = d.word(item, path.index(i)) { out.append(PendingDependency(target: name, node: item, path: path.index(i))) }
        }
        return out
    }
}
