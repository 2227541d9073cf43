// Building and checking the idempotency keys and trace contexts that calls
// carry (hub/host/CallContext.h).
#include "hub/host/CallContext.h"

#include <campushub/plugin.h>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <random>

namespace hub::host {

namespace {

bool isLowerHex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool allZero(std::string_view s) {
    return s.find_first_not_of('0') == std::string_view::npos;
}

// Length-prefixed, so no two different lists of parts hash alike ("a/b"+"c" vs "a"+"b/c").
std::string hashParts(std::initializer_list<std::string_view> parts) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    for (std::string_view p : parts) {
        std::string length = std::to_string(p.size()) + ":";
        sha.update(length.data(), static_cast<unsigned>(length.size()));
        sha.update(p.data(), static_cast<unsigned>(p.size()));
    }
    return Poco::DigestEngine::digestToHex(sha.digest());
}

}  // namespace

std::string CallContext::forPortal(std::string_view subject, std::string_view actingFor, std::string_view key) {
    return "portal:" + hashParts({subject, actingFor, key});
}

std::string CallContext::forFlowStep(std::string_view instance, std::string_view element, unsigned attempt) {
    std::string number = std::to_string(attempt);
    std::string plain = "flow:";
    plain.append(instance).append("/").append(element).append("/").append(number);
    // '/' inside a part would make two steps share a key: hash those too.
    bool unambiguous = instance.find('/') == std::string_view::npos && element.find('/') == std::string_view::npos;
    if (unambiguous && isValidIdempotencyKey(plain)) return plain;
    return "flow:" + hashParts({instance, element, number});
}

bool isValidIdempotencyKey(std::string_view key) {
    if (key.empty() || key.size() > kMaxIdempotencyKeyBytes) return false;
    for (unsigned char c : key)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

bool isValidTraceparent(std::string_view v) {
    // 00-<32>-<16>-<2>: 55 characters. Version ff is forbidden, others than 00
    // may carry more fields; the hub only passes on the one it understands.
    if (v.size() != 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
    std::string_view version = v.substr(0, 2), trace = v.substr(3, 32), parent = v.substr(36, 16),
                     flags = v.substr(53, 2);
    return version == "00" && isLowerHex(trace) && isLowerHex(parent) && isLowerHex(flags) && !allZero(trace) &&
           !allZero(parent);
}

std::string childTraceparent(std::string_view value) {
    static const char hex[] = "0123456789abcdef";
    thread_local std::mt19937_64 random{std::random_device{}()};
    std::uint64_t id = 0;
    while (id == 0) id = random();
    std::string out(value.substr(0, 36));
    for (int shift = 60; shift >= 0; shift -= 4) out += hex[(id >> shift) & 0xF];
    out.append(value.substr(52));
    return out;
}

const char* statusName(int status) {
    switch (status) {
    case CH_OK: return "ok";
    case CH_ERR_INVALID_ARGUMENT: return "invalid_argument";
    case CH_ERR_NOT_FOUND: return "not_found";
    case CH_ERR_UNKNOWN_OPERATION: return "unknown_operation";
    case CH_ERR_PERMISSION: return "permission";
    case CH_ERR_CONFLICT: return "conflict";
    case CH_ERR_UNAVAILABLE: return "unavailable";
    case CH_ERR_TIMEOUT: return "timeout";
    default: return "plugin_error";
    }
}

}  // namespace hub::host
