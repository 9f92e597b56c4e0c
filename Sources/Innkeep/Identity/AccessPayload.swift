import Foundation
import JWTKit

/// The claims SPEC §2 reads, decoded by jwt-kit after the signature checked out; other claims are ignored.
struct AccessPayload: JWTPayload {
    var sub: String?
    var exp: Int64?
    var iat: Int64?
    var aud: AudienceClaim?

    enum CodingKeys: String, CodingKey { case sub, exp, iat, aud }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sub = try? c.decodeIfPresent(String.self, forKey: .sub)
        exp = try? c.decodeIfPresent(Int64.self, forKey: .exp)
        iat = try? c.decodeIfPresent(Int64.self, forKey: .iat)
        aud = try? c.decodeIfPresent(AudienceClaim.self, forKey: .aud)
    }

    /// The claim checks happen in `claims(now:)`, which knows the time the caller passed.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// `aud` must include "authenticated", `exp` must be a whole number in the future, `sub` a UUID.
    func claims(now: Date) throws(JWTSigner.Failure) -> JWTSigner.Claims {
        do { try aud?.verifyIntendedAudience(includes: JWTSigner.audience) } catch { throw .audience }
        guard aud != nil else { throw .audience }
        guard let exp else { throw .claims }
        do { try ExpirationClaim(value: Date(timeIntervalSince1970: TimeInterval(exp))).verifyNotExpired(currentDate: now) } catch {
            throw .expired
        }
        guard exp > Int64(now.timeIntervalSince1970) else { throw .expired }
        guard let sub, let subject = UUID(uuidString: sub) else { throw .claims }
        return JWTSigner.Claims(subject: subject, issuedAt: iat ?? 0, expiresAt: exp)
    }
}
