internal import CLibSSH2

/// Version of the system libssh2 this module was linked against.
public enum SSHLibrary {
    /// The version string libssh2 reports, e.g. `1.10.0`.
    public static var version: String { String(cString: libssh2_version(0)) }
}
