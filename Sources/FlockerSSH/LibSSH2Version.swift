internal import CLibSSH2

/// Version of the system libssh2 this module was linked against.
public enum SSHLibrary {
    public static var version: String { String(cString: libssh2_version(0)) }
}
