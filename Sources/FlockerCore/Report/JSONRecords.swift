import Foundation

/// The records of every `--json` line of a run, one `Encodable` type per event, encoded in one place
/// (`JSONRecords.line`) with snake_case keys, sorted, and `"schema": 1`. docs/operations.md lists them.
enum JSONRecords {
    /// A value that is there but may be null (`"maximum_size": null` for a quota removed), unlike an optional
    /// key, which is left out when nil.
    enum Nullable<T: Encodable & Sendable>: Encodable, Sendable {
        case null
        case value(T)
        init(_ v: T?) { self = v.map(Nullable.value) ?? .null }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .null: try c.encodeNil()
            case .value(let v): try c.encode(v)
            }
        }
    }

    /// A step: where, what, and the keys of its action.
    struct StepRecord: Encodable, Sendable {
        var node: String
        var description: String
        var app: String?
        var action: String
        var phase: String?
        var image: String?
        var volume: String?
        var maximumSize: Nullable<UInt64>?
        var epoch: Int?
        var common: Nullable<String>?
        var keptAs: String?
        var target: String?
        var keepContainer: Bool?
        var volumes: Volumes?
        var add: [String]?
        var remove: [String]?
        var keep: [String]?
        var primary: String?
        var ports: Ports?
        var snapshot: String?
        var stop: Bool?
        var clone: String?
        var source: String?
        var keepAs: String?
        var preRollback: String?
        /// `snapshots:` retention of a prune (`hourly 24, daily 7`).
        var retention: String?
        /// What a volume is created with: a folder beside the Compose file (never its contents).
        var seed: Seed?

        struct Seed: Encodable, Sendable {
            var source: String
            var files: Int
            var size: Int
        }

        struct Handoff: Encodable, Sendable {
            var volume: String
            var epoch: Int
        }

        /// `volumes`: a handoff's volumes with their epochs, or the names of the volumes a snapshot takes.
        enum Volumes: Encodable, Sendable {
            case handoff([Handoff])
            case names([String])
            func encode(to encoder: any Encoder) throws {
                var c = encoder.singleValueContainer()
                switch self {
                case .handoff(let h): try c.encode(h)
                case .names(let n): try c.encode(n)
                }
            }
        }

        /// `ports`: the ports a hold covers, or a clone's container port → published port.
        enum Ports: Encodable, Sendable {
            case list([Int])
            case map([String: Int])
            func encode(to encoder: any Encoder) throws {
                var c = encoder.singleValueContainer()
                switch self {
                case .list(let l): try c.encode(l)
                case .map(let m): try c.encode(m)
                }
            }
        }

        init(_ step: FlockerCore.Step, phase: PhaseName? = nil) {
            node = step.node
            description = StepText.describe(step)
            app = step.app.isEmpty ? nil : step.app
            self.phase = phase?.rawValue
            switch step.action {
            case .pullImage(let image, _): action = "pull-image"; self.image = image
            case .createVolume(let v, let q, let s):
                action = "create-volume"; volume = v.volume; maximumSize = q.map { .value($0) }
                seed = s.map { Seed(source: $0.source, files: $0.files, size: $0.size) }
            case .setQuota(let v, let q): action = "set-quota"; volume = v.volume; maximumSize = Nullable(q)
            case .makeWritable(let v): action = "make-writable"; volume = v.volume
            case .demoteStale(let v): action = "demote-stale"; volume = v.volume
            case .promote(let v, let e): action = "promote"; volume = v.volume; epoch = e
            case .rejoin(let v, let c, let k, let e):
                action = "rejoin"; volume = v.volume; common = Nullable(c); keptAs = k; epoch = e
            case .copyVolume(let v, let t, let final): action = final ? "final-copy" : "pre-copy"; volume = v.volume; target = t
            case .stopApp(_, let keep): action = "stop"; keepContainer = keep
            case .handoff(_, let t, let vs): action = "handoff"; target = t; volumes = .handoff(vs.map { Handoff(volume: $0.volume, epoch: $0.epoch) })
            case .startApp, .startCreated: action = "start"
            case .createApp: action = "create"
            case .restartApp: action = "restart"
            case .removeContainer: action = "remove-container"
            case .setRoutes(let a, let r): action = "set-routes"; add = a.map(\.tag.comment); remove = r.map(\.tag.comment)
            case .pruneSnapshots(let v, let k): action = "prune-snapshots"; volume = v.volume; keep = k
            case .pruneWithRetention(let v, let k, let r):
                action = "prune-snapshots"; volume = v.volume; keep = k; retention = r.description
            case .replicate(let v, let t): action = "replicate"; volume = v.volume; target = t
            case .removeReplica(let v, let p): action = "remove-replica"; volume = v.volume; primary = p
            case .holdConnections(_, let p): action = "hold-connections"; ports = .list(p)
            case .releaseHold: action = "release-hold"
            case .uploadFiles: action = "upload-files"
            case .removeFiles: action = "remove-files"
            case .takeSnapshot(_, let vs, let name, let s):
                action = "take-snapshot"; volumes = .names(vs); snapshot = SnapshotNames.display(name); stop = s
            case .destroySnapshot(let v, let name): action = "destroy-snapshot"; volume = v.volume; snapshot = SnapshotNames.display(name)
            case .createClone(let c):
                action = "create-clone"; clone = c.name; snapshot = SnapshotNames.display(c.snapshot)
                ports = .map(Dictionary(uniqueKeysWithValues: c.ports.map { (String($0.container), $0.published) }))
            case .destroyClone(let c): action = "destroy-clone"; clone = c.name
            case .resetClone(let c):
                action = "reset-clone"; clone = c.name; snapshot = SnapshotNames.display(c.snapshot)
                ports = .map(Dictionary(uniqueKeysWithValues: c.ports.map { (String($0.container), $0.published) }))
            case .rollback(let v, let src, let snap, let keep, let pre):
                action = "rollback"; volume = v.volume; source = src; snapshot = SnapshotNames.display(snap)
                keepAs = "flocker/\(keep)"; preRollback = SnapshotNames.display(pre)
            }
        }
    }

    struct PlanEvent: Encodable, Sendable {
        var schema = JSONSchema.version
        var event = "plan"
        var changes: Bool
        var steps: [StepRecord]
        var nodes: [String]
        var notes: [String]
    }

    struct PhaseStarted: Encodable, Sendable {
        var schema = JSONSchema.version
        var event = "phase-started"
        var phase: String
    }

    struct StepStarted: Encodable, Sendable {
        var schema = JSONSchema.version
        var event = "step-started"
        var step: StepRecord
    }

    struct StepFinished: Encodable, Sendable {
        struct Failure: Encodable, Sendable {
            var node: String
            var message: String
            var stderr: String
            var unreachable: Bool
        }
        var schema = JSONSchema.version
        var event = "step-finished"
        var step: StepRecord
        var seconds: Double
        var outcome: String
        var error: Failure?
        var reason: String?
        var detail: String?
        var bytes: UInt64?
    }

    struct Progress: Encodable, Sendable {
        var schema = JSONSchema.version
        var event = "progress"
        var step: StepRecord
        var bytes: UInt64
        var expectedBytes: UInt64?
        var compressor: String?
        var seconds: Double
        var round: Int
        var note: String?
    }

    struct Note: Encodable, Sendable {
        var schema = JSONSchema.version
        var event = "note"
        var message: String
    }

    struct ErrorEvent: Encodable, Sendable {
        struct Positioned: Encodable, Sendable {
            var file: String
            var line: Int
            var column: Int
            var path: String
            var message: String
        }
        var schema = JSONSchema.version
        var event = "error"
        var message: String
        var details: [String]
        var exitCode: Int
        var errors: [Positioned]?
    }

    struct Summary: Encodable, Sendable {
        var schema = JSONSchema.version
        var event = "summary"
        var succeeded: Int
        var failed: Int
        var skipped: Int
        var interrupted: Bool
        var rollbacks: [String]
        var seconds: Double
        var exitCode: Int
        /// A dry run (`--dry-run`): the plan was printed and nothing was changed.
        var dryRun: Bool
        /// The plan had steps (for a dry run: a real run would change something).
        var changes: Bool
    }

    /// `record` as one line of JSON (no newline): keys sorted and in snake_case, slashes as they are.
    static func line(_ record: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(record) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
