#pragma once
// Private to hub::api: whom the catalogue shows an item to.

#include "hub/api/Http.h"
#include "hub/catalog/Audience.h"

#include <string>

namespace hub::api::detail {

/// The caller's audiences as the catalogue filters by them; hub:admin sees all.
inline catalog::AudienceSet catalogViewerOf(const Principal& p) {
    if (p.hasRole("hub:admin")) return catalog::AudienceSet::all();
    std::string names;
    for (const auto& a : p.audiences) {
        names += a;
        names += ' ';
    }
    auto set = catalog::AudienceSet::parse(names);
    return set ? *set : catalog::AudienceSet{};
}

}  // namespace hub::api::detail
