/// One node of a parsed YAML document, tagged with the position where it starts.
///
/// There is no implicit typing: every scalar stays a string together with the style it was
/// written in (`yes`, `on`, `0777`, `1e3` and `~` are all strings). The manifest layer decides
/// what a scalar means, with ``isNull`` and ``isQuoted`` to help.
///
/// Aliases are already expanded (a copy keeps the marks of the anchored definition) and merge
/// keys (`<<`) already applied, so a tree holds only scalars, sequences and mappings.
public struct YAMLNode: Hashable, Sendable {
    /// How a scalar was written in the source.
    public enum ScalarStyle: Hashable, Sendable {
        /// Unquoted: `value`.
        case plain
        /// `'value'`.
        case singleQuoted
        /// `"value"`.
        case doubleQuoted
        /// A literal block scalar: `|`.
        case literal
        /// A folded block scalar: `>`.
        case folded
    }

    /// What a node holds.
    public enum Kind: Hashable, Sendable {
        /// A scalar's text (after unescaping and folding) and its style. Never typed.
        case scalar(String, ScalarStyle)
        /// A sequence (a YAML list), in document order.
        case sequence([YAMLNode])
        /// A mapping, in document order. Keys are scalars and unique by text (`"a"` and `a` are
        /// the same key); merged keys (`<<`) sit where the `<<` entry was written.
        case mapping([Pair])
    }

    /// One key–value entry of a mapping.
    public struct Pair: Hashable, Sendable {
        /// The key, always a scalar.
        public var key: YAMLNode
        /// The value.
        public var value: YAMLNode

        /// Creates a pair.
        public init(key: YAMLNode, value: YAMLNode) {
            self.key = key
            self.value = value
        }
    }

    /// What this node holds.
    public var kind: Kind
    /// Where the node starts (at its anchor or tag, if it has one). For an empty value such as
    /// `key:` it is the position right after the `:`.
    public var mark: Mark

    /// Creates a node.
    public init(_ kind: Kind, mark: Mark) {
        self.kind = kind
        self.mark = mark
    }

    /// The text of a scalar, or `nil` for a sequence or mapping.
    public var scalar: String? {
        if case .scalar(let text, _) = kind { return text }
        return nil
    }

    /// The style of a scalar, or `nil` for a sequence or mapping.
    public var scalarStyle: ScalarStyle? {
        if case .scalar(_, let style) = kind { return style }
        return nil
    }

    /// Whether this is a single- or double-quoted scalar (a quoted `"null"` is a string, not null).
    public var isQuoted: Bool {
        switch scalarStyle {
        case .singleQuoted?, .doubleQuoted?: return true
        default: return false
        }
    }

    /// Whether this is a plain scalar spelling null: empty (as in `key:`), `~`, `null`, `Null` or `NULL`.
    public var isNull: Bool {
        guard case .scalar(let text, .plain) = kind else { return false }
        switch text {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }

    /// The entries of a mapping, or `nil` for a scalar or sequence.
    public var mapping: [Pair]? {
        if case .mapping(let pairs) = kind { return pairs }
        return nil
    }

    /// The items of a sequence, or `nil` for a scalar or mapping.
    public var sequence: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    /// The value stored under the scalar key `key` in a mapping; `nil` if there is no such key
    /// or this node is not a mapping.
    public subscript(key: String) -> YAMLNode? {
        mapping?.first { $0.key.scalar == key }?.value
    }

    /// The pair whose key is `key` in a mapping (to point at the key's mark), or `nil`.
    public func pair(forKey key: String) -> Pair? {
        mapping?.first { $0.key.scalar == key }
    }

    /// What this node is, in words for messages such as "expected a list, found a mapping":
    /// `"a mapping"`, `"a list"`, `"a string"` or `"null"`.
    public var kindName: String {
        switch kind {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar: return isNull ? "null" : "a string"
        }
    }
}
