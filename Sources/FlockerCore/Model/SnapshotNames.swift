import Foundation

/// What a snapshot of flocker-deploy's is for, read from its name (the nodes are the only record).
///
/// - `automatic`: `@flocker-NNNNNNNN`, taken by moves and `sync`, pruned by them.
/// - `named`: `@flocker-named-LABEL`, taken by `snapshot create`, never pruned automatically.
/// - `preRollback`: `@flocker-pre-rollback-YYYYMMDDTHHMMSSZ`, the state a rollback replaced, never pruned.
///
/// All three start with `flocker-`, so discovery lists them with the volume's snapshots and every copy (a move,
/// a replica's `sync`) sends them along in order; only `automatic` ones carry a sequence number, so only they
/// are pruned (see `Executor.prune`).
public enum SnapshotKind: String, Sendable, Hashable, Codable {
    case automatic
    case named
    case preRollback = "pre-rollback"
}

/// Names of snapshots in the user's words and on the nodes.
public enum SnapshotNames {
    static let namedPrefix = "flocker-named-"
    static let preRollbackPrefix = "flocker-pre-rollback-"

    /// The dataset snapshot name (after `@`) of the named snapshot `label`.
    public static func named(_ label: String) -> String { namedPrefix + label }

    /// The snapshot name of a pre-rollback snapshot taken at `unixTime` (UTC, to the second).
    public static func preRollback(at unixTime: Int) -> String { preRollbackPrefix + compactUTC(unixTime) }

    /// `20261201T001500Z`: a UTC time that sorts as text and is valid in a snapshot name.
    public static func compactUTC(_ unixTime: Int) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(unixTime))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0,
                      c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    /// The kind of snapshot `name` (after `@`), or nil for one flocker-deploy did not take.
    public static func kind(of name: String) -> SnapshotKind? {
        if name.hasPrefix(namedPrefix) { return .named }
        if name.hasPrefix(preRollbackPrefix) { return .preRollback }
        if SnapshotState(name: name, guid: "").sequence != nil { return .automatic }
        return nil
    }

    /// The name the user sees and types: the label of a named snapshot, `pre-rollback-…`, or `flocker-NNNNNNNN`.
    public static func display(_ name: String) -> String {
        if name.hasPrefix(namedPrefix) { return String(name.dropFirst(namedPrefix.count)) }
        if name.hasPrefix(preRollbackPrefix) { return String(name.dropFirst("flocker-".count)) }
        return name
    }

    /// The snapshot name (after `@`) the user means by `text`: `flocker-…` as it is, `pre-rollback-…` with the
    /// prefix, anything else a named snapshot's label.
    public static func resolve(_ text: String) -> String {
        if text.hasPrefix("flocker-") { return text }
        if text.hasPrefix("pre-rollback-") { return "flocker-" + text }
        return named(text)
    }

    /// Why `label` cannot name a snapshot, or nil when it can: 1 to 64 letters, digits, `-`, `_`, `.` or `:`,
    /// starting with a letter or a digit, and not one of the forms flocker-deploy gives its own snapshots.
    public static func problem(withLabel label: String) -> String? {
        if label.isEmpty || label.count > 64 { return "a snapshot name has 1 to 64 characters" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
        guard let first = label.first, first.isLetter || first.isNumber, label.allSatisfy(allowed.contains) else {
            return "a snapshot name takes letters, digits, '-', '_', '.' and ':', and starts with a letter or a digit"
        }
        if label.hasPrefix("flocker-") || label.hasPrefix("pre-rollback-") {
            return "names starting with flocker- or pre-rollback- are flocker-deploy's own"
        }
        return nil
    }
}

extension SnapshotState {
    /// The snapshot's kind (nil for a snapshot flocker-deploy did not take).
    public var kind: SnapshotKind? { SnapshotNames.kind(of: name) }
    /// The name the user sees (see `SnapshotNames.display`).
    public var displayName: String { SnapshotNames.display(name) }
}
