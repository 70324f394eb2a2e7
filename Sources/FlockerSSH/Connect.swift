import Foundation
internal import CLibSSH2

#if canImport(Glibc)
import Glibc
#endif

/// Connecting: DNS, TCP, SSH handshake, host key, authentication. Runs on the worker thread, within one
/// deadline (`ConnectTimeout`, else `SSHConnectOptions.connectTimeout`).
extension SessionWorker {
    /// Ciphers in our order of preference: AES-CTR first (fastest in libssh2 1.10 with AES-NI), CBC last
    /// for old servers. libssh2 1.10 has no AES-GCM or chacha20-poly1305.
    static let defaultCiphers = "aes128-ctr,aes192-ctr,aes256-ctr,aes256-cbc,aes192-cbc,aes128-cbc"
    /// MACs in our order of preference (libssh2 1.10 has no -etm variants).
    static let defaultMACs = "hmac-sha2-256,hmac-sha2-512,hmac-sha1"

    /// The command line wins over the config file, which wins over the default (as in OpenSSH).
    var connectTimeout: Duration { options.connectTimeoutOverride ?? settings.connectTimeout ?? options.connectTimeout }

    /// Connects and authenticates. Returns the peer's numeric IP address and the negotiated algorithms.
    func establish() throws(SSHError) -> Connected {
        let deadline = POSIX.monotonicNanos() + connectTimeout.nanoseconds
        let peer = try openSocket(deadline: deadline)
        guard let session = flocker_session_init(recvState) else {
            throw error(.protocolError, "libssh2 could not create a session (out of memory?)")
        }
        self.session = session
        libssh2_session_set_blocking(session, 0)
        flocker_install_counting_recv(session)

        let knownHosts = KnownHostsStore(session: session, paths: settings.knownHostsFiles)
        defer { knownHosts.free() }
        let onFile = knownHosts.typesOnFile(for: settings.knownHostsName)
        // As curl does: offer the key types already on file first, so a host known by its ED25519 key is not
        // asked for its ECDSA key (which would look unknown).
        let hostKeyOrder = onFile + HostKeyType.all.filter { !onFile.contains($0) }
        _ = libssh2_session_method_pref(
            session, LIBSSH2_METHOD_HOSTKEY, hostKeyOrder.map(\.algorithm).joined(separator: ","))
        let ciphers = options.cipherPreference ?? Self.defaultCiphers
        let macs = options.macPreference ?? Self.defaultMACs
        for (method, prefs) in [
            (LIBSSH2_METHOD_CRYPT_CS, ciphers), (LIBSSH2_METHOD_CRYPT_SC, ciphers),
            (LIBSSH2_METHOD_MAC_CS, macs), (LIBSSH2_METHOD_MAC_SC, macs),
        ] where libssh2_session_method_pref(session, method, prefs) != 0 {
            throw error(.configInvalid, "libssh2 1.10 supports none of these algorithms: \(prefs)")
        }

        while true {
            let rc = libssh2_session_handshake(session, socket)
            if rc == 0 { break }
            if rc == LIBSSH2_ERROR_EAGAIN {
                try waitSocket(until: deadline, activity: "the SSH handshake")
                continue
            }
            throw handshakeError(rc)
        }
        try verifyHostKey(knownHosts)
        try authenticate(deadline: deadline)
        func method(_ type: Int32) -> String {
            libssh2_session_methods(session, type).map { String(cString: $0) } ?? "?"
        }
        let algorithms = SSHAlgorithms(
            keyExchange: method(LIBSSH2_METHOD_KEX), hostKey: method(LIBSSH2_METHOD_HOSTKEY),
            cipherClientToServer: method(LIBSSH2_METHOD_CRYPT_CS), cipherServerToClient: method(LIBSSH2_METHOD_CRYPT_SC),
            macClientToServer: method(LIBSSH2_METHOD_MAC_CS), macServerToClient: method(LIBSSH2_METHOD_MAC_SC))
        return Connected(address: peer, algorithms: algorithms)
    }

    /// Waits (poll) for the directions libssh2 is blocked on, or for a cancellation, until the deadline.
    func waitSocket(until deadline: UInt64, activity: String) throws(SSHError) {
        if connectCancel.isCancelled { throw error(.cancelled, "cancelled during \(activity)") }
        let now = POSIX.monotonicNanos()
        if now >= deadline {
            throw error(
                .timedOut,
                "timed out after \(connectTimeout.humanReadable) during \(activity)"
                    + (activity == "the SSH handshake"
                        ? " (the port accepted a TCP connection, but no SSH server answered)" : ""))
        }
        var events: Int16 = 0
        if let session {
            let directions = libssh2_session_block_directions(session)
            if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
            if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        }
        if events == 0 { events = Int16(POLLIN) }
        if events & Int16(POLLIN) != 0 { flocker_ack_now(socket) }
        var fds = [pollfd(fd: socket, events: events, revents: 0), pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, 2, Self.pollMilliseconds(deadline - now))
        if fds[1].revents != 0 { wake.drain() }
    }

    private func handshakeError(_ rc: Int32) -> SSHError {
        let text = session.map { LibSSH2.lastError($0).text } ?? ""
        switch rc {
        case LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_BANNER_RECV,
            LIBSSH2_ERROR_SOCKET_SEND:
            return error(
                .protocolError,
                "the server closed the connection during the SSH handshake (\(text)); is an SSH server listening on port \(settings.port)?")
        case LIBSSH2_ERROR_KEX_FAILURE, LIBSSH2_ERROR_METHOD_NONE:
            return error(
                .protocolError,
                "no algorithm in common with the server (\(text)). libssh2 1.10 supports ciphers \(Self.defaultCiphers), MACs \(Self.defaultMACs) and host keys ed25519, ecdsa, ssh-rsa")
        default:
            return error(.protocolError, "the SSH handshake failed: \(text) (libssh2 error \(rc))")
        }
    }

    // MARK: - TCP

    /// Resolves the host name and connects to the first address that answers. Sets `socket` and
    /// `connectedAddress`; returns the numeric IP.
    private func openSocket(deadline: UInt64) throws(SSHError) -> String {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let gai = getaddrinfo(settings.hostName, String(settings.port), &hints, &list)
        guard gai == 0, let first = list else {
            let reason = gai == EAI_SYSTEM ? POSIX.errorText(errno) : String(cString: gai_strerror(gai))
            throw SSHError(
                code: .nameNotResolved, host: settings.alias, address: settings.displayAddress,
                message: "could not resolve host name \"\(settings.hostName)\": \(reason). Check the name, or set HostName for \(settings.alias) in the ssh config")
        }
        defer { freeaddrinfo(list) }

        var lastError: SSHError?
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let ip = Self.numericHost(ai.pointee.ai_addr, ai.pointee.ai_addrlen)
            let address = ip.contains(":") ? "[\(ip)]:\(settings.port)" : "\(ip):\(settings.port)"
            let fd = Glibc.socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 {
                lastError = SSHError(code: .disconnected, host: settings.alias, address: address, message: "socket() failed: \(POSIX.errorText(errno))")
                continue
            }
            var rc = connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen)
            var err: Int32 = rc == 0 ? 0 : errno
            if rc != 0 && err == EINPROGRESS {
                while true {
                    if connectCancel.isCancelled {
                        Glibc.close(fd)
                        throw SSHError(code: .cancelled, host: settings.alias, address: address, message: "cancelled while connecting")
                    }
                    let now = POSIX.monotonicNanos()
                    if now >= deadline { err = ETIMEDOUT; break }
                    var fds = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0), pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)]
                    rc = poll(&fds, 2, Self.pollMilliseconds(deadline - now))
                    if fds[1].revents != 0 { wake.drain() }
                    if fds[0].revents != 0 {
                        var soError: Int32 = 0
                        var length = socklen_t(MemoryLayout<Int32>.size)
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                        err = soError
                        break
                    }
                }
            }
            if err == 0 {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
                socket = fd
                connectedAddress = address
                return ip
            }
            Glibc.close(fd)
            lastError = connectError(err, address: address)
            if err == ETIMEDOUT && POSIX.monotonicNanos() >= deadline { break }
        }
        throw lastError ?? error(.hostUnreachable, "no address to connect to")
    }

    private func connectError(_ err: Int32, address: String) -> SSHError {
        let host = settings.alias
        switch err {
        case ECONNREFUSED:
            return SSHError(
                code: .connectionRefused, host: host, address: address,
                message: "connection refused: nothing listens on port \(settings.port) (is sshd running, and is Port right?)")
        case ETIMEDOUT:
            return SSHError(
                code: .timedOut, host: host, address: address,
                message: "TCP connection timed out after \(connectTimeout.humanReadable) (host down, or a firewall dropping packets?)")
        case ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENETDOWN:
            return SSHError(
                code: .hostUnreachable, host: host, address: address,
                message: "host unreachable: \(POSIX.errorText(err)) (check the address and the network route)")
        default:
            return SSHError(code: .hostUnreachable, host: host, address: address, message: "cannot connect: \(POSIX.errorText(err))")
        }
    }

    static func numericHost(_ address: UnsafePointer<sockaddr>?, _ length: socklen_t) -> String {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else {
            return "?"
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Host key

    private func verifyHostKey(_ knownHosts: KnownHostsStore) throws(SSHError) {
        guard let session else { return }
        var length = 0
        var rawType: Int32 = 0
        guard let keyPointer = libssh2_session_hostkey(session, &length, &rawType), length > 0 else {
            throw error(.protocolError, "the server sent no host key")
        }
        let key = [UInt8](UnsafeRawBufferPointer(start: keyPointer, count: length))
        guard let type = HostKeyType(libssh2Type: rawType) else {
            throw error(.protocolError, "the server's host key has a type libssh2 cannot check (\(rawType))")
        }
        let fingerprint = Self.fingerprint(session)
        let name = settings.knownHostsName
        let files = settings.knownHostsFiles
        switch knownHosts.check(name: name, key: key, type: type) {
        case .match:
            return
        case .revoked(let file, let line):
            throw error(
                .hostKeyChanged,
                "host key verification failed: the \(type.displayName) key \(fingerprint) of \(name) is marked @revoked in \(file):\(line); refusing to connect")
        case .mismatch(let file, let line):
            let location = line.map { "\(file):\($0)" } ?? file
            throw error(
                .hostKeyChanged,
                """
                host key verification failed: REMOTE HOST IDENTIFICATION HAS CHANGED!
                The \(type.displayName) key of \(name) is now \(fingerprint), but \(location) records a different one.
                Someone could be intercepting this connection (man-in-the-middle), or the host was reinstalled; flocker-deploy refuses to connect, whatever the host-key policy.
                If the change is expected, verify the new fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_\(type.keyscanName)_key.pub), remove the old entry with `ssh-keygen -R '\(name)' -f \(file)`, then trust the new key (see docs/ssh.md).
                """)
        case .notFound(let otherTypes):
            let acceptNew = options.acceptNewHostKeys || settings.hostKeyPolicy == .acceptNew
            if acceptNew {
                if let first = files.first {
                    if let failure = KnownHostsStore.record(name: name, key: key, type: type, in: first) {
                        throw error(.hostKeyUnknown, "accepting the new host key \(fingerprint) failed: \(failure)")
                    }
                }
                return
            }
            let checked = knownHosts.files.map { f in
                f.path + (f.exists ? "" : f.readError.map { " (unreadable: \($0))" } ?? " (missing)")
            }
            let target = files.first ?? "~/.ssh/known_hosts"
            var lines = [
                "host key verification failed: \(name) is not a known host (no \(type.displayName) key for it in \(checked.isEmpty ? "any known_hosts file (UserKnownHostsFile none)" : checked.joined(separator: ", "))).",
                "Its \(type.displayName) key fingerprint is \(fingerprint).",
            ]
            if !otherTypes.isEmpty {
                lines.append("(The file has a key of another type for it: \(otherTypes.joined(separator: ", ")).)")
            }
            lines.append(
                "If that is the key the host really has (check on the host: ssh-keygen -lf /etc/ssh/ssh_host_\(type.keyscanName)_key.pub), trust it with:")
            lines.append("    ssh-keyscan -p \(settings.port) -t \(type.keyscanName) \(settings.hostName) >> \(target)")
            lines.append("or run once with --accept-new-host-keys.")
            throw error(.hostKeyUnknown, lines.joined(separator: "\n"))
        }
    }

    /// The host key's fingerprint in OpenSSH's format: `SHA256:` and unpadded base64.
    static func fingerprint(_ session: OpaquePointer) -> String {
        guard let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) else { return "SHA256:?" }
        let bytes = [UInt8](UnsafeRawBufferPointer(start: hash, count: 32))
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return "SHA256:" + text
    }
}
