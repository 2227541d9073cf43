#include "hub/auth/TokenVerifier.h"

#include "Utf8.h"

#include "hub/common/Utf8.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h> // the BASE64_* option flags
#include <Poco/Crypto/DigestEngine.h>
#include <Poco/Crypto/OpenSSLInitializer.h>
#include <Poco/Crypto/RSADigestEngine.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/Crypto/X509Certificate.h>
#include <Poco/Exception.h>
#include <Poco/FileStream.h>
#include <Poco/HMACEngine.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JWT/Serializer.h>
#include <Poco/MemoryStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <openssl/evp.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>

namespace hub::auth {
namespace {

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

// The cache key: SHA-256 of the token. OpenSSL's EVP directly, with the digest
// fetched once: Poco's DigestEngine looks SHA-256 up by name and makes a new
// context on every reset, which cost more than hashing a token.
std::string tokenDigest(std::string_view token)
{
    struct Context
    {
        EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        ~Context()
        {
            EVP_MD_CTX_free(ctx);
            EVP_MD_free(md);
        }
    };
    thread_local Context c;
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!c.md || !c.ctx || EVP_DigestInit_ex(c.ctx, c.md, nullptr) != 1 ||
        EVP_DigestUpdate(c.ctx, token.data(), token.size()) != 1 || EVP_DigestFinal_ex(c.ctx, out, &length) != 1)
        throw Poco::SystemException("SHA-256 is not available from OpenSSL");
    return std::string(reinterpret_cast<const char*>(out), length);
}

constexpr std::size_t kMinHs256SecretBytes = 32; // RFC 7518 3.2: at least the hash size
constexpr std::size_t kMaxHeaderSegmentBytes = 1024; // a JOSE header is tiny; parsed before the signature
constexpr std::size_t kMaxSubjectBytes = 512;
constexpr int kMinRsaKeyBytes = 256; // 2048 bits
constexpr double kMaxEpochSeconds = 253402300799.0; // 9999-12-31, keeps Timestamp from overflowing

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

VerifyResult fail(AuthError error, std::string detail)
{
    VerifyResult r;
    r.error = error;
    r.detail = std::move(detail);
    return r;
}

std::string readWholeFile(const std::string& path)
{
    Poco::FileInputStream in(path); // throws Poco::FileException naming the path
    std::string text;
    Poco::StreamCopier::copyToString(in, text);
    return text;
}

// A NumericDate claim: absent -> nullopt; present but not a finite number -> throws.
std::optional<double> numericDate(const Poco::JSON::Object& payload, const std::string& name)
{
    if (!payload.has(name))
        return std::nullopt;
    const Poco::Dynamic::Var value = payload.get(name);
    if (value.isEmpty() || value.isString() || value.isBoolean() || !value.isNumeric())
        throw Poco::DataFormatException("claim '" + name + "' is not a number");
    const double seconds = value.convert<double>();
    if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxEpochSeconds)
        throw Poco::DataFormatException("claim '" + name + "' is out of range");
    return seconds;
}

// An optional string claim: absent -> empty; present but not a valid UTF-8 string -> throws.
std::string stringClaim(const Poco::JSON::Object& payload, const std::string& name)
{
    if (!payload.has(name))
        return {};
    const Poco::Dynamic::Var value = payload.get(name);
    if (value.isEmpty())
        return {};
    if (!value.isString())
        throw Poco::DataFormatException("claim '" + name + "' is not a string");
    std::string text = value.extract<std::string>();
    if (!isValidUtf8(text))
        throw Poco::DataFormatException("claim '" + name + "' is not valid UTF-8");
    return text;
}

Poco::Timestamp toTimestamp(double epochSeconds)
{
    return Poco::Timestamp(static_cast<Poco::Timestamp::TimeVal>(epochSeconds * 1e6));
}

} // namespace

struct TokenVerifier::Impl
{
    // Keeps Poco's OpenSSL reference count above zero. Without it every DigestEngine we
    // create (two per verification) re-runs OpenSSL initialisation, which reads
    // /dev/urandom each time; that was a third of the cost of an HS256 verification.
    Poco::Crypto::OpenSSLInitializer openSsl;
    Options options;
    Poco::SharedPtr<Poco::Crypto::RSAKey> rsaKey; // parsed once; RSA_verify on a shared key is thread-safe

    struct CacheEntry
    {
        Principal principal;
        double expires = 0;
        double notBefore = 0;
    };

    mutable std::mutex cacheMutex;
    mutable std::unordered_map<std::string, CacheEntry> cache; // key: SHA-256 of the token

    // Each thread also keeps the last token it verified, by its bytes, in front of
    // the shared cache: a portal's service token or a keep-alive client sends the
    // same token again and again, and a compare then replaces the SHA-256 and the
    // shared lock (0.6 us of the 14 us of user CPU of a plugin call). The id, not
    // the address, names the verifier: addresses are reused, ids never.
    struct LastToken
    {
        std::uint64_t verifier = 0;
        std::uint64_t generation = 0;
        std::string token;
        CacheEntry entry;
    };
    static inline std::atomic<std::uint64_t> nextId{1};
    const std::uint64_t id = nextId.fetch_add(1, std::memory_order_relaxed);
    mutable std::atomic<std::uint64_t> generation{0}; // moved on by clearCache()

    VerifyResult verify(std::string_view token, const Poco::Timestamp& now) const;
    VerifyResult verifyUncached(std::string_view token, double nowSeconds, CacheEntry& entry) const;
    VerifyResult checkTimes(const CacheEntry& entry, double nowSeconds) const;
    void remember(std::string key, CacheEntry entry, double nowSeconds) const;
};

TokenVerifier::Options TokenVerifier::optionsFromConfig(const Poco::Util::AbstractConfiguration& config,
                                                        const std::string& prefix)
{
    const std::string p = prefix + ".jwt.";
    Options o;
    // Raw: a secret may contain "${...}", which must not be expanded as a property reference.
    o.hs256Secret = config.getRawString(p + "hs256Secret", "");
    const std::string secretFile = config.getString(p + "hs256SecretFile", "");
    if (o.hs256Secret.empty() && !secretFile.empty())
    {
        o.hs256Secret = readWholeFile(secretFile);
        Poco::trimRightInPlace(o.hs256Secret); // editors add a final newline
    }
    const std::string publicKeyFile = config.getString(p + "rs256PublicKeyFile", "");
    if (!publicKeyFile.empty())
        o.rs256PublicKeyPem = readWholeFile(publicKeyFile);
    o.issuer = config.getString(p + "issuer", "");
    o.audience = config.getString(p + "audience", "");
    o.leewaySeconds = config.getInt(p + "leewaySeconds", o.leewaySeconds);
    o.allowTokenRoles = config.getBool(p + "allowTokenRoles", o.allowTokenRoles);
    o.maxTokenBytes = static_cast<std::size_t>(config.getUInt(p + "maxTokenBytes", static_cast<unsigned>(o.maxTokenBytes)));
    o.cacheSize = static_cast<std::size_t>(config.getUInt(p + "cacheSize", static_cast<unsigned>(o.cacheSize)));
    return o;
}

TokenVerifier::TokenVerifier(const Options& options) : _impl(std::make_unique<Impl>())
{
    _impl->options = options;
    if (options.hs256Secret.empty() && options.rs256PublicKeyPem.empty())
        throw Poco::InvalidArgumentException(
            "auth.jwt: no key configured (set hs256Secret, hs256SecretFile or rs256PublicKeyFile)");
    if (!options.hs256Secret.empty() && options.hs256Secret.size() < kMinHs256SecretBytes)
        throw Poco::InvalidArgumentException("auth.jwt.hs256Secret: must be at least 32 bytes long");
    if (options.leewaySeconds < 0)
        throw Poco::InvalidArgumentException("auth.jwt.leewaySeconds: must not be negative");
    if (!options.rs256PublicKeyPem.empty())
    {
        try
        {
            std::istringstream pem(options.rs256PublicKeyPem);
            if (options.rs256PublicKeyPem.find("BEGIN CERTIFICATE") != std::string::npos)
            {
                Poco::Crypto::X509Certificate certificate(pem);
                _impl->rsaKey = new Poco::Crypto::RSAKey(certificate);
            }
            else
            {
                _impl->rsaKey = new Poco::Crypto::RSAKey(&pem);
            }
        }
        catch (const Poco::Exception& e)
        {
            throw Poco::InvalidArgumentException("auth.jwt.rs256PublicKeyFile: not a valid RSA public key in PEM form",
                                                 e.displayText());
        }
        if (_impl->rsaKey->impl()->size() < kMinRsaKeyBytes)
            throw Poco::InvalidArgumentException("auth.jwt.rs256PublicKeyFile: RSA key shorter than 2048 bits");
    }
}

TokenVerifier::TokenVerifier(const Poco::Util::AbstractConfiguration& config, const std::string& prefix)
    : TokenVerifier(optionsFromConfig(config, prefix))
{
}

TokenVerifier::~TokenVerifier() = default;

VerifyResult TokenVerifier::verify(std::string_view token) const
{
    return _impl->verify(token, Poco::Timestamp());
}

VerifyResult TokenVerifier::verify(std::string_view token, const Poco::Timestamp& now) const
{
    return _impl->verify(token, now);
}

VerifyResult TokenVerifier::verifyAuthorization(std::string_view header) const
{
    while (!header.empty() && (header.front() == ' ' || header.front() == '\t'))
        header.remove_prefix(1);
    while (!header.empty() && (header.back() == ' ' || header.back() == '\t'))
        header.remove_suffix(1);
    if (header.empty())
        return fail(AuthError::Missing, "no Authorization header");
    const std::size_t space = header.find_first_of(" \t");
    const std::string_view scheme = header.substr(0, space);
    if (Poco::icompare(std::string(scheme), "Bearer") != 0)
        return fail(AuthError::Missing, "Authorization scheme is not Bearer");
    if (space == std::string_view::npos)
        return fail(AuthError::Missing, "Authorization header has no bearer token");
    std::string_view token = header.substr(space);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
    if (token.empty())
        return fail(AuthError::Missing, "Authorization header has no bearer token");
    return verify(token);
}

std::size_t TokenVerifier::cachedTokens() const
{
    std::lock_guard<std::mutex> lock(_impl->cacheMutex);
    return _impl->cache.size();
}

void TokenVerifier::clearCache()
{
    std::lock_guard<std::mutex> lock(_impl->cacheMutex);
    _impl->cache.clear();
    _impl->generation.fetch_add(1, std::memory_order_release);
}

VerifyResult TokenVerifier::Impl::verify(std::string_view token, const Poco::Timestamp& now) const
{
    const double nowSeconds = static_cast<double>(now.epochMicroseconds()) / 1e6;
    if (token.empty())
        return fail(AuthError::Missing, "empty bearer token");
    // Before anything else, so hostile input costs no decoding and no hashing.
    if (token.size() > options.maxTokenBytes)
        return fail(AuthError::Malformed,
                    "token longer than " + std::to_string(options.maxTokenBytes) + " bytes");

    if (options.cacheSize == 0)
    {
        CacheEntry entry;
        return verifyUncached(token, nowSeconds, entry);
    }

    thread_local LastToken last;
    const std::uint64_t currentGeneration = generation.load(std::memory_order_acquire);
    if (last.verifier == id && last.generation == currentGeneration && last.token == token)
    {
        VerifyResult r = checkTimes(last.entry, nowSeconds);
        if (r.ok())
        {
            r.principal = last.entry.principal;
            return r;
        }
        last.verifier = 0; // and on through the shared cache, which drops it when expired
    }
    auto keep = [&](const CacheEntry& entry)
    {
        last.verifier = id;
        last.generation = currentGeneration;
        last.token.assign(token.data(), token.size());
        last.entry = entry;
    };

    std::string key = tokenDigest(token);
    {
        std::lock_guard<std::mutex> lock(cacheMutex);
        auto it = cache.find(key);
        if (it != cache.end())
        {
            VerifyResult r = checkTimes(it->second, nowSeconds);
            if (r.ok())
            {
                r.principal = it->second.principal;
                keep(it->second);
            }
            else if (r.error == AuthError::Expired)
            {
                cache.erase(it);
            }
            return r;
        }
    }

    CacheEntry entry;
    VerifyResult r = verifyUncached(token, nowSeconds, entry);
    if (r.ok())
    {
        keep(entry);
        remember(std::move(key), std::move(entry), nowSeconds);
    }
    return r;
}

VerifyResult TokenVerifier::Impl::checkTimes(const CacheEntry& entry, double nowSeconds) const
{
    const double leeway = options.leewaySeconds;
    if (nowSeconds > entry.expires + leeway)
        return fail(AuthError::Expired, "token expired (exp is in the past)");
    if (nowSeconds + leeway < entry.notBefore)
        return fail(AuthError::NotYetValid, "token not yet valid (nbf is in the future)");
    return {};
}

void TokenVerifier::Impl::remember(std::string key, CacheEntry entry, double nowSeconds) const
{
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (cache.size() >= options.cacheSize)
    {
        // Only verified tokens get here, so an attacker cannot flood the cache with garbage;
        // dropping expired entries first and then any one entry keeps it bounded.
        for (auto it = cache.begin(); it != cache.end();)
            it = nowSeconds > it->second.expires + options.leewaySeconds ? cache.erase(it) : std::next(it);
        if (cache.size() >= options.cacheSize)
            cache.erase(cache.begin());
    }
    cache.emplace(std::move(key), std::move(entry));
}

VerifyResult TokenVerifier::Impl::verifyUncached(std::string_view token, double nowSeconds, CacheEntry& entry) const
{
    // Structure: three base64url segments. Checking the alphabet here also refuses
    // whitespace, control characters and any non-ASCII (e.g. non-UTF-8) bytes.
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
    const std::string_view headerB64 = token.substr(0, dots[0]);
    const std::string_view payloadB64 = token.substr(dots[0] + 1, dots[1] - dots[0] - 1);
    const std::string_view signatureB64 = token.substr(dots[1] + 1);
    if (headerB64.empty() || payloadB64.empty())
        return fail(AuthError::Malformed, "token has an empty header or payload segment");
    if (headerB64.size() > kMaxHeaderSegmentBytes)
        return fail(AuthError::Malformed, "token header segment too long");

    // Header: only to learn the algorithm. The payload is not parsed before the signature holds.
    std::string algorithm;
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

    const bool hs256 = algorithm == "HS256" && !options.hs256Secret.empty();
    const bool rs256 = algorithm == "RS256" && rsaKey;
    if (!hs256 && !rs256)
    {
        if (algorithm == "HS256" || algorithm == "RS256")
            return fail(AuthError::UnsupportedAlgorithm, "token algorithm " + algorithm + " is not configured");
        if (Poco::icompare(algorithm, "none") == 0)
            return fail(AuthError::UnsupportedAlgorithm, "unsigned tokens (alg none) are refused");
        return fail(AuthError::UnsupportedAlgorithm, "token algorithm is not HS256 or RS256");
    }
    if (signatureB64.empty())
        return fail(AuthError::BadSignature, "token has no signature");

    // Signature over the two encoded segments exactly as received.
    const std::string_view signingInput = token.substr(0, dots[1]);
    try
    {
        const std::string signature = decodeBase64Url(signatureB64);
        bool valid = false;
        if (hs256)
        {
            Poco::HMACEngine<Sha256Engine> hmac(options.hs256Secret);
            hmac.update(signingInput.data(), signingInput.size());
            valid = equalConstantTime(signature, hmac.digest());
        }
        else
        {
            Poco::Crypto::RSADigestEngine rsa(*rsaKey, "SHA256");
            rsa.update(signingInput.data(), signingInput.size());
            const Poco::DigestEngine::Digest sig(signature.begin(), signature.end());
            valid = rsa.verify(sig);
        }
        if (!valid)
            return fail(AuthError::BadSignature, "token signature does not verify");
    }
    catch (const Poco::Exception&)
    {
        return fail(AuthError::BadSignature, "token signature is not valid base64url or does not verify");
    }

    // Claims, now from an authenticated payload.
    Poco::JSON::Object::Ptr payload;
    try
    {
        payload = Poco::JWT::Serializer::deserialize(std::string(payloadB64));
    }
    catch (const Poco::Exception&)
    {
        return fail(AuthError::Malformed, "token payload is not base64url-encoded JSON");
    }
    catch (const std::exception&)
    {
        return fail(AuthError::Malformed, "token payload is not base64url-encoded JSON");
    }
    if (!payload)
        return fail(AuthError::Malformed, "token payload is not a JSON object");

    Principal& principal = entry.principal;
    principal.algorithm = algorithm;
    try
    {
        const std::optional<double> exp = numericDate(*payload, "exp");
        if (!exp)
            return fail(AuthError::InvalidClaims, "token has no 'exp' claim");
        const std::optional<double> nbf = numericDate(*payload, "nbf");
        const std::optional<double> iat = numericDate(*payload, "iat");
        entry.expires = *exp;
        entry.notBefore = nbf.value_or(0);
        if (VerifyResult r = checkTimes(entry, nowSeconds); !r.ok())
            return r;
        if (iat && *iat > nowSeconds + options.leewaySeconds)
            return fail(AuthError::InvalidClaims, "token 'iat' is in the future");
        principal.expiresAt = toTimestamp(*exp);

        if (!options.issuer.empty())
        {
            if (!payload->has("iss"))
                return fail(AuthError::WrongIssuer, "token has no 'iss' claim");
            if (stringClaim(*payload, "iss") != options.issuer)
                return fail(AuthError::WrongIssuer, "token issuer is not the configured issuer");
        }

        if (!options.audience.empty())
        {
            if (!payload->has("aud"))
                return fail(AuthError::WrongAudience, "token has no 'aud' claim");
            bool found = false;
            if (payload->isArray("aud"))
            {
                Poco::JSON::Array::Ptr audiences = payload->getArray("aud");
                for (std::size_t i = 0; audiences && i < audiences->size(); ++i)
                {
                    const Poco::Dynamic::Var a = audiences->get(static_cast<unsigned>(i));
                    if (!a.isString())
                        return fail(AuthError::InvalidClaims, "token 'aud' array holds a non-string");
                    found = found || a.extract<std::string>() == options.audience;
                }
            }
            else
            {
                found = stringClaim(*payload, "aud") == options.audience;
            }
            if (!found)
                return fail(AuthError::WrongAudience, "token audience does not include the configured audience");
        }

        principal.subject = stringClaim(*payload, "sub");
        if (principal.subject.empty())
            return fail(AuthError::InvalidClaims, "token has no 'sub' claim");
        if (principal.subject.size() > kMaxSubjectBytes || detail::hasControlCharacters(principal.subject))
            return fail(AuthError::InvalidClaims, "token 'sub' is too long or has control characters");

        principal.tokenId = stringClaim(*payload, "jti");

        principal.actingFor = stringClaim(*payload, "on_behalf_of");
        if (principal.actingFor.empty() && payload->has("act"))
        {
            // RFC 8693 gives `act` as an object naming the *actor*, the opposite reading;
            // we accept only the plain-string form so the two can never be confused.
            if (payload->isObject("act"))
                return fail(AuthError::InvalidClaims, "token 'act' must be a plain string naming the user");
            principal.actingFor = stringClaim(*payload, "act");
        }
        if (principal.actingFor.size() > kMaxSubjectBytes || detail::hasControlCharacters(principal.actingFor))
            return fail(AuthError::InvalidClaims, "token 'on_behalf_of' is too long or has control characters");

        if (options.allowTokenRoles && payload->has("roles"))
        {
            if (!payload->isArray("roles"))
                return fail(AuthError::InvalidClaims, "token 'roles' is not an array of strings");
            Poco::JSON::Array::Ptr roles = payload->getArray("roles");
            for (std::size_t i = 0; roles && i < roles->size(); ++i)
            {
                const Poco::Dynamic::Var role = roles->get(static_cast<unsigned>(i));
                if (!role.isString())
                    return fail(AuthError::InvalidClaims, "token 'roles' is not an array of strings");
                std::string text = role.extract<std::string>();
                if (!isValidUtf8(text))
                    return fail(AuthError::InvalidClaims, "token 'roles' holds invalid UTF-8");
                principal.roles.push_back(std::move(text));
            }
        }
    }
    catch (const Poco::DataFormatException& e)
    {
        // Our own messages name the claim, never its value.
        return fail(AuthError::InvalidClaims, "token claims invalid: " + e.message());
    }
    catch (const Poco::Exception&)
    {
        return fail(AuthError::InvalidClaims, "token claims have unexpected types");
    }

    VerifyResult ok;
    ok.principal = principal;
    return ok;
}

} // namespace hub::auth
