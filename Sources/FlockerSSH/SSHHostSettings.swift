/// Settings for one host after applying the OpenSSH client-config subset.
public struct SSHHostSettings: Sendable, Hashable {
    /// The name the user wrote (e.g. `node1`, `10.0.0.5`).
    public var alias: String
    /// `HostName`, or the alias.
    public var hostName: String
    /// `User`, or the current user's name.
    public var user: String
    /// `Port`, or 22.
    public var port: Int
    /// `IdentityFile` paths (expanded), else `~/.ssh/id_ed25519`, `~/.ssh/id_ecdsa` and `~/.ssh/id_rsa`.
    ///
    /// `id_rsa` is in the default list only so that a refused RSA key can be explained
    /// (``SSHError/Code-swift.struct/rsaKeyUnsupported``); files that do not exist are skipped.
    public var identityFiles: [String]
    /// `UserKnownHostsFile` paths (expanded), else `~/.ssh/known_hosts`. New keys are recorded in the first.
    public var knownHostsFiles: [String]
    /// From `StrictHostKeyChecking`; a changed key is refused under every policy.
    public var hostKeyPolicy: HostKeyPolicy
    /// `ConnectTimeout`, if set; otherwise ``SSHConnectOptions/connectTimeout`` applies.
    public var connectTimeout: Duration?

    /// Creates settings from explicit values (tests, or callers that do not use ssh_config).
    public init(
        alias: String, hostName: String, user: String, port: Int, identityFiles: [String],
        knownHostsFiles: [String], hostKeyPolicy: HostKeyPolicy, connectTimeout: Duration?
    ) {
        self.alias = alias
        self.hostName = hostName
        self.user = user
        self.port = port
        self.identityFiles = identityFiles
        self.knownHostsFiles = knownHostsFiles
        self.hostKeyPolicy = hostKeyPolicy
        self.connectTimeout = connectTimeout
    }

    /// `host:port`, or `[host]:port` for an IPv6 literal: how the target is shown in messages.
    var displayAddress: String {
        hostName.contains(":") ? "[\(hostName)]:\(port)" : "\(hostName):\(port)"
    }

    /// The name under which this host's keys are stored in known_hosts: `host`, or `[host]:port` when the
    /// port is not 22 (OpenSSH's convention).
    var knownHostsName: String {
        port == 22 ? hostName : "[\(hostName)]:\(port)"
    }
}

/// How an unknown host key is treated. A key that differs from the one on file is always refused.
public enum HostKeyPolicy: Sendable, Hashable {
    /// Unknown hosts are refused (StrictHostKeyChecking yes/ask, or not set).
    case strict
    /// Unknown hosts are accepted and their key recorded (StrictHostKeyChecking accept-new, and also no/off).
    case acceptNew
}
