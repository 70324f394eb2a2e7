internal import CLibSSH2

/// Process-wide libssh2 state.
enum LibSSH2 {
    /// `libssh2_init` is not thread-safe: run it exactly once, lazily (a `static let` is initialised once,
    /// thread-safely).
    static let initialized: Int32 = libssh2_init(0)

    /// libssh2 error codes that mean the session (not just one channel) is unusable.
    static func isFatalSessionError(_ code: Int32) -> Bool {
        switch code {
        case LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_DISCONNECT,
            LIBSSH2_ERROR_SOCKET_TIMEOUT, LIBSSH2_ERROR_TIMEOUT, LIBSSH2_ERROR_DECRYPT, LIBSSH2_ERROR_ENCRYPT,
            LIBSSH2_ERROR_INVALID_MAC, LIBSSH2_ERROR_KEX_FAILURE, LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE,
            LIBSSH2_ERROR_PROTO, LIBSSH2_ERROR_BAD_SOCKET, LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_BANNER_SEND,
            LIBSSH2_ERROR_HOSTKEY_INIT, LIBSSH2_ERROR_HOSTKEY_SIGN, LIBSSH2_ERROR_ALLOC, LIBSSH2_ERROR_ZLIB,
            LIBSSH2_ERROR_COMPRESS, LIBSSH2_ERROR_OUT_OF_BOUNDARY, LIBSSH2_ERROR_SOCKET_NONE:
            return true
        default:
            return false
        }
    }

    /// The session's last error as `(code, text)`, e.g. `(-18, "Username/PublicKey combination invalid")`.
    static func lastError(_ session: OpaquePointer) -> (code: Int32, text: String) {
        var message: UnsafeMutablePointer<CChar>? = nil
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        let text = message.map { String(cString: $0) } ?? ""
        return (code, text)
    }
}
