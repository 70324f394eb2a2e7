import Foundation

/// Copies a volume from its primary to a node: snapshot, then send what the target lacks (the whole dataset,
/// or the increment from the newest snapshot both have), relayed through this machine by default.
struct VolumeTransfer: Sendable {
    let options: ExecutionOptions

    /// Runs one copy (pre-copy rounds, or the final increment). Returns a note for the step line.
    func copy(
        _ volume: VolumeID, from source: any RemoteHost, sourceFacts: NodeFacts, to target: any RemoteHost,
        targetFacts: NodeFacts, final: Bool, snapshot: Bool = true, step: String,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws(StepFailure) -> (note: String, bytes: UInt64) {
        let rounds = final ? 1 : options.maxPreCopyRounds
        var total: UInt64 = 0
        var done = 0
        let clock = ContinuousClock()
        let start = clock.now
        for round in 1...rounds {
            let sent = try await oneRound(
                volume, from: source, sourceFacts: sourceFacts, to: target, targetFacts: targetFacts,
                snapshot: snapshot, step: step,
                round: round, progress: progress)
            total += sent
            done = round
            if sent <= options.preCopyThreshold { break }
        }
        if !final && total > options.preCopyThreshold {
            // Write what was received (and sent) out to disk now, while the application still runs, so that the
            // writeback of a large pre-copy does not slow the stop, final copy and start that follow.
            _ = try? await source.run(RemoteCommand("sync"), stdin: [], timeout: .seconds(300))
            _ = try? await target.run(RemoteCommand("sync"), stdin: [], timeout: .seconds(300))
        }
        let elapsed = clock.now - start
        let compressor = pickCompressor(sourceFacts, targetFacts).map { ", \($0)" } ?? ""
        return ("sent \(Bytes.human(total)) in \(done) round\(done == 1 ? "" : "s") (\(Bytes.rate(total, elapsed))\(compressor))", total)
    }

    /// `snapshot: false` sends up to the source's newest snapshot instead of taking a new one (a replica of a
    /// volume already snapshotted in this run gets that same snapshot, so that all copies share the newest).
    private func oneRound(
        _ volume: VolumeID, from source: any RemoteHost, sourceFacts: NodeFacts, to target: any RemoteHost,
        targetFacts: NodeFacts, snapshot takeSnapshot: Bool = true, step: String, round: Int, progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws(StepFailure) -> UInt64 {
        let ds = volume.dataset
        let incoming = NodeCommands.incomingDataset(volume)
        // A receive left running by an interrupted run would make this one fail ("dataset is busy"), and could
        // still change what the target holds: it is stopped before the target is looked at.
        let leftovers = try await target.run(NodeCommands.stopLeftoverReceives([ds, incoming]), step: step, timeout: .seconds(30))
        if leftovers.stdoutText.hasPrefix("stopped") {
            progress(TransferProgress(bytes: 0, expected: nil, elapsed: .zero, round: round, note: "stopped a receive left by an interrupted run (pid\(leftovers.stdoutText.dropFirst("stopped".count).trimmingCharacters(in: .whitespacesAndNewlines)))"))
        }
        guard let sourceState = try await query(volume, on: source, step: step) else {
            throw StepFailure(node: source.node, step: step, message: "volume \(ds) is missing here")
        }
        let targetState = try await query(volume, on: target, step: step)
        var base: SnapshotState?
        if let targetState {
            guard targetState.readonly else {
                throw StepFailure(node: target.node, step: step,
                    message: "refusing to receive into \(ds): it is writable here and may hold data the source lacks")
            }
            guard let newest = targetState.newestSnapshot,
                let shared = sourceState.snapshots.first(where: { $0.guid == newest.guid })
            else {
                throw StepFailure(node: target.node, step: step,
                    message: "refusing to receive into \(ds): its newest snapshot is not one the source has (the copies diverged)")
            }
            base = shared
            if targetState.quota != nil {
                try await check(target, NodeCommands.setProperties(ds, ["refquota=none"]), step: step)
            }
        }
        let sequence = ((sourceState.snapshots + (targetState?.snapshots ?? [])).compactMap(\.sequence).max() ?? 0) + 1
        var name = NodeCommands.snapshotName(sequence)
        if takeSnapshot {
            let taken = try await source.run(NodeCommands.snapshot(ds, sequence: sequence), step: step, timeout: options.commandTimeout)
            guard taken.status.isSuccess else {
                throw StepFailure(node: source.node, step: step, message: "zfs snapshot failed (\(taken.status))", stderr: trim(taken.stderrText))
            }
            let printed = trim(taken.stdoutText)
            if printed.hasPrefix("flocker-") { name = printed }
        }

        // Every snapshot the source has after the base travels, and a new copy starts from the source's oldest
        // one, not from the newest alone: the snapshots a primary keeps are the bases its other copies need for
        // their next incremental receive (see Planner.finish), and a copy whose base the primary lacks cannot
        // receive at all (moving an application node1 -> node2 -> node3 -> node1 was refused as "diverged"
        // without this). One `zfs send -i` per snapshot rather than one `-I`: zfs-fuse's `send -I` holds the
        // snapshots it sends and never releases them if it is killed (a receiver that ran out of space), which
        // leaves them impossible to destroy until zfs-fuse restarts.
        //
        // A new copy's first stream goes to a dataset of its own under `flocker/flocker-incoming` (see
        // NodeCommands.incomingDataset), unmounted, and takes the volume's name only once it is labelled a
        // read-only copy: a run killed between the receive and the labels leaves no writable, unlabelled dataset
        // under the volume's name (which the next run would have to refuse as a copy that may hold writes).
        let after = base.map { b in Array(sourceState.snapshots.drop { $0.guid != b.guid }.dropFirst()) } ?? sourceState.snapshots
        var streams: [(send: RemoteCommand, receive: RemoteCommand, expected: UInt64?)] = []
        var previous = base?.name
        for snapshot in after.map(\.name) + (takeSnapshot ? [name] : []) {
            streams.append((NodeCommands.send(ds, snapshot: snapshot, base: previous),
                            previous == nil ? NodeCommands.receive(incoming, force: false) : NodeCommands.receive(ds, force: true),
                            // zfs-fuse's `zfs send` gives no size estimate (`-n -v`): a full stream is about the
                            // dataset's referenced size, which is what progress shows as the total.
                            previous == nil && sourceState.referenced > 0 ? sourceState.referenced : nil))
            previous = snapshot
        }
        let clock = ContinuousClock()
        let start = clock.now
        var bytes: UInt64 = 0
        for (index, stream) in streams.enumerated() {
            if targetState == nil && index == 0 {
                // What an interrupted run left of a new copy never held anything but the source's data, and was
                // never mounted: it is cleared, and the first stream is received again.
                try await check(target, NodeCommands.prepareIncoming(incoming), step: step)
            }
            bytes += try await transfer(stream.send, stream.receive, expected: stream.expected, from: source, sourceFacts: sourceFacts,
                                        to: target, targetFacts: targetFacts, step: step, round: round, sentBefore: bytes,
                                        start: start, progress: progress)
            if targetState == nil && index == 0 {
                try await check(target, NodeCommands.setProperties(incoming, [
                    "readonly=on", "flocker:app=\(volume.app)", "flocker:volume=\(volume.volume)",
                    "flocker:role=copy",
                ] + NodeCommands.copyRecord(epoch: sourceState.epoch, primaryNode: source.node)), step: step)
                try await check(target, NodeCommands.rename(incoming, to: ds), step: step)
            }
        }
        // Nothing to send (a replica already at the primary's newest snapshot): the target is left as it is.
        if !streams.isEmpty && (targetState != nil || streams.count > 1) {
            try await check(target, NodeCommands.remount(ds), step: step)
        }
        if !streams.isEmpty {
            progress(TransferProgress(bytes: bytes, expected: streams.first?.expected, elapsed: clock.now - start, round: round))
        }
        return bytes
    }

    /// One stream from `source` to `target`, relayed through this machine or sent directly; returns the bytes.
    private func transfer(
        _ plainSend: RemoteCommand, _ plainReceive: RemoteCommand, expected: UInt64?, from source: any RemoteHost,
        sourceFacts: NodeFacts, to target: any RemoteHost, targetFacts: NodeFacts, step: String, round: Int,
        sentBefore before: UInt64, start: ContinuousClock.Instant, progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws(StepFailure) -> UInt64 {
        let clock = ContinuousClock()
        var send = plainSend
        var receive = plainReceive
        let compressor = pickCompressor(sourceFacts, targetFacts)
        if let c = compressor.flatMap(NodeCommands.compressor) {
            send = send.piped(into: c.compress)
            receive = c.decompress.piped(into: receive)
        }
        if options.directTransfer {
            let remote = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                          "\(options.directUser)@\(target.address)", receive.shellText]
            let result = try await source.run(send.piped(into: RemoteCommand(remote)), step: step, timeout: .seconds(86_400))
            guard result.status.isSuccess else {
                throw StepFailure(node: source.node, step: step,
                    message: "direct transfer to \(target.node) failed (\(result.status))", stderr: trim(result.stderrText))
            }
            return 0
        }
        let result: RelayResult
        do {
            result = try await source.relay(send, to: target, receive, idleTimeout: options.transferIdleTimeout) {
                bytes in
                progress(TransferProgress(bytes: before + bytes, expected: expected, elapsed: clock.now - start, round: round,
                                          compressor: compressor))
            }
        } catch {
            throw StepFailure(error, step: step)
        }
        guard result.isSuccess else {
            var parts: [String] = []
            if !result.sender.status.isSuccess && !(result.sender.status == .signaled("PIPE") && !result.receiver.status.isSuccess) {
                parts.append("\(source.node): \(send.programs): \(result.sender.status): \(trim(result.sender.stderrText))")
            }
            if !result.receiver.status.isSuccess {
                parts.append("\(target.node): \(receive.programs): \(result.receiver.status): \(trim(result.receiver.stderrText))")
            }
            let failedNode = result.receiver.status.isSuccess ? source.node : target.node
            throw StepFailure(node: failedNode, step: step, message: "transfer failed", stderr: parts.joined(separator: "\n"))
        }
        return result.bytes
    }

    func pickCompressor(_ a: NodeFacts, _ b: NodeFacts) -> String? {
        guard options.compression else { return nil }
        return a.compressors.first { b.compressors.contains($0) && NodeCommands.compressor($0) != nil }
    }

    /// The volume's dataset on `host` now (with its snapshots), or nil when it has none.
    func query(_ volume: VolumeID, on host: any RemoteHost, step: String) async throws(StepFailure) -> DatasetState? {
        let result = try await host.run(NodeCommands.snapshots(volume.dataset), step: step, timeout: options.queryTimeout)
        guard result.status.isSuccess else {
            throw StepFailure(node: host.node, step: step, message: "could not list \(volume.dataset)", stderr: trim(result.stderrText))
        }
        if result.stdoutText.hasPrefix("absent") { return nil }
        let lines = result.stdoutText.split(separator: "\n", omittingEmptySubsequences: false)
        return DiscoveryScript.parseZFS(lines).0[volume]
    }

    func check(_ host: any RemoteHost, _ command: RemoteCommand, step: String) async throws(StepFailure) {
        try await host.check(command, step: step, timeout: options.commandTimeout)
    }
}


/// Byte counts for people.
public enum Bytes {
    public static func human(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    public static func rate(_ n: UInt64, _ elapsed: Duration) -> String {
        let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard s > 0 else { return "-" }
        return human(UInt64(Double(n) / s)) + "/s"
    }
}
