extension Manifests {
    /// The port sshd listens on unless told otherwise, and the way flocker-deploy reaches every node.
    public static let sshPort = 22

    /// What the manifests allow but is most likely a mistake across applications, one line each (without
    /// `warning:`, and without a position, unlike `warnings`); `validate` and every command that reads the
    /// manifests print them on stderr. They never fail a run.
    public var portWarnings: [String] {
        applications.flatMap { app in
            app.ports.filter { $0.externalPort == Self.sshPort }.map { port in
                "application \(app.name) publishes port \(port.externalPort) (to its port \(port.internalPort)), the port sshd listens on: "
                    + "the routing mesh forwards that port of every node of the deployment to the node that runs \(app.name), "
                    + "so ssh to those nodes (flocker-deploy's own way in) would reach the container instead; pick another external port"
            }
        }
    }
}
