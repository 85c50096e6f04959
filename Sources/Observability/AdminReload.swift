/// `POST /admin/reload` (SPEC 3): enabled by `http.admin_token`, runs the same reload as
/// SIGHUP.
public struct AdminReload: Sendable {
    let token: [UInt8]
    let reload: @Sendable () -> ReloadOutcome

    /// `token` is the configured `http.admin_token` (at least 16 characters, checked at load);
    /// `reload` runs on a dedicated thread, never on the event loop.
    public init(token: String, reload: @escaping @Sendable () -> ReloadOutcome) {
        self.token = Array(token.utf8)
        self.reload = reload
    }

    /// Whether an `Authorization` header carries the token (`Bearer`, any case, RFC 7235).
    /// Compared in constant time for a given token, so response timing does not reveal how
    /// many leading bytes were right.
    func authorizes(_ header: String?) -> Bool {
        guard let header else { return false }
        let bytes = Array(header.utf8)
        let scheme = Array("bearer ".utf8)
        guard bytes.count > scheme.count,
              zip(bytes, scheme).allSatisfy({ ($0 | 0x20) == $1 }) else { return false }
        let given = bytes[scheme.count...]
        var difference = UInt8(given.count == token.count ? 0 : 1)
        for (i, byte) in token.enumerated() {
            let index = given.startIndex + i
            difference |= byte ^ (index < given.endIndex ? given[index] : 0)
        }
        return difference == 0
    }
}
