/// Secret masking for everything that may print configuration: `check-config`, the
/// `config_loaded` event, error messages. Only the secret part is replaced by `***`, so an
/// operator can still see which host and user a URL points at.
///
/// The database URL is read the way libpq reads it (`PQconninfoParse`; the PostgreSQL tests
/// check every form below against it): a URI's user-info password and `password` query
/// parameter, whose keyword may be percent-encoded, and the key/value form's `password`
/// with optional blanks around `=` and a quoted value. After that, every other occurrence of
/// the password's text is masked too, so no form we did not foresee can carry it through.
public enum Redaction {
    /// What replaces a secret in every printed form.
    public static let mask = "***"

    /// `url` with every occurrence of its password replaced by `mask`; host, user and the rest stay
    /// visible. Takes the URI and the key=value form.
    public static func databaseURL(_ url: String) -> String {
        var secrets: [String] = []
        var out = url.contains("://") ? maskURI(url, &secrets) : maskKeyValue(url, &secrets)
        for secret in secrets where !secret.isEmpty && secret != mask {
            out = out.replacing(secret, with: mask)
        }
        return out
    }

    /// `scheme://user:password@host/db?key=value&...`.
    static func maskURI(_ url: String, _ secrets: inout [String]) -> String {
        var out = ""
        var rest = Substring(url)
        let scheme = rest.firstRange(of: "://")!
        out += rest[..<scheme.upperBound]
        rest = rest[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        if let at = rest[..<authorityEnd].lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
            secrets += [String(rest[rest.index(after: colon)..<at]), percentDecoded(rest[rest.index(after: colon)..<at])]
            out += rest[...colon] + mask
            rest = rest[at...]
        }
        guard let query = rest.firstIndex(of: "?") else { return out + rest }
        out += rest[...query]
        let parameters = rest[rest.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false)
        out += parameters.map { parameter -> String in
            guard let equals = parameter.firstIndex(of: "="),
                  percentDecoded(parameter[..<equals]) == "password" else { return String(parameter) }
            let value = parameter[parameter.index(after: equals)...]
            secrets += [String(value), percentDecoded(value)]
            return parameter[...equals] + mask
        }.joined(separator: "&")
        return out
    }

    /// `key = value ...`, values bare or single-quoted with backslash escapes.
    static func maskKeyValue(_ text: String, _ secrets: inout [String]) -> String {
        let chars = Array(text)
        var out = ""
        var i = 0
        func isBlank(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" }
        while i < chars.count {
            while i < chars.count, isBlank(chars[i]) { out.append(chars[i]); i += 1 }
            let keyStart = i
            while i < chars.count, !isBlank(chars[i]), chars[i] != "=" { i += 1 }
            let key = String(chars[keyStart..<i])
            out += key
            while i < chars.count, isBlank(chars[i]) { out.append(chars[i]); i += 1 }
            guard i < chars.count, chars[i] == "=" else { continue }
            out.append("="); i += 1
            while i < chars.count, isBlank(chars[i]) { out.append(chars[i]); i += 1 }
            var value = ""
            let valueStart = i
            if i < chars.count, chars[i] == "'" {
                i += 1
                while i < chars.count, chars[i] != "'" {
                    if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                    value.append(chars[i]); i += 1
                }
                if i < chars.count { i += 1 }
            } else {
                while i < chars.count, !isBlank(chars[i]) {
                    if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                    value.append(chars[i]); i += 1
                }
            }
            if key == "password" {
                secrets += [value, String(chars[valueStart..<i])]
                out += mask
            } else {
                out += String(chars[valueStart..<i])
            }
        }
        return out
    }

    /// `%xx` decoded (as libpq does for URI parts); invalid escapes are kept as they are.
    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "%"), i + 2 < utf8.count,
               let hi = hexValue(utf8[i + 1]), let lo = hexValue(utf8[i + 2]) {
                bytes.append(hi << 4 | lo)
                i += 3
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
