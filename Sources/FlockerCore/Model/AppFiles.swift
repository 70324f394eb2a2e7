/// A file or folder read from beside the Compose file, on the machine running flocker-deploy, and uploaded to the
/// node that runs the application, where it is mounted read-only at `target`: a bind mount of a relative path
/// (`./nginx.conf:/etc/nginx/nginx.conf:ro`), or a Compose `configs` / `secrets` entry with `file:`.
///
/// Its content is part of the application's configuration hash (through `Application.filesHash`), so a change
/// uploads it again and replaces the container. The content itself never appears in a description, a plan, JSON
/// or a log: `FileContent` prints as its size only.
public struct AppFile: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A bind mount of a file or folder beside the Compose file (`volumes: ["./x:/y:ro"]`).
        case bind
        /// A Compose config (`configs:`), mode 0444 unless the service says otherwise.
        case config
        /// A Compose secret (`secrets:`), mode 0400 unless the service says otherwise.
        case secret
    }

    public var kind: Kind
    /// What the file writes for it, for people: `./nginx.conf`, or the config's or secret's name.
    public var source: String
    /// The absolute path inside the container where it is mounted (read-only).
    public var target: String
    /// One entry with an empty `path` for a file; for a folder, the folder itself (empty `path`, a directory) and
    /// everything below it, in a stable order (sorted paths).
    public var entries: [FileEntry]

    public init(kind: Kind, source: String, target: String, entries: [FileEntry]) {
        self.kind = kind
        self.source = source
        self.target = target
        self.entries = entries
    }

    /// The bytes of all its files.
    public var size: Int { entries.reduce(0) { $0 + $1.content.count } }
    /// Whether it is a folder.
    public var isDirectory: Bool { entries.first?.isDirectory ?? false }
}

/// One file or folder of an `AppFile`.
public struct FileEntry: Sendable, Hashable, Codable {
    /// The path below the mounted file or folder: empty for the mounted one itself, `conf.d/a.conf` below it.
    public var path: String
    public var isDirectory: Bool
    /// Permission bits on the node (`0o400` for a secret, `0o444` for a config, `0o555` for a folder).
    public var mode: Int
    public var uid: Int
    public var gid: Int
    public var content: FileContent

    public init(path: String, isDirectory: Bool = false, mode: Int, uid: Int = 0, gid: Int = 0, content: FileContent = FileContent([])) {
        self.path = path
        self.isDirectory = isDirectory
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.content = content
    }
}

/// A file's bytes, which may be a secret: it prints, dumps and encodes as its size and digest only, never its bytes.
public struct FileContent: Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public let bytes: [UInt8]
    /// Hex SHA-256 of the bytes.
    public let digest: String

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var h = StableHash()
        h.update(bytes)
        self.digest = StableHash.hex(h.finalize())
    }

    public var count: Int { bytes.count }
    public var description: String { "\(bytes.count) bytes" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["count": bytes.count]) }

    public static func == (a: FileContent, b: FileContent) -> Bool { a.digest == b.digest }
    public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    private enum CodingKeys: String, CodingKey { case size }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(bytes.count, forKey: .size)
    }
    public init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(
            .init(codingPath: decoder.codingPath, debugDescription: "file contents are never decoded: they are read from the files beside the Compose file"))
    }
}

/// Limits on what is uploaded (documented in docs/configuration.md, "Config files and secrets" and "Folders
/// that hold data").
public enum FileLimits {
    /// The most one file may hold.
    public static let fileBytes = 1 << 20
    /// The most all files of one application may hold together.
    public static let applicationBytes = 16 << 20
    /// The most files and folders one application may upload.
    public static let applicationEntries = 1000
    /// The most the files of one folder that seeds a volume may hold together (one of them too).
    public static let seedBytes = 256 << 20
    /// The most files and folders one folder that seeds a volume may hold.
    public static let seedEntries = 100_000
}

/// What a managed volume starts with: a writable folder beside the Compose file (`./pgdata:/var/lib/postgresql/data`)
/// becomes a managed volume, and its contents as they are when the volume is created (files, folders, modes,
/// numeric owners) are written into it once, on the node that creates it. Later edits of the folder are not sent:
/// the seed is not part of the configuration hash.
public struct VolumeSeed: Sendable, Hashable, Codable {
    /// The folder as the Compose file writes it (`./pgdata`).
    public var source: String
    /// The folder itself (empty `path`) and everything below it, in sorted order; none when the folder does not
    /// exist yet (the volume starts empty, as Docker Compose would create the folder).
    public var entries: [FileEntry]

    public init(source: String, entries: [FileEntry]) {
        self.source = source
        self.entries = entries
    }

    /// The number of files (not folders).
    public var files: Int { entries.filter { !$0.isDirectory }.count }
    /// The bytes of all its files.
    public var size: Int { entries.reduce(0) { $0 + $1.content.count } }

    /// `seeded from ./pgdata (3 files, 12.0 KiB)`, or `empty: ./pgdata does not exist yet`.
    public var summary: String {
        guard !entries.isEmpty else { return "empty: \(source) does not exist yet" }
        return "seeded from \(source) (\(files) file\(files == 1 ? "" : "s"), \(Bytes.human(UInt64(size))))"
    }
}

extension Application {
    /// A stable hash of the application's uploaded files: their kinds, targets, paths, modes, owners and contents.
    /// Names the folder they are uploaded to on a node (`NodeCommands.filesDirectory(app)/HASH`), and is part of
    /// `configHash`. Empty when the application uploads nothing.
    public var filesHash: String {
        guard !files.isEmpty else { return "" }
        var fields: [String] = ["flocker-files-v1", String(files.count)]
        for f in files {
            fields += [f.kind.rawValue, f.target, String(f.entries.count)]
            for e in f.entries {
                fields += [e.path, e.isDirectory ? "d" : "f", String(e.mode, radix: 8), String(e.uid), String(e.gid), e.content.digest]
            }
        }
        return StableHash.fieldsHex(fields)
    }
}
