import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes a stand-in program (a shell script, mode 0755) for a test's PATH. The file is opened with O_CLOEXEC:
/// a child process that another test starts meanwhile must not inherit it open for writing, or running the
/// stand-in fails with ETXTBSY, and the shell goes on down PATH to the real program of that name.
func writeFakeExecutable(_ path: String, _ script: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    defer { close(fd) }
    let bytes = Array(script.utf8)
    var written = 0
    while written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        written += n
    }
    guard fchmod(fd, 0o755) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
}
