#pragma once

// How the hashes of a stored person's fields (IdentityStore::hashPerson) are kept
// in its row. Private to hub::identity.
//
// The hashes are stored, and every later run compares against them: hashing a
// field differently - or different bytes, e.g. attributesJson escaped another
// way - makes the next sync report every person as updated (and send an
// identity.changed event for each). MappingTest's StoredFieldHashesKeepTheirBytes
// pins them.

#include "hub/identity/IdentityStore.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace hub::identity::detail {

/// Bytes of the BLOB form: each hash as a little-endian 64-bit word, in field order.
inline constexpr std::size_t kFieldHashBlobBytes = sizeof(FieldHashes::value_type) * std::tuple_size_v<FieldHashes>;

/// The BLOB form (SQLite): half the bytes of the hex text, nothing to format or parse.
void hashesToBlob(const FieldHashes& hashes, unsigned char* out);
/// The hex text form (other databases; stores written before the BLOB form).
std::string hashesToText(const FieldHashes& hashes);
/// Either form, told apart by size; anything else reads as all zero, so every
/// field counts as changed.
FieldHashes hashesFromBytes(std::string_view bytes);

}  // namespace hub::identity::detail
