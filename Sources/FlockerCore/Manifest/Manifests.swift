import FlockerYAML

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The two application file formats.
public enum ApplicationFormat: String, Sendable, Hashable, Codable {
    /// Flocker's own format: `version: 1` and `applications:`.
    case flockerV1 = "Flocker v1"
    /// Compose or Fig: services under `services:`, or at the top level.
    case compose = "Compose"
}

/// Both manifests, read, decoded and checked against each other: what runs (the application file) and where (the
/// deployment file).
public struct Manifests: Sendable {
    /// The deployment file as named on the command line.
    public var deploymentFile: String
    /// The application file as named on the command line.
    public var applicationFile: String
    /// The format the application file was written in.
    public var format: ApplicationFormat
    /// Every application of the application file, in file order.
    public var applications: [Application]
    /// The deployment file: nodes in file order, each with its applications.
    public var deployment: Deployment
    /// The planner's input.
    public var desired: DesiredState
    /// SHA-256 (hex) over both files' bytes, for locks and audit records: equal files, equal hash.
    public var hash: String
    /// What the application file asks for that is accepted but behaves differently here, in position order.
    public var warnings: [ManifestWarning] = []

    /// The largest manifest accepted: manifests are a few kilobytes; anything this large is a mistake.
    public static let maximumFileSize = 16 << 20

    /// Reads both files and decodes them. Nothing but the two files is read; nothing is contacted.
    ///
    /// - Parameters:
    ///   - deployment: path of the deployment file (which node runs which application).
    ///   - application: path of the application file (Flocker v1 or Compose).
    /// - Returns: the checked manifests.
    /// - Throws: every error of both files at once: the deployment file's first, each file's in position order.
    ///   - environment: variables for a Compose file's `${VAR}` interpolation (over those of a `.env` file beside
    ///     it); nil reads neither, and leaves `$` as written.
    ///   - profiles: Compose profiles to enable (besides those of `COMPOSE_PROFILES` in `environment`).
    public static func load(
        deployment: String, application: String, environment: [String: String]? = nil, profiles: [String] = []
    ) throws(ManifestErrors) -> Manifests {
        let deploymentBytes = readFile(deployment)
        let applicationBytes = readFile(application)
        var errors: [ManifestError] = []
        if case .failure(let error) = deploymentBytes { errors.append(error) }
        if case .failure(let error) = applicationBytes { errors.append(error) }
        guard case .success(let d) = deploymentBytes, case .success(let a) = applicationBytes else {
            throw ManifestErrors(errors: errors)
        }
        var context = ComposeContext()
        if let environment {
            context = ComposeContext.forFile(application, environment: environment, profiles: profiles)
        } else {
            let directory = application.contains("/") ? String(application[..<application.lastIndex(of: "/")!]) : "."
            context.directory = directory.isEmpty ? "/" : directory
            context.profiles = Set(profiles)
        }
        return try decode(
            deploymentBytes: d, deploymentFile: deployment, applicationBytes: a, applicationFile: application,
            context: context)
    }

    /// Decodes both manifests from memory.
    ///
    /// - Parameters:
    ///   - deploymentBytes: the deployment file's content.
    ///   - deploymentFile: its name, for error messages.
    ///   - applicationBytes: the application file's content.
    ///   - applicationFile: its name, for error messages.
    /// - Returns: the checked manifests.
    /// - Throws: every error of both files at once: the deployment file's first, each file's in position order.
    public static func decode(
        deploymentBytes: [UInt8], deploymentFile: String, applicationBytes: [UInt8], applicationFile: String
    ) throws(ManifestErrors) -> Manifests {
        try decode(
            deploymentBytes: deploymentBytes, deploymentFile: deploymentFile, applicationBytes: applicationBytes,
            applicationFile: applicationFile, context: ComposeContext())
    }

    static func decode(
        deploymentBytes: [UInt8], deploymentFile: String, applicationBytes: [UInt8], applicationFile: String,
        context: ComposeContext
    ) throws(ManifestErrors) -> Manifests {
        var applicationDiagnostics = Diagnostics(file: applicationFile)
        var decoded: DecodedApplicationFile?
        do {
            let root = try YAML.parse(applicationBytes, file: applicationFile)
            decoded = ApplicationFileDecoder.decode(root, context: context, &applicationDiagnostics)
        } catch {
            applicationDiagnostics.add(ManifestError(error))
        }

        var deploymentDiagnostics = Diagnostics(file: deploymentFile)
        var deployment: Deployment?
        do {
            let root = try YAML.parse(deploymentBytes, file: deploymentFile)
            let decodedDeployment = DeploymentDecoder.decode(
                root, applications: decoded?.names, &deploymentDiagnostics)
            deployment = decodedDeployment.deployment
            if let decoded {
                ClusterChecks.checkReplicas(decodedDeployment.replicaOrigins, decoded.drafts, &deploymentDiagnostics)
            }
        } catch {
            deploymentDiagnostics.add(ManifestError(error))
        }

        let errors = inPositionOrder(deploymentDiagnostics.errors) + inPositionOrder(applicationDiagnostics.errors)
        guard errors.isEmpty, let decoded, let format = decoded.format, let deployment else {
            throw ManifestErrors(errors: errors)
        }
        let applications = decoded.drafts.map(\.application)
        return Manifests(
            deploymentFile: deploymentFile, applicationFile: applicationFile, format: format,
            applications: applications, deployment: deployment,
            desired: DesiredState(applications: applications, deployment: deployment),
            hash: hash(deploymentBytes, applicationBytes),
            warnings: applicationDiagnostics.warnings.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
    }

    /// Sorted by line and column, keeping the order found for equal positions; exact repeats dropped.
    static func inPositionOrder(_ errors: [ManifestError]) -> [ManifestError] {
        var seen: Set<ManifestError> = []
        return errors.enumerated()
            .sorted { a, b in
                (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
            }
            .map(\.element)
            .filter { seen.insert($0).inserted }
    }

    /// Length-prefixed, so that moving bytes from one file to the other changes the hash.
    static func hash(_ deployment: [UInt8], _ application: [UInt8]) -> String {
        var h = StableHash()
        h.update("flocker-manifests-v1\n\(deployment.count)\n")
        h.update(deployment)
        h.update("\n\(application.count)\n")
        h.update(application)
        return StableHash.hex(h.finalize())
    }

    static func readFile(_ path: String) -> Result<[UInt8], ManifestError> {
        func failure(_ message: String) -> Result<[UInt8], ManifestError> {
            .failure(ManifestError(file: path, line: 0, column: 0, path: "", message: message))
        }
        guard let file = fopen(path, "rb") else {
            return failure("cannot read the file: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if bytes.count > maximumFileSize {
                return failure("the file is larger than \(maximumFileSize >> 20) MiB: this is not a manifest")
            }
            if n < chunk.count {
                if ferror(file) != 0 { return failure("cannot read the file: \(String(cString: strerror(errno)))") }
                break
            }
        }
        return .success(bytes)
    }
}

extension ManifestError {
    /// A YAML error, as it is: same position and message (libyaml's context, where it gave one, in parentheses).
    init(_ error: YAMLError) {
        var message = error.message
        if let note = error.note { message += " (\(note.message) at \(note.mark))" }
        self.init(file: error.file, line: error.mark.line, column: error.mark.column, path: "", message: message)
    }
}

/// Recognises the application file's format and hands it to the decoder for it.
///
/// The rule, close to Flocker's: a file with `applications:` is Flocker v1; a file with `services:` is Compose; a
/// file whose top-level values include a mapping with `image` or `build` is Fig-style Compose (services at the top
/// level); otherwise a file with `version: 1` is Flocker v1 (and its missing `applications` is reported).
enum ApplicationFileDecoder {
    static func decode(
        _ root: YAMLNode, context: ComposeContext = ComposeContext(), _ d: inout Diagnostics
    ) -> DecodedApplicationFile {
        let decoded = decodeFormat(root, context, &d)
        ClusterChecks.checkCluster(decoded.drafts, checkLinkRemotePorts: decoded.format == .flockerV1, &d)
        return decoded
    }

    private static func decodeFormat(
        _ root: YAMLNode, _ context: ComposeContext, _ d: inout Diagnostics
    ) -> DecodedApplicationFile {
        let expected =
            "an application file: Flocker v1 (`version: 1` and `applications:`) or Compose (`services:`, or services with an `image` at the top level)"
        guard let pairs = root.mapping else {
            d.add(root.mark, .document, "expected \(expected), found \(found(root))")
            return DecodedApplicationFile()
        }
        let keys = Set(pairs.compactMap(\.key.scalar))
        if keys.contains("applications") {
            return FlockerV1Decoder.decode(root, pairs, &d)
        }
        if keys.contains("services") {
            return ComposeDecoder.decode(root, pairs, layout: .services, context: context, &d)
        }
        let hasTopLevelService = pairs.contains { pair in
            guard let key = pair.key.scalar, !ComposeDecoder.reservedTopLevel.contains(key), !key.hasPrefix("x-") else {
                return false
            }
            return ComposeDecoder.looksLikeService(pair.value)
        }
        if hasTopLevelService {
            return ComposeDecoder.decode(root, pairs, layout: .topLevel, context: context, &d)
        }
        if keys.contains("nodes") {
            d.add(
                root.mark, .document,
                "this looks like a deployment file: the deployment file comes first, then the application file (Flocker v1 or Compose)"
            )
            return DecodedApplicationFile()
        }
        if let version = root["version"], version.scalar == "1" {
            return FlockerV1Decoder.decode(root, pairs, &d)
        }
        d.add(
            root.mark, .document,
            "not a Flocker v1 or Compose application file: Flocker v1 needs `version: 1` and `applications:`, Compose needs `services:` (or services with an `image` at the top level)"
        )
        return DecodedApplicationFile()
    }
}
