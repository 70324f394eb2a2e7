import Testing

@testable import FlockerCore

/// The deployment file: nodes, their applications, and the desired state built from both files.
@Suite("Manifest: deployment file")
struct ManifestDeploymentTests {
    static let apps = """
        version: 1
        applications:
          web: {image: nginx}
          db: {image: postgres}
          cache: {image: redis}
        """

    @Test("nodes: node → list of applications, in file order; [] for a node that runs nothing")
    func nodes() throws {
        let m = try decodeValid(
            app: Self.apps,
            deployment: "version: 1\nnodes:\n  node2: [db, web]\n  10.0.0.7: []\n  db-1.example.com:\n    - cache\n")
        #expect(
            m.deployment
                == Deployment(nodes: [
                    .init(name: "node2", applications: ["db", "web"]), .init(name: "10.0.0.7", applications: []),
                    .init(name: "db-1.example.com", applications: ["cache"]),
                ]))
        #expect(m.desired.nodes == ["node2", "10.0.0.7", "db-1.example.com"])
        #expect(m.desired.placement == ["db": "node2", "web": "node2", "cache": "db-1.example.com"])
        #expect(m.desired.applications.count == 3)
    }

    @Test("An application on no node is in the desired state but not placed")
    func unplaced() throws {
        let m = try decodeValid(app: Self.apps, deployment: "version: 1\nnodes:\n  node1: [web]\n")
        #expect(m.desired.placement == ["web": "node1"])
        #expect(Set(m.desired.applications.keys) == ["web", "db", "cache"])
    }

    @Test("nodes: {} is valid (nothing is contacted); x- keys are ignored; node names: IPs, hostnames, aliases")
    func edges() throws {
        #expect(try decodeValid(app: Self.apps, deployment: "version: 1\nnodes: {}\n").deployment.nodes.isEmpty)
        let m = try decodeValid(
            app: Self.apps,
            deployment:
                "version: 1\nx-comment: hi\nnodes:\n  N_1: []\n  a: []\n  172.16.255.250: []\n  \(String(repeating: "h", count: 253)): []\n"
        )
        #expect(m.deployment.nodes.count == 4)
    }

    @Test("All errors of both files come at once: the deployment file first, each file in position order")
    func errorOrder() {
        let errors = decodeErrors(
            app: "version: 1\napplications:\n  web:\n    image: UPPER\n    ports: [{internal: 0, external: 80}]\n",
            deployment: "version: 1\nnodes:\n  node1: [wbe]\n  node2: nope\n")
        #expect(
            errors.map { "\($0.file):\($0.line):\($0.column)" } == [
                "dep.yml:3:11", "dep.yml:4:10", "app.yml:4:12", "app.yml:5:24",
            ])
    }

    @Test("When the application file cannot be parsed, the deployment file is still checked, but not its names")
    func brokenApplicationFile() {
        let errors = decodeErrors(
            app: "version: 1\napplications: [\n", deployment: "version: 1\nnodes:\n  node1: [anything]\n  node2:\n")
        #expect(errors.count == 2)
        #expect(
            errors[0].description
                == "dep.yml:4:9: error: nodes.node2: expected a list of application names, found nothing: write [] for a node that runs nothing"
        )
        #expect(errors[1].file == "app.yml")
    }

    @Test("An application with errors is still known to the deployment file (no cascading \"unknown\" errors)")
    func noCascade() {
        let errors = decodeErrors(
            app: "version: 1\napplications:\n  web:\n    ports: []\n",
            deployment: "version: 1\nnodes:\n  node1: [web]\n")
        #expect(errors.map(\.description) == ["app.yml:4:5: error: applications.web: missing required key `image`"])
    }
}
