/// Quoting of user text inside error messages, shared by the YAML module and the manifest decoder.
public enum MessageQuoting {
    /// `text` in double quotes, with `"`, `\` and control characters escaped (also NUL, DEL, C1 controls and
    /// the Unicode line separators), cut to `limit` characters: safe to print on one terminal line whatever a
    /// manifest holds.
    public static func quoted(_ text: String, limit: Int = 80) -> String {
        var out = "\""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                out += "…"
                break
            }
            count += 1
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
                    || scalar.value == 0x2029
                {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
