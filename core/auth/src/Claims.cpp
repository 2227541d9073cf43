#include "Claims.h"

#include "VerifyFailure.h"
#include "hub/common/Utf8.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JWT/Serializer.h>

#include <cmath>
#include <optional>

namespace hub::auth::detail {
namespace {

constexpr std::size_t kMaxSubjectBytes = 512;
constexpr double kMaxEpochSeconds = 253402300799.0; // 9999-12-31, keeps Timestamp from overflowing

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

// ASCII control characters (C0 or DEL) have no place in an identifier.
bool hasControlCharacters(std::string_view text)
{
    for (const char c : text)
    {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F)
            return true;
    }
    return false;
}

// Runs a claims step, turning what Poco throws about the payload into a refusal.
template <typename Step>
VerifyResult guarded(Step step)
{
    try
    {
        return step();
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
}

} // namespace

VerifyResult checkTimes(const TokenTimes& times, double nowSeconds, int leewaySeconds)
{
    const double leeway = leewaySeconds;
    if (nowSeconds > times.expires + leeway)
        return fail(AuthError::Expired, "token expired (exp is in the past)");
    if (nowSeconds + leeway < times.notBefore)
        return fail(AuthError::NotYetValid, "token not yet valid (nbf is in the future)");
    return {};
}

VerifyResult decodePayload(std::string_view payloadB64, Poco::JSON::Object::Ptr& payload)
{
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
    return {};
}

VerifyResult checkClaims(const Poco::JSON::Object& payload, const TokenVerifier::Options& options, double nowSeconds,
                         TokenTimes& times, Principal& principal)
{
    return guarded([&]() -> VerifyResult {
        const std::optional<double> exp = numericDate(payload, "exp");
        if (!exp)
            return fail(AuthError::InvalidClaims, "token has no 'exp' claim");
        const std::optional<double> nbf = numericDate(payload, "nbf");
        const std::optional<double> iat = numericDate(payload, "iat");
        times.expires = *exp;
        times.notBefore = nbf.value_or(0);
        if (VerifyResult r = checkTimes(times, nowSeconds, options.leewaySeconds); !r.ok())
            return r;
        if (iat && *iat > nowSeconds + options.leewaySeconds)
            return fail(AuthError::InvalidClaims, "token 'iat' is in the future");
        principal.expiresAt = Poco::Timestamp(static_cast<Poco::Timestamp::TimeVal>(*exp * 1e6));

        if (!options.issuer.empty())
        {
            if (!payload.has("iss"))
                return fail(AuthError::WrongIssuer, "token has no 'iss' claim");
            if (stringClaim(payload, "iss") != options.issuer)
                return fail(AuthError::WrongIssuer, "token issuer is not the configured issuer");
        }

        if (!options.audience.empty())
        {
            if (!payload.has("aud"))
                return fail(AuthError::WrongAudience, "token has no 'aud' claim");
            bool found = false;
            if (payload.isArray("aud"))
            {
                Poco::JSON::Array::Ptr audiences = payload.getArray("aud");
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
                found = stringClaim(payload, "aud") == options.audience;
            }
            if (!found)
                return fail(AuthError::WrongAudience, "token audience does not include the configured audience");
        }
        return {};
    });
}

VerifyResult readPrincipal(const Poco::JSON::Object& payload, const TokenVerifier::Options& options,
                           Principal& principal)
{
    return guarded([&]() -> VerifyResult {
        principal.subject = stringClaim(payload, "sub");
        if (principal.subject.empty())
            return fail(AuthError::InvalidClaims, "token has no 'sub' claim");
        if (principal.subject.size() > kMaxSubjectBytes || hasControlCharacters(principal.subject))
            return fail(AuthError::InvalidClaims, "token 'sub' is too long or has control characters");

        principal.tokenId = stringClaim(payload, "jti");

        principal.actingFor = stringClaim(payload, "on_behalf_of");
        if (principal.actingFor.empty() && payload.has("act"))
        {
            // RFC 8693 gives `act` as an object naming the *actor*, the opposite reading;
            // we accept only the plain-string form so the two can never be confused.
            if (payload.isObject("act"))
                return fail(AuthError::InvalidClaims, "token 'act' must be a plain string naming the user");
            principal.actingFor = stringClaim(payload, "act");
        }
        if (principal.actingFor.size() > kMaxSubjectBytes || hasControlCharacters(principal.actingFor))
            return fail(AuthError::InvalidClaims, "token 'on_behalf_of' is too long or has control characters");

        if (options.allowTokenRoles && payload.has("roles"))
        {
            if (!payload.isArray("roles"))
                return fail(AuthError::InvalidClaims, "token 'roles' is not an array of strings");
            Poco::JSON::Array::Ptr roles = payload.getArray("roles");
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
        return {};
    });
}

} // namespace hub::auth::detail
