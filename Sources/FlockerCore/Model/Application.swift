/// One application as the application file describes it: what runs, with which ports, volumes and settings.
///
/// Value type produced by the manifest decoder (Flocker v1 or Compose format alike) and consumed by the planner.
public struct Application: Sendable, Hashable, Codable {
    /// The application's name; safe for Docker container names and ZFS dataset names (checked by the decoder).
    public var name: String
    /// The image as the user wrote it (`redis:7`, `registry:5000/team/app:1.2`, `name@sha256:…`).
    public var image: String
    /// Ports published on every node through the routing mesh.
    public var ports: [PortMapping]
    /// Managed volumes, each a ZFS dataset that follows the application between nodes.
    public var volumes: [VolumeSpec]
    /// Links to other applications' external ports (Docker-style environment variables).
    public var links: [Link]
    /// Environment variables, exactly as written (never interpreted by a shell).
    public var environment: [String: String]
    /// Memory limit in bytes (`docker run --memory`).
    public var memoryLimit: UInt64?
    /// Relative CPU weight (`docker run --cpu-shares`).
    public var cpuShares: Int?
    /// What Docker does when the container exits.
    public var restartPolicy: RestartPolicy
    /// Arguments that replace the image's default command (`docker run IMAGE ARGS…`); nil keeps the image's.
    public var command: [String]?
    /// Further `docker run` options from a Compose file's service keys (`--user=1000`, `--cap-add=NET_ADMIN`),
    /// each a single `--flag=value` word, in the order of the key table (`ComposeKeys`). Part of `configHash`.
    public var runOptions: [String] = []
    /// The words of a Compose `entrypoint` after its first (which `runOptions` carries as `--entrypoint=`):
    /// placed after the image, before `command`. Part of `configHash`.
    public var entrypointArguments: [String] = []
    /// Applications this one depends on (Compose `depends_on`): where both run on one node, the dependency is
    /// started, and ready, first. Not part of `configHash` (it changes no container).
    public var dependencies: [String] = []
    /// Files and folders uploaded to the node that runs it and mounted read-only (Compose bind mounts of relative
    /// paths, `configs`, `secrets`). Their content is part of `configHash` (through `filesHash`).
    public var files: [AppFile] = []
    /// Compose services only: the service's address and the names its container resolves (`ServiceNetwork`).
    /// Part of `configHash`.
    public var service: ServiceIdentity?

    public init(
        name: String, image: String, ports: [PortMapping] = [], volumes: [VolumeSpec] = [], links: [Link] = [],
        environment: [String: String] = [:], memoryLimit: UInt64? = nil, cpuShares: Int? = nil,
        restartPolicy: RestartPolicy = .never, command: [String]? = nil, runOptions: [String] = [],
        entrypointArguments: [String] = [], dependencies: [String] = [], files: [AppFile] = [],
        service: ServiceIdentity? = nil
    ) {
        self.name = name
        self.image = image
        self.ports = ports
        self.volumes = volumes
        self.links = links
        self.environment = environment
        self.memoryLimit = memoryLimit
        self.cpuShares = cpuShares
        self.restartPolicy = restartPolicy
        self.command = command
        self.runOptions = runOptions
        self.entrypointArguments = entrypointArguments
        self.dependencies = dependencies
        self.files = files
        self.service = service
    }
}

/// A port of the container (`internal`) published as `external` on every node of the cluster, TCP unless
/// `transport` says UDP (Compose `53:53/udp`).
public struct PortMapping: Sendable, Hashable, Codable {
    public var internalPort: Int
    public var externalPort: Int
    public var transport: PortTransport = .tcp
    public init(internal: Int, external: Int, transport: PortTransport = .tcp) {
        self.internalPort = `internal`
        self.externalPort = external
        self.transport = transport
    }

    /// `""` for TCP, `"/udp"` for UDP: Docker's suffix of a port spec.
    public var suffix: String { transport == .udp ? "/udp" : "" }

    /// The container ports (`80/tcp`) that answer on every address of their node, a service address too:
    /// those published at their own number (`80:80`). Services by name leave these to the routing mesh.
    public static func answeringOnEveryAddress(_ ports: [PortMapping]) -> [String] {
        ports.filter { $0.internalPort == $0.externalPort }.map { "\($0.internalPort)/\($0.transport.rawValue)" }
    }
}

/// The transport protocol of a published port.
public enum PortTransport: String, Sendable, Hashable, Codable {
    case tcp, udp
}

/// A managed volume: a ZFS dataset mounted into the container at `mountpoint`.
public struct VolumeSpec: Sendable, Hashable, Codable {
    /// Volume name, unique within its application; safe for ZFS names.
    public var name: String
    /// Absolute path inside the container.
    public var mountpoint: String
    /// Quota in bytes (ZFS `refquota`); nil means none.
    public var maximumSize: UInt64?
    /// Mounted read-only into the container (Compose `NAME:/path:ro`, `read_only: true`).
    public var readOnly: Bool = false
    /// What the volume is created with (a writable folder beside the Compose file); nil: empty. Not part of
    /// `configHash`: it is written only when the volume is created, so a later edit of the folder changes nothing.
    public var seed: VolumeSeed?
    public init(name: String, mountpoint: String, maximumSize: UInt64? = nil, readOnly: Bool = false, seed: VolumeSeed? = nil) {
        self.name = name
        self.mountpoint = mountpoint
        self.maximumSize = maximumSize
        self.readOnly = readOnly
        self.seed = seed
    }
}

/// A link in Flocker's sense: inside the container, `alias` names `localPort`, and connections go to
/// `remotePort` (another application's external port) on the container's own node, through the routing mesh.
public struct Link: Sendable, Hashable, Codable {
    public var localPort: Int
    public var remotePort: Int
    public var alias: String
    public init(localPort: Int, remotePort: Int, alias: String) {
        self.localPort = localPort
        self.remotePort = remotePort
        self.alias = alias
    }
}

/// Docker's restart policy.
public enum RestartPolicy: Sendable, Hashable, Codable {
    case never
    case always
    case unlessStopped
    /// Restart when the container exits non-zero, at most `maximumRetryCount` times (nil: no limit).
    case onFailure(maximumRetryCount: Int?)

    /// The value of `docker run --restart`.
    public var dockerValue: String {
        switch self {
        case .never: return "no"
        case .always: return "always"
        case .unlessStopped: return "unless-stopped"
        case .onFailure(let n?): return "on-failure:\(n)"
        case .onFailure(nil): return "on-failure"
        }
    }
}
