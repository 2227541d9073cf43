#pragma once

// Private to hub::auth: the first steps of a token's verification, up to and
// including its signature. Nothing of the payload is read here.

#include "hub/auth/TokenVerifier.h"

#include <Poco/Crypto/OpenSSLInitializer.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/SharedPtr.h>

#include <string>
#include <string_view>

namespace hub::auth::detail {

/// A compact JWS (RFC 7515 section 7.1) taken apart; views into the token.
struct CompactJws
{
    std::string_view header;       ///< base64url
    std::string_view payload;      ///< base64url, not decoded before the signature holds
    std::string_view signature;    ///< base64url, may be empty (then refused by SigningKeys)
    std::string_view signingInput; ///< header.payload exactly as received
    std::string algorithm;         ///< the header's `alg`
};

/// Structure and header: exactly three base64url segments (the alphabet check
/// also refuses whitespace, control characters and any non-ASCII byte), a
/// non-empty header and payload, a header of at most 1 KiB that is a JSON object
/// with a string `alg` and no `crit`. Refuses as Malformed (UnsupportedAlgorithm
/// for `crit`); fills `out` otherwise.
VerifyResult parseCompactJws(std::string_view token, CompactJws& out);

/// The keys a verifier accepts, parsed once, and the signature check for each
/// algorithm: HS256 with the shared secret, RS256 with the RSA public key. An
/// algorithm is accepted only when its key is configured, so the public key can
/// never serve as an HMAC secret. Thread-safe.
class SigningKeys
{
public:
    /// Either may be empty (not both: TokenVerifier checks). Throws
    /// Poco::InvalidArgumentException when the PEM (a public key or a
    /// certificate) is not an RSA key of at least 2048 bits.
    SigningKeys(std::string hs256Secret, const std::string& rs256PublicKeyPem);

    /// UnsupportedAlgorithm for `alg` none, an unknown one or one without a key;
    /// BadSignature when there is none, it is not canonical base64url, or it does
    /// not verify. Ok when the signature holds.
    VerifyResult verify(const CompactJws& jws) const;

private:
    bool verifyHs256(std::string_view signingInput, const std::string& signature) const;
    bool verifyRs256(std::string_view signingInput, const std::string& signature) const;

    // Keeps Poco's OpenSSL reference count above zero. Without it every DigestEngine
    // made (two per verification) re-runs OpenSSL initialisation, which reads
    // /dev/urandom each time; that was a third of the cost of an HS256 verification.
    Poco::Crypto::OpenSSLInitializer _openSsl;
    std::string _hs256Secret;
    Poco::SharedPtr<Poco::Crypto::RSAKey> _rsaKey; // RSA_verify on a shared key is thread-safe
};

} // namespace hub::auth::detail
