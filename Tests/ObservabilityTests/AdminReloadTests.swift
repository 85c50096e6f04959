@testable import Observability
import Testing

/// The bearer check of `POST /admin/reload` (SPEC 3).
@Suite struct AdminReloadTests {
    let admin = AdminReload(token: "s3cret-token-0123456789") { ReloadOutcome() }

    @Test func onlyTheExactTokenAfterABearerSchemeOfAnyCase() {
        #expect(admin.authorizes("Bearer s3cret-token-0123456789"))
        #expect(admin.authorizes("bearer s3cret-token-0123456789"))
        #expect(admin.authorizes("BEARER s3cret-token-0123456789"))
        #expect(!admin.authorizes(nil))
        #expect(!admin.authorizes("Bearer "))
        #expect(!admin.authorizes("s3cret-token-0123456789"))
        #expect(!admin.authorizes("Basic s3cret-token-0123456789"))
        #expect(!admin.authorizes("Bearer s3cret-token-012345678"), "a prefix of the token")
        #expect(!admin.authorizes("Bearer s3cret-token-0123456789x"), "the token and more")
        #expect(!admin.authorizes("Bearer S3cret-token-0123456789"), "the token is case-sensitive")
        #expect(!admin.authorizes("Bearer  s3cret-token-0123456789"))
    }
}
