import Foundation
import Testing

@testable import FlockerCore

/// Decodes a Compose file with a context (variables, files beside it, profiles).
private func decodeWith(
    _ app: String, variables: [String: String]? = nil, files: [String: String] = [:], profiles: Set<String> = [],
    deployment: String = emptyDeployment
) -> Result<Manifests, ManifestErrors> {
    let context = ComposeContext(
        variables: variables, directory: "/project", profiles: profiles,
        readFile: { path in
            if let text = files[path] { return .success(Array(text.utf8)) }
            return .failure(ManifestError(file: path, line: 0, column: 0, path: "", message: "No such file or directory"))
        })
    do {
        return .success(
            try Manifests.decode(
                deploymentBytes: Array(deployment.utf8), deploymentFile: "dep.yml",
                applicationBytes: Array(app.utf8), applicationFile: "app.yml", context: context))
    } catch {
        return .failure(error)
    }
}

@Suite("Manifest: Compose keys from one table")
struct ManifestComposeKeysTests {
    /// The service keys of the Compose specification (05-services.md), each either known or refused here.
    static let specificationKeys = [
        "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent", "command",
        "configs", "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period",
        "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset", "credential_spec", "depends_on", "deploy", "develop",
        "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname", "entrypoint", "env_file",
        "environment", "expose", "extends", "external_links", "extra_hosts", "gpus", "group_add", "healthcheck",
        "hostname", "image", "init", "ipc", "isolation", "label_file", "labels", "links", "logging", "mac_address",
        "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit", "models", "network_mode", "networks",
        "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports", "post_start", "pre_stop",
        "privileged", "profiles", "provider", "pull_policy", "read_only", "restart", "runtime", "scale", "secrets",
        "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls",
        "tmpfs", "tty", "ulimits", "use_api_socket", "user", "userns_mode", "uts", "volumes", "volumes_from",
        "working_dir",
    ]

    @Test("Every key of the Compose specification is in the table, known or refused, once")
    func everySpecificationKey() {
        for key in Self.specificationKeys {
            #expect(ComposeKeys.byName[key] != nil, "\(key) is missing from ComposeKeys.service")
        }
        #expect(Set(ComposeKeys.service.map(\.name)).count == ComposeKeys.service.count)
        let schema = ComposeKeys.schema
        for key in ComposeKeys.service {
            #expect(schema.known.contains(key.name) == (key.status != .refused), "\(key.name)")
            #expect((schema.refused[key.name] != nil) == (key.status == .refused), "\(key.name)")
            #expect((key.decode != nil) == (key.status != .refused), "\(key.name)")
        }
    }

    @Test("docs/configuration.md holds the table the code has")
    func documentationTable() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        #expect(text.contains(ComposeKeys.markdownTable()), "regenerate the table: swift test prints it below")
        if !text.contains(ComposeKeys.markdownTable()) { print("BEGIN-TABLE\n" + ComposeKeys.markdownTable() + "END-TABLE") }
    }

    /// Each key's `docker run` arguments: the service's settings → the options it adds, in table order.
    @Test(
        "Each key maps to its docker run flag",
        arguments: [
            ("user: \"1000:1000\"", ["--user=1000:1000"]),
            ("working_dir: /srv/app", ["--workdir=/srv/app"]),
            ("entrypoint: [/bin/tini, --]", ["--entrypoint=/bin/tini"]),
            ("entrypoint: \"\"", ["--entrypoint="]),
            ("labels: {com.example.team: db, tier: \"\"}", ["--label=com.example.team=db", "--label=tier="]),
            ("labels: [\"a=b\", c]", ["--label=a=b", "--label=c="]),
            ("hostname: db1", ["--hostname=db1"]),
            ("domainname: example.org", ["--domainname=example.org"]),
            ("cap_add: [NET_ADMIN, SYS_TIME]", ["--cap-add=NET_ADMIN", "--cap-add=SYS_TIME"]),
            ("cap_drop: [ALL]", ["--cap-drop=ALL"]),
            ("security_opt: [\"no-new-privileges:true\"]", ["--security-opt=no-new-privileges:true"]),
            ("sysctls: {net.core.somaxconn: 1024}", ["--sysctl=net.core.somaxconn=1024"]),
            ("sysctls: [\"net.ipv4.tcp_syncookies=0\"]", ["--sysctl=net.ipv4.tcp_syncookies=0"]),
            ("ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}",
             ["--ulimit=nproc=65535", "--ulimit=nofile=20000:40000"]),
            ("init: true", ["--init"]),
            ("init: false", []),
            ("shm_size: 64m", ["--shm-size=67108864"]),
            ("tmpfs: [/run, /tmp]", ["--tmpfs=/run", "--tmpfs=/tmp"]),
            ("tmpfs: /run", ["--tmpfs=/run"]),
            ("read_only: true", ["--read-only"]),
            ("stop_signal: SIGQUIT", ["--stop-signal=SIGQUIT"]),
            ("stop_grace_period: 1m30s", ["--stop-timeout=90"]),
            ("stop_grace_period: 1500ms", ["--stop-timeout=2"]),
            ("platform: linux/amd64", ["--platform=linux/amd64"]),
            ("extra_hosts: [\"somehost:162.242.195.82\", \"other=10.0.0.1\", \"v6:[::1]\"]",
             ["--add-host=somehost:162.242.195.82", "--add-host=other:10.0.0.1", "--add-host=v6:::1"]),
            ("extra_hosts: {gw: 10.1.1.1}", ["--add-host=gw:10.1.1.1"]),
            ("dns: 8.8.8.8", ["--dns=8.8.8.8"]),
            ("dns: [8.8.8.8, 9.9.9.9]", ["--dns=8.8.8.8", "--dns=9.9.9.9"]),
            ("dns_search: example.com", ["--dns-search=example.com"]),
            ("dns_opt: [use-vc]", ["--dns-option=use-vc"]),
            ("logging: {driver: json-file, options: {max-size: 10m, max-file: \"3\"}}",
             ["--log-driver=json-file", "--log-opt=max-size=10m", "--log-opt=max-file=3"]),
            ("stdin_open: true\ntty: true", ["--interactive", "--tty"]),
            ("mem_reservation: 512m", ["--memory-reservation=536870912"]),
            ("memswap_limit: 1g", ["--memory-swap=1073741824"]),
            ("cpus: 0.5", ["--cpus=0.5"]),
            ("cpuset: 0-1", ["--cpuset-cpus=0-1"]),
            ("pids_limit: 100", ["--pids-limit=100"]),
            ("oom_score_adj: -500", ["--oom-score-adj=-500"]),
            ("group_add: [mail]", ["--group-add=mail"]),
            ("cpu_period: 100000", ["--cpu-period=100000"]),
            ("cpu_quota: 50000", ["--cpu-quota=50000"]),
            ("cpu_rt_period: 1000000", ["--cpu-rt-period=1000000"]),
            ("cpu_rt_runtime: 950000", ["--cpu-rt-runtime=950000"]),
            ("mem_swappiness: 10", ["--memory-swappiness=10"]),
            ("oom_kill_disable: true", ["--oom-kill-disable"]),
            ("blkio_config: {weight: 300}", ["--blkio-weight=300"]),
            ("mac_address: \"02:42:ac:11:65:43\"", ["--mac-address=02:42:ac:11:65:43"]),
            ("storage_opt: {size: 1G}", ["--storage-opt=size=1G"]),
            ("pull_policy: always", ["--pull=always"]),
            ("pull_policy: missing", []),
            ("expose: [\"5432\", \"8000-8001/udp\"]", ["--expose=5432", "--expose=8000-8001/udp"]),
            ("deploy: {resources: {limits: {cpus: \"1.5\", pids: 50}, reservations: {memory: 256m}}}",
             ["--cpus=1.5", "--pids-limit=50", "--memory-reservation=268435456"]),
            ("healthcheck: {test: [CMD, pg_isready, -U, postgres], interval: 10s, timeout: 5s, retries: 5, start_period: 30s}",
             ["--health-cmd=pg_isready -U postgres", "--health-interval=10s", "--health-timeout=5s",
              "--health-start-period=30s", "--health-retries=5"]),
            ("healthcheck: {test: [CMD-SHELL, \"curl -f http://localhost/ || exit 1\"], interval: 1m30s}",
             ["--health-cmd=curl -f http://localhost/ || exit 1", "--health-interval=90s"]),
            ("healthcheck: {test: redis-cli ping, interval: 500ms}",
             ["--health-cmd=redis-cli ping", "--health-interval=500ms"]),
            ("healthcheck: {test: [CMD, echo, \"it's up\"]}", ["--health-cmd=echo 'it'\\''s up'"]),
            ("healthcheck: {test: [NONE]}", ["--no-healthcheck"]),
            ("healthcheck: {disable: true}", ["--no-healthcheck"]),
        ])
    func dockerFlags(_ settings: String, _ expected: [String]) throws {
        let app = try onlyApplication(compose("image: x\n" + settings))
        #expect(app.runOptions == expected)
        // Every option sits after flocker-deploy's own and before the image, one word each.
        let args = NodeCommands.runArguments(app, mounts: [], envFile: nil)
        let image = try #require(args.firstIndex(of: "x"))
        #expect(Array(args[(image - expected.count)..<image]) == expected)
    }

    @Test("Options come out in table order, whatever the file's order: equal hashes")
    func tableOrder() throws {
        let a = try onlyApplication(compose("image: x\nuser: \"1\"\ncap_add: [A]\nhostname: h"))
        let b = try onlyApplication(compose("image: x\nhostname: h\ncap_add: [A]\nuser: \"1\""))
        #expect(a.runOptions == ["--user=1", "--hostname=h", "--cap-add=A"])
        #expect(a.configHash == b.configHash)
        let plain = try onlyApplication(compose("image: x"))
        #expect(plain.configHash != a.configHash, "run options are part of the configuration hash")
        #expect(plain.runOptions.isEmpty && plain.entrypointArguments.isEmpty)
    }

    @Test("entrypoint: its first word is --entrypoint, the rest come after the image, before command")
    func entrypoint() throws {
        let app = try onlyApplication(compose("image: x\nentrypoint: [/bin/tini, --, run]\ncommand: [serve, -v]"))
        let args = NodeCommands.runArguments(app, mounts: [], envFile: nil)
        #expect(Array(args.suffix(6)) == ["--entrypoint=/bin/tini", "x", "--", "run", "serve", "-v"])
        let shell = try onlyApplication(compose("image: x\nentrypoint: /docker-entrypoint.sh nginx"))
        #expect(shell.runOptions == ["--entrypoint=/docker-entrypoint.sh"])
        #expect(shell.entrypointArguments == ["nginx"])
    }

    @Test("deploy.restart_policy and resources.limits.memory set the restart policy and --memory")
    func deploy() throws {
        let app = try onlyApplication(
            compose("image: x\ndeploy: {restart_policy: {condition: on-failure, max_attempts: 3}, resources: {limits: {memory: 1g}}}"))
        #expect(app.restartPolicy == .onFailure(maximumRetryCount: 3))
        #expect(app.memoryLimit == 1 << 30)
        let any = try onlyApplication(compose("image: x\ndeploy: {restart_policy: {condition: any}}"))
        #expect(any.restartPolicy == .always)
        let errors = decodeErrors(app: compose("image: x\ndeploy: {replicas: 3}"))
        #expect(errors.map(\.path) == ["services.web.deploy.replicas"])
        #expect(errors.first?.message.contains("the deployment file says which node runs the service") == true)
    }

    @Test("Warnings: container_name, networks, build beside image; positioned at the key; visible in the result")
    func warnings() throws {
        let app = "services:\n  web:\n    image: x\n    build: .\n    container_name: web1\n    networks: [front]\nnetworks:\n  front: {}\n"
        let manifests = try decodeValid(app: app)
        let lines = manifests.warnings.map(\.description)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("app.yml:4:5: warning: services.web.build: `build` is ignored"))
        #expect(lines[1].hasPrefix("app.yml:5:5: warning: services.web.container_name: `container_name` is ignored: flocker-deploy names the container \"flocker--web\""))
        #expect(lines[2].hasPrefix("app.yml:6:5: warning: services.web.networks: `networks` is ignored"))
        #expect(lines[3].hasPrefix("app.yml:7:1: warning: networks: top-level `networks` is ignored"))
    }

    @Test("Refusals: one positioned error each, saying why and what to do")
    func refusals() {
        let cases: [(String, String, String)] = [
            ("network_mode: host", "app.yml:4:5", "a container's network cannot follow it to another node"),
            ("privileged: true", "app.yml:4:5", "grant what it needs with `cap_add`"),
            ("devices: [\"/dev/sda:/dev/sda\"]", "app.yml:4:5", "host devices are those of one node"),
            ("volumes: [\"/srv/data:/data\"]", "app.yml:4:15", "a host directory cannot be mounted"),
            ("secrets: [token]", "app.yml:4:15", "unknown secret \"token\": declare it under the top-level `secrets:`"),
        ]
        for (settings, location, fragment) in cases {
            let errors = decodeErrors(app: compose("image: x\n" + settings))
            #expect(errors.count == 1, "\(settings)")
            #expect(errors.first?.description.hasPrefix(location + ": error: ") == true, "\(errors)")
            #expect(errors.first?.message.contains(fragment) == true, "\(errors)")
        }
        let build = decodeErrors(app: compose("build: ."))
        #expect(build.map(\.description) == [
            "app.yml:3:5: error: services.web.build: `build` without `image` is not supported: nodes do not build images; build the image, push it to a registry the nodes can pull from and name it under `image`"
        ])
    }

    @Test("Environment names follow Docker's rule (dots, dashes); mountpoints are normalised, in both formats")
    func namesAndMountpoints() throws {
        let es = try onlyApplication(
            compose("image: elasticsearch:8\nenvironment: {discovery.type: single-node, my-var: x}\nvolumes: [\"/usr/share/elasticsearch/data/\"]"))
        #expect(es.environment == ["discovery.type": "single-node", "my-var": "x"])
        #expect(es.volumes.map(\.mountpoint) == ["/usr/share/elasticsearch/data"])
        #expect(es.volumes.map(\.name) == ["usr-share-elasticsearch-data"])
        // Flocker 0.4's own documentation example.
        let v1app = try onlyApplication(v1("image: elasticsearch\nvolume: {mountpoint: /var/lib/elasticsearch/}"))
        #expect(v1app.volumes.map(\.mountpoint) == ["/var/lib/elasticsearch"])
        let stop = try onlyApplication(v1("image: x\nstop_timeout: 30"))
        #expect(stop.runOptions == ["--stop-timeout=30"])
    }

    @Test(
        "Interpolation as the Compose specification describes it",
        arguments: [
            ("${A}", "alpha"), ("$A", "alpha"), ("x${A}y", "xalphay"), ("${UNSET:-dflt}", "dflt"),
            ("${EMPTY:-dflt}", "dflt"), ("${EMPTY-dflt}", ""), ("${UNSET-dflt}", "dflt"), ("${A:-dflt}", "alpha"),
            ("${A:+alt}", "alt"), ("${UNSET:+alt}", ""), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"),
            ("$$A", "$A"), ("$${A}", "${A}"), ("${UNSET:-${A}}", "alpha"), ("${UNSET:-${ALSO:-deep}}", "deep"),
            ("cost: 5$", "cost: 5$"), ("${A}${A}", "alphaalpha"), ("${UNSET:-a b}", "a b"),
        ])
    func interpolation(_ text: String, _ expected: String) {
        var unset: [String] = []
        let result = Interpolation.expand(text, ["A": "alpha", "EMPTY": ""], unset: &unset)
        #expect(result == .success(expected))
    }

    @Test("Interpolation errors and warnings are positioned; `.env` beside the file; the environment wins")
    func interpolationInFiles() throws {
        let app = compose("image: \"redis:${TAG:-7}\"\nenvironment: {A: \"${A}\", B: \"${B:?set B first}\", C: \"${NOPE}\"}")
        switch decodeWith(app, variables: ["B": "b", "A": "from-env"]) {
        case .success(let m):
            let a = try #require(m.applications.first)
            #expect(a.image == "redis:7")
            #expect(a.environment == ["A": "from-env", "B": "b", "C": ""])
            #expect(m.warnings.map(\.description) == [
                "app.yml:4:57: warning: services.web.environment.C: variable NOPE is not set: it stands for an empty string"
            ])
        case .failure(let e): Issue.record("\(e)")
        }
        switch decodeWith(app, variables: [:]) {
        case .success: Issue.record("B is required")
        case .failure(let e):
            #expect(e.errors.map(\.description) == [
                "app.yml:4:33: error: services.web.environment.B: variable B is required: set B first"
            ])
        }
        // Without a context (decoding from memory), `$` stays as written.
        let literal = try onlyApplication(compose("image: x\nenvironment: {P: \"${HOME}\"}"))
        #expect(literal.environment["P"] == "${HOME}")
        // .env beside the Compose file, under the process environment.
        let ctx = ComposeContext.forFile("/nonexistent/dir/app.yml", environment: ["X": "1"])
        #expect(ctx.variables == ["X": "1"] && ctx.directory == "/nonexistent/dir")
        #expect(DotEnv.parse("# c\nexport A=1\nB='x y'\nC=\"a\\nb\"\nD=v # note\n\nE\n").map { "\($0.0)=\($0.1)" }
                == ["A=1", "B=x y", "C=a\nb", "D=v"])
    }

    @Test("env_file: read beside the Compose file; environment wins; a missing required file is an error")
    func envFile() throws {
        let app = compose("image: x\nenvironment: {A: mine}\nenv_file: [common.env, {path: ./opt.env, required: false}]")
        switch decodeWith(app, variables: [:], files: ["/project/common.env": "A=theirs\nB=2\n"]) {
        case .success(let m): #expect(m.applications.first?.environment == ["A": "mine", "B": "2"])
        case .failure(let e): Issue.record("\(e)")
        }
        switch decodeWith(compose("image: x\nenv_file: missing.env"), variables: [:]) {
        case .success: Issue.record("a missing env_file is an error")
        case .failure(let e):
            #expect(e.errors.map(\.description) == [
                "app.yml:4:15: error: services.web.env_file: \"missing.env\": No such file or directory"
            ])
        }
    }

    @Test("profiles: a service with profiles runs only when one of them is active")
    func profiles() throws {
        let app = "services:\n  web: {image: x}\n  debug: {image: y, profiles: [debug]}\n"
        switch decodeWith(app) {
        case .success(let m): #expect(m.applications.map(\.name) == ["web"])
        case .failure(let e): Issue.record("\(e)")
        }
        switch decodeWith(app, profiles: ["debug"]) {
        case .success(let m): #expect(m.applications.map(\.name) == ["web", "debug"])
        case .failure(let e): Issue.record("\(e)")
        }
        let ctx = ComposeContext.forFile("app.yml", environment: ["COMPOSE_PROFILES": "a, b"], profiles: ["c"])
        #expect(ctx.profiles == ["a", "b", "c"])
    }

    @Test("depends_on: list or long form; unknown services and unsupported conditions are errors")
    func dependsOn() throws {
        let m = try decodeValid(
            app: "services:\n  web:\n    image: x\n    depends_on: {db: {condition: service_healthy}, cache: {condition: service_started}}\n  db: {image: y}\n  cache: {image: z, depends_on: [db]}\n")
        #expect(m.applications.map(\.dependencies) == [["db", "cache"], [], ["db"]])
        let errors = decodeErrors(
            app: "services:\n  web:\n    image: x\n    depends_on: {db: {condition: service_completed_successfully}}\n  db: {image: y}\n")
        #expect(errors.map(\.path) == ["services.web.depends_on.db.condition"])
    }

    @Test("depends_on orders start steps on one node: dependencies first, otherwise as planned")
    func dependencyOrder() {
        let apps: [String: Application] = [
            "web": Application(name: "web", image: "x", dependencies: ["db", "cache"]),
            "db": Application(name: "db", image: "y"),
            "cache": Application(name: "cache", image: "z", dependencies: ["db"]),
            "other": Application(name: "other", image: "o", dependencies: ["db"]),
        ]
        let steps = [
            Step(node: "n1", .startApp("web")), Step(node: "n1", .startApp("cache")),
            Step(node: "n2", .startApp("other")), Step(node: "n1", .startApp("db")),
        ]
        let ordered = Planner.dependenciesFirst(steps, apps)
        #expect(ordered.map(\.app) == ["db", "cache", "web", "other"])
        // A cycle keeps every step, once.
        let cyclic: [String: Application] = [
            "a": Application(name: "a", image: "x", dependencies: ["b"]),
            "b": Application(name: "b", image: "y", dependencies: ["a"]),
        ]
        let both = Planner.dependenciesFirst([Step(node: "n", .startApp("a")), Step(node: "n", .startApp("b"))], cyclic)
        #expect(Set(both.map(\.app)) == ["a", "b"] && both.count == 2)
    }

    @Test("The example stack (examples/compose-stack) loads: .env read, anchors merged, warnings, depends_on")
    func exampleStack() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/compose-stack").path
        let m = try Manifests.load(
            deployment: folder + "/deployment.yml", application: folder + "/docker-compose.yml", environment: [:])
        #expect(m.applications.map(\.name) == ["web", "cache"])
        let web = try #require(m.applications.first)
        #expect(web.environment == ["GREETING": "hello from .env", "cache.url": "redis://cache:6379"])
        #expect(web.dependencies == ["cache"])
        #expect(web.restartPolicy == .unlessStopped)
        #expect(web.runOptions.contains("--label=com.example.stack=compose-stack"))
        #expect(m.applications[1].volumes.map(\.mountpoint) == ["/data"])
        #expect(m.warnings.count == 4)
        let env = try Manifests.load(
            deployment: folder + "/deployment.yml", application: folder + "/docker-compose.yml",
            environment: ["GREETING": "hi", "WEB_PORT": "9090"], profiles: ["debug"])
        #expect(env.applications.first?.environment["GREETING"] == "hi")
        #expect(env.applications.first?.ports.map(\.externalPort) == [9090])
        #expect(env.applications.map(\.name) == ["web", "cache", "debug"])
    }

    @Test("Read-only managed volumes: NAME:/path:ro and read_only: true mount with :ro, and change the hash")
    func readOnlyVolumes() throws {
        let app = try onlyApplication(
            compose("image: x\nvolumes: [\"seed:/seed:ro\", {type: volume, target: /ref, read_only: true}, \"/data\"]",
                    extra: "volumes: {seed: }\n"))
        #expect(app.volumes.map(\.readOnly) == [true, true, false])
        let mounts = app.volumes.map { (host: "/flocker/web.\($0.name)", container: $0.mountpoint) }
        let args = NodeCommands.runArguments(app, mounts: mounts, envFile: nil)
        #expect(args.filter { $0.hasPrefix("/flocker/") } == [
            "/flocker/web.seed:/seed:ro", "/flocker/web.ref:/ref:ro", "/flocker/web.data:/data",
        ])
        var writable = app
        writable.volumes[0].readOnly = false
        #expect(writable.configHash != app.configHash)
    }

    @Test("YAML anchors, merges and x- fields work in Compose files")
    func anchors() throws {
        let app = """
            x-common: &common
              restart: always
              labels: {team: db}
            services:
              a:
                <<: *common
                image: x
              b:
                <<: *common
                image: y
                x-note: ignored
            """
        let m = try decodeValid(app: app + "\n")
        #expect(m.applications.map(\.restartPolicy) == [.always, .always])
        #expect(m.applications.map(\.runOptions) == [["--label=team=db"], ["--label=team=db"]])
    }

    /// The ready script run by bash against a stand-in `docker` that reports `health`: healthy is ready at once
    /// (the port is never tried), unhealthy fails with its reason, no health check falls back to the port.
    @Test("Readiness follows Docker's health status when the container has a health check")
    func readinessScript() throws {
        func run(_ health: String) throws -> (Int32, String) {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flocker-ready-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let docker = dir.appendingPathComponent("docker")
            try writeFakeExecutable(docker.path, "#!/bin/sh\n[ \"$1\" = inspect ] && echo 'true running \(health) 127.0.0.1'; exit 0\n")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", NodeCommands.readyScript, "flocker-ready", "flocker--web", "1", "1"]
            p.environment = ["PATH": dir.path + ":/usr/bin:/bin"]
            let err = Pipe()
            p.standardError = err
            try p.run()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        #expect(try run("healthy").0 == 0)
        let unhealthy = try run("unhealthy")
        #expect(unhealthy.0 == 1 && unhealthy.1.contains("its health check reports it unhealthy"))
        let starting = try run("starting")
        #expect(starting.0 == 1 && starting.1.contains("not ready after 1s (running=true, health starting"))
        let none = try run("none")
        #expect(none.0 == 1 && none.1.contains("health none, ports 1"), "no health check: port 1 must accept")
    }
}

@Suite("Manifest: Compose keys added for issue 15's every-docker-run-key rule")
struct ComposeKeysMoreTests {
    @Test func nodeBoundOrUnbuildableValuesAreRefusedWithTheReason() {
        let blkio = decodeErrors(app: compose("image: x\nblkio_config: {weight: 300, device_read_bps: [{path: /dev/sda, rate: 1mb}]}"))
        #expect(blkio.map(\.message) == ["`device_read_bps` is refused: host devices are those of one node, and the service may move to another; use `weight`"])
        let pull = decodeErrors(app: compose("image: x\npull_policy: build"))
        #expect(pull.first?.message.hasPrefix("`build` is refused: nodes do not build images") == true)
        let windows = decodeErrors(app: compose("image: x\ncpu_count: 2"))
        #expect(windows.first?.message.contains("Windows containers only") == true)
    }
}
