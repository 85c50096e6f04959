import CLibPQ
import IngestConfig

/// A libpq connection string as libpq itself reads it (`PQconninfoParse`), for the one
/// thing we need from it: the password, so that no text libpq returns about a connection
/// (an error message can quote part of the string) reaches a log line or a probe body with
/// the password in it.
enum ConnectionString {
    /// What libpq reads from `url`: nil if it cannot parse it, else the password it sets
    /// (nil inside when it sets none).
    static func parse(_ url: String) -> String?? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                return .some(String(cString: value))
            }
            option += 1
        }
        return .some(nil)
    }

    /// The password the string sets, nil if it sets none or libpq cannot parse it.
    static func password(in url: String) -> String? { parse(url) ?? nil }

    /// `message` without the password of `url`. When libpq cannot parse `url` at all, its
    /// message quotes the offending token, which may be the password: quoted text is masked.
    static func scrub(_ message: String, url: String) -> String {
        guard let parsed = parse(url) else { return maskQuoted(message) }
        guard let password = parsed, !password.isEmpty else { return message }
        return message.replacing(password, with: Redaction.mask)
    }

    private static func maskQuoted(_ message: String) -> String {
        var out = "", quoted = false
        for c in message {
            if c == "\"" {
                out.append(c)
                if !quoted { out += Redaction.mask }
                quoted.toggle()
            } else if !quoted {
                out.append(c)
            }
        }
        return out
    }
}
