#include "hub/auth/TokenIssuer.h"

#include "KeyFile.h"

#include <Poco/Crypto/OpenSSLInitializer.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/String.h>
#include <Poco/UUIDGenerator.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <sstream>

namespace hub::auth {

namespace {

// Poco 1.11 sets OpenSSL up when its reference count goes from 0 to 1 and
// deletes the lock array it made then when the count drops back to 0, with
// nothing ordering the two. Every sign() makes and drops a DigestEngine, which
// holds a reference: with nothing else holding one, issuers on two threads
// deleted each other's locks (SIGSEGV in pthread_mutex_destroy or later in
// libcrypto; the cluster test's driver crashed so). The first issuer takes one
// reference for the whole process (a function-local static is made once, the
// other threads wait for it), so the count never goes back to 0 under them.
void holdOpenSslForTheProcess()
{
    static const Poco::Crypto::OpenSSLInitializer held;
}

} // namespace

struct TokenIssuer::Impl
{
    Poco::JWT::Signer signer;
    std::string algorithm;
};

TokenIssuer::TokenIssuer(std::unique_ptr<Impl> impl) : _impl(std::move(impl)) {}
TokenIssuer::TokenIssuer(TokenIssuer&&) noexcept = default;
TokenIssuer& TokenIssuer::operator=(TokenIssuer&&) noexcept = default;
TokenIssuer::~TokenIssuer() = default;

TokenIssuer TokenIssuer::hs256(const std::string& secret)
{
    if (secret.size() < 32)
        throw Poco::InvalidArgumentException("HS256 secret must be at least 32 bytes long");
    holdOpenSslForTheProcess();
    auto impl = std::make_unique<Impl>();
    impl->signer.setHMACKey(secret);
    impl->algorithm = Poco::JWT::Signer::ALGO_HS256;
    return TokenIssuer(std::move(impl));
}

TokenIssuer TokenIssuer::rs256(const std::string& privateKeyPem, const std::string& passphrase)
{
    holdOpenSslForTheProcess();
    auto impl = std::make_unique<Impl>();
    try
    {
        std::istringstream pem(privateKeyPem);
        impl->signer.setRSAKey(new Poco::Crypto::RSAKey(nullptr, &pem, passphrase));
    }
    catch (const Poco::Exception& e)
    {
        throw Poco::InvalidArgumentException("not a valid RSA private key in PEM form", e.displayText());
    }
    impl->algorithm = Poco::JWT::Signer::ALGO_RS256;
    return TokenIssuer(std::move(impl));
}

TokenIssuer TokenIssuer::fromConfig(const Poco::Util::AbstractConfiguration& config, const std::string& prefix)
{
    const std::string p = prefix + ".jwt.";
    std::string secret = config.getRawString(p + "hs256Secret", "");
    if (secret.empty() && config.has(p + "hs256SecretFile"))
    {
        secret = detail::readKeyFile(config.getString(p + "hs256SecretFile"));
        Poco::trimRightInPlace(secret);
    }
    if (!secret.empty())
        return hs256(secret);
    if (config.has(p + "rs256PrivateKeyFile"))
        return rs256(detail::readKeyFile(config.getString(p + "rs256PrivateKeyFile")));
    throw Poco::InvalidArgumentException(p + "hs256Secret, hs256SecretFile or rs256PrivateKeyFile must be set to issue tokens");
}

const std::string& TokenIssuer::algorithm() const
{
    return _impl->algorithm;
}

std::string TokenIssuer::issue(const TokenClaims& claims) const
{
    return issue(claims, Poco::Timestamp());
}

std::string TokenIssuer::issue(const TokenClaims& claims, const Poco::Timestamp& issuedAt) const
{
    if (claims.subject.empty())
        throw Poco::InvalidArgumentException("a token needs a subject");
    Poco::JWT::Token token;
    token.setType("JWT");
    token.setSubject(claims.subject);
    if (!claims.issuer.empty())
        token.setIssuer(claims.issuer);
    if (claims.audience.size() == 1)
        token.setAudience(claims.audience.front());
    else if (!claims.audience.empty())
        token.setAudience(claims.audience);
    // Whole seconds: Poco::JWT::Token writes fractional NumericDates, which some verifiers refuse.
    Poco::JSON::Object& payload = token.payload();
    payload.set("iat", static_cast<Poco::Int64>(issuedAt.epochTime()));
    payload.set("exp", static_cast<Poco::Int64>((issuedAt + claims.lifetime).epochTime()));
    if (claims.notBefore)
        payload.set("nbf", static_cast<Poco::Int64>(claims.notBefore->epochTime()));
    token.setId(claims.tokenId.empty() ? Poco::UUIDGenerator::defaultGenerator().createRandom().toString()
                                       : claims.tokenId);
    if (!claims.roles.empty())
    {
        Poco::JSON::Array::Ptr roles = new Poco::JSON::Array;
        for (const std::string& role : claims.roles)
            roles->add(role);
        payload.set("roles", roles);
    }
    if (!claims.actingFor.empty())
        payload.set("on_behalf_of", claims.actingFor);
    return _impl->signer.sign(token, _impl->algorithm);
}

} // namespace hub::auth
