import Foundation

/// The one command discovery runs on each node (one round trip), and the parser of its output.
///
/// The script is a constant: it takes no argument and no manifest value. It only reads (docker ps/inspect/
/// images, zfs get, iptables-save), so a converged run changes nothing on any node. Each section starts with
/// a marker line; a failing probe leaves its section empty and adds a `problem` line.
public enum DiscoveryScript {
    public static let marker = "@@flocker-discovery "

    /// Arguments: `versions` (for `status`) also asks the Docker server for its version, which costs as much
    /// node CPU as the rest of the script together (a deploy only needs to know that docker answers, which
    /// `docker ps`'s exit status tells); `images` lists the images present (for pull steps).
    ///
    /// What a no-op converge waits for is this script (issue 14), so it asks each program once and asks
    /// Docker, the slowest to answer, in the background: one `docker ps` lists both the applications' and
    /// the clones' containers (section `docker`, split by `parse`), and prints its sections straight away
    /// while `zpool`, `zfs` and `iptables-save` run meanwhile and keep what they print in variables until
    /// Docker is done, so that no two sections interleave. Both tables of routing rules come from one
    /// `iptables-save`; the host name is read without a program where /proc has it.
    public static let text: StaticString = """
        export LC_ALL=C PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
        m='@@flocker-discovery '
        versions=; images=
        for a in "$@"; do case $a in versions) versions=1 ;; images) images=1 ;; esac; done
        {
          echo "${m}docker"
          docker ps -a --no-trunc --format '{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Image}}\t{{.Label "flocker.app"}}\t{{.Label "flocker.config-hash"}}\t{{.Label "flocker.restart"}}\t{{.Status}}\t{{.Ports}}\t{{.Mounts}}\t{{.Label "flocker.clone"}}\t{{.Label "flocker.clone-of"}}\t{{.Label "flocker.snapshot"}}\t{{.Label "flocker.ports"}}\t{{.Label "flocker.created"}}\t{{.Label "flocker.expires"}}\t{{.Label "flocker.volumes"}}\t{{.Label "flocker.unpublished"}}' 2>/dev/null
          d=$?
          echo "${m}facts"
          if [ "$d" = 0 ]; then echo "docker answers"; else echo "problem docker is not answering (docker ps failed)"; fi
          if [ -n "$versions" ] && v=$(docker version --format '{{.Server.Version}}' 2>/dev/null); then echo "docker $v"; fi
          if [ -n "$images" ]; then echo "${m}images"; docker images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null; fi
        } &
        h=; [ -r /proc/sys/kernel/hostname ] && read -r h < /proc/sys/kernel/hostname; [ -n "$h" ] || h=$(uname -n)
        pool=$(zpool get version flocker 2>/dev/null)
        zfs=$(zfs get -H -p -r -o name,property,value,source type,guid,createtxg,creation,readonly,mountpoint,referenced,refquota,available,used,origin,flocker:app,flocker:volume,flocker:role,flocker:epoch,flocker:checked,flocker:primary-node flocker 2>/dev/null)
        clones=$(zfs get -H -p -r -o name,property,value flocker:clone,flocker:clone-of,flocker:snapshot,flocker:ports,flocker:created,flocker:expires flocker/flocker-clones 2>/dev/null)
        rules=$(iptables-save 2>/dev/null | awk -v m="$m" '/^[*]/ { print m "table " substr($0, 2); next } /flocker-deploy:/')
        svc=$({ ip -4 -o addr show dev lo; echo; ip -4 route show; } 2>/dev/null | awk '$2 == "lo" && $4 ~ /^10[.]233[.]/ { sub("/32$", "", $4); print "addr " $4 } $1 ~ /^10[.]233[.]/ && $2 == "via" { print "route " $1 " " $3 }')
        wait
        echo "${m}facts"
        echo "hostname $h"
        set -f; set -- $pool; set +f
        if [ "${5:-}" = flocker ] && [ "${6:-}" = version ] && [ -n "${7:-}" ]; then echo "pool $7"; else echo "problem pool flocker not found (zpool get version flocker)"; fi
        for c in zstd lz4 bash; do command -v "$c" >/dev/null 2>&1 && echo "has $c"; done
        echo "${m}zfs"
        [ -z "$zfs" ] || printf '%s\n' "$zfs"
        echo "${m}clones"
        [ -z "$clones" ] || printf '%s\n' "$clones"
        echo "${m}iptables"
        [ -z "$rules" ] || printf '%s\n' "$rules"
        echo "${m}services"
        [ -z "$svc" ] || printf '%s\n' "$svc"
        echo "${m}files"
        for a in /var/lib/flocker-deploy/files/*/; do
          [ -d "$a" ] || continue; a=${a%/}; echo "app ${a##*/}"
          for f in "$a"/*/ "$a"/.incoming-*/; do [ -d "$f" ] && { f=${f%/}; echo "set ${a##*/} ${f##*/}"; }; done
        done
        echo "${m}locks"
        for l in /var/lib/flocker-deploy/lock /var/lib/flocker-deploy/lock-app-*; do
          [ -d "$l" ] || continue
          now=$(date +%s); hb=$(stat -c %Y "$l/heartbeat" 2>/dev/null || stat -c %Y "$l" 2>/dev/null || echo "$now")
          i=$(head -n 1 "$l/info" 2>/dev/null); printf 'lock %s %s %s\n' "${l##*/}" "$((now - hb))" "$i"
        done
        echo "${m}end"
        """

    /// The command to run: `withVersions` adds the Docker server's version, `withImages` the images present.
    public static func command(withVersions: Bool = false, withImages: Bool = true) -> RemoteCommand {
        .script(text, name: "flocker-discovery", (withVersions ? ["versions"] : []) + (withImages ? ["images"] : []))
    }

    /// Parses the script's output into a node's state.
    public static func parse(_ output: String, node: String, address: String) -> NodeState {
        var sections: [String: [Substring]] = [:]
        var current = ""
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(marker) {
                current = String(line.dropFirst(marker.count))
                sections[current] = sections[current] ?? []
            } else if !current.isEmpty {
                sections[current, default: []].append(line)
            }
        }
        var state = NodeState(node: node, address: address)
        state.facts = parseFacts(sections["facts"] ?? [])
        if sections["end"] == nil {
            state.facts.problems.append("discovery output was cut short")
        }
        let (containerLines, cloneContainerLines) = splitDocker(sections["docker"] ?? [])
        state.containers = parseContainers((sections["containers"] ?? []) + containerLines)
        let (datasets, poolMount, poolAvailable) = parseZFS(sections["zfs"] ?? [])
        state.datasets = datasets
        state.dependents = parseDependents(sections["zfs"] ?? [])
        state.clones = parseClones(sections["clones"] ?? [], containers: (sections["clone-containers"] ?? []) + cloneContainerLines)
        if let poolMount { state.facts.poolMountpoint = poolMount }
        state.facts.poolAvailable = poolAvailable
        state.routes = parseRoutes(sections["table nat"] ?? [], table: "nat")
            + parseRoutes(sections["table filter"] ?? [], table: "filter")
        state.holds = parseHolds(sections["table raw"] ?? [])
        state.files = parseFiles(sections["files"] ?? [])
        state.locks = parseLocks(sections["locks"] ?? [])
        for line in sections["services"] ?? [] {
            let words = line.split(separator: " ").map(String.init)
            if words.count == 2, words[0] == "addr", ServiceNetwork.contains(words[1]) { state.serviceAddresses.append(words[1]) }
            if words.count == 3, words[0] == "route", ServiceNetwork.contains(words[1]) { state.serviceRoutes[words[1]] = words[2] }
        }
        state.images = sections["images"].map { lines in
            Set(lines.map { ImageName.normalized(String($0)) }.filter { !$0.isEmpty && !$0.hasPrefix("<none>") })
        }
        return state
    }

    /// `lock NAME IDLE INFO`: a run lock on the node (the node's own `lock`, or `lock-app-APP`), seconds since its
    /// holder's heartbeat, and the holder's record (one line of JSON, possibly empty).
    static func parseLocks(_ lines: [Substring]) -> [LockSeen] {
        lines.compactMap { line in
            let f = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard f.count >= 3, f[0] == "lock", f[1] == "lock" || f[1].hasPrefix("lock-app-"), let idle = Int(f[2]) else { return nil }
            let app = f[1].hasPrefix("lock-app-") ? String(f[1].dropFirst("lock-app-".count)) : nil
            return LockSeen(app: app, idleSeconds: max(0, idle), holder: f.count > 3 ? RunLock.decode(String(f[3])) : nil)
        }
    }

    static func parseFacts(_ lines: [Substring]) -> NodeFacts {
        var facts = NodeFacts()
        facts.hasBash = false
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "hostname": facts.hostname = parts[1]
            case "docker":
                if parts[1] == "answers" { facts.dockerAnswers = true } else { facts.dockerVersion = parts[1] }
            case "pool": facts.poolVersion = parts[1]
            case "has":
                if parts[1] == "bash" { facts.hasBash = true } else { facts.compressors.append(parts[1]) }
            case "problem": facts.problems.append(parts[1])
            default: break
            }
        }
        return facts
    }

    /// Splits the lines of the one `docker ps` (every container, 18 fields) into those of the applications'
    /// containers (label `flocker.app`: the 10 fields `parseContainers` reads, and `flocker.unpublished`) and those of the clones'
    /// (label `flocker.clone`: the 8 fields of `parseClones`). Containers with neither label are not ours.
    static func splitDocker(_ lines: [Substring]) -> (containers: [Substring], clones: [Substring]) {
        var containers: [Substring] = []
        var clones: [Substring] = []
        for line in lines {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count >= 17 else { continue }
            if !f[4].isEmpty { containers.append(Substring((f[0..<10] + [f.count > 17 ? f[17] : ""]).joined(separator: "\t"))) }
            if !f[10].isEmpty { clones.append(Substring(([f[10], f[2]] + f[11..<17]).joined(separator: "\t"))) }
        }
        return (containers, clones)
    }

    /// Parses `docker ps --format` lines: ID, name, state, image, and the labels flocker.app, flocker.config-hash
    /// and flocker.restart (the restart policy the container was started with; a fallback kept after a move has
    /// Docker's policy set to `no`, and a rollback restores this one), Docker's status text, published ports and
    /// mounts.
    static func parseContainers(_ lines: [Substring]) -> [String: ContainerState] {
        var result: [String: ContainerState] = [:]
        for line in lines {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 8, !f[4].isEmpty, f[1] == NodeCommands.containerName(f[4]) else { continue }
            result[f[4]] = ContainerState(
                app: f[4], id: f[0], configHash: f[5], running: f[2] == "running", status: f[2], image: f[3],
                restartPolicy: f[6].isEmpty ? "no" : f[6], startedAt: f[7],
                ports: f.count > 8 ? f[8] : "", mounts: f.count > 9 ? f[9] : "")
            if f.count > 10, !f[10].isEmpty { result[f[4]]?.unpublished = f[10].split(separator: ",").map(String.init) }
        }
        return result
    }

    static func parseZFS(_ lines: [Substring]) -> ([VolumeID: DatasetState], String?, UInt64?) {
        // name → property → value. Lines are NAME, PROPERTY, VALUE and optionally SOURCE (tab-separated).
        var props: [String: [String: String]] = [:]
        for line in lines {
            let f = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3 else { continue }
            props[f[0], default: [:]][f[1]] = f[2]
            if f.count == 4 { props[f[0], default: [:]][f[1] + "@source"] = f[3] }
        }
        let poolMount = props["flocker"]?["mountpoint"]
        let poolAvailable = props["flocker"]?["available"].flatMap { UInt64($0) }
        var datasets: [VolumeID: DatasetState] = [:]
        var snapshots: [VolumeID: [SnapshotState]] = [:]
        var otherSnapshots: [VolumeID: [SnapshotState]] = [:]
        for (name, p) in props {
            if let at = name.firstIndex(of: "@") {
                guard let id = VolumeID(dataset: String(name[..<at])) else { continue }
                let snap = String(name[name.index(after: at)...])
                let state = SnapshotState(
                    name: snap, guid: p["guid"] ?? "", createtxg: UInt64(p["createtxg"] ?? "") ?? 0,
                    creation: Int(p["creation"] ?? "") ?? 0, checked: Int(p["flocker:checked"] ?? ""),
                    used: UInt64(p["used"] ?? "") ?? 0)
                if snap.hasPrefix("flocker-") { snapshots[id, default: []].append(state) }
                else { otherSnapshots[id, default: []].append(state) }
                continue
            }
            guard p["type"] == "filesystem", let id = VolumeID(dataset: name) else { continue }
            let quota = UInt64(p["refquota"] ?? "") ?? 0
            datasets[id] = DatasetState(
                id: id,
                role: p["flocker:role"] == "primary" ? .primary : (p["flocker:role"] == "diverged" ? .diverged : .copy),
                epoch: Int(p["flocker:epoch"] ?? "") ?? 0,
                readonly: Self.isReadOnly(value: p["readonly"], source: p["readonly@source"]),
                mountpoint: p["mountpoint"] ?? "",
                referenced: UInt64(p["referenced"] ?? "") ?? 0,
                quota: quota == 0 ? nil : quota)
            if let recorded = p["flocker:primary-node"], recorded != "-", !recorded.isEmpty { datasets[id]?.primaryNode = recorded }
        }
        for (id, snaps) in snapshots where datasets[id] != nil {
            datasets[id]?.snapshots = snaps.sorted { ($0.createtxg, $0.sequence ?? 0, $0.name) < ($1.createtxg, $1.sequence ?? 0, $1.name) }
        }
        for (id, snaps) in otherSnapshots where datasets[id] != nil {
            datasets[id]?.otherSnapshots = snaps.sorted { ($0.createtxg, $0.name) < ($1.createtxg, $1.name) }
        }
        return (datasets, poolMount, poolAvailable)
    }

    /// Clones in pool `flocker` by the snapshot they were made from (`origin`, `DATASET@SNAPSHOT`), each list
    /// sorted: what keeps a snapshot from being destroyed.
    static func parseDependents(_ lines: [Substring]) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for line in lines {
            let f = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3, f[1] == "origin", f[2].contains("@"), !f[0].contains("@") else { continue }
            result[f[2], default: []].append(f[0])
        }
        return result.mapValues { $0.sorted() }
    }

    /// Clones by name, from their datasets' user properties and their containers' labels (either is enough).
    static func parseClones(_ lines: [Substring], containers: [Substring]) -> [String: CloneState] {
        var props: [String: [String: String]] = [:]
        for line in lines {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3, f[2] != "-", !f[0].contains("@") else { continue }
            props[f[0], default: [:]][f[1]] = f[2]
        }
        func spec(_ name: String, _ p: [String: String], volumes: [String]) -> CloneSpec {
            CloneSpec(name: name, app: p["flocker:clone-of"] ?? "", snapshot: p["flocker:snapshot"] ?? "",
                      ports: CloneNames.parsePorts(p["flocker:ports"] ?? ""), created: Int(p["flocker:created"] ?? "") ?? 0,
                      expires: Int(p["flocker:expires"] ?? ""), volumes: volumes)
        }
        var result: [String: CloneState] = [:]
        for (dataset, p) in props.sorted(by: { $0.key < $1.key }) {
            guard let name = p["flocker:clone"], let dot = dataset.lastIndex(of: ".") else { continue }
            let volume = String(dataset[dataset.index(after: dot)...])
            var clone = result[name] ?? CloneState(spec: spec(name, p, volumes: []), datasets: [:], container: nil)
            clone.datasets[volume] = dataset
            result[name] = clone
        }
        for line in containers {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 8, !f[0].isEmpty else { continue }
            let volumes = f[7].split(separator: ",").map(String.init)
            let p = ["flocker:clone-of": f[2], "flocker:snapshot": f[3], "flocker:ports": f[4], "flocker:created": f[5], "flocker:expires": f[6]]
            var clone = result[f[0]] ?? CloneState(spec: spec(f[0], p, volumes: volumes), datasets: [:], container: nil)
            clone.container = f[1]
            clone.spec.volumes = volumes
            result[f[0]] = clone
        }
        // Without a container, the volumes are those whose datasets are there.
        for (name, clone) in result where clone.container == nil {
            result[name]?.spec.volumes = clone.datasets.keys.sorted()
        }
        return result
    }

    /// Whether a dataset is read-only, from `zfs get readonly`'s value and source. A `temporary` source means
    /// a mount option overrides what `zfs get` shows: zfs-fuse mounts every dataset `rw` at the FUSE level and
    /// enforces `readonly=on` itself, so a dataset set read-only reads `off temporary` there (writes still
    /// fail with EROFS). Either way the property was set to something the mount does not show; the only
    /// flocker-deploy ever sets that way is `readonly=on`, so `temporary` reads as read-only.
    static func isReadOnly(value: String?, source: String?) -> Bool {
        value == "on" || source == "temporary"
    }

    /// `app APP` and `set APP HASH` lines: the applications with uploaded files on the node, and their sets.
    static func parseFiles(_ lines: [Substring]) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for line in lines {
            let f = line.split(separator: " ").map(String.init)
            if f.count == 2, f[0] == "app" { result[f[1], default: []] = result[f[1]] ?? [] }
            if f.count == 3, f[0] == "set" { result[f[1], default: []].insert(f[2]) }
        }
        return result
    }

    /// The applications of the connection-hold rules (`flocker-deploy:hold:APP:PORT` comments, raw table).
    static func parseHolds(_ lines: [Substring]) -> Set<String> {
        Set(lines.compactMap { line -> String? in
            guard line.hasPrefix("-A "), let r = line.range(of: NodeCommands.holdTagPrefix) else { return nil }
            let app = line[r.upperBound...].prefix { $0 != ":" && $0 != " " && $0 != "\"" }
            return app.isEmpty ? nil : String(app)
        })
    }

    /// Parses `iptables-save` lines carrying a flocker-deploy comment.
    static func parseRoutes(_ lines: [Substring], table: String) -> [RouteRule] {
        var rules: [RouteRule] = []
        for line in lines where line.hasPrefix("-A ") {
            let afterA = line.dropFirst(3)
            guard let space = afterA.firstIndex(of: " ") else { continue }
            let chain = String(afterA[..<space])
            let ruleText = String(afterA[afterA.index(after: space)...])
            guard let range = ruleText.range(of: "--comment ") else { continue }
            var comment = ruleText[range.upperBound...].prefix { $0 != " " }
            if comment.hasPrefix("\"") { comment = comment.dropFirst() }
            if comment.hasSuffix("\"") { comment = comment.dropLast() }
            guard let tag = RouteTag(comment: String(comment)) else { continue }
            rules.append(RouteRule(table: table, chain: chain, tag: tag, ruleText: ruleText))
        }
        return rules
    }
}
