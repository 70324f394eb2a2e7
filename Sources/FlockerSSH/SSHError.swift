/// The one error type of FlockerSSH: what went wrong with which host, and what to do about it.
///
/// A remote command that exits non-zero is *not* an error (see ``RemoteExit``); `SSHError` is for
/// transport, host-key, authentication, configuration and stream failures.
public struct SSHError: Error, Sendable, CustomStringConvertible {
    /// A stable, switchable category. New codes may be added; match with `==`, not an exhaustive switch.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Storage: String, Hashable, Sendable {
            case nameNotResolved, connectionRefused, hostUnreachable, timedOut
            case hostKeyUnknown, hostKeyChanged, authenticationFailed, rsaKeyUnsupported, keyFileUnreadable
            case configInvalid, disconnected, protocolError, channelFailure, inputAborted
            case outputAborted, cancelled
        }
        private let storage: Storage
        private init(_ storage: Storage) { self.storage = storage }

        /// The host name could not be resolved to an address.
        public static let nameNotResolved = Code(.nameNotResolved)
        /// Nothing listens on the port (TCP connection refused).
        public static let connectionRefused = Code(.connectionRefused)
        /// No route to the host or its network.
        public static let hostUnreachable = Code(.hostUnreachable)
        /// A connect, handshake, idle or overall deadline passed.
        public static let timedOut = Code(.timedOut)
        /// The host's key is not in any known_hosts file (and accepting new keys was not allowed).
        public static let hostKeyUnknown = Code(.hostKeyUnknown)
        /// The host presented a key different from the one on file (or a revoked key).
        public static let hostKeyChanged = Code(.hostKeyChanged)
        /// The server refused every key that was tried.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// An RSA key was refused, most likely because libssh2 1.10 can only sign with SHA-1 (`ssh-rsa`).
        public static let rsaKeyUnsupported = Code(.rsaKeyUnsupported)
        /// An identity file exists but cannot be used (unreadable, encrypted, unknown format).
        public static let keyFileUnreadable = Code(.keyFileUnreadable)
        /// The ssh_config file is missing or has an invalid line.
        public static let configInvalid = Code(.configInvalid)
        /// The connection was lost or closed.
        public static let disconnected = Code(.disconnected)
        /// The peer broke the SSH protocol (bad banner, key exchange failure, …).
        public static let protocolError = Code(.protocolError)
        /// The server refused to open a channel or to run the command.
        public static let channelFailure = Code(.channelFailure)
        /// The command's stdin came from a ``BytePipe`` whose producer failed; the remote saw a truncated stream.
        public static let inputAborted = Code(.inputAborted)
        /// The command's stdout/stderr went to a ``BytePipe`` whose consumer stopped reading; the command was cut off.
        public static let outputAborted = Code(.outputAborted)
        /// The calling task was cancelled.
        public static let cancelled = Code(.cancelled)

        /// The code's name, e.g. `hostKeyChanged`.
        public var description: String { storage.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The host alias as the user wrote it (empty for errors not tied to a host, such as config errors).
    public var host: String
    /// `address:port` that was being used, when known (e.g. `10.77.0.12:22`).
    public var address: String?
    /// What happened and what to do, in one or a few sentences.
    public var message: String

    /// Creates an error.
    public init(code: Code, host: String, address: String? = nil, message: String) {
        self.code = code
        self.host = host
        self.address = address
        self.message = message
    }

    /// The error as one line (or a few, for host-key errors), prefixed with the host and address.
    public var description: String {
        if host.isEmpty { return message }
        if let address, address != host { return "\(host) (\(address)): \(message)" }
        return "\(host): \(message)"
    }
}
