import Foundation

/// An application's `snapshots:` entry in the deployment file: how often `sync` takes an automatic snapshot of
/// its volumes and how many of those to keep per period, sanoid-style, in UTC.
///
/// ```yaml
/// snapshots:
///   redis:
///     every: 15m     # at most one automatic snapshot per 15 minutes (default: one per sync pass)
///     hourly: 24     # the first snapshot of each of the 24 most recent hours that have one
///     daily: 7
///     monthly: 3
/// ```
///
/// Applies to flocker-deploy's automatic snapshots (`@flocker-NNNNNNNN`) only: named and pre-rollback snapshots
/// are never pruned, and neither is a snapshot a clone was made from or the newest one a copy of the volume
/// shares with it (the base of its next incremental receive). Without an entry, sync and moves keep only those.
public struct SnapshotRetention: Sendable, Hashable, Codable {
    /// Seconds between automatic snapshots `sync` takes: a pass that finds a younger one sends that one and takes
    /// none. Nil: every pass takes one (when something was written).
    public var every: Int?
    public var hourly: Int
    public var daily: Int
    public var monthly: Int
    public init(every: Int? = nil, hourly: Int = 0, daily: Int = 0, monthly: Int = 0) {
        self.every = every
        self.hourly = hourly
        self.daily = daily
        self.monthly = monthly
    }

    /// `hourly 24, daily 7, monthly 3` (the counts that are not 0), or `none`.
    public var description: String {
        let parts = [("hourly", hourly), ("daily", daily), ("monthly", monthly)].filter { $0.1 > 0 }.map { "\($0.0) \($0.1)" }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

/// Which automatic snapshots a retention keeps. A pure function of the snapshots' creation times.
public enum Retention {
    /// One automatic snapshot: its name and creation time (Unix seconds, as ZFS records it).
    public struct Snapshot: Sendable, Hashable {
        public var name: String
        public var created: Int
        public init(name: String, created: Int) {
            self.name = name
            self.created = created
        }
    }

    /// The period a count applies to.
    public enum Period: String, Sendable, CaseIterable {
        case hourly, daily, monthly
    }

    /// The names the retention keeps, by period: for each period with a count N, the first (oldest) snapshot of
    /// each of the N most recent UTC hours, days or months that hold one. The first of a period is kept, not the
    /// last, so that later snapshots in the same period do not replace it (it stands for that period as a
    /// snapshot sanoid takes at its start does). Periods without snapshots (the cluster was down) are skipped,
    /// not counted: N are kept as long as N periods had one, as sanoid never prunes below its count.
    /// `secondsPerHour` is 3600 (a test may shrink the hour and the day with it; months are calendar months).
    public static func kept(_ snapshots: [Snapshot], _ policy: SnapshotRetention, secondsPerHour: Int = 3600) -> [Period: [String]] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let hour = max(1, secondsPerHour)
        func bucket(_ period: Period, _ t: Int) -> Int {
            switch period {
            case .hourly: return Int((Double(t) / Double(hour)).rounded(.down))
            case .daily: return Int((Double(t) / Double(hour * 24)).rounded(.down))
            case .monthly:
                let c = calendar.dateComponents([.year, .month], from: Date(timeIntervalSince1970: TimeInterval(t)))
                return (c.year ?? 0) * 12 + (c.month ?? 1) - 1
            }
        }
        var result: [Period: [String]] = [:]
        for period in Period.allCases {
            let count: Int
            switch period {
            case .hourly: count = policy.hourly
            case .daily: count = policy.daily
            case .monthly: count = policy.monthly
            }
            guard count > 0 else { continue }
            var first: [Int: Snapshot] = [:]
            for s in snapshots {
                let b = bucket(period, s.created)
                if let f = first[b], (f.created, f.name) <= (s.created, s.name) { continue }
                first[b] = s
            }
            result[period] = first.keys.sorted(by: >).prefix(count).compactMap { first[$0]?.name }.sorted()
        }
        return result
    }

    /// Every name `kept` keeps, whatever the period.
    public static func keptNames(_ snapshots: [Snapshot], _ policy: SnapshotRetention, secondsPerHour: Int = 3600) -> Set<String> {
        Set(kept(snapshots, policy, secondsPerHour: secondsPerHour).values.flatMap { $0 })
    }
}

extension Planner {
    /// The prune step of `volume` on `node`: `pruneSnapshots`, or with the application's `snapshots:` retention
    /// `pruneWithRetention`, which also keeps the snapshots of the volume that clones on the node were made from.
    static func prune(_ volume: VolumeID, keep: [String], on node: String, desired: DesiredState, observed: ObservedState) -> Action {
        guard let retention = desired.retention[volume.app] else { return .pruneSnapshots(volume, keep: keep) }
        let prefix = volume.dataset + "@"
        let origins = (observed.nodes[node]?.dependents ?? [:]).filter { !$0.value.isEmpty && $0.key.hasPrefix(prefix) }
            .map { String($0.key.dropFirst(prefix.count)) }
        return .pruneWithRetention(volume, keep: Array(Set(keep + origins)).sorted(), retention: retention)
    }
}
