import Foundation

/// An application's uploaded files as one tar stream (POSIX ustar), the stdin of `NodeCommands.uploadFiles`: one
/// round trip over the run's SSH connection, extracted by the node's own `tar`. File `i` of the application is
/// entry `i` (a file, or a folder `i/` with what is below it), with its mode and numeric owner; nothing else (no
/// link, no device, no absolute or `..` path) is ever written.
enum ConfigArchive {
    /// Whether `relative` (a path below an uploaded folder) fits a ustar header as `NNN/relative`.
    static func fits(_ relative: String) -> Bool { split("999/" + relative + "/") != nil }

    /// The archive of `files`.
    static func archive(_ files: [AppFile], mtime: Int = 1_700_000_000) -> [UInt8] {
        archive(files.enumerated().map { (String($0), $1.entries) }, mtime: mtime)
    }

    /// The archive of a volume's seed, extracted into the volume's root (`NodeCommands.createSeededVolume`): the
    /// folder itself as `./` (its mode and owner become the root's), what is below it as `./PATH`.
    static func archive(seed: VolumeSeed, mtime: Int = 1_700_000_000) -> [UInt8] {
        archive([(".", seed.entries)], mtime: mtime)
    }

    /// Each root's entries under the root's name, then the end of the archive.
    private static func archive(_ roots: [(name: String, entries: [FileEntry])], mtime: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(roots.reduce(0) { $0 + $1.entries.reduce(512) { $0 + $1.content.count + 1024 } } + 1024)
        for root in roots {
            for entry in root.entries {
                var name = root.name
                if !entry.path.isEmpty { name += "/" + entry.path }
                if entry.isDirectory { name += "/" }
                out += header(name: name, entry: entry, mtime: mtime)
                if !entry.isDirectory {
                    out += entry.content.bytes
                    let pad = (512 - entry.content.count % 512) % 512
                    out += [UInt8](repeating: 0, count: pad)
                }
            }
        }
        out += [UInt8](repeating: 0, count: 1024)
        return out
    }

    /// `name` as ustar's prefix (up to 155 bytes) and name (up to 100 bytes), split at a `/`.
    static func split(_ name: String) -> (prefix: [UInt8], name: [UInt8])? {
        let bytes = Array(name.utf8)
        if bytes.count <= 100 { return ([], bytes) }
        // The last `/` that leaves at most 100 bytes after it (a folder's own trailing `/` is not a split point).
        for i in stride(from: bytes.count - 2, through: 0, by: -1) where bytes[i] == UInt8(ascii: "/") {
            let rest = bytes.count - i - 1
            if rest > 100 { break }
            if i <= 155 { return (Array(bytes[..<i]), Array(bytes[(i + 1)...])) }
        }
        return nil
    }

    static func header(name: String, entry: FileEntry, mtime: Int) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        let (prefix, short) = split(name) ?? ([], Array(name.utf8.prefix(100)))
        func put(_ bytes: [UInt8], at offset: Int) { for (k, b) in bytes.enumerated() { h[offset + k] = b } }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(short, at: 0)
        put(octal(entry.mode, width: 8), at: 100)
        put(octal(entry.uid, width: 8), at: 108)
        put(octal(entry.gid, width: 8), at: 116)
        put(octal(entry.isDirectory ? 0 : entry.content.count, width: 12), at: 124)
        put(octal(mtime, width: 12), at: 136)
        put(Array("        ".utf8), at: 148)
        h[156] = entry.isDirectory ? UInt8(ascii: "5") : UInt8(ascii: "0")
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        put(prefix, at: 345)
        let sum = h.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7) + [UInt8(ascii: " ")], at: 148)
        return h
    }
}

extension NodeCommands {
    /// Where an application's uploaded files live on a node: one folder per set of contents, named by
    /// `Application.filesHash`, holding file `i` as `i` (root only: `0700`); removed with the application.
    public static func filesDirectory(_ app: String) -> String { "\(stateDirectory)/files/\(app)" }

    /// Prints `present` when the set `hash` of `app`'s files is on the node (complete: it is renamed into place
    /// only once extracted), `absent` otherwise.
    public static func filesPresent(_ app: String, hash: String) -> RemoteCommand {
        .script("""
            if [ -d "$1/$2" ]; then echo present; else echo absent; fi
            """, name: "flocker-files-present", [filesDirectory(app), hash])
    }

    /// Extracts the tar stream on stdin (`ConfigArchive`) as the set `hash` of `app`'s files: into a fresh
    /// `.incoming-HASH` folder first (what an interrupted upload left there is cleared), then renamed into place,
    /// so a set that is there is complete. Modes and owners are the archive's (tar as root keeps them).
    public static func uploadFiles(_ app: String, hash: String) -> RemoteCommand {
        .script("""
            d=$1 set=$2 tmp="$1/.incoming-$2"
            umask 077
            mkdir -p "$d" && chmod 700 "${d%/*}" "$d" || exit 1
            rm -rf "$tmp" && mkdir "$tmp" || exit 1
            tar -x -p -f - -C "$tmp" || { rm -rf "$tmp"; exit 1; }
            if [ -d "$d/$set" ]; then rm -rf "$tmp"; exit 0; fi
            mv "$tmp" "$d/$set"
            """, name: "flocker-upload-files", [filesDirectory(app), hash])
    }

    /// Removes `app`'s uploaded files on the node except the sets `keep` (none: the whole folder goes).
    public static func removeFiles(_ app: String, keep: [String]) -> RemoteCommand {
        .script("""
            d=$1; shift
            [ -d "$d" ] || exit 0
            if [ $# -eq 0 ]; then rm -rf "$d"; exit $?; fi
            for s in "$d"/* "$d"/.incoming-*; do
              [ -e "$s" ] || continue
              k=; for want in "$@"; do [ "${s##*/}" = "$want" ] && k=1; done
              [ -n "$k" ] || rm -rf "$s" || exit 1
            done
            """, name: "flocker-remove-files", [filesDirectory(app)] + keep)
    }

    /// The `--volume` words that mount `app`'s uploaded files read-only at their targets.
    static func fileMounts(_ app: Application) -> [String] {
        guard !app.files.isEmpty else { return [] }
        let set = "\(filesDirectory(app.name))/\(app.filesHash)"
        return app.files.enumerated().flatMap { i, f in ["--volume", "\(set)/\(i):\(f.target):ro"] }
    }
}

extension Executor {
    /// Sends the application's files to the node, unless the set with their hash is there already (then nothing
    /// is sent). Says how much it sent, never what.
    func uploadFiles(_ app: Application, on node: any RemoteHost, step: String) async throws(StepFailure) -> String {
        guard !app.files.isEmpty else { return "" }
        let hash = app.filesHash
        let look = try await node.run(NodeCommands.filesPresent(app.name, hash: hash), stdin: [], step: step,
                                      timeout: options.commandTimeout)
        guard look.status.isSuccess else {
            throw StepFailure(node: node.node, step: step, message: "cannot look for the files (\(look.status))", stderr: trim(look.stderrText))
        }
        if trim(look.stdoutText) == "present" { return "already there: nothing sent" }
        let archive = ConfigArchive.archive(app.files, mtime: Int(Date().timeIntervalSince1970))
        try await node.check(NodeCommands.uploadFiles(app.name, hash: hash), stdin: archive, step: step,
                             timeout: options.commandTimeout)
        let bytes = app.files.reduce(0) { $0 + $1.size }
        return "sent \(FileSummary.count(app.files)), \(Bytes.human(UInt64(bytes)))"
    }
}

extension Executor {
    /// Creates volume `v` holding `seed` (`NodeCommands.createSeededVolume`): says how much it wrote, or that the
    /// volume was there already (an interrupted run made it) and nothing was written.
    func createSeededVolume(
        _ v: VolumeID, quota: UInt64?, seed: VolumeSeed, on node: any RemoteHost, step: String
    ) async throws(StepFailure) -> String {
        let archive = ConfigArchive.archive(seed: seed, mtime: Int(Date().timeIntervalSince1970))
        let printed = try await node.check(NodeCommands.createSeededVolume(v, quota: quota), stdin: archive, step: step,
                                           timeout: options.commandTimeout)
        if printed == NodeCommands.seedVolumeExisted { return "already there: not seeded again" }
        return "seeded from \(seed.source): \(seed.files) file\(seed.files == 1 ? "" : "s"), \(Bytes.human(UInt64(seed.size)))"
    }
}

/// Words for an application's files, for plans and reports: counts only, never names of what is inside a secret.
enum FileSummary {
    static func count(_ files: [AppFile]) -> String {
        var parts: [String] = []
        let binds = files.filter { $0.kind == .bind }.count
        let configs = files.filter { $0.kind == .config }.count
        let secrets = files.filter { $0.kind == .secret }.count
        if binds > 0 { parts.append("\(binds) file\(binds == 1 ? "" : "s")") }
        if configs > 0 { parts.append("\(configs) config\(configs == 1 ? "" : "s")") }
        if secrets > 0 { parts.append("\(secrets) secret\(secrets == 1 ? "" : "s")") }
        return parts.isEmpty ? "no files" : parts.joined(separator: ", ")
    }
}
