/// Every command flocker-deploy runs on a node, built as argv arrays in one place.
///
/// Manifest values only ever appear as separate arguments (quoted once by `RemoteCommand.shellText`);
/// the few scripts are constants that read their variable parts from "$1", "$2"….
public enum NodeCommands {
    /// Where flocker-deploy keeps its few files on a node (environment files during a start, the lock, the audit log).
    public static let stateDirectory = "/var/lib/flocker-deploy"

    public static func containerName(_ app: String) -> String { "flocker--\(app)" }

    // MARK: docker

    public static func pull(_ image: String) -> RemoteCommand { RemoteCommand("docker", "pull", "--quiet", image) }

    /// The arguments of `docker run` for `app` (after `docker`): labels, ports, volumes, limits, restart policy,
    /// image and command. The environment travels in a file (see `startScript`), never on the command line.
    public static func runArguments(
        _ app: Application, mounts: [(host: String, container: String)], envFile: String?, createOnly: Bool = false
    ) -> [String] {
        var args = (createOnly ? ["create"] : ["run", "--detach"]) + ["--name", containerName(app.name),
                    "--label", "flocker.app=\(app.name)", "--label", "flocker.config-hash=\(app.configHash)",
                    "--label", "flocker.restart=\(app.restartPolicy.dockerValue)"]
        if let envFile { args += ["--env-file", envFile] }
        for p in app.ports { args += ["--publish", "\(p.externalPort):\(p.internalPort)\(p.suffix)"] }
        if let service = app.service { args += service.runArguments }
        for m in mounts {
            let readOnly = app.volumes.contains { $0.mountpoint == m.container && $0.readOnly }
            args += ["--volume", "\(m.host):\(m.container)" + (readOnly ? ":ro" : "")]
        }
        args += fileMounts(app)
        if let mem = app.memoryLimit { args += ["--memory", String(mem)] }
        if let cpu = app.cpuShares { args += ["--cpu-shares", String(cpu)] }
        args += ["--restart", app.restartPolicy.dockerValue]
        args += app.runOptions
        args.append(app.image)
        args += app.entrypointArguments
        if let command = app.command { args += command }
        return args
    }

    /// The longest command text flocker-deploy sends in one SSH request. libssh2 refuses a packet over 35,000
    /// bytes ("Unable to send channel request"); what is left is margin for the rest of the request and for a
    /// pool mounted deeper than /flocker.
    public static let commandTextLimit = 32_768

    /// The length of the command that starts `app` (environment file included) on a node whose pool is mounted
    /// at /flocker, when it is more than `commandTextLimit`: the manifest check that keeps an application's
    /// command, ports and mountpoints within one SSH request, so that a valid manifest cannot fail at its start.
    static func oversizedStartCommand(_ app: Application) -> Int? {
        // A cheap bound first (quoting makes a word at most four times as long, plus its quotes); building the
        // command (and its configuration hash) for every application would double the time of a large validate.
        let words = (app.command ?? []) + app.volumes.map(\.mountpoint) + app.files.map(\.target) + [app.image]
        let bound = 2_048 + words.reduce(0) { $0 + 4 * $1.utf8.count + 200 } + 32 * app.ports.count
        guard bound > commandTextLimit else { return nil }
        let length = startCommandLength(app)
        return length > commandTextLimit ? length : nil
    }

    static func startCommandLength(_ app: Application) -> Int {
        let file = "\(stateDirectory)/env/\(app.name).env"
        let mounts = app.volumes.map { (host: "/flocker/\(app.name).\($0.name)", container: $0.mountpoint) }
        return start(app, mounts: mounts, envFile: file, createOnly: false).shellText.utf8.count
    }

    /// What `start` prints when it found the application's container already there, with the wanted configuration
    /// (left by an interrupted run), and used it instead of creating another.
    public static let usedExistingContainer = "flocker-start: used the existing container"

    /// Runs (or, `createOnly`, creates) the application's container, in one round trip, idempotently: when the
    /// name is taken ("is already in use"), a container with the wanted configuration hash (label
    /// `flocker.config-hash`) is used, not created again (a run starts it if need be), and the script prints
    /// `usedExistingContainer`; one with another hash is removed, and the create tried again. Such a container is
    /// left by an interrupted run, whose `docker create` may still be finishing on the node when this run looks
    /// (Docker holds the name before the container can be inspected): the script waits for it, up to 10 s. With
    /// `envFile`, stdin is written to that file, readable only by root, for `--env-file`, and the file is removed
    /// whatever happened: values never appear on a command line.
    /// A Compose service's address (`ServiceNetwork`; arguments `vip`, `img`, `handled`, `taken`) goes on `lo`
    /// first (Docker publishes on it only where it is local), and `$extra` gets a `--publish=ADDRESS:P:P` for each
    /// port the image EXPOSEs that the manifest does not settle (`handled`). A port that another application placed
    /// on this node publishes on every address (`taken`: Docker could not bind it) is left out; one that some other
    /// container publishes (an application moving away, stopped by another pipeline of this run) is waited for, up
    /// to 20 s. What is left out is named in the label `flocker.unpublished` (`PORT/PROTO,…`), which discovery reads:
    /// once nothing takes such a port, the planner starts the container again to publish it. Each word is checked
    /// to be a port spec, as `$extra` is expanded unquoted.
    public static func start(
        _ app: Application, mounts: [(host: String, container: String)], envFile: String?, createOnly: Bool,
        taken: [String] = []
    ) -> RemoteCommand {
        .script("""
            mode=$1 name=$2 want=$3 f=$4 vip=$5 img=$6 handled=$7 taken=$8; shift 8
            if [ -n "$f" ]; then trap 'rm -f "$f"' EXIT; umask 077; mkdir -p "${f%/*}" && cat > "$f" || exit 125; fi
            extra= unpublished=
            if [ -n "$vip" ]; then
              ip addr replace "$vip/32" dev lo || exit 1
              for p in $(docker image inspect --format '{{range $k, $v := .Config.ExposedPorts}}{{$k}} {{end}}' "$img" 2>/dev/null); do
                case $p in *[!0-9a-z/-]*|'') continue ;; esac
                case " $handled " in *" $p "*) continue ;; esac
                case " $taken " in *" $p "*) unpublished="$unpublished${unpublished:+,}$p"; continue ;; esac
                i=0
                while [ -n "$(docker ps -q --filter "publish=$p")" ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
                if [ -n "$(docker ps -q --filter "publish=$p")" ]; then unpublished="$unpublished${unpublished:+,}$p"; continue; fi
                extra="$extra --publish=$vip:${p%/*}:$p"
              done
              [ -z "$unpublished" ] || extra="$extra --label=flocker.unpublished=$unpublished"
            fi
            verb=$1; shift
            i=0
            while :; do
              err=$(docker "$verb" $extra "$@" 2>&1 >/dev/null) && exit 0
              case $err in *"is already in use"*) [ $i -lt 100 ] || break ;; *) break ;; esac
              if h=$(docker inspect --format '{{index .Config.Labels "flocker.config-hash"}}' "$name" 2>/dev/null); then
                if [ "$h" = "$want" ]; then
                  [ "$mode" = create ] || docker start "$name" >/dev/null || exit 1
                  echo "flocker-start: used the existing container"; exit 0
                fi
                docker rm -f "$name" >/dev/null || exit 1
              else
                sleep 0.1
              fi
              i=$((i + 1))
            done
            printf '%s\\n' "$err" >&2; exit 1
            """, name: "flocker-start",
            [createOnly ? "create" : "run", containerName(app.name), app.configHash, envFile ?? "",
             app.service?.address ?? "", app.image, serviceHandledPorts(app), taken.joined(separator: " ")]
                + runArguments(app, mounts: mounts, envFile: envFile, createOnly: createOnly))
    }

    /// The container ports (`PORT/PROTO`) whose reachability on the service address the manifest settles: those
    /// it publishes on the address, and those the routing mesh publishes at their own number.
    static func serviceHandledPorts(_ app: Application) -> String {
        guard let service = app.service else { return "" }
        let published = PortMapping.answeringOnEveryAddress(app.ports)
        let named = service.portNumbers.map { "\($0.port)/\($0.proto)" }
        return (published + named).joined(separator: " ")
    }

    /// The environment file's content: Docker's env-file format, one `NAME=value` per line, taken literally.
    public static func environmentFile(_ variables: [(String, String)]) -> [UInt8] {
        Array(variables.map { "\($0.0)=\($0.1)\n" }.joined().utf8)
    }

    /// Stops a container. `keep`: set its restart policy to `no` first (so a Docker restart cannot bring it
    /// back while the application runs elsewhere) and keep it; otherwise remove it after it stopped. A container
    /// that is not there (an interrupted run removed it after the re-run looked) is stopped already. `drain`
    /// (a move, with new connections held): first wait up to that many seconds while the container has an
    /// inbound connection open, so that a transaction in flight can finish; it prints how that went.
    public static func stop(_ app: String, keep: Bool, drain: Int = 0) -> RemoteCommand {
        .script("""
            name=$1 keep=$2 drain=$3 note=""
            gone() { ! docker inspect --format '{{.Id}}' "$name" >/dev/null 2>&1; }
            # Inbound connections: established ones on a port the container listens on, read from its own
            # network namespace (/proc/PID/net of its first process).
            inbound() {
              cat "/proc/$1/net/tcp" "/proc/$1/net/tcp6" 2>/dev/null | awk '
                $4 == "0A" { split($2, a, ":"); listening[a[2]] = 1 }
                $4 == "01" { split($2, a, ":"); open[a[2]]++ }
                END { n = 0; for (p in open) if (p in listening) n += open[p]; print n }'
            }
            if [ "$drain" -gt 0 ]; then
              pid=$(docker inspect --format '{{.State.Pid}}' "$name" 2>/dev/null) || pid=0
              case $pid in '' | *[!0-9]*) pid=0 ;; esac
              if [ "$pid" -gt 0 ]; then
                first=$(inbound "$pid") left=$first i=0
                while [ "${left:-0}" -gt 0 ] && [ $i -lt $((drain * 10)) ]; do
                  sleep 0.1; i=$((i + 1)); left=$(inbound "$pid")
                done
                [ "${first:-0}" -gt 0 ] && note="drain $first ${left:-0} $i"
              fi
            fi
            if [ "$keep" = keep ]; then
              docker update --restart=no "$name" >/dev/null && docker stop "$name" >/dev/null && { echo "$note"; exit 0; }
            else
              docker stop "$name" >/dev/null && docker rm "$name" >/dev/null && { echo "$note"; exit 0; }
            fi
            gone || exit 1
            """, name: "flocker-stop", [containerName(app), keep ? "keep" : "remove", String(drain)])
    }

    /// What the stop step says of its drain (`stop`'s `drain FIRST LEFT TENTHS` line): nothing when no
    /// connection was open.
    public static func drainNote(_ printed: String, limit: Int) -> String {
        let words = printed.split(separator: " ")
        guard words.count == 4, words[0] == "drain", let first = Int(words[1]), let left = Int(words[2]),
            let tenths = Int(words[3]), first > 0
        else { return "" }
        let waited = "\(tenths / 10).\(tenths % 10) s"
        let plural = first == 1 ? "connection" : "connections"
        if left == 0 { return "waited \(waited) for \(first) open \(plural) to end" }
        return "\(left) of \(first) open \(plural) still open after \(limit) s: cut by the stop (--drain)"
    }

    /// Starts an existing stopped container again with `restartPolicy`; a Compose service's address goes back on
    /// `lo` first (gone after a reboot, and Docker publishes on it only where it is local).
    public static func restart(_ app: String, restartPolicy: String, serviceAddress: String? = nil) -> RemoteCommand {
        .script("""
            [ -z "$3" ] || ip addr replace "$3/32" dev lo || exit 1
            docker update --restart="$2" "$1" >/dev/null && docker start "$1" >/dev/null
            """, name: "flocker-restart", [containerName(app), restartPolicy, serviceAddress ?? ""])
    }

    /// Removes a stopped container (refuses a running one: `docker rm` without `-f`). A container that is not
    /// there is removed already; one whose removal is in progress (by an interrupted run) is waited for.
    public static func remove(_ app: String) -> RemoteCommand {
        .script("""
            err=$(docker rm "$1" 2>&1 >/dev/null) && exit 0
            i=0
            while docker inspect --format '{{.Id}}' "$1" >/dev/null 2>&1; do
              case $err in *"already in progress"*) [ $i -lt 100 ] || break ;; *) break ;; esac
              sleep 0.1; i=$((i + 1))
            done
            docker inspect --format '{{.Id}}' "$1" >/dev/null 2>&1 || exit 0
            printf '%s\\n' "$err" >&2; exit 1
            """, name: "flocker-remove", [containerName(app)])
    }

    /// Waits until the container runs and each of its internal ports accepts a connection on the container's
    /// own address (not the published port: Docker's proxy accepts there before the application listens).
    /// With no ports, waits until it has run for a second. A container with a health check (the Compose file's
    /// `healthcheck` or the image's HEALTHCHECK) is ready when Docker reports it healthy instead, and fails when
    /// it reports it unhealthy. Prints the container's last log lines on failure.
    public static func waitReady(_ app: String, ports: [Int], timeoutSeconds: Int, bash: Bool) -> RemoteCommand {
        let args = [containerName(app), String(timeoutSeconds)] + ports.map(String.init)
        if bash {
            return RemoteCommand(["bash", "-c", readyScript, "flocker-ready"] + args)
        }
        return .script("""
            name=$1; t=$2; i=0
            while [ $i -lt $((t * 10)) ]; do
              s=$(docker inspect --format '{{.State.Status}}{{if .State.Health}}-{{.State.Health.Status}}{{end}}' "$name" 2>/dev/null)
              [ "$s" = running ] || [ "$s" = running-healthy ] && exit 0
              [ "$s" = running-unhealthy ] && break
              [ "$s" = exited ] || [ "$s" = dead ] && break
              sleep 0.1; i=$((i + 1))
            done
            echo "$name is not running (${s:-missing})" >&2; docker logs --tail 20 "$name" >&2; exit 1
            """, name: "flocker-ready", args)
    }

    static let readyScript = """
        name=$1; timeout=$2; shift 2; ports="$*"
        end=$((SECONDS + timeout)); since=""
        fail() { echo "$name: $1" >&2; echo "--- last log lines:" >&2; docker logs --tail 20 "$name" 2>&1 | sed 's/^/    /' >&2; exit 1; }
        while [ $SECONDS -lt $end ]; do
          read -r running status health ip <<< "$(docker inspect --format '{{.State.Running}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.NetworkSettings.IPAddress}}' "$name" 2>/dev/null)"
          case "$status" in exited|dead) fail "the container exited instead of starting";; esac
          if [ "$running" = true ]; then
            if [ "$health" = healthy ]; then
              exit 0
            elif [ "$health" = unhealthy ]; then
              fail "its health check reports it unhealthy"
            elif [ "$health" = starting ]; then
              :
            elif [ -z "$ports" ]; then
              [ -z "$since" ] && since=$SECONDS
              [ $((SECONDS - since)) -ge 1 ] && exit 0
            else
              ok=1
              for p in $ports; do (exec 3<>"/dev/tcp/$ip/$p") 2>/dev/null || { ok=0; break; }; done
              [ $ok = 1 ] && exit 0
            fi
          fi
          sleep 0.05
        done
        fail "not ready after ${timeout}s (running=${running:-?}, health ${health:-none}, ports $ports)"
        """

    // MARK: zfs

    /// Creates a new, empty volume as the writable primary (epoch 1), with its labels, atomically. The planner
    /// asks for it only when no node has a dataset of the volume, so one that is there with this volume's labels
    /// as a primary was made by the same step of an interrupted run (after the re-run looked): that is success.
    public static func createVolume(_ v: VolumeID, quota: UInt64?) -> RemoteCommand {
        .script("""
            ds=$1 app=$2 vol=$3; shift 3
            err=$(zfs create "$@" "$ds" 2>&1) && exit 0
            p() { zfs get -H -o value "$1" "$ds" 2>/dev/null; }
            [ "$(p flocker:app)" = "$app" ] && [ "$(p flocker:volume)" = "$vol" ] && [ "$(p flocker:role)" = primary ] && exit 0
            printf '%s\\n' "$err" >&2; exit 1
            """, name: "flocker-create-volume", [v.dataset, v.app, v.volume] + newVolumeOptions(v, quota: quota))
    }

    /// The `zfs create` options of a new volume: its labels (a writable primary, epoch 1) and its quota.
    private static func newVolumeOptions(_ v: VolumeID, quota: UInt64?) -> [String] {
        var args = ["-o", "flocker:app=\(v.app)", "-o", "flocker:volume=\(v.volume)",
                    "-o", "flocker:role=primary", "-o", "flocker:epoch=1", "-o", "readonly=off"]
        if let quota { args += ["-o", "refquota=\(quota)"] }
        return args
    }

    /// Where a seeded volume is made (see `createSeededVolume`): under `flocker/flocker-incoming`, out of
    /// discovery's sight, with a `:` (which no application or volume name holds) so that no received copy
    /// (`incomingDataset`) is ever called so.
    public static func seedDataset(_ v: VolumeID) -> String { "\(incomingDataset(v)):seed" }

    /// Where the dataset of `seedDataset` is mounted while the seed is extracted into it.
    public static func seedMountpoint(_ v: VolumeID) -> String { "\(stateDirectory)/seed/\(v.app).\(v.volume)" }

    /// What `createSeededVolume` prints when it made the volume, and when the volume was there already.
    public static let seededVolume = "flocker-seed: seeded"
    public static let seedVolumeExisted = "flocker-seed: the volume was there"

    /// Creates a new volume holding the tar stream on stdin (`ConfigArchive.archive(seed:)`), atomically: the
    /// dataset is made under a temporary name (`seedDataset`, labelled already, mounted at `seedMountpoint`), the
    /// stream extracted into it (modes and numeric owners kept), and only then renamed to the volume's dataset,
    /// which mounts it where the pool says. What an interrupted run left under the temporary name is destroyed and
    /// made again; the volume's dataset existing with this volume's labels as a primary means an interrupted run
    /// got as far as the rename: that is success, and nothing is written (a seeded volume is never overwritten).
    /// Any other dataset under that name fails the step. The script holds a lock (`flock` on `MOUNTPOINT.lock`)
    /// throughout, so the script of a killed run, still finishing on the node, is waited for, not raced.
    public static func createSeededVolume(_ v: VolumeID, quota: UInt64?) -> RemoteCommand {
        .script("""
            ds=$1 app=$2 vol=$3 tmp=$4 mnt=$5; shift 5
            p() { zfs get -H -o value "$1" "$2" 2>/dev/null; }
            mkdir -p "${mnt%/*}" && exec 9>>"$mnt.lock" || exit 1
            if command -v flock >/dev/null 2>&1; then
              flock -w 600 9 || { echo "another run is still seeding $ds" >&2; exit 1; }
            fi
            if zfs list -H -o name "$ds" >/dev/null 2>&1; then
              cat >/dev/null
              [ "$(p flocker:app "$ds")" = "$app" ] && [ "$(p flocker:volume "$ds")" = "$vol" ] && [ "$(p flocker:role "$ds")" = primary ] && { echo "flocker-seed: the volume was there"; exit 0; }
              echo "$ds exists and is not volume $vol of $app" >&2; exit 1
            fi
            parent=${tmp%/*}
            if ! zfs list -H -o name "$parent" >/dev/null 2>&1; then
              zfs create -o mountpoint=none "$parent" || zfs list -H -o name "$parent" >/dev/null || exit 1
            fi
            if zfs list -H -o name "$tmp" >/dev/null 2>&1; then
              zfs destroy -r "$tmp" || { sleep 1; zfs destroy -r "$tmp"; } || exit 1
            fi
            mkdir -p "$mnt" || exit 1
            zfs create -o mountpoint="$mnt" "$@" "$tmp" || exit 1
            [ "$(p mounted "$tmp")" = yes ] || zfs mount "$tmp" || exit 1
            tar -x -p --numeric-owner -f - -C "$mnt" || exit 1
            sync
            zfs umount "$tmp" || { sleep 1; zfs umount "$tmp"; } || exit 1
            zfs inherit mountpoint "$tmp" || exit 1
            zfs rename "$tmp" "$ds" || exit 1
            rmdir "$mnt" 2>/dev/null
            [ "$(p mounted "$ds")" = yes ] || zfs mount "$ds" || exit 1
            echo "flocker-seed: seeded"
            """, name: "flocker-create-seeded-volume",
            [v.dataset, v.app, v.volume, seedDataset(v), seedMountpoint(v)] + newVolumeOptions(v, quota: quota))
    }

    /// Sets properties one by one (zfs-fuse's `zfs set` takes one property per call), in the order given.
    public static func setProperties(_ dataset: String, _ properties: [String]) -> RemoteCommand {
        .script("""
            ds=$1; shift
            for p in "$@"; do zfs set "$p" "$ds" || exit $?; done
            """, name: "flocker-zfs-set", [dataset] + properties)
    }

    /// What a copy records of the primary it was just written from: its epoch and its node (see `Outage`).
    public static func copyRecord(epoch: Int, primaryNode: String) -> [String] {
        ["flocker:epoch=\(epoch)", "flocker:primary-node=\(primaryNode)"]
    }

    public static func quotaValue(_ quota: UInt64?) -> String { quota.map { "refquota=\($0)" } ?? "refquota=none" }

    /// Lists a dataset's snapshots with guid and createtxg (`zfs get` works on every ZFS, zfs-fuse's too).
    public static func snapshots(_ dataset: String) -> RemoteCommand {
        .script("""
            zfs list -H -o name "$1" >/dev/null 2>&1 || { echo absent; exit 0; }
            zfs get -H -p -r -o name,property,value,source type,guid,createtxg,creation,readonly,referenced,flocker:role,flocker:epoch,flocker:checked "$1"
            """, name: "flocker-snapshots", [dataset])
    }

    /// The name of flocker-deploy's snapshot number `sequence`.
    public static func snapshotName(_ sequence: Int) -> String { "flocker-" + String(format: "%08d", sequence) }

    /// Takes snapshot `flocker-NNNNNNNN` of `dataset` with the first free number from `sequence` on, and prints
    /// its name: a snapshot an interrupted run took after this run listed the dataset holds that run's data,
    /// not this one's, so it is not reused (and the next number is taken instead).
    ///
    /// With `unlessUnchangedSince: BASE` (the dataset's most recent snapshot), it first asks whether anything was
    /// written since BASE, and when nothing was it takes no snapshot and prints `unchanged TIME` (the node's clock,
    /// Unix seconds, read before looking): a sync pass with nothing new then sends nothing. OpenZFS says so in the
    /// `written` property. zfs-fuse has no `written`: the snapshot is taken and its increment from BASE looked at;
    /// an increment of only its begin and end records (312 bytes each, types 0 and 5) changed nothing, and the
    /// snapshot is destroyed again. Anything else (a changed file, an atime update, a stream this cannot read)
    /// counts as changed, and the snapshot is kept and sent.
    public static func snapshot(_ dataset: String, sequence: Int, unlessUnchangedSince base: String? = nil) -> RemoteCommand {
        .script("""
            ds=$1 n=$2 base=${3:-} i=0 w=
            now=$(date +%s)
            if [ -n "$base" ]; then
              w=$(zfs get -Hp -o value written "$ds" 2>/dev/null) || w=
              [ "$w" = 0 ] && { echo "unchanged $now"; exit 0; }
            fi
            while [ $i -lt 10 ]; do
              s=flocker-$(printf '%08d' $((n + i)))
              if err=$(zfs snapshot "$ds@$s" 2>&1); then
                if [ -n "$base" ] && { [ -z "$w" ] || [ "$w" = - ]; }; then
                  t=$(zfs send -i "$ds@$base" "$ds@$s" 2>/dev/null | head -c 1024 | od -A n -v -t u4 -w312 | awk '{printf "%s ", $1}')
                  if [ "$t" = "0 5 " ] && zfs destroy "$ds@$s" 2>/dev/null; then echo "unchanged $now"; exit 0; fi
                fi
                echo "$s"; exit 0
              fi
              zfs list -H -o name -t snapshot "$ds@$s" >/dev/null 2>&1 || break
              i=$((i + 1))
            done
            printf '%s\\n' "${err:-no free snapshot name}" >&2; exit 1
            """, name: "flocker-snapshot", [dataset, String(sequence)] + (base.map { [$0] } ?? []))
    }

    /// `zfs send` of `snapshot`, incremental from `base` when given.
    public static func send(_ dataset: String, snapshot: String, base: String?) -> RemoteCommand {
        if let base { return RemoteCommand("zfs", "send", "-i", "\(dataset)@\(base)", "\(dataset)@\(snapshot)") }
        return RemoteCommand("zfs", "send", "\(dataset)@\(snapshot)")
    }

    /// `zfs recv` into `dataset`; `force` (`-F`) rolls the existing read-only copy back to its newest snapshot
    /// first, which the planner allowed only after proving the copy holds nothing the sender lacks.
    public static func receive(_ dataset: String, force: Bool) -> RemoteCommand {
        RemoteCommand(["zfs", "recv"] + (force ? ["-F"] : []) + [dataset])
    }

    /// Unmounts and mounts a dataset again. After `zfs recv` into a mounted dataset, zfs-fuse leaves the
    /// kernel's FUSE caches describing the files as they were (a replaced file reads as `??????????`, and a
    /// program starting there sees stale or missing files); a fresh mount drops them. Copies are never in use,
    /// so the unmount is busy only for a moment: while Docker starts another container on the node (its new mount
    /// namespace briefly holds a copy of every mount, as the evacuation in 65-evacuate showed once the
    /// applications' pipelines overlapped), or when something outside flocker-deploy holds the copy open. The
    /// unmount, and the mount after it ("mountpoint or dataset is busy" while a container starts on the node),
    /// are each tried for up to 5 s before the step fails. A dataset that is not mounted (an interrupted run's
    /// remount got half-way) is just mounted.
    public static func remount(_ dataset: String) -> RemoteCommand {
        .script("""
            i=0
            while [ "$(zfs get -H -o value mounted "$1")" = yes ] && ! zfs umount "$1"; do
              i=$((i + 1)); [ "$i" -lt 20 ] || exit 1; sleep 0.25
            done
            i=0
            until err=$(zfs mount "$1" 2>&1); do
              [ "$(zfs get -H -o value mounted "$1")" = yes ] && exit 0
              i=$((i + 1)); [ "$i" -lt 20 ] || { printf '%s\n' "$err" >&2; exit 1; }; sleep 0.25
            done
            """, name: "flocker-remount", [dataset])
    }

    /// Stops `zfs recv` processes still receiving into one of `datasets`, and waits (up to 10 s) until they are
    /// gone; prints the pids it stopped. Under the run lock no other run receives into them, so such a process is
    /// a leftover of a run that died or lost its connection (its sshd has not noticed yet) and would make the
    /// next receive fail with "dataset is busy".
    public static func stopLeftoverReceives(_ datasets: [String]) -> RemoteCommand {
        .script("""
            stopped=""
            for p in $(pgrep -x zfs 2>/dev/null); do
              args=$(tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null) || continue
              case "$args" in "zfs recv "*|"zfs receive "*) ;; *) continue ;; esac
              for ds in "$@"; do
                case " $args" in *" $ds ") kill "$p" 2>/dev/null && stopped="$stopped $p";; esac
              done
            done
            [ -z "$stopped" ] && exit 0
            i=0
            while [ $i -lt 100 ]; do
              alive=""; for p in $stopped; do [ -d /proc/$p ] && alive=1; done
              [ -z "$alive" ] && break
              sleep 0.1; i=$((i + 1))
            done
            echo "stopped$stopped"
            """, name: "flocker-stop-receives", datasets)
    }

    /// Where a new copy of `volume` is received first (see VolumeTransfer): a child of `flocker/flocker-incoming`,
    /// a dataset with `mountpoint=none`, so the copy is never mounted (nothing can write to it) until it is
    /// labelled read-only and renamed to the volume's dataset. Discovery ignores it: it is not `flocker/APP.VOLUME`.
    public static func incomingDataset(_ volume: VolumeID) -> String { "flocker/flocker-incoming/\(volume.app).\(volume.volume)" }

    /// Makes `flocker/flocker-incoming` (unmounted) if need be, and clears `dataset` under it: what is there is
    /// the first stream of a new copy that an interrupted run received and did not rename, never mounted.
    public static func prepareIncoming(_ dataset: String) -> RemoteCommand {
        .script("""
            ds=$1 parent=${1%/*}
            if ! zfs list -H -o name "$parent" >/dev/null 2>&1; then
              zfs create -o mountpoint=none "$parent" || zfs list -H -o name "$parent" >/dev/null || exit 1
            fi
            [ "$(zfs get -H -o value mountpoint "$parent")" = none ] || zfs set mountpoint=none "$parent" || exit 1
            zfs list -H -o name "$ds" >/dev/null 2>&1 || exit 0
            zfs destroy -r "$ds" || { sleep 1; zfs destroy -r "$ds"; }
            """, name: "flocker-incoming", [dataset])
    }

    /// Renames a received copy to its volume's dataset (which mounts it where the pool's mountpoint says).
    public static func rename(_ dataset: String, to name: String) -> RemoteCommand {
        .script("""
            zfs rename "$1" "$2" || exit 1
            [ "$(zfs get -H -o value mounted "$2")" = yes ] || zfs mount "$2"
            """, name: "flocker-rename", [dataset, name])
    }

    /// Compress and decompress commands for a stream compressor both ends have.
    public static func compressor(_ name: String) -> (compress: RemoteCommand, decompress: RemoteCommand)? {
        switch name {
        case "zstd": return (RemoteCommand("zstd", "-1", "-q", "-c"), RemoteCommand("zstd", "-d", "-q", "-c"))
        case "lz4": return (RemoteCommand("lz4", "-1", "-q", "-c"), RemoteCommand("lz4", "-d", "-q", "-c"))
        default: return nil
        }
    }

    /// Sets a returning outdated primary aside as `keep` (renamed, read-only, role `diverged`) after a last
    /// snapshot `tag` of what it holds; then, given the newest snapshot `common` the new primary has too, puts a
    /// clone of it (promoted, so it owns the snapshots up to `common`) back at the volume's name as a read-only
    /// copy with epoch `epoch`. Idempotent: a dataset already set aside is not set aside again.
    public static func rejoin(_ dataset: String, common: String?, keep: String, tag: String, epoch: Int) -> RemoteCommand {
        .script("""
            ds=$1; keep=$2; tag=$3; epoch=$4; common=$5
            if ! zfs list -H -o name "$keep" >/dev/null 2>&1; then
              zfs list -H -o name "$ds@$tag" >/dev/null 2>&1 || zfs snapshot "$ds@$tag" || exit $?
              zfs umount "$ds" 2>/dev/null
              # zfs-fuse calls a dataset busy for a moment after clones of its snapshots went: tried again.
              i=0
              while ! zfs rename "$ds" "$keep" 2>/dev/null; do
                i=$((i + 1)); [ $i -lt 20 ] || { zfs rename "$ds" "$keep"; exit 1; }
                sleep 0.5; zfs umount "$ds" 2>/dev/null
              done
              for p in readonly=on flocker:role=diverged; do zfs set "$p" "$keep" || exit $?; done
            fi
            zfs get -H -o value mounted "$keep" | grep -qx yes || zfs mount "$keep" || exit $?
            [ -z "$common" ] && exit 0
            if ! zfs list -H -o name "$ds" >/dev/null 2>&1; then
              zfs clone "$keep@$common" "$ds" || exit $?
            fi
            if [ "$(zfs get -H -o value origin "$ds")" != "-" ]; then zfs promote "$ds" || exit $?; fi
            for p in readonly=on flocker:role=copy "flocker:epoch=$epoch"; do zfs set "$p" "$ds" || exit $?; done
            """, name: "flocker-rejoin", [dataset, keep, tag, String(epoch), common ?? ""])
    }

    /// Destroys a read-only copy and its snapshots (`-r`, never `-R`: a clone made from one of them makes it
    /// fail rather than go too). Unmounts it first; zfs-fuse may call it busy for a moment after a receive.
    public static func destroyCopy(_ dataset: String) -> RemoteCommand {
        .script("""
            zfs list -H -o name "$1" >/dev/null 2>&1 || exit 0
            for i in 1 2 3 4 5; do zfs destroy -r "$1" && exit 0; sleep 1; done
            zfs destroy -r "$1"
            """, name: "flocker-destroy-copy", [dataset])
    }

    /// Destroys the named snapshots of `dataset`; one that is gone already (an interrupted run's prune) is fine.
    public static func destroySnapshots(_ dataset: String, _ names: [String]) -> RemoteCommand {
        .script("""
            ds=$1; shift
            for s in "$@"; do
              out=$(zfs destroy "$ds@$s" 2>&1) && continue
              # A diverged dataset set aside is a clone of it (see rejoin): the snapshot stays while that is kept.
              case "$out" in *"dependent clones"*) continue ;; esac
              zfs list -H -o name -t snapshot "$ds@$s" >/dev/null 2>&1 || continue
              echo "$out" >&2; exit 1
            done
            """, name: "flocker-prune", [dataset] + names)
    }

    // MARK: routes

    /// Applies rule changes atomically per table with `iptables-restore --noflush` (rules on stdin), against
    /// what the node has now: a deletion of a rule that is not there (any more) and an addition of a rule whose tag
    /// is there already in that table and chain are left out, so that the changes of an interrupted run that
    /// landed after this run looked neither fail the restore (a missing rule) nor add a second copy. The rules
    /// are compared as data (awk), never run through a shell.
    public static let restoreRoutes = RemoteCommand.script("""
        saved=$(mktemp) || exit 1
        trap 'rm -f "$saved"' EXIT
        iptables-save > "$saved" || exit 1
        rules=$(awk -v saved="$saved" '
          FILENAME == saved {
            if ($0 ~ /^[*]/) { t = substr($0, 2); next }
            if ($1 != "-A") next
            have[t SUBSEP $0] = 1
            for (i = 3; i < NF; i++) if ($i == "--comment") tagged[t SUBSEP $2 SUBSEP $(i + 1)] = 1
            next
          }
          /^[*]/ { t = substr($0, 2); print; next }
          $1 == "-D" { if ((t SUBSEP "-A " substr($0, 4)) in have) print; next }
          $1 == "-A" || $1 == "-I" {
            tag = ""
            for (i = 3; i < NF; i++) if ($i == "--comment") tag = $(i + 1)
            if (tag == "" || !((t SUBSEP $2 SUBSEP tag) in tagged)) print
            next
          }
          { print }
        ' "$saved" -) || exit 1
        printf '%s\\n' "$rules" | iptables-restore --noflush
        """, name: "flocker-routes")

    /// The comment of a connection-hold rule starts with this, then `APP:PORT`.
    public static let holdTagPrefix = "flocker-deploy:hold:"

    /// Holds new TCP connections to `ports` on this node for `app`: in the raw table (before conntrack, so the
    /// client's retried SYN is routed by the rules in force then), for connections from outside (PREROUTING) and
    /// from the node itself (OUTPUT), to the node's own addresses only (a readiness probe of the container's own
    /// address passes). Each rule ends by itself `seconds` after now by the node's clock (`-m time --datestop`,
    /// UTC), so a hold outlives no run by more than that. The app's earlier holds are replaced, in one
    /// `iptables-restore --noflush`. (`iptables-save` prints the comment quoted: the tag is matched without
    /// its `--comment`.) A Compose service's address (`serviceAddress`) is held too, every port of it, on every
    /// node: connections by name wait as well.
    public static func hold(_ app: String, ports: [Int], seconds: Int, serviceAddress: String? = nil) -> RemoteCommand {
        .script("""
            app=$1 secs=$2 vip=$3; shift 3
            until=$(date -u -d "@$(( $(date +%s) + secs ))" +%Y-%m-%dT%H:%M:%S) || exit 1
            {
              echo '*raw'
              iptables-save -t raw | grep -F "flocker-deploy:hold:$app:" | sed 's/^-A /-D /'
              if [ -n "$vip" ]; then
                for chain in PREROUTING OUTPUT; do
                  echo "-I $chain 1 -d $vip/32 -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m comment --comment flocker-deploy:hold:$app:name -m time --datestop $until -j DROP"
                done
              fi
              for p in "$@"; do
                for chain in PREROUTING OUTPUT; do
                  echo "-I $chain 1 -p tcp -m tcp --dport $p --tcp-flags FIN,SYN,RST,ACK SYN -m addrtype --dst-type LOCAL -m comment --comment flocker-deploy:hold:$app:$p -m time --datestop $until -j DROP"
                done
              done
              echo COMMIT
            } | iptables-restore --noflush
            """, name: "flocker-hold", [app, String(seconds), serviceAddress ?? ""] + ports.map(String.init))
    }

    /// Removes every connection-hold rule of `app` on this node (none is fine).
    public static func releaseHold(_ app: String) -> RemoteCommand {
        .script("""
            rules=$(iptables-save -t raw | grep -F "flocker-deploy:hold:$1:" | sed 's/^-A /-D /')
            [ -z "$rules" ] && exit 0
            printf '*raw\\n%s\\nCOMMIT\\n' "$rules" | iptables-restore --noflush
            """, name: "flocker-release-hold", [app])
    }

    /// Sets services' addresses and routes (`ServiceNetwork`): removals first, then additions, each idempotent
    /// (an address or route already gone is removed; `replace` adds or changes).
    public static func serviceRoutes(add: [RouteTag], remove: [RouteTag]) -> RemoteCommand {
        var words: [String] = []
        for t in remove {
            words += t.kind == .serviceAddress ? ["del-addr", t.service.address] : ["del-route", t.service.address]
        }
        for t in add {
            if t.kind == .serviceAddress { words += ["addr", t.service.address] }
            else if let via = t.service.via { words += ["route", t.service.address, via] }
        }
        return .script("""
            while [ $# -gt 0 ]; do
              case $1 in
                addr) ip addr replace "$2/32" dev lo || exit 1; shift 2 ;;
                route) ip route replace "$2/32" via "$3" || exit 1; shift 3 ;;
                del-addr) if ip -4 -o addr show dev lo | grep -qF " $2/32 "; then ip addr del "$2/32" dev lo || exit 1; fi; shift 2 ;;
                del-route) if [ -n "$(ip -4 route show "$2/32")" ]; then ip route del "$2/32" || exit 1; fi; shift 2 ;;
                *) exit 2 ;;
              esac
            done
            """, name: "flocker-service-routes", words)
    }

    /// The stdin of `restoreRoutes`: deletions first, then additions, one COMMIT per table.
    public static func routesInput(add: [RouteSpec], remove: [RouteRule]) -> [UInt8] {
        var text = ""
        for table in ["nat", "filter"] {
            let lines = remove.filter { $0.table == table }.map(\.deleteLine) + add.filter { $0.tag.table == table }.map(\.restoreLine)
            guard !lines.isEmpty else { continue }
            text += "*\(table)\n" + lines.joined(separator: "\n") + "\nCOMMIT\n"
        }
        return Array(text.utf8)
    }
}
