import FlockerYAML
import Foundation

/// Compose's files for the container: top-level `configs` and `secrets` (`file:`, or a config's `content:`, or a
/// secret's `environment:`), a service's `configs` and `secrets` (short and long syntax), and bind mounts of
/// relative paths (`./nginx.conf:/etc/nginx/nginx.conf:ro`, or a folder mounted `:ro`). Each is read here, on the
/// machine running flocker-deploy, and becomes an `AppFile` that the node running the service is sent.
///
/// Only files beside the Compose file (in its folder or below, symbolic links resolved) are read; a missing file,
/// a path outside that folder and a file over `FileLimits.fileBytes` are positioned errors. A writable folder is
/// not uploaded: it becomes a managed volume seeded from its contents (`seedVolume`). The content never appears
/// in a message.
enum ComposeFiles {
    /// A top-level `configs:` or `secrets:` entry as declared.
    struct Declared {
        var kind: AppFile.Kind
        /// Nil when the declaration had an error (already reported): services using it add nothing, silently.
        var content: FileContent?
        var mark: Mark
    }

    static let configSchema = FieldSchema(
        known: ["file", "content", "name"],
        refused: [
            "external": "external configs live in a Swarm: give the config a `file` beside the Compose file",
            "environment": "a config from an environment variable is not supported: use `content` (interpolated) or `file`",
            "driver": "config drivers are Swarm's: give the config a `file`",
            "driver_opts": "config drivers are Swarm's: give the config a `file`",
            "template_driver": "templates are not rendered: give the config a `file`",
            "labels": "config labels are Swarm's; remove them",
        ])

    static let secretSchema = FieldSchema(
        known: ["file", "environment", "name"],
        refused: [
            "external": "external secrets live in a Swarm: give the secret a `file` beside the Compose file",
            "content": "a secret cannot be written in the Compose file: give it a `file` (or an `environment` variable)",
            "driver": "secret drivers are Swarm's: give the secret a `file`",
            "driver_opts": "secret drivers are Swarm's: give the secret a `file`",
            "template_driver": "templates are not rendered: give the secret a `file`",
            "labels": "secret labels are Swarm's; remove them",
        ])

    static let longReference = FieldSchema(
        known: ["source", "target", "uid", "gid", "mode"], required: ["source"])

    /// Top-level `configs:` and `secrets:`, by name.
    static func decodeTopLevel(
        configs: YAMLNode?, secrets: YAMLNode?, context: ComposeContext, _ d: inout Diagnostics
    ) -> [AppFile.Kind: [String: Declared]] {
        var out: [AppFile.Kind: [String: Declared]] = [.config: [:], .secret: [:]]
        for (kind, node) in [(AppFile.Kind.config, configs), (.secret, secrets)] {
            guard let node else { continue }
            let key = kind == .config ? "configs" : "secrets"
            let path = ManifestPath.document.key(key)
            guard let pairs = d.mapping(node, path, expected: "a mapping of \(kind.rawValue) name → {file: PATH}") else { continue }
            for pair in pairs {
                guard let name = pair.key.scalar, !pair.key.isNull, isName(name) else {
                    d.add(pair.key.mark, path, "\(kind.rawValue) name \(found(pair.key)) is not allowed: names are letters, digits, `.`, `_` and `-`")
                    continue
                }
                let itemPath = path.key(name)
                var declared = Declared(kind: kind, content: nil, mark: pair.key.mark)
                defer { out[kind]?[name] = declared }
                guard let settings = d.mapping(pair.value, itemPath, expected: "a mapping with `file`") else { continue }
                let schema = kind == .config ? configSchema : secretSchema
                let f = d.fields(settings, mark: pair.value.mark, itemPath, schema)
                // A refused key (`external: true`) says what to do already.
                let refused = settings.contains { schema.refused[$0.key.scalar ?? ""] != nil }
                let sources = ["file", "content", "environment"].filter { f[$0] != nil }
                guard sources.count == 1, let sourceKey = sources.first, let value = f[sourceKey] else {
                    if sources.count > 1 {
                        d.add(pair.value.mark, itemPath, "give one of \(sources.map(code).joined(separator: " and ")), not both")
                    } else if !refused {
                        d.add(pair.value.mark, itemPath, "missing required key `file`: the path of the \(kind.rawValue)'s file, beside the Compose file")
                    }
                    continue
                }
                let valuePath = itemPath.key(sourceKey)
                switch sourceKey {
                case "content":
                    guard let text = d.text(value, valuePath, expected: "the config's text") else { continue }
                    declared.content = FileContent(Array(text.utf8))
                case "environment":
                    guard let variable = d.word(value, valuePath) else { continue }
                    guard let variables = context.variables else {
                        d.add(value.mark, valuePath, "cannot read variable \(display(variable)) here: the Compose file was not read from disk")
                        continue
                    }
                    guard let secret = variables[variable] else {
                        d.add(value.mark, valuePath, "variable \(display(variable)) is not set: set it in the environment or in .env")
                        continue
                    }
                    declared.content = FileContent(Array(secret.utf8))
                default:
                    guard let file = d.word(value, valuePath) else { continue }
                    guard let entries = read(file, context: context, allowDirectory: false, value.mark, valuePath, &d) else { continue }
                    declared.content = entries.first?.content
                }
                if let content = declared.content, content.count > FileLimits.fileBytes {
                    d.add(value.mark, valuePath, tooLarge(kind == .config ? "the config" : "the secret", content.count))
                    declared.content = nil
                }
            }
        }
        return out
    }

    /// A service's `configs:` or `secrets:`: names, or `{source, target, uid, gid, mode}`.
    static func decodeReferences(_ kind: AppFile.Kind, _ node: YAMLNode, _ path: ManifestPath, _ s: inout ComposeService, _ d: inout Diagnostics) {
        let noun = kind.rawValue
        guard let items = d.list(node, path, expected: "a list of \(noun) names, or of {source, target}") else { return }
        let declared = s.files[kind] ?? [:]
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            var name: String?
            var target: String?
            var targetMark = item.mark
            var targetPath = itemPath
            var mode = kind == .secret ? 0o400 : 0o444
            var uid = 0
            var gid = 0
            if let pairs = item.mapping {
                let f = d.fields(pairs, mark: item.mark, itemPath, longReference)
                name = f["source"].flatMap { d.word($0, itemPath.key("source")) }
                if let t = f["target"] {
                    target = d.word(t, itemPath.key("target"))
                    targetMark = t.mark
                    targetPath = itemPath.key("target")
                    if target == nil { continue }
                }
                // Compose writes uid and gid as strings ("103"); a plain number is fine too.
                for (key, into) in [("uid", 0), ("gid", 1)] {
                    guard let n = f[key] else { continue }
                    guard let text = n.scalar, !n.isNull, !text.isEmpty, text.count <= 10,
                        text.utf8.allSatisfy(ManifestRules.isDigit), let v = Int(text), v <= Int(Int32.max)
                    else {
                        d.add(n.mark, itemPath.key(key), "expected a numeric \(key == "uid" ? "user" : "group") id like \"1000\", found \(found(n))")
                        continue
                    }
                    if into == 0 { uid = v } else { gid = v }
                }
                if let n = f["mode"] {
                    guard let m = n.scalar.flatMap(parseMode) else {
                        d.add(n.mark, itemPath.key("mode"), "expected permissions in octal like 0440, found \(found(n))")
                        continue
                    }
                    mode = m
                }
            } else {
                name = d.word(item, itemPath)
            }
            guard let name else { continue }
            guard let entry = declared[name] else {
                var message = "unknown \(noun) \(quoted(name)): declare it under the top-level `\(noun)s:` with its `file`"
                if let near = closest(to: name, among: Array(declared.keys)) { message += " (did you mean \(quoted(near))?)" }
                d.add(item.mark, itemPath, message)
                continue
            }
            guard let content = entry.content else { continue }
            // Compose's defaults: a config at /NAME, a secret at /run/secrets/NAME; a relative secret target is
            // under /run/secrets.
            var written = target ?? name
            if !written.hasPrefix("/") { written = (kind == .secret ? "/run/secrets/" : "/") + written }
            if let problem = ManifestRules.mountpointProblem(written) {
                d.add(targetMark, targetPath, "target \(quoted(written)) \(problem)")
                continue
            }
            let file = AppFile(
                kind: kind, source: name, target: ManifestRules.normalisedMountpoint(written),
                entries: [FileEntry(path: "", mode: mode, uid: uid, gid: gid, content: content)])
            append(file, to: &s, targetMark, targetPath, &d)
        }
    }

    /// A bind mount of a relative path beside the Compose file: a file (mounted read-only, with a warning when
    /// `:ro` is not written), a folder mounted read-only (uploaded), or a writable folder, which becomes a managed
    /// volume seeded from its contents (see `seedVolume`).
    static func bind(
        source: String, target: String, readOnly: Bool, _ mark: Mark, _ path: ManifestPath, _ s: inout ComposeService,
        _ d: inout Diagnostics
    ) {
        if let problem = ManifestRules.mountpointProblem(target) {
            d.add(mark, path, "mountpoint \(quoted(target)) \(problem)")
            return
        }
        // A writable folder, or a path that does not exist yet (Docker Compose would create a folder there),
        // becomes a volume; a file is uploaded.
        var info = stat()
        let full = s.context.path(source)
        let exists = full.map { stat($0, &info) == 0 } ?? false
        let missing = full != nil && !exists && errno == ENOENT
        let isDirectory = exists && info.st_mode & S_IFMT == S_IFDIR
        let target = ManifestRules.normalisedMountpoint(target)
        if !readOnly && (isDirectory || missing) {
            seedVolume(source: source, target: target, exists: exists, mark, path, &s, &d)
            return
        }
        guard let entries = read(source, context: s.context, allowDirectory: true, mark, path, &d) else { return }
        if !readOnly {
            d.warn(
                mark, path,
                "\(quoted(source)) is uploaded to the node and mounted read-only: what the container writes to it is not kept (write \(quoted("\(source):\(target):ro")) to say so)")
        }
        append(AppFile(kind: .bind, source: source, target: target, entries: entries), to: &s, mark, path, &d)
    }

    /// A writable folder beside the Compose file: a managed volume named after the folder's path (`./data/db` →
    /// `data-db`), created with the folder's contents (read now, within `FileLimits.seedBytes`), or empty when
    /// the folder does not exist yet. The folder is read again on each run, but only a volume being created is
    /// written: later edits are not sent.
    private static func seedVolume(
        source: String, target: String, exists: Bool, _ mark: Mark, _ path: ManifestPath, _ s: inout ComposeService,
        _ d: inout Diagnostics
    ) {
        let writeReadOnly = quoted("\(source):\(target):ro")
        guard let name = seedVolumeName(source) else {
            d.add(
                mark, path,
                "\(quoted(source)) cannot be mounted writable: a writable folder beside the Compose file becomes a managed volume named after its path, and this path names no folder below the Compose file's; write \(writeReadOnly) to upload it read-only")
            return
        }
        let becomes = "the folder \(quoted(source)) would become managed volume \(quoted(name))"
        if s.declaredVolumes.contains(name) {
            d.add(mark, path, "\(becomes), which is also the name of a volume under the top-level `volumes:`: rename the folder or that volume")
            return
        }
        if let other = s.draft.volumes.first(where: { $0.volume.name == name }) {
            let what = other.volume.seed.map { "the folder \(quoted($0.source))" } ?? "the volume at \(quoted(other.volume.mountpoint))"
            d.add(mark, path, "\(becomes), which is already the name of \(what) (line \(other.nameMark.line)): rename the folder")
            return
        }
        if let file = s.draft.files.first(where: { $0.target == target }) {
            d.add(mark, path, "\(quoted(target)) is already the target of \(describe(file)): each path in the container takes one file")
            return
        }
        var entries: [FileEntry] = []
        if exists {
            guard let read = read(source, context: s.context, allowDirectory: true, reading: .seed, mark, path, &d) else { return }
            entries = read
        } else {
            guard let (base, full) = locate(source, context: s.context, mark, path, &d) else { return }
            guard !ManifestRules.lexicallyEscapes(source) else {
                d.add(mark, path, "\(quoted(source)) is outside the Compose file's folder (\(quoted(base))): a writable folder becomes a managed volume only from beside the Compose file, or below it (looked for \(quoted(full)))")
                return
            }
        }
        let seed = VolumeSeed(source: source, entries: entries)
        let kept = "later edits of the folder are not uploaded, and what the container writes stays in the volume, which moves with the service (write \(writeReadOnly) to upload the folder read-only on every deploy instead)"
        if exists {
            d.warn(mark, path, "\(quoted(source)) becomes managed volume \(quoted(name)), seeded from the folder's contents (\(seed.files) file\(seed.files == 1 ? "" : "s"), \(seed.size) bytes) on the first deploy: \(kept)")
        } else {
            d.warn(mark, path, "\(quoted(source)) does not exist: it becomes managed volume \(quoted(name)), empty on the first deploy; \(kept)")
        }
        s.draft.volumes.append(
            VolumeOrigin(
                volume: VolumeSpec(name: name, mountpoint: target, seed: seed), nameMark: mark, namePath: path,
                mountpointMark: mark, mountpointPath: path))
    }

    /// The volume name of a folder's path: its components below the Compose file's folder joined by `-`
    /// (`./data/db` → `data-db`), other characters than letters, digits, `_` and `-` made `-`, at most 63
    /// characters; nil for the Compose file's folder itself, or a path that leaves it.
    static func seedVolumeName(_ source: String) -> String? {
        guard !ManifestRules.lexicallyEscapes(source) else { return nil }
        let parts = source.split(separator: "/").filter { $0 != "." }
        guard !parts.isEmpty, !parts.contains("..") else { return nil }
        let joined = parts.joined(separator: "-").utf8.map { b -> Character in
            ManifestRules.isAlphanumeric(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") ? Character(UnicodeScalar(b)) : "-"
        }
        let name = String(String(joined).drop(while: { !($0.isASCII && ($0.isLetter || $0.isNumber)) }).prefix(63))
        return ManifestRules.isVolumeName(name) ? name : nil
    }

    /// Adds a file to the service, checking its target against the others and the application's limits.
    private static func append(_ file: AppFile, to s: inout ComposeService, _ mark: Mark, _ path: ManifestPath, _ d: inout Diagnostics) {
        if let other = s.draft.files.first(where: { $0.target == file.target }) {
            d.add(mark, path, "\(quoted(file.target)) is already the target of \(describe(other)): each path in the container takes one file")
            return
        }
        if let volume = s.draft.volumes.first(where: { $0.volume.mountpoint == file.target }) {
            d.add(mark, path, "\(quoted(file.target)) is already the mountpoint of volume \(quoted(volume.volume.name))")
            return
        }
        let bytes = s.draft.files.reduce(0) { $0 + $1.size } + file.size
        if bytes > FileLimits.applicationBytes {
            d.add(mark, path, "the files of service \(quoted(s.draft.name)) would hold \(bytes) bytes together: at most \(FileLimits.applicationBytes >> 20) MiB are uploaded per application")
            return
        }
        let entries = s.draft.files.reduce(0) { $0 + $1.entries.count } + file.entries.count
        if entries > FileLimits.applicationEntries {
            d.add(mark, path, "the files of service \(quoted(s.draft.name)) would be \(entries) files and folders: at most \(FileLimits.applicationEntries) are uploaded per application")
            return
        }
        s.draft.files.append(file)
    }

    private static func describe(_ file: AppFile) -> String {
        switch file.kind {
        case .bind: return quoted(file.source)
        case .config: return "config \(quoted(file.source))"
        case .secret: return "secret \(quoted(file.source))"
        }
    }

    static func tooLarge(_ what: String, _ bytes: Int) -> String {
        "\(what) holds \(bytes) bytes: a file uploaded to the nodes may hold at most \(FileLimits.fileBytes >> 20) MiB (\(FileLimits.fileBytes) bytes); build large files into the image or keep them in a managed volume"
    }

    /// Config and secret names: what Compose allows, safe in messages.
    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128
            && s.utf8.allSatisfy { ManifestRules.isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// `0440`, `440`, `0o440`: octal permission bits, at most 0777.
    static func parseMode(_ s: String) -> Int? {
        var digits = Substring(s)
        if digits.hasPrefix("0o") || digits.hasPrefix("0O") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.count <= 4, digits.allSatisfy({ ("0"..."7").contains($0) }),
            let v = Int(digits, radix: 8), v <= 0o777
        else { return nil }
        return v
    }

    // MARK: reading

    /// How files are read: for an upload (read-only on the node, small) or for a volume's seed (as they are).
    struct Reading: Sendable {
        /// The most one file, and all of them together, may hold.
        var fileBytes: Int
        var totalBytes: Int
        var entries: Int
        /// Keep each entry's permission bits and numeric owner; otherwise files are read-only on the node.
        var keepModes: Bool

        static let upload = Reading(
            fileBytes: FileLimits.fileBytes, totalBytes: .max, entries: FileLimits.applicationEntries, keepModes: false)
        static let seed = Reading(
            fileBytes: FileLimits.seedBytes, totalBytes: FileLimits.seedBytes, entries: FileLimits.seedEntries,
            keepModes: true)

        /// Why `what` (a file, or the folder) is too large.
        func tooLarge(_ what: String, _ bytes: Int) -> String {
            guard keepModes else { return ComposeFiles.tooLarge(what, bytes) }
            return "\(what) holds \(bytes) bytes: a folder that seeds a volume may hold at most \(FileLimits.seedBytes >> 20) MiB; copy the data into the volume after the first deploy instead (or mount the folder :ro, up to \(FileLimits.applicationBytes >> 20) MiB)"
        }
    }

    /// Reads `written` (relative to the Compose file's folder) into entries: one for a file, the folder and
    /// everything below it for a folder (when allowed). Errors are reported at `mark`.
    static func read(
        _ written: String, context: ComposeContext, allowDirectory: Bool, reading: Reading = .upload, _ mark: Mark,
        _ path: ManifestPath, _ d: inout Diagnostics
    ) -> [FileEntry]? {
        guard let (base, full) = locate(written, context: context, mark, path, &d) else { return nil }
        guard let resolved = realPath(full) else {
            d.add(mark, path, "\(quoted(written)) does not exist beside the Compose file (looked for \(quoted(full)))")
            return nil
        }
        guard resolved.hasPrefix(base == "/" ? "/" : base + "/") else {
            d.add(
                mark, path,
                "\(quoted(written)) is outside the Compose file's folder (\(quoted(base))): only files beside the Compose file, or below it, are uploaded to the nodes; move it there")
            return nil
        }
        var info = stat()
        guard stat(resolved, &info) == 0 else {
            d.add(mark, path, "cannot read \(quoted(written)): \(String(cString: strerror(errno)))")
            return nil
        }
        var total = 0
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard let content = readFile(resolved, written, size: Int(info.st_size), reading, &total, mark, path, &d) else { return nil }
            return [entry("", info, reading, content: content)]
        case S_IFDIR:
            guard allowDirectory else {
                d.add(mark, path, "\(quoted(written)) is a folder: give the path of a file")
                return nil
            }
            var entries = [entry("", info, reading)]
            guard walk(resolved, relative: "", written: written, into: &entries, reading, &total, mark, path, &d) else { return nil }
            return entries
        default:
            d.add(mark, path, "\(quoted(written)) is neither a file nor a folder")
            return nil
        }
    }

    /// The Compose file's folder (symbolic links resolved) and the full path of `written`; nil (reported) when
    /// the Compose file was not read from disk.
    static func locate(
        _ written: String, context: ComposeContext, _ mark: Mark, _ path: ManifestPath, _ d: inout Diagnostics
    ) -> (base: String, full: String)? {
        guard let directory = context.directory, let full = context.path(written) else {
            d.add(mark, path, "cannot read \(quoted(written)) here: files are read beside the Compose file, which was not read from disk")
            return nil
        }
        guard let base = realPath(directory) else {
            d.add(mark, path, "cannot read the Compose file's folder \(quoted(directory))")
            return nil
        }
        return (base, full)
    }

    private static func walk(
        _ folder: String, relative: String, written: String, into entries: inout [FileEntry], _ reading: Reading,
        _ total: inout Int, _ mark: Mark, _ path: ManifestPath, _ d: inout Diagnostics
    ) -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            d.add(mark, path, "cannot list the folder \(quoted(written + (relative.isEmpty ? "" : "/" + relative)))")
            return false
        }
        for name in names.sorted() {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let shown = written + "/" + rel
            guard ConfigArchive.fits(rel) else {
                d.add(mark, path, "\(quoted(shown)): the path below the folder is too long to upload (\(rel.utf8.count) bytes)")
                return false
            }
            var info = stat()
            guard lstat(folder + "/" + name, &info) == 0 else {
                d.add(mark, path, "cannot read \(quoted(shown)): \(String(cString: strerror(errno)))")
                return false
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                guard let content = readFile(folder + "/" + name, shown, size: Int(info.st_size), reading, &total, mark, path, &d) else { return false }
                entries.append(entry(rel, info, reading, content: content))
            case S_IFDIR:
                entries.append(entry(rel, info, reading))
                guard walk(folder + "/" + name, relative: rel, written: written, into: &entries, reading, &total, mark, path, &d) else { return false }
            case S_IFLNK:
                d.add(mark, path, "\(quoted(shown)) is a symbolic link: a folder uploaded to the nodes may hold only files and folders (copy what it points to into the folder)")
                return false
            default:
                d.add(mark, path, "\(quoted(shown)) is neither a file nor a folder")
                return false
            }
            if entries.count > reading.entries {
                let what = reading.keepModes ? "a folder that seeds a volume may hold" : "is uploaded per application"
                d.add(mark, path, "\(quoted(written)) holds more than \(reading.entries) files and folders: that is more than \(what)")
                return false
            }
        }
        return true
    }

    private static func readFile(
        _ full: String, _ shown: String, size: Int, _ reading: Reading, _ total: inout Int, _ mark: Mark,
        _ path: ManifestPath, _ d: inout Diagnostics
    ) -> FileContent? {
        guard size <= reading.fileBytes else {
            d.add(mark, path, reading.tooLarge(quoted(shown), size))
            return nil
        }
        guard let data = FileManager.default.contents(atPath: full) else {
            d.add(mark, path, "cannot read \(quoted(shown))")
            return nil
        }
        guard data.count <= reading.fileBytes else {
            d.add(mark, path, reading.tooLarge(quoted(shown), data.count))
            return nil
        }
        total += data.count
        guard total <= reading.totalBytes else {
            d.add(mark, path, reading.tooLarge("the folder", total))
            return nil
        }
        return FileContent(Array(data))
    }

    /// An entry for what `info` describes. Uploaded: read-only on the node (a folder 0555, a file 0444, or 0555
    /// where the local file is executable by its owner), owned by root. A seed: its own mode and numeric owner.
    private static func entry(_ path: String, _ info: stat, _ reading: Reading, content: FileContent = FileContent([])) -> FileEntry {
        let isDirectory = info.st_mode & S_IFMT == S_IFDIR
        guard reading.keepModes else {
            return FileEntry(path: path, isDirectory: isDirectory, mode: isDirectory || info.st_mode & S_IXUSR != 0 ? 0o555 : 0o444, content: content)
        }
        return FileEntry(
            path: path, isDirectory: isDirectory, mode: Int(info.st_mode & 0o7777), uid: Int(info.st_uid), gid: Int(info.st_gid),
            content: content)
    }

    private static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
