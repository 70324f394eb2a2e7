/// Why a YAML file could not be turned into a node tree, and where.
///
/// The ``description`` is compiler-style and editor-clickable:
/// ```
/// app.yml:4:3: error: duplicate key "image" (first defined at 3:3)
/// ```
/// and, where libyaml gave a context, a second line pointing at it:
/// ```
/// app.yml:2:2: error: did not find expected ',' or ']'
/// app.yml:1:4: note: while parsing a flow sequence
/// ```
public struct YAMLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. New codes may be added; match on the ones you care about.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Storage: String, Hashable, Sendable {
            case syntax, duplicateKey, aliasBudgetExceeded, undefinedAlias, multipleDocuments
            case invalidEncoding, tabIndentation, emptyDocument, tagNotSupported, nonScalarKey
            case unreadableFile, tooDeep, invalidMerge
        }
        private let storage: Storage
        private init(_ storage: Storage) { self.storage = storage }

        /// A syntax error reported by libyaml (its problem text is the message).
        public static let syntax = Code(.syntax)
        /// A key appears twice in one mapping.
        public static let duplicateKey = Code(.duplicateKey)
        /// Aliases would add more than ``YAML/aliasNodeBudget`` nodes (an alias bomb).
        public static let aliasBudgetExceeded = Code(.aliasBudgetExceeded)
        /// An alias names no anchor defined before it (or the node that contains it).
        public static let undefinedAlias = Code(.undefinedAlias)
        /// The file holds more than one document.
        public static let multipleDocuments = Code(.multipleDocuments)
        /// The input is not valid UTF-8, or holds a character YAML forbids (NUL, control characters).
        public static let invalidEncoding = Code(.invalidEncoding)
        /// A tab is used where YAML needs spaces (indentation).
        public static let tabIndentation = Code(.tabIndentation)
        /// The file is empty or holds only comments and whitespace.
        public static let emptyDocument = Code(.emptyDocument)
        /// A node carries an explicit tag (`!!str`, `!foo`).
        public static let tagNotSupported = Code(.tagNotSupported)
        /// A mapping key is a sequence or a mapping.
        public static let nonScalarKey = Code(.nonScalarKey)
        /// The file could not be read (the message holds the OS reason).
        public static let unreadableFile = Code(.unreadableFile)
        /// Collections are nested deeper than ``YAML/maxDepth``.
        public static let tooDeep = Code(.tooDeep)
        /// A merge key `<<` whose value is not a mapping or a list of mappings.
        public static let invalidMerge = Code(.invalidMerge)

        /// The code's name, for example `duplicateKey`.
        public var description: String { storage.rawValue }
    }

    /// A secondary position with its explanation, such as libyaml's "while parsing a flow
    /// sequence" at the place where that sequence starts.
    public struct Note: Hashable, Sendable {
        /// The explanation.
        public var message: String
        /// Where it points.
        public var mark: Mark

        /// Creates a note.
        public init(message: String, mark: Mark) {
            self.message = message
            self.mark = mark
        }
    }

    /// The kind of failure.
    public var code: Code
    /// The file name as given to the parser.
    public var file: String
    /// Where the problem is.
    public var mark: Mark
    /// What is wrong, for a user: `duplicate key "image" (first defined at 3:5)`.
    public var message: String
    /// libyaml's context, where it has one, as a ``Note``.
    public var note: Note?

    /// libyaml's context message and position, where it has one.
    public var context: (message: String, mark: Mark)? {
        get { note.map { ($0.message, $0.mark) } }
        set { note = newValue.map { Note(message: $0.message, mark: $0.mark) } }
    }

    /// Creates an error.
    public init(code: Code, file: String, mark: Mark, message: String, note: Note? = nil) {
        self.code = code
        self.file = file
        self.mark = mark
        self.message = message
        self.note = note
    }

    /// `FILE:LINE:COL: error: MESSAGE`, plus a line `FILE:LINE:COL: note: CONTEXT` where there is
    /// a context. A file that could not be read has no position: `FILE: error: MESSAGE`.
    public var description: String {
        if code == .unreadableFile { return "\(file): error: \(message)" }
        var text = "\(file):\(mark): error: \(message)"
        if let note { text += "\n\(file):\(note.mark): note: \(note.message)" }
        return text
    }
}
