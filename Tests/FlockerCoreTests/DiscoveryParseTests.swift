import Foundation
import Testing
@testable import FlockerCore

@Suite("Discovery output parsing")
struct DiscoveryParseTests {
    static let sample = """
        @@flocker-discovery facts
        hostname node1
        docker 20.10.24+dfsg1
        pool 23
        has zstd
        has bash
        @@flocker-discovery containers
        abc123\tflocker--redis\trunning\tredis:7\tredis\th1\talways\tUp 5 minutes\t0.0.0.0:6379->6379/tcp\t/flocker/redis.default
        def456\tflocker--web\texited\tbusybox\tweb\th2\t\tExited (0) 2 hours ago
        zzz\timpostor\trunning\tbusybox\tredis\th3\tno\tUp 1 second
        short\tline
        @@flocker-discovery zfs
        flocker\ttype\tfilesystem
        flocker\tmountpoint\t/flocker
        flocker\tavailable\t2000000000
        flocker/redis.default\ttype\tfilesystem
        flocker/redis.default\treadonly\toff
        flocker/redis.default\tmountpoint\t/flocker/redis.default
        flocker/redis.default\treferenced\t1048576
        flocker/redis.default\trefquota\t0
        flocker/redis.default\tflocker:app\tredis
        flocker/redis.default\tflocker:volume\tdefault
        flocker/redis.default\tflocker:role\tprimary
        flocker/redis.default\tflocker:epoch\t4
        flocker/redis.default@flocker-00000003\ttype\tsnapshot
        flocker/redis.default@flocker-00000003\tguid\t777
        flocker/redis.default@flocker-00000003\tcreatetxg\t90
        flocker/redis.default@flocker-00000002\ttype\tsnapshot
        flocker/redis.default@flocker-00000002\tguid\t666
        flocker/redis.default@flocker-00000002\tcreatetxg\t50
        flocker/redis.default@manual\ttype\tsnapshot
        flocker/web.logs\ttype\tfilesystem
        flocker/web.logs\treadonly\ton
        flocker/web.logs\trefquota\t1073741824
        flocker/web.logs\tflocker:role\t-
        flocker/web.logs\tflocker:epoch\t-
        flocker/notours\ttype\tfilesystem
        @@flocker-discovery iptables
        @@flocker-discovery table mangle
        -A PREROUTING -m comment --comment flocker-deploy:established -j ACCEPT
        @@flocker-discovery table nat
        -A PREROUTING -p tcp -m tcp --dport 80 -m addrtype --dst-type LOCAL -m comment --comment "flocker-deploy:dnat:web:80:10.77.0.12" -j DNAT --to-destination 10.77.0.12:80
        -A POSTROUTING -d 10.77.0.12/32 -p tcp -m tcp --dport 80 -m comment --comment flocker-deploy:masq:web:80:10.77.0.12 -j MASQUERADE
        -A OUTPUT -m comment --comment "somebody else's" -j ACCEPT
        @@flocker-discovery table filter
        -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment flocker-deploy:established -j ACCEPT
        @@flocker-discovery images
        redis:7
        busybox:latest
        <none>:<none>
        @@flocker-discovery facts
        docker answers
        @@flocker-discovery end

        """

    @Test func parsesEverySection() {
        let s = DiscoveryScript.parse(Self.sample, node: "node1", address: "10.77.0.11")
        #expect(s.facts.hostname == "node1")
        #expect(s.facts.dockerVersion == "20.10.24+dfsg1")
        #expect(s.facts.dockerAnswers, "from the facts section reopened after docker ps")
        #expect(s.facts.poolVersion == "23")
        #expect(s.facts.compressors == ["zstd"])
        #expect(s.facts.hasBash)
        #expect(s.facts.poolMountpoint == "/flocker")
        #expect(s.facts.poolAvailable == 2_000_000_000)
        #expect(s.facts.problems.isEmpty)

        #expect(s.containers.count == 2, "the impostor's name does not match its label")
        #expect(s.containers["redis"] == ContainerState(app: "redis", id: "abc123", configHash: "h1", running: true, status: "running",
                                                         image: "redis:7", restartPolicy: "always", startedAt: "Up 5 minutes",
                                                         ports: "0.0.0.0:6379->6379/tcp", mounts: "/flocker/redis.default"))
        #expect(s.containers["web"]?.running == false)
        #expect(s.containers["web"]?.restartPolicy == "no")

        let redis = VolumeID(app: "redis", volume: "default")
        #expect(s.datasets.count == 2)
        #expect(s.datasets[redis]?.role == .primary)
        #expect(s.datasets[redis]?.epoch == 4)
        #expect(s.datasets[redis]?.readonly == false)
        #expect(s.datasets[redis]?.quota == nil)
        #expect(s.datasets[redis]?.snapshots.map(\.name) == ["flocker-00000002", "flocker-00000003"], "ours only, oldest first")
        #expect(s.datasets[redis]?.otherSnapshots.map(\.name) == ["manual"], "someone else's, kept apart")
        let web = VolumeID(app: "web", volume: "logs")
        #expect(s.datasets[web]?.role == .copy, "no role label reads as a copy")
        #expect(s.datasets[web]?.epoch == 0)
        #expect(s.datasets[web]?.quota == 1 << 30)

        #expect(s.routes.map(\.tag.comment) == ["flocker-deploy:dnat:web:80:10.77.0.12", "flocker-deploy:masq:web:80:10.77.0.12", "flocker-deploy:established"])
        #expect(s.routes[0].chain == "PREROUTING" && s.routes[0].table == "nat")
        #expect(s.routes[0].deleteLine.hasPrefix("-D PREROUTING -p tcp -m tcp --dport 80"))
        #expect(s.routes[2].table == "filter", "rules of other tables (mangle) are not ours to manage")
        #expect(s.images == ["redis:7", "busybox:latest"])
    }

    @Test func imagesAreUnknownUnlessListed() {
        let without = Self.sample.replacingOccurrences(of: "@@flocker-discovery images\nredis:7\nbusybox:latest\n<none>:<none>\n", with: "")
        #expect(without != Self.sample)
        #expect(DiscoveryScript.parse(without, node: "node1", address: "10.77.0.11").images == nil, "not listed: unknown")
        let empty = Self.sample.replacingOccurrences(of: "redis:7\nbusybox:latest\n<none>:<none>\n", with: "")
        #expect(DiscoveryScript.parse(empty, node: "node1", address: "10.77.0.11").images == [], "listed, none there")
    }

    @Test func theScriptTakesItsOptionsAsArguments() {
        #expect(DiscoveryScript.command().stages[0].suffix(2) == ["flocker-discovery", "images"])
        #expect(DiscoveryScript.command(withVersions: true).stages[0].suffix(3) == ["flocker-discovery", "versions", "images"])
        #expect(DiscoveryScript.command(withImages: false).stages[0].last == "flocker-discovery")
    }

    /// The script's one `docker ps` lists every container with both label sets (17 fields); `parse` splits it
    /// into the applications' containers and the clones', and leaves containers with neither label alone.
    @Test func oneDockerListingGivesApplicationsAndClones() {
        let t = "\t"
        let app = ["abc123", "flocker--redis", "running", "redis:7", "redis", "h1", "always", "Up 5 minutes",
                   "0.0.0.0:6379->6379/tcp", "/flocker/redis.default", "", "", "", "", "", "", ""].joined(separator: t)
        let clone = ["fff999", "ci-1", "exited", "redis:7", "", "", "", "Exited (0)", "", "/flocker/flocker-clones/ci-1.default",
                     "ci-1", "redis", "flocker-named-v1", "6379:30000", "1800000000", "never", "default"].joined(separator: t)
        let other = ["0000aa", "somebody-else", "running", "nginx", "", "", "", "Up 1 hour", "", "", "", "", "", "", "", "", ""].joined(separator: t)
        let out = """
            @@flocker-discovery docker
            \(app)
            \(clone)
            \(other)
            short\(t)line
            @@flocker-discovery facts
            docker answers
            @@flocker-discovery facts
            hostname node1
            pool 23
            @@flocker-discovery zfs
            @@flocker-discovery clones
            @@flocker-discovery iptables
            @@flocker-discovery end

            """
        let s = DiscoveryScript.parse(out, node: "node1", address: "10.77.0.11")
        #expect(s.facts.problems.isEmpty)
        #expect(s.facts.dockerAnswers && s.facts.hostname == "node1" && s.facts.poolVersion == "23")
        #expect(Array(s.containers.keys) == ["redis"], "the clone's and the stranger's containers are no application's")
        #expect(s.containers["redis"] == ContainerState(app: "redis", id: "abc123", configHash: "h1", running: true, status: "running",
                                                         image: "redis:7", restartPolicy: "always", startedAt: "Up 5 minutes",
                                                         ports: "0.0.0.0:6379->6379/tcp", mounts: "/flocker/redis.default"))
        #expect(Array(s.clones.keys) == ["ci-1"])
        #expect(s.clones["ci-1"]?.container == "exited")
        #expect(s.clones["ci-1"]?.spec.app == "redis" && s.clones["ci-1"]?.spec.snapshot == "flocker-named-v1")
        #expect(s.clones["ci-1"]?.spec.volumes == ["default"] && s.clones["ci-1"]?.spec.expires == nil)
        #expect(s.containers["redis"]?.unpublished == [])
    }

    @Test func runLocksHeldOnTheNodeAreRead() {
        let info = #"{"token":"t1","user":"ci","host":"runner","pid":42,"started":1700000000,"manifests":"abc","command":"flocker-deploy d.yml a.yml"}"#
        let out = """
            @@flocker-discovery locks
            lock lock 3 \(info)
            lock lock-app-redis 700
            lock other 1 x
            lock lock-app-web notanumber
            @@flocker-discovery end

            """
        let s = DiscoveryScript.parse(out, node: "node1", address: "10.77.0.11")
        #expect(s.locks.count == 2)
        #expect(s.locks.first == LockSeen(app: nil, idleSeconds: 3, holder: RunLock.decode(info)))
        #expect(s.locks.first?.holder?.user == "ci" && s.locks.first?.holder?.isSync == false)
        #expect(s.locks.last == LockSeen(app: "redis", idleSeconds: 700, holder: nil))
    }

    @Test func portsAServiceCouldNotPublishOnItsAddressAreRead() {
        let line = ["abc123", "flocker--cache", "running", "redis:7", "cache", "h1", "always", "Up 5 minutes", "6379/tcp", "",
                    "", "", "", "", "", "", "", "6379/tcp,8080/tcp"].joined(separator: "\t")
        let s = DiscoveryScript.parse("@@flocker-discovery docker\n\(line)\n@@flocker-discovery end\n", node: "node1", address: "10.77.0.11")
        #expect(s.containers["cache"]?.unpublished == ["6379/tcp", "8080/tcp"])
    }

    /// The script itself, run by a real shell with docker out of reach (PATH holds only the sbin folders the
    /// script adds): every section is there, `docker` first (it runs in the background) and `end` last.
    @Test func theScriptRunsWithDockerOutOfReach() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", DiscoveryScript.text.description, "flocker-discovery", "images"]
        process.environment = ["PATH": "/nonexistent"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let markers = text.split(separator: "\n").filter { $0.hasPrefix(DiscoveryScript.marker) }.map { $0.dropFirst(DiscoveryScript.marker.count) }
        #expect(markers.first == "docker" && markers.last == "end")
        #expect(Set(markers) == ["docker", "facts", "images", "zfs", "clones", "iptables", "services", "files", "locks", "end"])
        let s = DiscoveryScript.parse(text, node: "n", address: "1.2.3.4")
        #expect(!s.facts.dockerAnswers)
        #expect(s.facts.problems.contains("docker is not answering (docker ps failed)"))
        #expect(!s.facts.problems.contains("discovery output was cut short"))
        #expect(!s.facts.hostname.isEmpty)
    }

    @Test func problemsAreReported() {
        let out = """
            @@flocker-discovery facts
            hostname n
            problem docker is not answering (docker ps failed)
            problem pool flocker not found (zpool get version flocker)
            @@flocker-discovery containers
            """
        let s = DiscoveryScript.parse(out, node: "n", address: "1.2.3.4")
        #expect(s.facts.dockerVersion == nil)
        #expect(!s.facts.dockerAnswers)
        #expect(s.facts.poolVersion == nil)
        #expect(s.facts.problems.count == 3, "two probes and the cut-short output")
    }

    @Test func volumeNamesRoundTrip() {
        #expect(VolumeID(dataset: "flocker/my.app.data") == VolumeID(app: "my.app", volume: "data"))
        #expect(VolumeID(dataset: "flocker/redis.default")?.dataset == "flocker/redis.default")
        #expect(VolumeID(dataset: "flocker") == nil)
        #expect(VolumeID(dataset: "flocker/nodot") == nil)
        #expect(VolumeID(dataset: "flocker/a.b/c") == nil)
        #expect(VolumeID(dataset: "other/a.b") == nil)
    }

    @Test func routeTagsRoundTrip() {
        let t = RouteTag(kind: .masquerade, app: "web.1", port: 8080, destination: "10.0.0.5")
        #expect(RouteTag(comment: t.comment) == t)
        #expect(RouteTag(comment: "flocker-deploy:established") == .established)
        #expect(RouteTag(comment: "flocker-deploy:dnat:web:notaport:1.2.3.4") == nil)
        #expect(RouteTag(comment: "flocker create_proxy_to") == nil)
    }

    @Test func imageNamesNormalise() {
        #expect(ImageName.normalized("redis") == "redis:latest")
        #expect(ImageName.normalized("docker.io/library/redis:7") == "redis:7")
        #expect(ImageName.normalized("registry:5000/team/app") == "registry:5000/team/app:latest")
        #expect(ImageName.normalized("registry:5000/team/app:1.2") == "registry:5000/team/app:1.2")
        #expect(ImageName.normalized("app@sha256:abc") == "app@sha256:abc")
    }
}

@Suite("Remote commands")
struct RemoteCommandTests {
    @Test func quotingIsOnceAndSafe() {
        #expect(ShellQuote.quote("plain-word_1.2/x:y") == "plain-word_1.2/x:y")
        #expect(ShellQuote.quote("") == "''")
        #expect(ShellQuote.quote("a; rm -rf /") == "'a; rm -rf /'")
        #expect(ShellQuote.quote("it's") == "'it'\\''s'")
        #expect(ShellQuote.quote("$(reboot)") == "'$(reboot)'")
        #expect(ShellQuote.quote("A=B") == "'A=B'")
        #expect(RemoteCommand("echo", "a b", "c").shellText == "echo 'a b' c")
    }

    @Test func pipelinesFailWhenAnyStageFails() {
        let c = RemoteCommand("zfs", "send", "x@1").piped(into: RemoteCommand("zstd", "-c"))
        #expect(c.shellText == "(set -o pipefail) 2>/dev/null && set -o pipefail; zfs send x@1 | zstd -c")
        #expect(c.programs == "zfs | zstd")
    }

    @Test func scriptsTakeValuesAsArguments() {
        let c = RemoteCommand.script("echo \"$1\"", name: "n", ["$(x)"])
        #expect(c.stages == [["sh", "-c", "echo \"$1\"", "n", "$(x)"]])
    }

    @Test func sha256MatchesKnownVectors() {
        #expect(StableHash.sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(StableHash.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(StableHash.sha256Hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func linkVariablesFollowFlockersSemantics() {
        let vars = LinkEnvironment.variables(for: [Link(localPort: 5432, remotePort: 15432, alias: "db-main"),
                                                   Link(localPort: 80, remotePort: 8080, alias: "db-main")], nodeAddress: "10.0.0.1")
        let d = Dictionary(uniqueKeysWithValues: vars)
        #expect(d["DB_MAIN_PORT_5432_TCP"] == "tcp://10.0.0.1:15432")
        #expect(d["DB_MAIN_PORT_5432_TCP_ADDR"] == "10.0.0.1")
        #expect(d["DB_MAIN_PORT_5432_TCP_PORT"] == "15432")
        #expect(d["DB_MAIN_PORT_5432_TCP_PROTO"] == "tcp")
        #expect(d["DB_MAIN_PORT"] == "tcp://10.0.0.1:8080", "the lowest local port")
        let app = Application(name: "x", image: "i", links: [Link(localPort: 1, remotePort: 2, alias: "a")], environment: ["A_PORT_1_TCP_ADDR": "override"])
        let env = Dictionary(uniqueKeysWithValues: LinkEnvironment.environment(of: app, nodeAddress: "n"))
        #expect(env["A_PORT_1_TCP_ADDR"] == "override", "the user's environment wins")
    }

    /// Values computed with the hand-written SHA-256 that swift-crypto replaced: a change of hash function or of
    /// the encoding would restart every application once after an upgrade.
    @Test func hashesAreThoseOfEarlierReleases() {
        let app = Application(
            name: "web", image: "nginx:1.25", ports: [PortMapping(internal: 80, external: 8080)],
            volumes: [VolumeSpec(name: "data", mountpoint: "/data")],
            links: [Link(localPort: 5432, remotePort: 15432, alias: "db")], environment: ["B": "two", "A": "1"],
            memoryLimit: 64 << 20, cpuShares: 512, restartPolicy: .always, command: ["nginx", "-g", "daemon off;"])
        #expect(app.configHash == "22918c6da22bcc1f209404ca5b82fb51")
        #expect(Manifests.hash(Array("a: ".utf8), Array("xy".utf8))
                == "f0b4a347b0ed01980b8c15e0be6041d202928e23ce8549d813a66c1e2a7fcd99")
    }

    @Test func configHashIsStableAndSensitive() {
        let base = Application(name: "a", image: "i:1", ports: [PortMapping(internal: 1, external: 2)],
                               volumes: [VolumeSpec(name: "v", mountpoint: "/m", maximumSize: 10)], environment: ["A": "1", "B": "2"])
        #expect(base.configHash == base.configHash)
        #expect(base.configHash.count == 32)
        var same = base
        same.environment = ["B": "2", "A": "1"]
        same.volumes[0].maximumSize = 99
        #expect(same.configHash == base.configHash, "order of environment and quotas do not restart")
        var variants: [Application] = []
        var x = base; x.image = "i:2"; variants.append(x)
        x = base; x.ports[0].externalPort = 3; variants.append(x)
        x = base; x.volumes[0].mountpoint = "/n"; variants.append(x)
        x = base; x.environment["A"] = "2"; variants.append(x)
        x = base; x.memoryLimit = 1; variants.append(x)
        x = base; x.cpuShares = 2; variants.append(x)
        x = base; x.restartPolicy = .always; variants.append(x)
        x = base; x.command = ["a"]; variants.append(x)
        x = base; x.links = [Link(localPort: 1, remotePort: 2, alias: "l")]; variants.append(x)
        let hashes = Set(variants.map(\.configHash) + [base.configHash])
        #expect(hashes.count == variants.count + 1)
    }
}
