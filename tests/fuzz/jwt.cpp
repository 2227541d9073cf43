// JWT verification (core/auth TokenVerifier) on hostile bearer tokens, with an
// HS256 secret and an RS256 key configured, and with the RS256 key alone (the
// key-confusion case). Two kinds of input:
//   - anything else: the value of an Authorization header ("Bearer eyJ...");
//   - starting with '{': JSON that the harness signs with the HS256 secret, so the
//     claims checks, which run only behind a valid signature, see hostile
//     payloads too. One line is the payload (under {"alg":"HS256","typ":"JWT"});
//     two lines are the JOSE header, then the payload.
#include "FuzzSupport.h"

#include "hub/auth/TokenVerifier.h"

#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/DigestEngine.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/HMACEngine.h>

#include <memory>
#include <sstream>

namespace {

const std::string kSecret = "campushub-fuzz-secret-0123456789abcdef";
const Poco::Timestamp kNow(Poco::Timestamp::TimeVal(1714550400) * 1000000);  // 2024-05-01T08:00:00Z

class Sha256Engine : public Poco::Crypto::DigestEngine {
public:
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
    Sha256Engine() : Poco::Crypto::DigestEngine("SHA256") {}
};

std::string base64Url(std::string_view bytes) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    encoder.rdbuf()->setLineLength(0);
    encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    encoder.close();
    return out.str();
}

std::string signHs256(std::string_view header, std::string_view payload) {
    std::string input = base64Url(header) + "." + base64Url(payload);
    Poco::HMACEngine<Sha256Engine> hmac(kSecret);
    hmac.update(input.data(), input.size());
    const auto& digest = hmac.digest();
    return input + "." + base64Url(std::string(digest.begin(), digest.end()));
}

struct Verifiers {
    std::unique_ptr<hub::auth::TokenVerifier> both;
    std::unique_ptr<hub::auth::TokenVerifier> rsaOnly;
};

Verifiers& verifiers() {
    static Verifiers* v = [] {
        // A key of this run: no valid RS256 signature can be in the corpus, but
        // every RS256 path up to the signature check is reached.
        Poco::Crypto::RSAKey key(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE);
        std::ostringstream publicPem;
        key.save(&publicPem);
        hub::auth::TokenVerifier::Options o;
        o.hs256Secret = kSecret;
        o.rs256PublicKeyPem = publicPem.str();
        o.issuer = "https://idp.example.edu.cn";
        o.audience = "campushub";
        o.allowTokenRoles = true;
        o.cacheSize = 0;  // each input judged on its own
        auto* made = new Verifiers;
        made->both = std::make_unique<hub::auth::TokenVerifier>(o);
        o.hs256Secret.clear();
        made->rsaOnly = std::make_unique<hub::auth::TokenVerifier>(o);
        return made;
    }();
    return *v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    verifiers();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    Verifiers& v = verifiers();
    if (!input.empty() && input.front() == '{') {
        auto newline = input.find('\n');
        std::string_view header = R"({"alg":"HS256","typ":"JWT"})";
        std::string_view payload = input;
        if (newline != std::string_view::npos) {
            header = input.substr(0, newline);
            payload = input.substr(newline + 1);
        }
        std::string token = signHs256(header, payload);
        auto result = v.both->verify(token, kNow);
        if (result.ok() && result.principal.subject.empty()) hub::fuzz::fail("verified without a subject");
        if (v.rsaOnly->verify(token, kNow).ok()) hub::fuzz::fail("an HS256 token verified with only RS256 configured");
        return 0;
    }
    auto result = v.both->verifyAuthorization(input);
    if (result.ok() && result.principal.subject.empty()) hub::fuzz::fail("verified without a subject");
    v.rsaOnly->verifyAuthorization(input);
    return 0;
}
