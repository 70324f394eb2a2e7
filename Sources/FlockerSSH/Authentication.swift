internal import CLibSSH2

#if canImport(Glibc)
import Glibc
#endif

/// Public-key authentication: the keys of ssh-agent first (when enabled), then the identity files.
/// No prompts: an encrypted key file is skipped with a note (load it into the agent instead).
extension SessionWorker {
    private struct Attempts {
        var tried: [String] = []        // "ssh-agent key ED25519 user@host", "/root/.ssh/id_ed25519 (ED25519)"
        var missing: [String] = []
        var unusable: [String] = []     // encrypted, unreadable, unknown format
        var rsaRefused: [String] = []
        var notes: [String] = []        // agent unavailable, …
    }

    func authenticate(deadline: UInt64) throws(SSHError) {
        guard session != nil else { return }
        var attempts = Attempts()
        // The keys go first, without asking the server for its methods beforehand: that question is a "none"
        // request, which OpenSSH answers as a failed authentication, only after its minimum delay for those
        // (measured: 9 ms of a 38 ms connect). Its answer is only needed to explain a refusal.
        if options.useAgent {
            if try authenticateWithAgent(deadline: deadline, attempts: &attempts) { return }
        }
        for path in settings.identityFiles {
            if try authenticate(withFile: path, deadline: deadline, attempts: &attempts) { return }
        }
        let user = settings.user
        guard let methods = try methodsOffered(deadline: deadline, attempts: attempts) else {
            return  // the server accepted "none"
        }
        if !methods.split(separator: ",").contains("publickey") {
            throw error(
                .authenticationFailed,
                "the server does not accept public-key authentication for \(user) (it offers: \(methods)); flocker-deploy only uses keys")
        }
        throw authenticationError(attempts)
    }

    /// The methods the server offers for the user (a "none" request), or nil when it accepted "none" outright.
    private func methodsOffered(deadline: UInt64, attempts: Attempts) throws(SSHError) -> String? {
        guard let session else { return nil }
        let user = settings.user
        while true {
            if let list = libssh2_userauth_list(session, user, UInt32(user.utf8.count)) {
                return String(cString: list)
            }
            if libssh2_userauth_authenticated(session) != 0 { return nil }
            let rc = libssh2_session_last_errno(session)
            if rc == LIBSSH2_ERROR_EAGAIN {
                try waitSocket(until: deadline, activity: "authentication")
                continue
            }
            throw authenticationLost(rc, attempts: attempts)
        }
    }

    /// Tries every identity of the agent. Returns true once one is accepted.
    private func authenticateWithAgent(deadline: UInt64, attempts: inout Attempts) throws(SSHError) -> Bool {
        guard let session else { return false }
        let socketPath = options.agentSocket ?? getenv("SSH_AUTH_SOCK").map { String(cString: $0) }
        guard let socketPath, !socketPath.isEmpty else {
            attempts.notes.append("no ssh-agent (SSH_AUTH_SOCK is not set)")
            return false
        }
        guard let agent = libssh2_agent_init(session) else { return false }
        defer {
            libssh2_agent_disconnect(agent)
            libssh2_agent_free(agent)
        }
        libssh2_agent_set_identity_path(agent, socketPath)
        if libssh2_agent_connect(agent) != 0 {
            attempts.notes.append("ssh-agent at \(socketPath) is not reachable")
            return false
        }
        if libssh2_agent_list_identities(agent) != 0 {
            attempts.notes.append("ssh-agent at \(socketPath) did not list its keys")
            return false
        }
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
        var count = 0
        while libssh2_agent_get_identity(agent, &identity, identity) == 0, let current = identity {
            count += 1
            let blob = [UInt8](UnsafeBufferPointer(start: current.pointee.blob, count: current.pointee.blob_len))
            let algorithm = KeyFileInfo.algorithm(ofPublicKeyBlob: blob)
            let comment = current.pointee.comment.map { String(cString: $0) } ?? ""
            let label = "ssh-agent key \(algorithm.displayName)\(comment.isEmpty ? "" : " " + comment)"
            while true {
                let rc = libssh2_agent_userauth(agent, settings.user, current)
                if rc == 0 { return true }
                if rc == LIBSSH2_ERROR_EAGAIN {
                    try waitSocket(until: deadline, activity: "authentication with ssh-agent")
                    continue
                }
                if LibSSH2.isFatalSessionError(rc) { throw authenticationLost(rc, attempts: attempts) }
                attempts.tried.append(label)
                if algorithm == .rsa { attempts.rsaRefused.append(label) }
                break
            }
        }
        if count == 0 { attempts.notes.append("ssh-agent at \(socketPath) holds no keys") }
        return false
    }

    /// Tries one identity file. Returns true when the server accepts it.
    private func authenticate(withFile path: String, deadline: UInt64, attempts: inout Attempts) throws(SSHError) -> Bool {
        guard let session else { return false }
        let bytes: [UInt8]
        switch POSIX.readFile(path, limit: 1 << 20) {
        case .failure(let err):
            if err.code == ENOENT {
                attempts.missing.append(path)
            } else {
                attempts.unusable.append("\(path) cannot be read (\(err))")
            }
            return false
        case .success(let b):
            bytes = b
        }
        let publicPath = path + ".pub"
        let publicKey = try? POSIX.readFile(publicPath).get()
        let info = KeyFileInfo.inspect(privateKey: bytes, publicKey: publicKey)
        if info.unrecognised {
            attempts.unusable.append("\(path) is not a private key file flocker-deploy recognises")
            return false
        }
        if info.encrypted {
            attempts.unusable.append(
                "\(path) is protected by a passphrase; flocker-deploy never prompts: load it into ssh-agent (ssh-add \(path))")
            return false
        }
        let label = "\(path) (\(info.algorithm.displayName))"
        var publicKeyArgument: String? = nil
        while true {
            let rc = libssh2_userauth_publickey_fromfile_ex(
                session, settings.user, UInt32(settings.user.utf8.count), publicKeyArgument, path, nil)
            if rc == 0 { return true }
            if rc == LIBSSH2_ERROR_EAGAIN {
                try waitSocket(until: deadline, activity: "authentication with \(path)")
                continue
            }
            if rc == LIBSSH2_ERROR_FILE && publicKeyArgument == nil && publicKey != nil {
                publicKeyArgument = publicPath  // libssh2 could not derive the public key; use the .pub file
                continue
            }
            if LibSSH2.isFatalSessionError(rc) { throw authenticationLost(rc, attempts: attempts) }
            if rc == LIBSSH2_ERROR_FILE {
                let text = LibSSH2.lastError(session).text
                attempts.unusable.append("\(path) could not be loaded by libssh2 (\(text))")
                return false
            }
            attempts.tried.append(label)
            if info.algorithm == .rsa { attempts.rsaRefused.append(path) }
            return false
        }
    }

    private func summary(_ attempts: Attempts) -> String {
        var parts: [String] = []
        parts.append(
            attempts.tried.isEmpty ? "No key was offered." : "Refused: \(attempts.tried.joined(separator: "; ")).")
        if !attempts.unusable.isEmpty { parts.append("Not usable: \(attempts.unusable.joined(separator: "; ")).") }
        if !attempts.missing.isEmpty { parts.append("Missing: \(attempts.missing.joined(separator: ", ")).") }
        if !attempts.notes.isEmpty { parts.append(attempts.notes.joined(separator: "; ") + ".") }
        return parts.joined(separator: " ")
    }

    private func authenticationError(_ attempts: Attempts) -> SSHError {
        let user = settings.user
        if !attempts.rsaRefused.isEmpty {
            return error(
                .rsaKeyUnsupported,
                "the server refused the RSA key \(attempts.rsaRefused.joined(separator: ", ")) for \(user). "
                    + "Debian 12's libssh2 1.10 can only sign with ssh-rsa (SHA-1); it cannot make rsa-sha2-256/512 signatures, "
                    + "and OpenSSH 8.8 and later refuse ssh-rsa SHA-1 signatures. "
                    + "Use an ed25519 (or ECDSA) key: ssh-keygen -t ed25519, then add ~/.ssh/id_ed25519.pub to ~\(user)/.ssh/authorized_keys on the node. "
                    + summary(attempts))
        }
        if attempts.tried.isEmpty && !attempts.unusable.isEmpty {
            return error(.keyFileUnreadable, "no usable key for \(user). " + summary(attempts))
        }
        return error(
            .authenticationFailed,
            "authentication failed for user \(user): the server accepted none of the keys. " + summary(attempts)
                + " Add one of the public keys to ~\(user)/.ssh/authorized_keys on the node, or set IdentityFile in the ssh config.")
    }

    private func authenticationLost(_ rc: Int32, attempts: Attempts) -> SSHError {
        let text = session.map { LibSSH2.lastError($0).text } ?? ""
        return error(
            .authenticationFailed,
            "the server closed the connection during authentication (\(text)); too many keys offered (sshd's MaxAuthTries)? "
                + summary(attempts))
    }
}
