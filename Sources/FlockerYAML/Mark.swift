/// A position in the input, 1-based.
///
/// The column is counted in Unicode characters (as libyaml counts them), not in bytes, so
/// `éé: x` and `ab: x` put `x` at the same column. A UTF-8 byte order mark at the start of
/// the file is not counted.
public struct Mark: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The line, starting at 1.
    public var line: Int
    /// The column in characters, starting at 1.
    public var column: Int

    /// Creates a mark at a 1-based line and column.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// The start of the input, `1:1`.
    public static let start = Mark(line: 1, column: 1)

    /// `LINE:COL`, for example `3:7`.
    public var description: String { "\(line):\(column)" }

    /// Orders marks by line, then by column.
    public static func < (lhs: Mark, rhs: Mark) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}
