import FlockerYAML

extension Manifests {
    /// Reads a deployment file on its own (for `status` and `lock`, which need the nodes but not what runs).
    /// Application names are not checked against any application file.
    public static func loadDeployment(_ path: String) throws(ManifestErrors) -> Deployment {
        let bytes: [UInt8]
        switch readFile(path) {
        case .success(let b): bytes = b
        case .failure(let e): throw ManifestErrors(errors: [e])
        }
        var diagnostics = Diagnostics(file: path)
        var deployment: Deployment?
        do {
            let root = try YAML.parse(bytes, file: path)
            deployment = DeploymentDecoder.decode(root, applications: nil, &diagnostics).deployment
        } catch {
            diagnostics.add(ManifestError(error))
        }
        guard diagnostics.errors.isEmpty, let deployment else {
            throw ManifestErrors(errors: inPositionOrder(diagnostics.errors))
        }
        return deployment
    }
}
