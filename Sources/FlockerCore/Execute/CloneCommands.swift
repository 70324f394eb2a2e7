/// The remote commands of `clone create` and `clone destroy` (see `ClonePlanner`).
extension NodeCommands {
    /// Makes each volume's clone dataset from `SOURCE@SNAPSHOT`, writable, mounted at its mountpoint, with the
    /// clone's record as user properties, all in the one `zfs clone -o …` (a clone is never there unlabelled).
    /// A dataset that is there already and is this clone's (an interrupted run made it) is kept; one that is
    /// something else's fails the step. Arguments: clone name, app, snapshot, ports, created, expires, then
    /// triples of source dataset, clone dataset and mountpoint.
    public static func cloneDatasets(_ clone: CloneSpec, mountRoot: String) -> RemoteCommand {
        var args = [clone.name, clone.app, clone.snapshot, CloneNames.portsText(clone.ports), String(clone.created),
                    clone.expires.map(String.init) ?? "never"]
        for v in clone.volumes {
            args += [VolumeID(app: clone.app, volume: v).dataset, CloneNames.dataset(clone.name, volume: v),
                     "\(mountRoot)/flocker-clones/\(clone.name).\(v)"]
        }
        return .script("""
            name=$1 app=$2 snap=$3 ports=$4 created=$5 expires=$6; shift 6
            parent=flocker/flocker-clones
            zfs list -H -o name "$parent" >/dev/null 2>&1 || zfs create "$parent" || zfs list -H -o name "$parent" >/dev/null || exit 1
            while [ $# -ge 3 ]; do
              src=$1 ds=$2 mp=$3; shift 3
              if zfs list -H -o name "$ds" >/dev/null 2>&1; then
                [ "$(zfs get -H -o value flocker:clone "$ds")" = "$name" ] || { echo "$ds exists and is not clone $name's" >&2; exit 1; }
                [ "$(zfs get -H -o value mounted "$ds")" = yes ] || zfs mount "$ds" || exit 1
                continue
              fi
              zfs clone -o readonly=off -o "mountpoint=$mp" -o "flocker:clone=$name" -o "flocker:clone-of=$app" \\
                -o "flocker:snapshot=$snap" -o "flocker:ports=$ports" -o "flocker:created=$created" \\
                -o "flocker:expires=$expires" "$src@$snap" "$ds" || exit 1
            done
            """, name: "flocker-clone-datasets", args)
    }

    /// The `docker run` arguments of a clone's container: the application's image and configuration, the
    /// clone's record as labels, its ports, its datasets mounted where the application's volumes go.
    public static func cloneRunArguments(_ clone: CloneSpec, of app: Application, mountRoot: String, envFile: String?) -> [String] {
        var args = ["run", "--detach", "--name", CloneNames.containerName(clone.name),
                    "--label", "flocker.clone=\(clone.name)", "--label", "flocker.clone-of=\(clone.app)",
                    "--label", "flocker.snapshot=\(clone.snapshot)", "--label", "flocker.ports=\(CloneNames.portsText(clone.ports))",
                    "--label", "flocker.created=\(clone.created)", "--label", "flocker.expires=\(clone.expires.map(String.init) ?? "never")",
                    "--label", "flocker.volumes=\(clone.volumes.joined(separator: ","))"]
        if let envFile { args += ["--env-file", envFile] }
        for p in clone.ports { args += ["--publish", "\(p.published):\(p.container)"] }
        for spec in app.volumes where clone.volumes.contains(spec.name) {
            args += ["--volume", "\(mountRoot)/flocker-clones/\(clone.name).\(spec.name):\(spec.mountpoint)"]
        }
        if let mem = app.memoryLimit { args += ["--memory", String(mem)] }
        if let cpu = app.cpuShares { args += ["--cpu-shares", String(cpu)] }
        args += ["--restart", app.restartPolicy.dockerValue, app.image]
        if let command = app.command { args += command }
        return args
    }

    /// Runs a clone's container, or starts the one an interrupted run created. With `envFile`, stdin is written
    /// to that file (root only) for `--env-file` and removed after, as for an application's start.
    public static func startClone(_ clone: CloneSpec, of app: Application, mountRoot: String, envFile: String?) -> RemoteCommand {
        .script("""
            f=$1 name=$2; shift 2
            if [ -n "$f" ]; then trap 'rm -f "$f"' EXIT; umask 077; mkdir -p "${f%/*}" && cat > "$f" || exit 125; fi
            started() {
              s=$(docker inspect --format '{{.State.Status}}' "$name" 2>/dev/null) || return 1
              [ "$s" = running ] || docker start "$name" >/dev/null || exit 1
              echo "its container was there already (left by an interrupted run)"; exit 0
            }
            started
            err=$(docker "$@" 2>&1 >/dev/null) && exit 0
            sleep 1; started
            printf '%s\\n' "$err" >&2; exit 1
            """, name: "flocker-start-clone",
            [envFile ?? "", CloneNames.containerName(clone.name)] + cloneRunArguments(clone, of: app, mountRoot: mountRoot, envFile: envFile))
    }

    /// Removes a clone's container, then destroys its datasets: each only if it is this clone's (its
    /// `flocker:clone`), with a plain `zfs destroy` (never `-r` or `-R`), unmounted first and tried again while
    /// zfs-fuse calls it busy. What is gone already is fine.
    public static func destroyClone(_ clone: CloneSpec) -> RemoteCommand {
        .script("""
            name=$1 container=$2; shift 2
            docker rm -f "$container" >/dev/null 2>&1
            if docker inspect "$container" >/dev/null 2>&1; then echo "cannot remove container $container" >&2; exit 1; fi
            for ds in "$@"; do
              zfs list -H -o name "$ds" >/dev/null 2>&1 || continue
              [ "$(zfs get -H -o value flocker:clone "$ds")" = "$name" ] || { echo "$ds is not clone $name's: left alone" >&2; exit 1; }
              i=0
              while [ $i -lt 10 ]; do
                [ "$(zfs get -H -o value mounted "$ds")" = yes ] && zfs umount "$ds" 2>/dev/null
                zfs destroy "$ds" 2>/dev/null && break
                sleep 0.5; i=$((i + 1))
              done
              zfs list -H -o name "$ds" >/dev/null 2>&1 && { zfs destroy "$ds"; exit 1; }
            done
            exit 0
            """, name: "flocker-destroy-clone",
            [clone.name, CloneNames.containerName(clone.name)] + clone.volumes.map { CloneNames.dataset(clone.name, volume: $0) })
    }
}

extension NodeCommands {
    /// `clone reset` on the clone's node (see `Action.resetClone`), safe to kill anywhere: the script ignores
    /// hangups (a killed run does not stop it half-way), every dataset is made by one `zfs clone -o …` with the
    /// clone's record (never there unlabelled), and the container is kept, stopped, so a re-run finds it and
    /// resets again. A dataset that is not this clone's, or a clone without its container, fails the step before
    /// anything changes. Arguments: clone name, container, app, snapshot, ports, created, expires, then triples
    /// of source dataset, clone dataset and mountpoint.
    public static func resetClone(_ clone: CloneSpec, mountRoot: String) -> RemoteCommand {
        var args = [clone.name, CloneNames.containerName(clone.name), clone.app, clone.snapshot, CloneNames.portsText(clone.ports),
                    String(clone.created), clone.expires.map(String.init) ?? "never"]
        for v in clone.volumes {
            args += [VolumeID(app: clone.app, volume: v).dataset, CloneNames.dataset(clone.name, volume: v),
                     "\(mountRoot)/flocker-clones/\(clone.name).\(v)"]
        }
        return .script("""
            trap '' HUP PIPE
            name=$1 container=$2 app=$3 snap=$4 ports=$5 created=$6 expires=$7; shift 7
            exists() { zfs list -H -o name "$1" >/dev/null 2>&1; }
            docker inspect "$container" >/dev/null 2>&1 || { echo "clone $name has no container here: make it again with clone create, or destroy it" >&2; exit 1; }
            # Everything checked before anything changes.
            precheck() {
              while [ $# -ge 3 ]; do
                exists "$1@$snap" || { echo "$1@$snap is not on this node" >&2; return 1; }
                if exists "$2"; then
                  [ "$(zfs get -H -o value flocker:clone "$2")" = "$name" ] || { echo "$2 is not clone $name's: left alone" >&2; return 1; }
                fi
                shift 3
              done
            }
            precheck "$@" || exit 1
            docker stop "$container" >/dev/null || exit 1
            while [ $# -ge 3 ]; do
              src=$1 ds=$2 mp=$3; shift 3
              if exists "$ds"; then
                i=0
                while [ $i -lt 20 ]; do
                  [ "$(zfs get -H -o value mounted "$ds")" = yes ] && zfs umount "$ds" 2>/dev/null
                  zfs destroy "$ds" 2>/dev/null && break
                  sleep 0.5; i=$((i + 1))
                done
                exists "$ds" && { zfs destroy "$ds"; exit 1; }
              fi
              zfs clone -o readonly=off -o "mountpoint=$mp" -o "flocker:clone=$name" -o "flocker:clone-of=$app" \\
                -o "flocker:snapshot=$snap" -o "flocker:ports=$ports" -o "flocker:created=$created" \\
                -o "flocker:expires=$expires" "$src@$snap" "$ds" || exit 1
              [ "$(zfs get -H -o value mounted "$ds")" = yes ] || zfs mount "$ds" || exit 1
            done
            docker start "$container" >/dev/null || exit 1
            """, name: "flocker-reset-clone", args)
    }
}

extension Executor {
    /// `clone reset` on one node: fresh datasets under the kept container, started again, then readiness.
    func resetClone(_ clone: CloneSpec, on node: any RemoteHost, step: String) async throws(StepFailure) -> String {
        let mountRoot = observed.nodes[node.node]?.facts.poolMountpoint ?? "/flocker"
        try await node.check(NodeCommands.resetClone(clone, mountRoot: mountRoot), step: step, timeout: options.commandTimeout)
        if observed.nodes[node.node]?.facts.hasBash ?? true {
            let seconds = Int(options.readyTimeout.components.seconds)
            let ready = RemoteCommand(["bash", "-c", NodeCommands.readyScript, "flocker-ready", CloneNames.containerName(clone.name),
                                       String(seconds)] + clone.ports.map { String($0.container) })
            try await node.check(ready, step: step, timeout: options.readyTimeout + .seconds(30))
        }
        return "fresh data from \(SnapshotNames.display(clone.snapshot))"
    }

    /// `clone create` on one node: datasets, container, readiness.
    func createClone(_ clone: CloneSpec, of app: Application, on node: any RemoteHost, step: String) async throws(StepFailure) -> String {
        let mountRoot = observed.nodes[node.node]?.facts.poolMountpoint ?? "/flocker"
        try await node.check(NodeCommands.cloneDatasets(clone, mountRoot: mountRoot), step: step, timeout: options.commandTimeout)
        let environment = LinkEnvironment.environment(of: app, nodeAddress: node.address)
        let file = environment.isEmpty ? nil : "\(NodeCommands.stateDirectory)/env/clone-\(clone.name).env"
        let result = try await node.run(NodeCommands.startClone(clone, of: app, mountRoot: mountRoot, envFile: file),
                                        stdin: file == nil ? [] : NodeCommands.environmentFile(environment), step: step,
                                        timeout: options.commandTimeout)
        guard result.status.isSuccess else {
            throw StepFailure(node: node.node, step: step, message: "docker failed (\(result.status))", stderr: trim(result.stderrText))
        }
        if observed.nodes[node.node]?.facts.hasBash ?? true {
            let seconds = Int(options.readyTimeout.components.seconds)
            let ready = RemoteCommand(["bash", "-c", NodeCommands.readyScript, "flocker-ready", CloneNames.containerName(clone.name),
                                       String(seconds)] + clone.ports.map { String($0.container) })
            try await node.check(ready, step: step, timeout: options.readyTimeout + .seconds(30))
        }
        return trim(result.stdoutText)
    }
}
