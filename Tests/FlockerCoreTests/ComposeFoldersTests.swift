import Foundation
import Testing

@testable import FlockerCore

/// Writable folders beside the Compose file (`./pgdata:/var/lib/postgresql/data`): managed volumes seeded from
/// the folder's contents when they are created.
@Suite("Compose folders that hold data")
struct ComposeFoldersTests {
    func project() throws -> ComposeProject {
        let p = try ComposeProject()
        try p.write("pgdata/marker.txt", "seeded\n", mode: 0o640)
        try p.write("pgdata/conf/run.sh", "#!/bin/sh\n", mode: 0o750)
        try p.write("httpd.conf", "H:/www\n")
        return p
    }

    func compose(_ volumes: String...) -> String {
        "services:\n  web:\n    image: busybox:latest\n    volumes:\n" + volumes.map { "      - \($0)\n" }.joined()
    }

    func warnings(_ p: ComposeProject, _ compose: String) throws -> [String] {
        try p.load(compose).get().warnings.map(\.description)
    }

    @Test("Short syntax: a writable folder becomes a managed volume named after its path, seeded from its contents, with a warning")
    func shortSyntax() throws {
        let p = try project()
        let text = compose("./pgdata:/var/lib/postgresql/data")
        let web = try p.web(text)
        #expect(web.files.isEmpty)
        let volume = try #require(web.volumes.first)
        #expect(volume.name == "pgdata" && volume.mountpoint == "/var/lib/postgresql/data" && !volume.readOnly)
        let seed = try #require(volume.seed)
        #expect(seed.source == "./pgdata")
        #expect(seed.entries.map(\.path) == ["", "conf", "conf/run.sh", "marker.txt"])
        #expect(seed.entries.map(\.mode) == [0o755, 0o755, 0o750, 0o640])
        #expect(seed.entries.allSatisfy { $0.uid == Int(getuid()) && $0.gid == Int(getgid()) })
        #expect(seed.files == 2 && seed.size == 17)
        #expect(seed.summary == "seeded from ./pgdata (2 files, 17 B)")
        let warning = try warnings(p, text).first { $0.contains("managed volume") }
        #expect(
            warning?.contains(
                "docker-compose.yml:5:9: warning: services.web.volumes[0]: \"./pgdata\" becomes managed volume \"pgdata\", seeded from the folder's contents (2 files, 17 bytes) on the first deploy: later edits of the folder are not uploaded, and what the container writes stays in the volume, which moves with the service"
            ) == true, "\(String(describing: warning))")
        // validate shows it with the volumes, in text and JSON.
        let summary = ManifestSummary(try p.load(text).get())
        #expect(summary.text().contains("pgdata at /var/lib/postgresql/data, no quota, seeded from ./pgdata (2 files, 17 B) when created"))
        #expect(summary.json().contains("\"seed\": {\n            \"source\": \"./pgdata\",\n            \"files\": 2,\n            \"size\": 17\n"), "\(summary.json())")
    }

    @Test("Long syntax (type: bind) and `rw` work alike; the warning points at the source")
    func longSyntax() throws {
        let p = try project()
        let long = compose("{type: bind, source: ./pgdata, target: /data}")
        let web = try p.web(long)
        #expect(web.volumes.map(\.name) == ["pgdata"] && web.volumes.first?.seed?.files == 2)
        #expect(try warnings(p, long).contains { $0.contains("docker-compose.yml:5:30: warning: services.web.volumes[0].source: \"./pgdata\" becomes managed volume") })
        let rw = try p.web(compose("./pgdata:/data:rw"))
        #expect(rw.volumes == web.volumes)
    }

    @Test("A folder that does not exist yet becomes an empty volume, and the warning says so")
    func missingFolder() throws {
        let p = try project()
        let text = compose("./data/db:/var/lib/mysql")
        let web = try p.web(text)
        let volume = try #require(web.volumes.first)
        #expect(volume.name == "data-db" && volume.seed?.entries == [])
        #expect(volume.seed?.summary == "empty: ./data/db does not exist yet")
        #expect(try warnings(p, text).contains { $0.contains("\"./data/db\" does not exist: it becomes managed volume \"data-db\", empty on the first deploy") })
        // Read-only, a missing path is still an error.
        #expect(p.errors(compose("./data/db:/var/lib/mysql:ro")).contains { $0.contains("\"./data/db\" does not exist beside the Compose file") })
        // Outside the Compose file's folder: refused.
        #expect(p.errors(compose("../elsewhere:/data")).contains { $0.contains("\"../elsewhere\" cannot be mounted writable") })
    }

    @Test("Volume names from paths", arguments: [
        ("./pgdata", "pgdata"), ("./data/db", "data-db"), ("data", "data"), ("./a.b/c d", "a-b-c-d"), ("./_x", "x"),
        ("./x/./y/", "x-y"), (".", nil), ("./", nil), ("../x", nil), ("./a/../../x", nil), ("./.hidden", "hidden"),
    ] as [(String, String?)])
    func names(source: String, name: String?) {
        #expect(ComposeFiles.seedVolumeName(source) == name)
    }

    @Test("A derived name that clashes with a declared volume, another folder's, or another service's folder is an error at FILE:LINE:COL")
    func clashes() throws {
        let p = try project()
        try p.write("a-b/x", "1")
        try p.write("a/b/x", "2")
        let declared = p.errors("services:\n  web:\n    image: x\n    volumes: [\"./pgdata:/data\"]\nvolumes:\n  pgdata: {}\n")
        #expect(declared.contains { $0.contains("docker-compose.yml:4:15: error: services.web.volumes[0]: the folder \"./pgdata\" would become managed volume \"pgdata\", which is also the name of a volume under the top-level `volumes:`") }, "\(declared)")
        let twoFolders = p.errors(compose("./a-b:/one", "./a/b:/two"))
        #expect(twoFolders.contains { $0.contains("docker-compose.yml:6:9: error: services.web.volumes[1]: the folder \"./a/b\" would become managed volume \"a-b\", which is already the name of the folder \"./a-b\" (line 5)") }, "\(twoFolders)")
        let anonymous = p.errors(compose("/pgdata", "./pgdata:/other"))
        #expect(anonymous.contains { $0.contains("which is already the name of the volume at \"/pgdata\"") }, "\(anonymous)")
        let shared = p.errors("services:\n  web:\n    image: x\n    volumes: [\"./pgdata:/data\"]\n  db:\n    image: x\n    volumes: [\"./pgdata/:/data\"]\n")
        #expect(shared.contains { $0.contains("docker-compose.yml:7:15: error: services.db.volumes[0]: the folder \"./pgdata/\" is already mounted writable by service \"web\" (line 4)") }, "\(shared)")
    }

    @Test("A file stays an upload, :ro keeps a folder an upload, and host paths stay refused with their reasons")
    func unchanged() throws {
        let p = try project()
        let web = try p.web(compose("./httpd.conf:/etc/httpd.conf", "./pgdata:/srv:ro"))
        #expect(web.volumes.isEmpty)
        #expect(web.files.map(\.kind) == [.bind, .bind] && web.files.map(\.target) == ["/etc/httpd.conf", "/srv"])
        #expect(web.files[1].entries.map(\.mode) == [0o555, 0o555, 0o555, 0o444])
        let long = try p.web(compose("{type: bind, source: ./pgdata, target: /srv, read_only: true}"))
        #expect(long.files.map(\.target) == ["/srv"] && long.volumes.isEmpty)
        for (entry, reason) in [
            ("/var/lib/data:/data", "a host directory cannot be mounted"),
            ("~/data:/data", "a host directory cannot be mounted"),
            ("/var/run/docker.sock:/var/run/docker.sock", "the Docker socket cannot be mounted"),
            ("{type: bind, source: /run/docker.sock, target: /run/docker.sock}", "the Docker socket cannot be mounted"),
            ("{type: bind, source: /srv, target: /data}", "a host directory cannot be mounted"),
            ("{type: bind, source: ~/x, target: /data}", "a host directory cannot be mounted"),
        ] {
            let errors = p.errors(compose(entry))
            #expect(errors.count == 1 && errors[0].contains(reason), "\(entry): \(errors)")
        }
        let host = p.errors("services:\n  web:\n    image: x\n    network_mode: host\n")
        #expect(host.count == 1 && host[0].contains("network_mode"), "\(host)")
    }

    @Test("Too large a folder is refused with the limit")
    func tooLarge() throws {
        let p = try project()
        let handle = try #require(FileHandle(forWritingAtPath: { () -> String in
            FileManager.default.createFile(atPath: p.folder + "/pgdata/big.bin", contents: nil); return p.folder + "/pgdata/big.bin"
        }()))
        try handle.truncate(atOffset: UInt64(FileLimits.seedBytes + 1))
        try handle.close()
        let errors = p.errors(compose("./pgdata:/data"))
        #expect(errors.count == 1 && errors[0].contains("\"./pgdata/big.bin\" holds 268435457 bytes: a folder that seeds a volume may hold at most 256 MiB"), "\(errors)")
    }

    @Test("Later edits of the folder change neither the configuration hash nor the files' hash: the container is not replaced")
    func hashIgnoresTheSeed() throws {
        let p = try project()
        let text = compose("./pgdata:/data")
        let first = try p.web(text)
        try p.write("pgdata/marker.txt", "edited later\n")
        try p.write("pgdata/new.txt", "new\n")
        let edited = try p.web(text)
        #expect(edited.volumes.first?.seed != first.volumes.first?.seed)
        #expect(edited.configHash == first.configHash && edited.filesHash == first.filesHash)
        var unseeded = first
        unseeded.volumes[0].seed = nil
        #expect(unseeded.configHash == first.configHash)
    }

    @Test("Planner: createVolume carries the seed; a dataset of the volume on any node means no create, so no seed")
    func planning() throws {
        let p = try project()
        let web = try p.web(compose("./pgdata:/data"))
        let v = VolumeID(app: "web", volume: "pgdata")
        var c = Cluster()
        c.apps = [web]
        c.placement = ["web": "node1"]
        var plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let create = plan.phase(.prepare).first { if case .createVolume = $0.action { return true } else { return false } }
        #expect(create?.action == .createVolume(v, quota: nil, seed: web.volumes[0].seed))
        #expect(create.map(StepText.describe) == "create volume web/pgdata, seeded from ./pgdata (2 files, 17 B)")
        let record = JSONRecords.line(JSONRecords.StepRecord(try #require(create)))
        #expect(record.contains("\"seed\":{\"files\":2,\"size\":17,\"source\":\".\\/pgdata\"}") || record.contains("\"seed\":{\"files\":2,\"size\":17,\"source\":\"./pgdata\"}"), "\(record)")
        #expect(!record.contains("seeded\\n"))
        // The volume exists on node2 (a copy, or the primary elsewhere): never seeded again.
        for role in [VolumeRole.primary, .copy] {
            var moved = c
            moved.dataset(web, on: "node2", role: role, snapshots: ["flocker-00000001"])
            if role == .copy { moved.dataset(web, on: "node1", snapshots: ["flocker-00000001"]) }
            plan = try Planner.plan(desired: moved.desired, observed: moved.observedState)
            #expect(!plan.steps.contains { if case .createVolume = $0.action { return true } else { return false } }, "\(StepText.render(plan))")
        }
    }

    @Test("The seed archive extracts into the volume's root with the folder's modes")
    func archive() throws {
        let p = try project()
        let seed = try #require(try p.web(compose("./pgdata:/data")).volumes.first?.seed)
        let out = try p.extract(ConfigArchive.archive(seed: seed), into: "volume")
        #expect(try String(contentsOf: out.appendingPathComponent("marker.txt"), encoding: .utf8) == "seeded\n")
        #expect(try p.mode(of: "marker.txt", in: out) == 0o640)
        #expect(try p.mode(of: "conf/run.sh", in: out) == 0o750)
        #expect(try p.mode(of: "", in: out) == 0o755)
    }

    /// A zfs that keeps its datasets in `$FAKE/datasets` (one name a line) and their properties in `$FAKE/props`.
    static let fakeZFS = """
        eval last=\\${$#}
        has() { grep -qxF "$1" "$FAKE/datasets" 2>/dev/null; }
        case "$1" in
          list) has "$last" || { echo "cannot open '$last': dataset does not exist" >&2; exit 1; }; echo "$last" ;;
          get) v=$(grep -F "$last $5=" "$FAKE/props" 2>/dev/null | tail -n 1); [ -n "$v" ] && echo "${v#*=}" || { [ "$5" = mounted ] && echo yes || echo -; } ;;
          create) has "$last" && { echo "cannot create '$last': dataset already exists" >&2; exit 1; }
                  echo "$last" >> "$FAKE/datasets"
                  shift; while [ $# -gt 1 ]; do [ "$1" = -o ] && echo "$last $2" >> "$FAKE/props"; shift; done ;;
          destroy) grep -vxF "$last" "$FAKE/datasets" > "$FAKE/d"; mv "$FAKE/d" "$FAKE/datasets" ;;
          rename) has "$3" && { echo "cannot rename: '$3' exists" >&2; exit 1; }
                  grep -vxF "$2" "$FAKE/datasets" > "$FAKE/d"; echo "$3" >> "$FAKE/d"; mv "$FAKE/d" "$FAKE/datasets"
                  sed "s|^$2 |$3 |" "$FAKE/props" > "$FAKE/p"; mv "$FAKE/p" "$FAKE/props" ;;
        esac
        exit 0
        """

    static let fakes = [
        "zfs": fakeZFS, "tar": "cat > \"$FAKE/extracted\"", "sync": ":",
    ]

    @Test("The seeded create: made under a temporary name, extracted from stdin, renamed; a leftover redone; an existing volume not written")
    func script() throws {
        let v = VolumeID(app: "db", volume: "pgdata")
        var command = NodeCommands.createSeededVolume(v, quota: 1024)
        // Every value is an argument of the constant script, never part of its text.
        #expect(!command.stages[0][2].contains("pgdata") && !command.stages[0][2].contains("db."))
        let node = try LocalNode(fakes: Self.fakes)
        // The mountpoint (and the lock beside it) in the test's folder, not in this machine's /var/lib.
        command.stages[0] = command.stages[0].map { $0 == NodeCommands.seedMountpoint(v) ? node.path("seed/db.pgdata") : $0 }
        try node.write("datasets", "flocker\nflocker/flocker-incoming\n\(NodeCommands.seedDataset(v))\n")
        try node.write("props", "")
        var r = try node.run(command, stdin: "TAR-STREAM")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(NodeCommands.seededVolume))
        #expect(node.read("extracted") == "TAR-STREAM")
        #expect(node.read("datasets")?.split(separator: "\n").contains(Substring(v.dataset)) == true)
        #expect(node.read("datasets")?.contains(NodeCommands.seedDataset(v)) == false)
        let calls = node.calls.filter { $0.hasPrefix("zfs ") && !$0.hasPrefix("zfs get") && !$0.hasPrefix("zfs list") }
        #expect(calls == [
            "zfs destroy -r \(NodeCommands.seedDataset(v))",
            "zfs create -o mountpoint=\(node.path("seed/db.pgdata")) -o flocker:app=db -o flocker:volume=pgdata -o flocker:role=primary -o flocker:epoch=1 -o readonly=off -o refquota=1024 \(NodeCommands.seedDataset(v))",
            "zfs umount \(NodeCommands.seedDataset(v))",
            "zfs inherit mountpoint \(NodeCommands.seedDataset(v))",
            "zfs rename \(NodeCommands.seedDataset(v)) \(v.dataset)",
        ], "\(calls)")
        // Run again: the volume is there with its labels, so nothing is extracted or created.
        try node.write("extracted", "")
        try node.write("calls", "")
        r = try node.run(command, stdin: "OTHER-STREAM")
        #expect(r.status == 0 && r.stdout.contains(NodeCommands.seedVolumeExisted), "\(r)")
        #expect(node.read("extracted") == "")
        #expect(!node.calls.contains { $0.hasPrefix("zfs create") || $0.hasPrefix("tar") })
        // A dataset of that name that is not this volume's primary is not taken for it, nor written.
        let foreign = try LocalNode(fakes: Self.fakes)
        command.stages[0] = command.stages[0].map { $0 == node.path("seed/db.pgdata") ? foreign.path("seed/db.pgdata") : $0 }
        try foreign.write("datasets", v.dataset + "\n")
        r = try foreign.run(command, stdin: "TAR-STREAM")
        #expect(r.status == 1 && r.stderr.contains("is not volume pgdata of db"))
        #expect(foreign.read("extracted") == nil)
    }

    @Test("Executor: the seed travels on stdin as one tar stream; an empty seed is a plain create")
    func execution() async throws {
        let p = try project()
        for folder in ["./pgdata", "./missing"] {
            let web = try p.web(compose("\(folder):/data"))
            var c = Cluster()
            c.apps = [web]
            c.placement = ["web": "node1"]
            let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
            let log = CommandLog()
            var hosts: [String: any RemoteHost] = [:]
            for n in c.nodes {
                hosts[n] = FakeRemoteHost(node: n, address: c.address(n), log: log) { command, _ in
                    if command.stages[0].contains("flocker-create-seeded-volume") {
                        return CommandResult(status: .exited(0), stdout: Array((NodeCommands.seededVolume + "\n").utf8))
                    }
                    return CommandResult(status: .exited(0))
                }
            }
            let report = await Executor(hosts: hosts, desired: c.desired, observed: c.observedState, options: ExecutionOptions(),
                                        observer: EventLog()).run(plan)
            #expect(report.isSuccess)
            let seeded = log.all.filter { $0.command.stages[0].contains("flocker-create-seeded-volume") }
            let plain = log.all.filter { $0.command.stages[0].contains("flocker-create-volume") }
            if folder == "./pgdata" {
                #expect(seeded.count == 1 && plain.isEmpty)
                let seed = try #require(web.volumes.first?.seed)
                #expect(seeded.first?.stdin.count == ConfigArchive.archive(seed: seed).count)
                let stdin = String(decoding: seeded.first?.stdin ?? [], as: UTF8.self)
                #expect(stdin.contains("seeded\n"))
                #expect(seeded.allSatisfy { !$0.text.contains("seeded\n") })
            } else {
                #expect(seeded.isEmpty && plain.count == 1)
            }
        }
    }
}
