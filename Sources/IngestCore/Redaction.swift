/// Secret masking for everything that may print configuration: `check-config`, the
/// `config_loaded` event, error messages. Only the secret part is replaced by `***`, so an
/// operator can still see which host and user a URL points at.
public enum Redaction {
    public static let mask = "***"

    /// The password in a libpq URI (`postgresql://user:pw@host/db`, `?password=pw`) or in a
    /// key=value connection string (`password=pw`, quoted or not).
    public static func databaseURL(_ url: String) -> String {
        var out = url
        if let scheme = out.firstRange(of: "://") {
            let rest = out[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@"),
               let colon = rest[..<at].firstIndex(of: ":") {
                out.replaceSubrange(out.index(after: colon)..<at, with: mask)
            }
        }
        return maskKeyValue(out, key: "password")
    }

    /// Replaces the value of `key=value` (URI query or libpq key/value syntax).
    static func maskKeyValue(_ text: String, key: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let range = rest.firstRange(of: key + "=") {
            let before = range.lowerBound == rest.startIndex ? nil : rest[rest.index(before: range.lowerBound)]
            result += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            guard before == nil || before == " " || before == "?" || before == "&" else { continue }
            var end = rest.startIndex
            if rest.first == "'" {
                end = rest.index(after: end)
                while end < rest.endIndex, rest[end] != "'" {
                    end = rest[end] == "\\" ? rest.index(end, offsetBy: 2, limitedBy: rest.endIndex) ?? rest.endIndex : rest.index(after: end)
                }
                if end < rest.endIndex { end = rest.index(after: end) }
            } else {
                end = rest.firstIndex(where: { $0 == " " || $0 == "&" }) ?? rest.endIndex
            }
            result += mask
            rest = rest[end...]
        }
        return result + rest
    }
}
