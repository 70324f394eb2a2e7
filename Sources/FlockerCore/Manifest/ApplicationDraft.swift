import FlockerYAML

/// A port as decoded, with where it was written (for collision errors).
struct PortOrigin {
    var port: PortMapping
    var externalMark: Mark
    var externalPath: ManifestPath
    var internalMark: Mark
    var internalPath: ManifestPath
}

/// A volume as decoded, with where its name and mountpoint were written.
struct VolumeOrigin {
    var volume: VolumeSpec
    var nameMark: Mark
    var namePath: ManifestPath
    var mountpointMark: Mark
    var mountpointPath: ManifestPath
}

/// A link as decoded, with where it was written. `remotePortMark` is set for Flocker v1 links, whose remote port
/// must be some application's external port; Compose links are built from the target's ports and need no check.
struct LinkOrigin {
    var link: Link
    var mark: Mark
    var path: ManifestPath
    var remotePortMark: Mark?
    var remotePortPath: ManifestPath?
}

/// One application while it is being decoded, in either format: the values that decoded cleanly, and where
/// each came from, so that checks across applications can point at the right place.
struct ApplicationDraft {
    var name: String
    /// `applications.web` or `services.web`.
    var path: ManifestPath
    /// Where the name is written.
    var mark: Mark
    var image = ""
    var ports: [PortOrigin] = []
    var volumes: [VolumeOrigin] = []
    var links: [LinkOrigin] = []
    var environment: [String: String] = [:]
    var memoryLimit: UInt64?
    var cpuShares: Int?
    var restartPolicy = RestartPolicy.never
    var command: [String]?
    var runOptions: [String] = []
    var entrypointArguments: [String] = []
    var dependencies: [String] = []
    var files: [AppFile] = []
    var service: ServiceIdentity?
    /// Set when some `ports` entry had an error, so "publishes no port" is not reported on top of it.
    var portsIncomplete = false
    /// Set when some volume had an error, so "has no volumes" (for replicas) is not reported on top of it.
    var volumesIncomplete = false

    init(name: String, path: ManifestPath, mark: Mark) {
        self.name = name
        self.path = path
        self.mark = mark
    }

    var application: Application {
        Application(
            name: name, image: image, ports: ports.map(\.port), volumes: volumes.map(\.volume),
            links: links.map(\.link), environment: environment, memoryLimit: memoryLimit, cpuShares: cpuShares,
            restartPolicy: restartPolicy, command: command, runOptions: runOptions,
            entrypointArguments: entrypointArguments, dependencies: dependencies, files: files,
            service: service)
    }
}

/// What decoding an application file produced.
struct DecodedApplicationFile {
    /// Nil when the file matched neither format.
    var format: ApplicationFormat?
    var drafts: [ApplicationDraft] = []
    /// Every application name the file defines, even those with errors (so that the deployment file is not told
    /// they are unknown); nil when the format could not be recognised.
    var names: [String]?
}

// MARK: Values both formats share

extension Diagnostics {
    /// The smallest memory limit Docker accepts (6 MiB).
    static let minimumMemoryLimit: UInt64 = 6 << 20

    mutating func image(_ node: YAMLNode, _ path: ManifestPath) -> String? {
        guard let s = text(node, path, expected: "an image reference like \"redis:7\"") else { return nil }
        if let problem = ManifestRules.imageReferenceProblem(s) {
            add(node.mark, path, "invalid image reference \(quoted(s)): \(problem)")
            return nil
        }
        return s
    }

    /// Application names are checked where they are defined, at the key.
    mutating func applicationName(_ key: YAMLNode, _ path: ManifestPath, noun: String) -> String? {
        guard let name = key.scalar, !key.isNull else {
            add(key.mark, path, "expected \(noun) name, found \(found(key))")
            return nil
        }
        if !ManifestRules.isApplicationName(name) {
            add(
                key.mark, path,
                "\(noun) name \(quoted(name)) is not allowed: names must match \(ManifestRules.applicationNamePattern) (they become Docker container and ZFS dataset names)"
            )
        }
        return name
    }

    mutating func volumeName(_ name: String, _ mark: Mark, _ path: ManifestPath) -> Bool {
        if ManifestRules.isVolumeName(name) { return true }
        add(
            mark, path,
            "volume name \(quoted(name)) is not allowed: volume names must match \(ManifestRules.volumeNamePattern) (they become ZFS dataset names)"
        )
        return false
    }

    mutating func mountpoint(_ node: YAMLNode, _ path: ManifestPath) -> String? {
        guard let s = text(node, path, expected: "an absolute path like \"/data\"") else { return nil }
        if let problem = ManifestRules.mountpointProblem(s) {
            add(node.mark, path, "mountpoint \(quoted(s)) \(problem)")
            return nil
        }
        return ManifestRules.normalisedMountpoint(s)
    }

    mutating func alias(_ node: YAMLNode, _ path: ManifestPath) -> String? {
        guard let s = text(node, path, expected: "an alias") else { return nil }
        return aliasText(s, node.mark, path)
    }

    mutating func aliasText(_ s: String, _ mark: Mark, _ path: ManifestPath) -> String? {
        if ManifestRules.isAlias(s) { return s }
        add(
            mark, path,
            "link alias \(quoted(s)) is not allowed: aliases must match \(ManifestRules.aliasPattern) (they become environment variable names)"
        )
        return nil
    }

    mutating func environmentName(_ name: String, _ mark: Mark, _ path: ManifestPath) -> Bool {
        if ManifestRules.isEnvironmentName(name) { return true }
        add(
            mark, path,
            "environment variable name \(quoted(name)) is not allowed: names must have \(ManifestRules.environmentNamePattern)"
        )
        return false
    }

    mutating func environmentValue(_ value: String, name: String, _ mark: Mark, _ path: ManifestPath) -> Bool {
        guard let problem = ManifestRules.environmentValueProblem(value, name: name) else { return true }
        add(mark, path, problem)
        return false
    }

    /// `environment` as a mapping of NAME → value. Scalars are kept as written (`123`, `yes`); a null value is an
    /// error, worded by `nullMessage` (given the name and the null node).
    mutating func environmentMapping(
        _ pairs: [YAMLNode.Pair], _ path: ManifestPath, nullMessage: (String, YAMLNode) -> String
    ) -> [String: String] {
        var result: [String: String] = [:]
        for pair in pairs {
            guard let name = pair.key.scalar, !pair.key.isNull else {
                add(pair.key.mark, path, "expected an environment variable name, found \(found(pair.key))")
                continue
            }
            let itemPath = path.key(name)
            let validName = environmentName(name, pair.key.mark, itemPath)
            if pair.value.isNull {
                add(pair.value.mark, itemPath, nullMessage(name, pair.value))
                continue
            }
            guard let value = text(pair.value, itemPath, expected: "a string value") else { continue }
            if environmentValue(value, name: name, pair.value.mark, itemPath), validName { result[name] = value }
        }
        return result
    }

    /// `command`: a list of words, or a string split into words as a POSIX shell would split it, without any
    /// expansion.
    mutating func command(_ node: YAMLNode, _ path: ManifestPath) -> [String]? {
        let empty = "leave `command` out to run the image's default command"
        var words: [String] = []
        if let items = node.sequence {
            if items.isEmpty {
                add(node.mark, path, "expected a command, found an empty list: \(empty)")
                return nil
            }
            var ok = true
            for (i, item) in items.enumerated() {
                guard let word = text(item, path.index(i), expected: "a word of the command (a string)") else {
                    ok = false
                    continue
                }
                if word.utf8.contains(0) {
                    add(item.mark, path.index(i), "a command word cannot contain a NUL character")
                    ok = false
                }
                words.append(word)
            }
            return ok ? words : nil
        }
        guard let s = node.scalar, !node.isNull else {
            add(node.mark, path, "expected a command (a string or a list of strings), found \(found(node))")
            return nil
        }
        if s.utf8.contains(0) {
            add(node.mark, path, "a command cannot contain a NUL character")
            return nil
        }
        switch ManifestRules.splitWords(s) {
        case .success(let split):
            words = split
        case .failure(.unclosedQuote(let q)):
            add(node.mark, path, "the command has an unclosed \(q) quote: \(quoted(s))")
            return nil
        case .failure(.trailingBackslash):
            add(node.mark, path, "the command ends with a backslash that escapes nothing: \(quoted(s))")
            return nil
        }
        if words.isEmpty {
            add(node.mark, path, "expected a command, found an empty string: \(empty)")
            return nil
        }
        return words
    }

    /// A byte count: an integer, or a number with a k/m/g/t suffix (powers of 1024), rounded up.
    mutating func byteCount(_ node: YAMLNode, _ path: ManifestPath, minimum: UInt64, what: String) -> UInt64? {
        let expected = "\(what) in bytes like 1073741824, or with a unit like \"512M\" or \"2.5G\""
        guard let s = node.scalar, !node.isNull else {
            add(node.mark, path, "expected \(expected), found \(found(node))")
            return nil
        }
        switch ManifestRules.parseByteCount(s) {
        case .failure(.syntax):
            add(node.mark, path, "expected \(expected), found \(found(node))")
            return nil
        case .failure(.tooLarge):
            add(node.mark, path, "\(quoted(s)) is too large: the most is \(ManifestRules.maximumByteCount) bytes")
            return nil
        case .success(let n):
            if n < minimum {
                let least = minimum == 1 ? "1 byte" : "\(minimum) bytes (\(ManifestRules.humanBytes(minimum)))"
                add(
                    node.mark, path,
                    "\(quoted(s)) is \(n == 1 ? "1 byte" : "\(n) bytes"): the least allowed is \(least)")
                return nil
            }
            return n
        }
    }

    mutating func memoryLimit(_ node: YAMLNode, _ path: ManifestPath) -> UInt64? {
        byteCount(node, path, minimum: Diagnostics.minimumMemoryLimit, what: "a memory limit")
    }

    mutating func cpuShares(_ node: YAMLNode, _ path: ManifestPath) -> Int? {
        integer(node, path, in: 2...262_144, expected: "an integer from 2 to 262144 (1024 is Docker's default weight)")
    }

    mutating func retryCount(_ node: YAMLNode, _ path: ManifestPath) -> Int? {
        integer(
            node, path, in: 1...Int(Int32.max),
            expected: "a positive integer (leave it out for no limit)")
    }

    mutating func port(_ node: YAMLNode, _ path: ManifestPath) -> Int? {
        integer(node, path, in: 1...65535)
    }
}
