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

extension NodeCommands {
    /// `rollback` of one volume (see `Action.rollback`), resumable: each part is skipped when it is done already,
    /// and the script ignores hangups, so that a run killed meanwhile does not stop it between its two renames.
    /// The clone is made under `flocker/flocker-incoming` (not a volume's name, so nothing sees it as one) with
    /// the volume's labels.
    public static func rollback(_ v: VolumeID, source: String, snapshot: String, keep: String, preRollback: String, epoch: Int) -> RemoteCommand {
        .script("""
            trap '' HUP PIPE
            ds=$1 src=$2 snap=$3 keep=$4 pre=$5 app=$6 vol=$7 epoch=$8
            # One clone per target snapshot: never mounted, so it holds exactly that snapshot's data when a run
            # that made it was interrupted.
            tmp=flocker/flocker-incoming/$app.$vol-rollback-to-$snap
            exists() { zfs list -H -o name "$1" >/dev/null 2>&1; }
            # zfs-fuse calls a dataset busy for a moment after a promote or an unmount: renames are tried again.
            rename() { i=0; while ! zfs rename "$1" "$2" 2>/dev/null; do i=$((i + 1)); [ $i -lt 20 ] || { zfs rename "$1" "$2"; return 1; }; sleep 0.5; done; }
            exists flocker/flocker-incoming || zfs create -o mountpoint=none flocker/flocker-incoming || exists flocker/flocker-incoming || exit 1
            if ! exists "$keep"; then
              exists "$ds@$pre" || zfs snapshot "$ds@$pre" || exit 1
              if ! exists "$tmp"; then
                zfs clone -o readonly=off -o mountpoint=none -o "flocker:app=$app" -o "flocker:volume=$vol" \
                  -o flocker:role=primary -o "flocker:epoch=$epoch" "$src@$snap" "$tmp" || exit 1
              fi
              # Promoted until it is no clone: it then holds every snapshot of its line, and the rest stay where they are.
              i=0
              while [ "$(zfs get -H -o value origin "$tmp")" != "-" ] && [ $i -lt 20 ]; do zfs promote "$tmp" || exit 1; i=$((i + 1)); done
              zfs umount "$ds" 2>/dev/null
              rename "$ds" "$keep" || { zfs mount "$ds" 2>/dev/null; exit 1; }
            fi
            zfs set readonly=on "$keep" && zfs set flocker:role=diverged "$keep" || exit 1
            if exists "$tmp"; then
              exists "$ds" && { echo "$ds exists beside $tmp" >&2; exit 1; }
              if ! rename "$tmp" "$ds"; then
                # The volume's name must never stay empty: the state it had comes back under it, with its
                # snapshots (the promote gave them to the clone: promoting it back returns them), and the run fails.
                zfs inherit readonly "$keep"; zfs set flocker:role=primary "$keep"; rename "$keep" "$ds"; zfs mount "$ds" 2>/dev/null
                [ "$(zfs get -H -o value origin "$ds")" = "-" ] || zfs promote "$ds"
                [ "$(zfs get -H -o value origin "$tmp")" = "-" ] || zfs destroy "$tmp"
                exit 1
              fi
              zfs inherit mountpoint "$ds" || exit 1
            fi
            [ "$(zfs get -H -o value mounted "$ds")" = yes ] || zfs mount "$ds" || exit 1
            """, name: "flocker-rollback", [v.dataset, source, snapshot, keep, preRollback, v.app, v.volume, String(epoch)])
    }
}
