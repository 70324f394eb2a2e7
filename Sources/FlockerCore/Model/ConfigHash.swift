extension Application {
    /// A stable hash of everything that requires a new container when it changes: image, ports, volumes and
    /// their mountpoints, links, environment, limits, restart policy, command, further `docker run` options, uploaded files
    /// (their content, through `filesHash`).
    ///
    /// Stored as a container label; the planner restarts an application only when this differs. Volume quotas
    /// are not part of it: a quota change is applied to the dataset without a restart. The encoding is
    /// length-prefixed (no two configurations encode alike) and versioned; never change it silently, or every
    /// application restarts once after an upgrade.
    public var configHash: String {
        var fields: [String] = ["flocker-config-v1", name, image]
        // ("udp" after a UDP port's numbers: no field of a TCP port's or of any other kind is spelled so.)
        for p in ports { fields += ["port", String(p.internalPort), String(p.externalPort)] + (p.transport == .udp ? ["udp"] : []) }
        for v in volumes { fields += ["volume", v.name, v.mountpoint] + (v.readOnly ? ["read-only"] : []) }
        for l in links { fields += ["link", String(l.localPort), String(l.remotePort), l.alias] }
        for key in environment.keys.sorted() { fields += ["env", key, environment[key] ?? ""] }
        if let m = memoryLimit { fields += ["memory", String(m)] }
        if let c = cpuShares { fields += ["cpu-shares", String(c)] }
        fields += ["restart", restartPolicy.dockerValue]
        if let command { fields += ["command", String(command.count)] + command }
        // Added after v1's first release: only present when set, so that hashes of applications without them
        // (every Flocker v1 file) stay what they were.
        if !runOptions.isEmpty { fields += ["run-options", String(runOptions.count)] + runOptions }
        if !entrypointArguments.isEmpty {
            fields += ["entrypoint-arguments", String(entrypointArguments.count)] + entrypointArguments
        }
        if !files.isEmpty { fields += ["files", filesHash] }
        if let service {
            fields += ["service", service.address, String(service.hosts.count)]
            for h in service.hosts { fields += [h.name, h.address] }
            fields += [String(service.ports.count)] + service.ports
        }
        return StableHash.fieldsHex(fields)
    }
}
