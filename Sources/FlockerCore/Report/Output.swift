import Foundation
import Synchronization

/// A line-oriented writer shared by concurrent tasks (one lock, whole writes).
public final class TextOutput: Sendable {
    private let lock = Mutex(())
    private let fd: Int32
    /// Whether the stream is a terminal (progress is drawn in place there).
    public let isTerminal: Bool

    public static let standardOutput = TextOutput(fd: 1)
    public static let standardError = TextOutput(fd: 2)

    public init(fd: Int32) {
        self.fd = fd
        self.isTerminal = isatty(fd) == 1
    }

    /// Writes `text` as is (callers end lines themselves).
    public func write(_ text: String) {
        lock.withLock { _ in
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
                if n < 0 { if errno == EINTR { continue } else { return } }
                bytes = bytes.dropFirst(n)
            }
        }
    }
}

/// Durations for people: `0.4s`, `12.3s`, `2m05s`.
public enum Seconds {
    public static func text(_ d: Duration) -> String {
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        if s < 60 { return String(format: "%.1fs", s) }
        let whole = Int(s)
        return "\(whole / 60)m" + String(format: "%02ds", whole % 60)
    }

    public static func value(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
