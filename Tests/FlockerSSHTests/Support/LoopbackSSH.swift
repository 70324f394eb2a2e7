import Testing

/// Every test that talks to a real loopback sshd, run one at a time: they start servers, move hundreds of
/// MiB and assert on timing and on this process's peak memory, so they must not overlap one another.
@Suite("FlockerSSH against a loopback sshd", .serialized)
enum LoopbackSSH {}
