/// One problem in a manifest, at the most precise position known: the offending value, the key that should not
/// be there, or (for a missing key) the mapping that lacks it.
///
/// Printed compiler-style so editors and CI annotate the right line:
/// `FILE:LINE:COL: error: PATH: MESSAGE`, for example
/// `app.yml:7:19: error: applications.web.ports[1].external: expected an integer from 1 to 65535, found "eighty"`.
public struct ManifestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file as it was named on the command line.
    public var file: String
    /// 1-based line; 0 only for a file that could not be read at all.
    public var line: Int
    /// 1-based column, counted in characters; 0 only for a file that could not be read at all.
    public var column: Int
    /// Key path of the offending value, e.g. `applications.web.ports[1].external`; empty for the whole document.
    public var path: String
    /// What is wrong, what was expected and what was found.
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `FILE:LINE:COL: error: PATH: MESSAGE`; no `PATH: ` when the path is empty, no `:LINE:COL` when the file
    /// could not be read.
    public var description: String {
        let location = line > 0 ? "\(file):\(line):\(column)" : file
        return path.isEmpty ? "\(location): error: \(message)" : "\(location): error: \(path): \(message)"
    }
}

/// Every error found in one run over both manifests: the deployment file's first, then the application file's,
/// each file's in position order.
public struct ManifestErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ManifestError]

    public init(errors: [ManifestError]) { self.errors = errors }

    /// One error per line, then a count line (`1 error`, `3 errors`).
    public var description: String {
        (errors.map(\.description) + [Self.countLine(errors.count)]).joined(separator: "\n")
    }

    /// `1 error`, `N errors`.
    public static func countLine(_ count: Int) -> String { count == 1 ? "1 error" : "\(count) errors" }
}

/// Something in a manifest that is accepted but does not do what it does elsewhere (a Compose `container_name`,
/// `networks`, a `build` beside an `image`): printed as `FILE:LINE:COL: warning: PATH: MESSAGE` on stderr by
/// validate, deploy and sync, before anything else happens.
public struct ManifestWarning: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var path: String
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    public var description: String {
        let location = line > 0 ? "\(file):\(line):\(column)" : file
        return path.isEmpty ? "\(location): warning: \(message)" : "\(location): warning: \(path): \(message)"
    }
}
