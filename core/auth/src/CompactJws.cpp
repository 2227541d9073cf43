#include "CompactJws.h"

#include "VerifyFailure.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h> // the BASE64_* option flags
#include <Poco/Crypto/DigestEngine.h>
#include <Poco/Crypto/RSADigestEngine.h>
#include <Poco/Crypto/X509Certificate.h>
#include <Poco/Exception.h>
#include <Poco/HMACEngine.h>
#include <Poco/JSON/Object.h>
#include <Poco/JWT/Serializer.h>
#include <Poco/MemoryStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <sstream>

namespace hub::auth::detail {
namespace {

constexpr std::size_t kMaxHeaderSegmentBytes = 1024; // a JOSE header is tiny; parsed before the signature
constexpr int kMinRsaKeyBytes = 256;                 // 2048 bits

// HMACEngine needs an engine with BLOCK_SIZE/DIGEST_SIZE; this is the OpenSSL-backed
// SHA-256 that Poco::JWT itself uses, which is faster than Poco's portable SHA2Engine.
class Sha256Engine : public Poco::Crypto::DigestEngine
{
public:
    enum
    {
        BLOCK_SIZE = 64,
        DIGEST_SIZE = 32
    };

    Sha256Engine() : Poco::Crypto::DigestEngine("SHA256") {}
};

bool isBase64UrlChar(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int base64UrlValue(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '-' ? 62 : 63;
}

// Only the canonical encoding is accepted: the bits past the last whole byte must
// be zero. Otherwise several spellings decode to the same signature, and a token
// changed in its last character would still verify.
std::string decodeBase64Url(std::string_view encoded)
{
    const std::size_t rest = encoded.size() % 4;
    if (rest == 1)
        throw Poco::DataFormatException("base64url of impossible length");
    if (rest != 0)
    {
        const int unusedBits = rest == 2 ? 4 : 2;
        if ((base64UrlValue(encoded.back()) & ((1 << unusedBits) - 1)) != 0)
            throw Poco::DataFormatException("base64url is not canonical");
    }
    Poco::MemoryInputStream in(encoded.data(), encoded.size());
    Poco::Base64Decoder decoder(in, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    std::string out;
    out.reserve(encoded.size() * 3 / 4 + 3);
    Poco::StreamCopier::copyToString(decoder, out);
    return out;
}

// Constant time in the length of the expected MAC, so a forger learns nothing from timing
// (Poco::JWT::Signer compares HMACs with operator==, which returns at the first difference).
bool equalConstantTime(const std::string& a, const Poco::DigestEngine::Digest& b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(a[i]) ^ b[i]));
    return diff == 0;
}

// The header, only to learn the algorithm.
VerifyResult readAlgorithm(std::string_view headerB64, std::string& algorithm)
{
    try
    {
        Poco::JSON::Object::Ptr header = Poco::JWT::Serializer::deserialize(std::string(headerB64));
        if (!header)
            return fail(AuthError::Malformed, "token header is not a JSON object");
        const Poco::Dynamic::Var alg = header->get("alg");
        if (alg.isEmpty() || !alg.isString())
            return fail(AuthError::Malformed, "token header has no 'alg'");
        algorithm = alg.extract<std::string>();
        if (header->has("crit"))
            return fail(AuthError::UnsupportedAlgorithm, "token header has 'crit' extensions, none are supported");
    }
    catch (const Poco::Exception&)
    {
        return fail(AuthError::Malformed, "token header is not base64url-encoded JSON");
    }
    catch (const std::exception&)
    {
        return fail(AuthError::Malformed, "token header is not base64url-encoded JSON");
    }
    return {};
}

} // namespace

VerifyResult parseCompactJws(std::string_view token, CompactJws& out)
{
    // Checking the alphabet here also refuses whitespace, control characters and
    // any non-ASCII (e.g. non-UTF-8) bytes.
    std::size_t dots[2] = {0, 0};
    int dotCount = 0;
    for (std::size_t i = 0; i < token.size(); ++i)
    {
        const char c = token[i];
        if (c == '.')
        {
            if (dotCount == 2)
                return fail(AuthError::Malformed, "token has more than three segments");
            dots[dotCount++] = i;
        }
        else if (!isBase64UrlChar(c))
        {
            return fail(AuthError::Malformed,
                        "token contains a character outside base64url at byte " + std::to_string(i));
        }
    }
    if (dotCount != 2)
        return fail(AuthError::Malformed, "token is not three dot-separated segments");
    out.header = token.substr(0, dots[0]);
    out.payload = token.substr(dots[0] + 1, dots[1] - dots[0] - 1);
    out.signature = token.substr(dots[1] + 1);
    out.signingInput = token.substr(0, dots[1]);
    if (out.header.empty() || out.payload.empty())
        return fail(AuthError::Malformed, "token has an empty header or payload segment");
    if (out.header.size() > kMaxHeaderSegmentBytes)
        return fail(AuthError::Malformed, "token header segment too long");
    return readAlgorithm(out.header, out.algorithm);
}

SigningKeys::SigningKeys(std::string hs256Secret, const std::string& rs256PublicKeyPem)
    : _hs256Secret(std::move(hs256Secret))
{
    if (rs256PublicKeyPem.empty())
        return;
    try
    {
        std::istringstream pem(rs256PublicKeyPem);
        if (rs256PublicKeyPem.find("BEGIN CERTIFICATE") != std::string::npos)
        {
            Poco::Crypto::X509Certificate certificate(pem);
            _rsaKey = new Poco::Crypto::RSAKey(certificate);
        }
        else
        {
            _rsaKey = new Poco::Crypto::RSAKey(&pem);
        }
    }
    catch (const Poco::Exception& e)
    {
        throw Poco::InvalidArgumentException("auth.jwt.rs256PublicKeyFile: not a valid RSA public key in PEM form",
                                             e.displayText());
    }
    if (_rsaKey->impl()->size() < kMinRsaKeyBytes)
        throw Poco::InvalidArgumentException("auth.jwt.rs256PublicKeyFile: RSA key shorter than 2048 bits");
}

VerifyResult SigningKeys::verify(const CompactJws& jws) const
{
    const bool hs256 = jws.algorithm == "HS256" && !_hs256Secret.empty();
    const bool rs256 = jws.algorithm == "RS256" && _rsaKey;
    if (!hs256 && !rs256)
    {
        if (jws.algorithm == "HS256" || jws.algorithm == "RS256")
            return fail(AuthError::UnsupportedAlgorithm, "token algorithm " + jws.algorithm + " is not configured");
        if (Poco::icompare(jws.algorithm, "none") == 0)
            return fail(AuthError::UnsupportedAlgorithm, "unsigned tokens (alg none) are refused");
        return fail(AuthError::UnsupportedAlgorithm, "token algorithm is not HS256 or RS256");
    }
    if (jws.signature.empty())
        return fail(AuthError::BadSignature, "token has no signature");
    try
    {
        const std::string signature = decodeBase64Url(jws.signature);
        if (!(hs256 ? verifyHs256(jws.signingInput, signature) : verifyRs256(jws.signingInput, signature)))
            return fail(AuthError::BadSignature, "token signature does not verify");
    }
    catch (const Poco::Exception&)
    {
        return fail(AuthError::BadSignature, "token signature is not valid base64url or does not verify");
    }
    return {};
}

bool SigningKeys::verifyHs256(std::string_view signingInput, const std::string& signature) const
{
    Poco::HMACEngine<Sha256Engine> hmac(_hs256Secret);
    hmac.update(signingInput.data(), signingInput.size());
    return equalConstantTime(signature, hmac.digest());
}

bool SigningKeys::verifyRs256(std::string_view signingInput, const std::string& signature) const
{
    Poco::Crypto::RSADigestEngine rsa(*_rsaKey, "SHA256");
    rsa.update(signingInput.data(), signingInput.size());
    const Poco::DigestEngine::Digest sig(signature.begin(), signature.end());
    return rsa.verify(sig);
}

} // namespace hub::auth::detail
