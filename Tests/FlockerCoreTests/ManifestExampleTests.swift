import Testing

@testable import FlockerCore

/// Flocker's documented examples (reference §2.1, §2.2, §3), written as fixture files, decode to the model.
@Suite("Manifest: documented examples")
struct ManifestExampleTests {
    @Test("§2.1: the mysql/logstash application file, with the elasticsearch its link needs")
    func mysqlLogstash() throws {
        let m = try ManifestFixture.load(
            deployment: "mysql-logstash-deployment.yml", application: "mysql-logstash-application.yml")
        #expect(m.format == .flockerV1)
        #expect(m.applications.map(\.name) == ["mysql-volume-example", "logstash", "elasticsearch"])
        #expect(
            m.applications[0]
                == Application(
                    name: "mysql-volume-example", image: "mysql:5.6.17",
                    ports: [PortMapping(internal: 3306, external: 3306)],
                    volumes: [VolumeSpec(name: "default", mountpoint: "/var/lib/mysql", maximumSize: 1 << 30)],
                    environment: ["MYSQL_ROOT_PASSWORD": "clusterhq"],
                    restartPolicy: .onFailure(maximumRetryCount: 10)))
        #expect(
            m.applications[1]
                == Application(
                    name: "logstash", image: "clusterhq/logstash",
                    links: [Link(localPort: 9200, remotePort: 9200, alias: "es")]))
        #expect(m.applications[2].volumes == [VolumeSpec(name: "default", mountpoint: "/var/lib/elasticsearch")])
        #expect(
            m.desired.placement == [
                "mysql-volume-example": "172.16.255.250", "elasticsearch": "172.16.255.250",
                "logstash": "172.16.255.251",
            ])
    }

    @Test("§2.1 as paraphrased alone: logstash's link has no target, and the error says which ports exist")
    func mysqlLogstashWithoutTarget() {
        let app = """
            "version": 1
            "applications":
              "mysql-volume-example":
                "image": "mysql:5.6.17"
                "ports": [{"internal": 3306, "external": 3306}]
              "logstash":
                "image": "clusterhq/logstash"
                "links": [{"local_port": 9200, "remote_port": 9200, "alias": "es"}]
            """
        let errors = decodeErrors(app: app)
        #expect(
            errors.map(\.description) == [
                "app.yml:8:51: error: applications.logstash.links[0].remote_port: no application publishes external port 9200: a link's remote_port must be another application's external port (published: 3306 (mysql-volume-example))"
            ])
    }

    @Test("§3: the deployment file example, with the ELK tutorial's application file")
    func elkDeployment() throws {
        let m = try ManifestFixture.load(deployment: "elk-deployment.yml", application: "elk-application.yml")
        #expect(
            m.deployment
                == Deployment(nodes: [
                    .init(name: "172.16.255.250", applications: ["elasticsearch", "logstash", "kibana"]),
                    .init(name: "172.16.255.251", applications: []),
                ]))
        #expect(m.desired.nodes == ["172.16.255.250", "172.16.255.251"])
        #expect(m.desired.applications(on: "172.16.255.250").map(\.name) == ["elasticsearch", "kibana", "logstash"])
        #expect(m.desired.applications(on: "172.16.255.251").isEmpty)
        let kibana = try #require(m.desired.applications["kibana"])
        #expect(kibana.ports == [PortMapping(internal: 8080, external: 80)])
    }

    @Test("§2.2: the Fig quick start (services at the top level) becomes Flocker links and a volume named after /data")
    func quickStart() throws {
        let m = try ManifestFixture.load(deployment: "quickstart-deployment.yml", application: "quickstart-fig.yml")
        #expect(m.format == .compose)
        #expect(
            m.applications.map(\.withoutService) == [
                Application(
                    name: "web", image: "clusterhq/flask", ports: [PortMapping(internal: 80, external: 80)],
                    links: [Link(localPort: 6379, remotePort: 6379, alias: "redis")]),
                Application(
                    name: "redis", image: "dockerfile/redis", ports: [PortMapping(internal: 6379, external: 6379)],
                    volumes: [VolumeSpec(name: "data", mountpoint: "/data")]),
            ])
        #expect(m.desired.placement == ["web": "172.16.255.250", "redis": "172.16.255.251"])
    }

    @Test("A Compose file using every supported key, in the services layout")
    func composeServices() throws {
        let m = try ManifestFixture.load(deployment: "compose-deployment.yml", application: "compose-services.yml")
        #expect(m.format == .compose)
        let apps = Dictionary(uniqueKeysWithValues: m.applications.map { ($0.name, $0) })
        #expect(m.applications.map(\.name) == ["web", "db", "cache"])
        #expect(
            apps["web"]?.withoutService
                == Application(
                    name: "web", image: "registry.example.com:5000/shop/web:1.4.2",
                    ports: [PortMapping(internal: 8000, external: 8000), PortMapping(internal: 8443, external: 443)],
                    links: [
                        Link(localPort: 5432, remotePort: 5432, alias: "db"),
                        Link(localPort: 6379, remotePort: 6379, alias: "redis"),
                    ],
                    environment: ["DATABASE_URL": "postgres://shop@db/shop", "DEBUG": "false", "WORKERS": "4"],
                    memoryLimit: 256 << 20, restartPolicy: .unlessStopped,
                    command: ["gunicorn", "--bind", "0.0.0.0:8000", "shop.wsgi"]))
        #expect(
            apps["db"]?.withoutService
                == Application(
                    name: "db",
                    image: "postgres:16@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                    ports: [PortMapping(internal: 5432, external: 5432)],
                    volumes: [
                        VolumeSpec(name: "pgdata", mountpoint: "/var/lib/postgresql/data"),
                        VolumeSpec(name: "var-log-postgresql", mountpoint: "/var/log/postgresql"),
                    ],
                    environment: ["POSTGRES_PASSWORD": "s3cr=t", "POSTGRES_DB": "shop"], cpuShares: 512,
                    restartPolicy: .onFailure(maximumRetryCount: 5)))
        #expect(
            apps["cache"]?.withoutService
                == Application(
                    name: "cache", image: "redis:7-alpine", ports: [PortMapping(internal: 6379, external: 6379)],
                    volumes: [VolumeSpec(name: "redisdata", mountpoint: "/data")], restartPolicy: .always,
                    command: ["redis-server", "--appendonly", "yes", "--save", "60 1"]))
        #expect(m.deployment.nodes.map(\.name) == ["node1", "node2", "node3"])
        #expect(m.desired.applications(on: "node2").map(\.name) == ["cache", "db"])
    }

    @Test("The manifest hash covers both files' bytes: equal files, equal hash; any byte changes it")
    func manifestHash() throws {
        let app = v1("image: redis:7")
        let a = try decodeValid(app: app)
        let b = try decodeValid(app: app)
        #expect(a.hash == b.hash)
        #expect(a.hash.count == 64)
        let comment = try decodeValid(app: app + "# a comment\n")
        #expect(comment.hash != a.hash)
        let otherDeployment = try decodeValid(app: app, deployment: emptyDeployment + "  node2: []\n")
        #expect(otherDeployment.hash != a.hash)
        // Moving bytes from one file to the other changes the hash (the files are length-prefixed).
        #expect(Manifests.hash(Array("ab".utf8), Array("c".utf8)) != Manifests.hash(Array("a".utf8), Array("bc".utf8)))
    }
}
