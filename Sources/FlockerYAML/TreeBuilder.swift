/// Builds one document's node tree from libyaml events, without recursion.
///
/// Open sequences and mappings live on an explicit stack (`frames`), so nesting costs heap, not
/// call stack, and is capped at `maxDepth` anyway. A finished node is a value; copying it for an
/// alias only retains its storage, so an alias costs O(1) time and memory here, and the budget
/// below bounds the size of the tree every consumer walks.
///
/// Checks made while building: one document; no tags; scalar keys only; unique keys; merge keys
/// applied; aliases defined, non-recursive and within the expansion budget; nesting depth.
struct TreeBuilder {
    /// A finished node with the facts the limits need.
    private struct Built {
        var node: YAMLNode
        /// Nodes in the subtree, counting merged mappings in full (an upper bound after `<<`).
        var size: Int
        /// Collection levels in the subtree: 0 for a scalar, 1 for a flat list (an upper bound after `<<`).
        var height: Int
    }

    private enum Anchor {
        /// Its node is still being built: an alias to it would be recursive.
        case open
        case defined(Built)
    }

    private struct PendingKey {
        var node: YAMLNode
        var size: Int
        var isMerge: Bool
    }

    /// An open sequence or mapping.
    private struct Frame {
        let isMapping: Bool
        let mark: Mark
        let anchor: String?
        var items: [YAMLNode] = []
        /// The explicitly written pairs, in order.
        var pairs: [YAMLNode.Pair] = []
        /// The key waiting for its value.
        var pendingKey: PendingKey?
        /// Where each explicit key was written, by text.
        var keyMarks: [String: Mark] = [:]
        /// Where the merge key `<<` was written, if it was.
        var mergeMark: Mark?
        /// The index in `pairs` where merged pairs go.
        var mergeIndex = 0
        /// The mappings named by `<<`, earliest (strongest) first.
        var mergeSources: [[YAMLNode.Pair]] = []
        var size = 1
        var height = 1

        init(isMapping: Bool, mark: Mark, anchor: String?) {
            self.isMapping = isMapping
            self.mark = mark
            self.anchor = anchor
        }
    }

    private enum Phase { case beforeStream, beforeDocument, inDocument, afterDocument, done }

    let file: String
    let maxDepth: Int
    let aliasNodeBudget: Int

    private var phase = Phase.beforeStream
    private var frames: [Frame] = []
    private var anchors: [String: Anchor] = [:]
    /// Nodes added so far by expanding aliases.
    private var aliasNodes = 0
    private var root: Built?
    private var documentMark = Mark.start

    init(file: String, maxDepth: Int, aliasNodeBudget: Int) {
        self.file = file
        self.maxDepth = maxDepth
        self.aliasNodeBudget = aliasNodeBudget
    }

    /// The document's root, once the stream has ended.
    var result: YAMLNode? { phase == .done ? root?.node : nil }

    private func fail(_ code: YAMLError.Code, _ mark: Mark, _ message: String) -> YAMLError {
        YAMLError(code: code, file: file, mark: mark, message: message)
    }

    /// Consumes one event. Returns `false` once nothing more is needed (the stream ended).
    mutating func consume(_ event: Event) throws(YAMLError) -> Bool {
        switch event.kind {
        case .streamStart:
            phase = .beforeDocument
        case .streamEnd:
            guard root != nil else {
                throw fail(.emptyDocument, .start, "empty document: expected a mapping, but the file has no content")
            }
            phase = .done
            return false
        case .documentStart:
            if phase == .afterDocument {
                throw fail(
                    .multipleDocuments, event.start,
                    "multiple documents: a second document starts here; the file must hold exactly one")
            }
            phase = .inDocument
            documentMark = event.start
        case .documentEnd:
            phase = .afterDocument
        case .alias(let name):
            try alias(name, at: event.start)
        case .scalar(let value, let style, let anchor, let tag):
            try checkTag(tag, at: event.start)
            if frames.isEmpty, value.isEmpty, style == .plain, anchor == nil, event.start == event.end {
                // libyaml's stand-in for a document with no content (`---` alone, or a comment).
                throw fail(
                    .emptyDocument, documentMark, "empty document: expected a mapping, but the document has no content")
            }
            let built = Built(node: YAMLNode(.scalar(value, style), mark: event.start), size: 1, height: 0)
            if let anchor { anchors[anchor] = .defined(built) }
            try attach(built, at: event.start)
        case .sequenceStart(let anchor, let tag):
            try open(isMapping: false, anchor: anchor, tag: tag, at: event.start)
        case .mappingStart(let anchor, let tag):
            try open(isMapping: true, anchor: anchor, tag: tag, at: event.start)
        case .sequenceEnd, .mappingEnd:
            try close(at: event.start)
        case .none:
            break
        }
        return true
    }

    private func checkTag(_ tag: String?, at mark: Mark) throws(YAMLError) {
        guard var tag else { return }
        let core = "tag:yaml.org,2002:"
        if tag.hasPrefix(core) { tag = "!!" + tag.dropFirst(core.count) }
        throw fail(
            .tagNotSupported, mark,
            "tag \(Self.quoted(tag)) is not supported; remove it (quote the value if it must stay a string)")
    }

    private mutating func open(isMapping: Bool, anchor: String?, tag: String?, at mark: Mark) throws(YAMLError) {
        try checkTag(tag, at: mark)
        if let top = frames.indices.last, frames[top].isMapping, frames[top].pendingKey == nil {
            throw fail(.nonScalarKey, mark, "mapping key must be a string, found \(isMapping ? "a mapping" : "a list")")
        }
        guard frames.count < maxDepth else {
            throw fail(.tooDeep, mark, "nesting deeper than \(maxDepth) levels")
        }
        if let anchor { anchors[anchor] = .open }
        frames.append(Frame(isMapping: isMapping, mark: mark, anchor: anchor))
    }

    private mutating func close(at mark: Mark) throws(YAMLError) {
        guard var frame = frames.popLast() else {
            throw fail(.syntax, mark, "unexpected end of a collection")
        }
        let node: YAMLNode
        if frame.isMapping {
            if frame.mergeMark != nil { applyMerge(&frame) }
            node = YAMLNode(.mapping(frame.pairs), mark: frame.mark)
        } else {
            node = YAMLNode(.sequence(frame.items), mark: frame.mark)
        }
        let built = Built(node: node, size: frame.size, height: frame.height)
        if let anchor = frame.anchor { anchors[anchor] = .defined(built) }
        try attach(built, at: frame.mark)
    }

    private mutating func alias(_ name: String, at mark: Mark) throws(YAMLError) {
        let built: Built
        switch anchors[name] {
        case nil:
            throw fail(
                .undefinedAlias, mark,
                "undefined alias \(Self.quoted("*" + name)); define the anchor \(Self.quoted("&" + name)) before using it"
            )
        case .open?:
            throw fail(
                .undefinedAlias, mark,
                "alias \(Self.quoted("*" + name)) refers to a node that contains it; recursive aliases are not supported"
            )
        case .defined(let value)?:
            built = value
        }
        guard built.size <= aliasNodeBudget - aliasNodes else {
            throw fail(
                .aliasBudgetExceeded, mark,
                "alias \(Self.quoted("*" + name)) expands the document beyond \(aliasNodeBudget) nodes added by aliases (an alias bomb?)"
            )
        }
        aliasNodes += built.size
        guard frames.count + built.height <= maxDepth else {
            throw fail(
                .tooDeep, mark, "nesting deeper than \(maxDepth) levels (through alias \(Self.quoted("*" + name)))")
        }
        try attach(built, at: mark)
    }

    /// Adds a finished node to the open collection, or makes it the root. `mark` is where it is
    /// written (an alias's own position, not its definition's).
    private mutating func attach(_ built: Built, at mark: Mark) throws(YAMLError) {
        guard let top = frames.indices.last else {
            root = built
            return
        }
        if !frames[top].isMapping {
            frames[top].items.append(built.node)
            frames[top].size += built.size
            frames[top].height = max(frames[top].height, built.height + 1)
            return
        }
        if let key = frames[top].pendingKey {
            frames[top].pendingKey = nil
            frames[top].size += key.size + built.size
            if key.isMerge {
                try merge(built, at: mark, into: top)
            } else {
                frames[top].pairs.append(YAMLNode.Pair(key: key.node, value: built.node))
                frames[top].height = max(frames[top].height, built.height + 1)
            }
            return
        }
        // A key.
        guard case .scalar(let text, let style) = built.node.kind else {
            throw fail(.nonScalarKey, mark, "mapping key must be a string, found \(built.node.kindName)")
        }
        if style == .plain, text == "<<" {
            if let first = frames[top].mergeMark {
                throw fail(.duplicateKey, mark, "duplicate key \"<<\" (first defined at \(first))")
            }
            frames[top].mergeMark = mark
            frames[top].pendingKey = PendingKey(node: built.node, size: built.size, isMerge: true)
            return
        }
        if let first = frames[top].keyMarks[text] {
            throw fail(.duplicateKey, mark, "duplicate key \(Self.quoted(text)) (first defined at \(first))")
        }
        frames[top].keyMarks[text] = mark
        frames[top].pendingKey = PendingKey(node: built.node, size: built.size, isMerge: false)
    }

    /// Records the mappings a `<<` names; they are applied when the mapping ends.
    private mutating func merge(_ built: Built, at mark: Mark, into top: Int) throws(YAMLError) {
        let expected = "the merge key \"<<\" needs a mapping or a list of mappings"
        var sources: [[YAMLNode.Pair]] = []
        switch built.node.kind {
        case .mapping(let pairs):
            sources = [pairs]
        case .sequence(let items):
            for item in items {
                guard case .mapping(let pairs) = item.kind else {
                    throw fail(.invalidMerge, item.mark, "\(expected), found a list holding \(item.kindName)")
                }
                sources.append(pairs)
            }
        case .scalar:
            throw fail(.invalidMerge, mark, "\(expected), found \(built.node.kindName)")
        }
        frames[top].mergeIndex = frames[top].pairs.count
        frames[top].mergeSources = sources
        frames[top].height = max(frames[top].height, built.height)
    }

    /// Inserts the merged pairs where `<<` was written: explicit keys win over merged ones, and
    /// earlier merged mappings over later ones. Merged keys are never duplicates.
    private func applyMerge(_ frame: inout Frame) {
        var seen = Set(frame.keyMarks.keys)
        var merged: [YAMLNode.Pair] = []
        for source in frame.mergeSources {
            for pair in source {
                guard let key = pair.key.scalar, seen.insert(key).inserted else { continue }
                merged.append(pair)
            }
        }
        frame.pairs.insert(contentsOf: merged, at: min(frame.mergeIndex, frame.pairs.count))
    }

    /// A key for a message: quoted, escaped, and shortened if long.
    static func quoted(_ text: String) -> String { MessageQuoting.quoted(text, limit: 60) }
}
