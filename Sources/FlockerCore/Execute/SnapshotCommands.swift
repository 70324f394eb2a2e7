/// The remote commands of `snapshot create` and `snapshot destroy` (see `SnapshotPlanner`).
extension NodeCommands {
    /// Snapshots every dataset as `name` at one moment where ZFS can (one `zfs snapshot` of all of them: OpenZFS
    /// takes them in one transaction), otherwise one after another (zfs-fuse takes one per call). Snapshots that
    /// exist already are kept (an interrupted run took them): the rest are taken. `stopping`: the container of
    /// that application is stopped first and started again after, whatever happened in between. Prints how the
    /// snapshots were taken.
    public static func takeSnapshot(_ datasets: [String], name: String, stopping app: String?) -> RemoteCommand {
        .script("""
            name=$1 container=$2; shift 2
            missing=0
            for ds in "$@"; do zfs list -H -o name -t snapshot "$ds@$name" >/dev/null 2>&1 || missing=$((missing + 1)); done
            if [ $missing = 0 ]; then echo "there already (taken by an earlier run)"; exit 0; fi
            if [ -n "$container" ]; then docker stop "$container" >/dev/null || exit 1; fi
            total=$#
            for ds in "$@"; do set -- "$@" "$ds@$name"; shift; done
            how="at one moment"
            rc=0
            if [ $missing != $total ] || [ $total = 1 ] || ! zfs snapshot "$@" 2>/dev/null; then
              [ $total = 1 ] || how="one after another (this ZFS takes one snapshot per call)"
              for s in "$@"; do
                zfs list -H -o name -t snapshot "$s" >/dev/null 2>&1 && continue
                zfs snapshot "$s" || { rc=1; break; }
              done
            fi
            if [ -n "$container" ]; then docker start "$container" >/dev/null || rc=1; fi
            [ $rc = 0 ] && echo "$total volume$([ $total = 1 ] || echo s) $how$([ -n "$container" ] && echo ", $container stopped around it")"
            exit $rc
            """, name: "flocker-take-snapshot", [name, app.map(containerName) ?? ""] + datasets)
    }

    /// Destroys one snapshot, never with `-r` or `-R`; one that is gone already is a success. A clone made
    /// from it fails the command (ZFS refuses), naming it.
    public static func destroySnapshot(_ dataset: String, _ name: String) -> RemoteCommand {
        .script("""
            s="$1@$2"
            zfs list -H -o name -t snapshot "$s" >/dev/null 2>&1 || { echo "gone already"; exit 0; }
            out=$(zfs destroy "$s" 2>&1) && { echo destroyed; exit 0; }
            zfs list -H -o name -t snapshot "$s" >/dev/null 2>&1 || { echo "gone already"; exit 0; }
            printf '%s\\n' "$out" >&2
            c=$(zfs get -H -o name,value -r origin flocker 2>/dev/null | awk -v s="$s" '$2 == s { print $1 }')
            [ -n "$c" ] && printf 'clones made from it: %s\\n' "$c" >&2
            exit 1
            """, name: "flocker-destroy-snapshot", [dataset, name])
    }
}
