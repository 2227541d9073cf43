#include "hub/auth/TokenVerifier.h"

#include "Claims.h"
#include "CompactJws.h"
#include "KeyFile.h"
#include "VerifyFailure.h"

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <openssl/evp.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

// The verifier in parts: CompactJws.h (structure, header, the signature per
// algorithm), Claims.h (the claims, then the Principal). Here: the options, and
// the two caches in front of a verification.

namespace hub::auth {
namespace {

using detail::fail;

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

// The options, checked before any key is parsed; the messages never contain the secret.
const TokenVerifier::Options& checked(const TokenVerifier::Options& options)
{
    if (options.hs256Secret.empty() && options.rs256PublicKeyPem.empty())
        throw Poco::InvalidArgumentException(
            "auth.jwt: no key configured (set hs256Secret, hs256SecretFile or rs256PublicKeyFile)");
    if (!options.hs256Secret.empty() && options.hs256Secret.size() < kMinHs256SecretBytes)
        throw Poco::InvalidArgumentException("auth.jwt.hs256Secret: must be at least 32 bytes long");
    if (options.leewaySeconds < 0)
        throw Poco::InvalidArgumentException("auth.jwt.leewaySeconds: must not be negative");
    return options;
}

} // namespace

struct TokenVerifier::Impl
{
    explicit Impl(const Options& o) : options(o), keys(o.hs256Secret, o.rs256PublicKeyPem) {}

    const Options options;
    const detail::SigningKeys keys;

    struct CacheEntry
    {
        Principal principal;
        detail::TokenTimes times;
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
    VerifyResult checkTimes(const CacheEntry& entry, double nowSeconds) const
    {
        return detail::checkTimes(entry.times, nowSeconds, options.leewaySeconds);
    }
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
        o.hs256Secret = detail::readKeyFile(secretFile);
        Poco::trimRightInPlace(o.hs256Secret); // editors add a final newline
    }
    const std::string publicKeyFile = config.getString(p + "rs256PublicKeyFile", "");
    if (!publicKeyFile.empty())
        o.rs256PublicKeyPem = detail::readKeyFile(publicKeyFile);
    o.issuer = config.getString(p + "issuer", "");
    o.audience = config.getString(p + "audience", "");
    o.leewaySeconds = config.getInt(p + "leewaySeconds", o.leewaySeconds);
    o.allowTokenRoles = config.getBool(p + "allowTokenRoles", o.allowTokenRoles);
    o.maxTokenBytes = static_cast<std::size_t>(config.getUInt(p + "maxTokenBytes", static_cast<unsigned>(o.maxTokenBytes)));
    o.cacheSize = static_cast<std::size_t>(config.getUInt(p + "cacheSize", static_cast<unsigned>(o.cacheSize)));
    return o;
}

TokenVerifier::TokenVerifier(const Options& options) : _impl(std::make_unique<Impl>(checked(options)))
{
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

void TokenVerifier::Impl::remember(std::string key, CacheEntry entry, double nowSeconds) const
{
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (cache.size() >= options.cacheSize)
    {
        // Only verified tokens get here, so an attacker cannot flood the cache with garbage;
        // dropping expired entries first and then any one entry keeps it bounded.
        for (auto it = cache.begin(); it != cache.end();)
            it = nowSeconds > it->second.times.expires + options.leewaySeconds ? cache.erase(it) : std::next(it);
        if (cache.size() >= options.cacheSize)
            cache.erase(cache.begin());
    }
    cache.emplace(std::move(key), std::move(entry));
}

// A token no cache knows: its structure and header, its signature, then (only
// once that holds) its claims and the Principal they make.
VerifyResult TokenVerifier::Impl::verifyUncached(std::string_view token, double nowSeconds, CacheEntry& entry) const
{
    detail::CompactJws jws;
    if (VerifyResult r = detail::parseCompactJws(token, jws); !r.ok())
        return r;
    if (VerifyResult r = keys.verify(jws); !r.ok())
        return r;
    Poco::JSON::Object::Ptr payload;
    if (VerifyResult r = detail::decodePayload(jws.payload, payload); !r.ok())
        return r;
    Principal& principal = entry.principal;
    principal.algorithm = jws.algorithm;
    if (VerifyResult r = detail::checkClaims(*payload, options, nowSeconds, entry.times, principal); !r.ok())
        return r;
    if (VerifyResult r = detail::readPrincipal(*payload, options, principal); !r.ok())
        return r;
    VerifyResult ok;
    ok.principal = principal;
    return ok;
}

} // namespace hub::auth
