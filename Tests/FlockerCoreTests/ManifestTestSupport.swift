import Foundation
import Testing

@testable import FlockerCore

/// Manifest fixtures, copied into the test bundle from `Fixtures/manifests/`.
enum ManifestFixture {
    static let directory: URL = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            preconditionFailure("the Fixtures resource folder is missing from the test bundle")
        }
        return url.appendingPathComponent("manifests")
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func load(deployment: String, application: String) throws(ManifestErrors) -> Manifests {
        try Manifests.load(deployment: path(deployment), application: path(application))
    }
}

/// A deployment file that places nothing, for tests about the application file alone.
let emptyDeployment = "version: 1\nnodes:\n  node1: []\n"

/// Decodes inline manifests named `dep.yml` and `app.yml`.
func decodeManifests(app: String, deployment: String = emptyDeployment) -> Result<Manifests, ManifestErrors> {
    do {
        return .success(
            try Manifests.decode(
                deploymentBytes: Array(deployment.utf8), deploymentFile: "dep.yml",
                applicationBytes: Array(app.utf8), applicationFile: "app.yml"))
    } catch {
        return .failure(error)
    }
}

/// Decodes, and fails the test (with every error printed) when that does not succeed.
func decodeValid(
    app: String, deployment: String = emptyDeployment, sourceLocation: SourceLocation = #_sourceLocation
) throws -> Manifests {
    switch decodeManifests(app: app, deployment: deployment) {
    case .success(let manifests):
        return manifests
    case .failure(let errors):
        Issue.record("expected valid manifests, got:\n\(errors)", sourceLocation: sourceLocation)
        throw errors
    }
}

/// The errors of decoding, or an empty list (and a recorded issue) when it succeeded.
func decodeErrors(
    app: String, deployment: String = emptyDeployment, sourceLocation: SourceLocation = #_sourceLocation
) -> [ManifestError] {
    switch decodeManifests(app: app, deployment: deployment) {
    case .success:
        Issue.record("expected errors, but the manifests decoded", sourceLocation: sourceLocation)
        return []
    case .failure(let errors):
        return errors.errors
    }
}

/// The single application of a one-application file.
func onlyApplication(_ app: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Application {
    let manifests = try decodeValid(app: app, sourceLocation: sourceLocation)
    return try #require(manifests.applications.first, sourceLocation: sourceLocation)
}

/// Flocker v1 file with one application `web` whose settings are `settings` (indented by the caller's
/// convention: each line of `settings` is placed under `web:` with four spaces).
func v1(_ settings: String, name: String = "web") -> String {
    "version: 1\napplications:\n  \(name):\n"
        + settings.split(separator: "\n", omittingEmptySubsequences: false)
        .map { $0.isEmpty ? "" : "    " + $0 }.joined(separator: "\n") + "\n"
}

/// Compose file (services layout) with one service `web` whose settings are `settings`.
func compose(_ settings: String, name: String = "web", extra: String = "") -> String {
    "services:\n  \(name):\n"
        + settings.split(separator: "\n", omittingEmptySubsequences: false)
        .map { $0.isEmpty ? "" : "    " + $0 }.joined(separator: "\n") + "\n" + extra
}

extension Application {
    /// The application without its part of the service network (tests of other keys compare the rest).
    var withoutService: Application {
        var a = self
        a.service = nil
        return a
    }
}
