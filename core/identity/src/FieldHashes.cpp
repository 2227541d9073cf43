#include "FieldHashes.h"

namespace hub::identity {

namespace {

// FNV-1a 64: enough to tell "changed" from "unchanged".
std::uint64_t hashOf(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

std::uint64_t hashOf(const std::vector<std::string>& list) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const auto& s : list) {
        h ^= hashOf(s);
        h *= 0x100000001b3ULL;
    }
    return h ^ list.size();
}

}  // namespace

const std::array<const char*, 11>& IdentityStore::personFieldNames() {
    static const std::array<const char*, 11> names = {"id",     "dn",     "name",   "department", "audience", "roles",
                                                      "groups", "emails", "phones", "attributes", "status"};
    return names;
}

FieldHashes IdentityStore::hashPerson(const Person& p) {
    return {hashOf(p.id),
            hashOf(p.dn),
            hashOf(p.name),
            hashOf(p.department),
            hashOf(p.audience),
            hashOf(p.roles),
            hashOf(p.groups),
            hashOf(p.emails),
            hashOf(p.phones),
            hashOf(p.attributesJson),
            p.status == PersonStatus::Active ? 1u : 2u};
}

namespace detail {

std::string hashesToText(const FieldHashes& h) {
    static const char digits[] = "0123456789abcdef";
    std::string out(h.size() * 16, '0');
    for (std::size_t i = 0; i < h.size(); ++i) {
        std::uint64_t v = h[i];
        for (int k = 15; k >= 0; --k) {
            out[i * 16 + static_cast<std::size_t>(k)] = digits[v & 0x0F];
            v >>= 4;
        }
    }
    return out;
}

void hashesToBlob(const FieldHashes& h, unsigned char* out) {
    for (std::size_t i = 0; i < h.size(); ++i)
        for (std::size_t k = 0; k < 8; ++k) out[i * 8 + k] = static_cast<unsigned char>(h[i] >> (8 * k));
}

FieldHashes hashesFromBytes(std::string_view bytes) {
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t size = bytes.size();
    FieldHashes h{};
    if (size == kFieldHashBlobBytes) {
        for (std::size_t i = 0; i < h.size(); ++i) {
            std::uint64_t v = 0;
            for (std::size_t k = 0; k < 8; ++k) v |= static_cast<std::uint64_t>(data[i * 8 + k]) << (8 * k);
            h[i] = v;
        }
        return h;
    }
    if (size != h.size() * 16) return h;  // unknown: every field counts as changed
    // Hand-rolled: 100,000 rows x 11 hashes are parsed at the start of every run.
    for (std::size_t i = 0; i < h.size(); ++i) {
        std::uint64_t v = 0;
        for (std::size_t k = 0; k < 16; ++k) {
            char c = static_cast<char>(data[i * 16 + k]);
            unsigned d = c >= '0' && c <= '9'   ? static_cast<unsigned>(c - '0')
                         : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
                                                : 0u;
            v = (v << 4) | d;
        }
        h[i] = v;
    }
    return h;
}

}  // namespace detail

}  // namespace hub::identity
