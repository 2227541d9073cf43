#include "hub/identity/Mapping.h"

#include "Json.h"
#include "hub/common/JsonWriter.h"
#include "hub/common/Utf8.h"

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <algorithm>
#include <cstdint>
#include <set>

namespace hub::identity {

namespace {

std::map<std::string, std::string> readMap(const Poco::Util::AbstractConfiguration& c, const std::string& key,
                                           std::map<std::string, std::string> fallback) {
    Poco::Util::AbstractConfiguration::Keys keys;
    c.keys(key, keys);
    if (keys.empty()) return fallback;
    std::map<std::string, std::string> out;
    for (const auto& k : keys) out[Poco::toLower(k)] = c.getString(key + "." + k);
    return out;
}

void addUnique(std::vector<std::string>& list, const std::string& value) {
    if (value.empty()) return;
    if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

// The RDN value of the first ou= in the DN's parent, for persons without a
// department attribute.
std::string nearestOu(const std::string& dn) {
    std::size_t pos = 0;
    std::string lower = Poco::toLower(dn);
    while ((pos = lower.find("ou=", pos)) != std::string::npos) {
        if (pos == 0 || lower[pos - 1] == ',' || lower[pos - 1] == ' ') {
            std::size_t end = dn.find(',', pos);
            return Poco::trim(dn.substr(pos + 3, end == std::string::npos ? std::string::npos : end - pos - 3));
        }
        pos += 3;
    }
    return {};
}

}  // namespace

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> out;
    Poco::StringTokenizer t(text, ",", Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    for (const auto& s : t) out.push_back(s);
    return out;
}

std::string sanitizeValue(const std::string& value, std::size_t maxBytes) {
    // Fast path: plain valid values are the norm.
    if (value.size() <= maxBytes && isValidUtf8(value)) return value;
    std::string out;
    out.reserve(std::min(value.size(), maxBytes));
    for (std::size_t i = 0; i < value.size();) {
        std::size_t n = utf8SequenceLength(value, i);
        std::string_view piece = n ? std::string_view(value).substr(i, n) : std::string_view("\xEF\xBF\xBD");
        if (out.size() + piece.size() > maxBytes) break;
        out.append(piece);
        i += n ? n : 1;
    }
    return out;
}

std::string normalizeDn(const std::string& dn) {
    // Written through a pointer into a string of the full length, cut at the end:
    // appending byte by byte made this a visible cost (twice per person per sync).
    std::string out(dn.size(), '\0');
    char* o = out.data();
    char* const begin = o;
    for (std::size_t i = 0; i < dn.size(); ++i) {
        char c = dn[i];
        if (c == ' ' && (o == begin || o[-1] == ',' || o[-1] == '=' ||
                         (i + 1 < dn.size() && (dn[i + 1] == ',' || dn[i + 1] == '='))))
            continue;
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        *o++ = c;
    }
    out.resize(static_cast<std::size_t>(o - begin));
    return out;
}

void GroupIndex::add(const Group& group) {
    if (group.status != PersonStatus::Active) return;
    std::string dn = normalizeDn(group.dn);
    auto [slot, inserted] = byDn_.emplace(dn, groups_.size());
    if (inserted) groups_.push_back({group.name, dn});
    for (const auto& m : group.members) {
        auto& list = byMember_[m];
        if (std::find(list.begin(), list.end(), slot->second) == list.end()) list.push_back(slot->second);
    }
}

void GroupIndex::clear() {
    groups_.clear();
    byDn_.clear();
    byMember_.clear();
}

std::vector<const GroupIndex::Entry*> GroupIndex::entriesOf(const std::string& dn, const std::string& id) const {
    std::vector<const Entry*> out;
    if (byMember_.empty()) return out;
    auto add = [&](const std::vector<std::size_t>& list) {
        for (std::size_t i : list)
            if (std::find(out.begin(), out.end(), &groups_[i]) == out.end()) out.push_back(&groups_[i]);
    };
    if (auto it = byMember_.find(normalizeDn(dn)); it != byMember_.end()) add(it->second);
    if (!id.empty())
        if (auto it = byMember_.find("uid:" + id); it != byMember_.end()) add(it->second);
    std::sort(out.begin(), out.end(),
              [](const Entry* a, const Entry* b) { return a->name != b->name ? a->name < b->name : a->dn < b->dn; });
    return out;
}

std::vector<std::string> GroupIndex::groupsOf(const std::string& dn, const std::string& id) const {
    std::vector<std::string> out;
    for (const Entry* e : entriesOf(dn, id)) addUnique(out, e->name);
    return out;
}

namespace {

// The parent of a normalised DN: what follows its first unescaped comma.
std::string_view parentDn(std::string_view dn) {
    for (std::size_t i = 0; i < dn.size(); ++i) {
        if (dn[i] == '\\') {
            ++i;
            continue;
        }
        if (dn[i] == ',') return dn.substr(i + 1);
    }
    return {};
}

}  // namespace

std::optional<std::string> GroupGrants::of(const GroupIndex::Entry& group) const {
    if (auto it = byDn.find(group.dn); it != byDn.end()) return it->second;
    // One level only: a group in a subtree below the base confers nothing.
    if (!base.empty() && !group.name.empty() && parentDn(group.dn) == base) return group.name;
    return std::nullopt;
}

GroupGrants GroupGrants::fromConfig(const Poco::Util::AbstractConfiguration& c, const std::string& key,
                                    const std::string& valueName) {
    GroupGrants g;
    const std::string full = "identity.mapping." + key;
    Poco::Util::AbstractConfiguration::Keys keys;
    c.keys(key, keys);
    for (const auto& k : keys)
        if (k.rfind("group", 0) != 0)
            throw Poco::InvalidArgumentException(
                full + "." + k + ": groups are named by DN, not by cn (anyone who may create a group "
                "anywhere in the directory could pick that name): use " + full + ".group[@dn=DN][@" + valueName +
                "=VALUE], or " + full + "Base for the groups directly below a DN");
    for (int i = 0;; ++i) {
        std::string b = key + ".group[" + std::to_string(i) + "]";
        bool hasDn = c.has(b + "[@dn]") || c.has(b + ".dn");
        bool hasValue = c.has(b + "[@" + valueName + "]") || c.has(b + "." + valueName);
        if (!hasDn && !hasValue) break;
        std::string dn = c.getString(b + "[@dn]", c.getString(b + ".dn", ""));
        std::string value = c.getString(b + "[@" + valueName + "]", c.getString(b + "." + valueName, ""));
        if (Poco::trim(dn).empty() || Poco::trim(value).empty())
            throw Poco::InvalidArgumentException("identity.mapping." + b + " needs both dn and " + valueName);
        g.byDn[normalizeDn(Poco::trim(dn))] = Poco::trim(value);
    }
    g.base = normalizeDn(Poco::trim(c.getString(key + "Base", "")));
    return g;
}

Mapping::Mapping()
    : idAttribute("uid"),
      nameAttributes{"displayName", "cn"},
      departmentAttributes{"ou", "departmentNumber"},
      audienceAttributes{"eduPersonAffiliation"},
      audienceValues{{"student", "student"}, {"faculty", "teacher"}, {"teacher", "teacher"},
                     {"staff", "staff"}, {"employee", "staff"}},
      emailAttributes{"mail"},
      phoneAttributes{"telephoneNumber"},
      keepAttributes{"cn", "sn", "givenName", "title", "employeeType", "departmentNumber"} {}

Mapping Mapping::fromConfig(const Poco::Util::AbstractConfiguration& c) {
    Mapping m;
    m.idAttribute = c.getString("id", m.idAttribute);
    if (c.has("name")) m.nameAttributes = splitList(c.getString("name"));
    if (c.has("department")) m.departmentAttributes = splitList(c.getString("department"));
    if (c.has("audience")) m.audienceAttributes = splitList(c.getString("audience"));
    m.audienceValues = readMap(c, "audienceValues", m.audienceValues);
    m.audienceGroups = GroupGrants::fromConfig(c, "audienceGroups", "audience");
    if (c.has("roles")) m.roleAttributes = splitList(c.getString("roles"));
    m.roleGroups = GroupGrants::fromConfig(c, "roleGroups", "role");
    if (c.has("email")) m.emailAttributes = splitList(c.getString("email"));
    if (c.has("phone")) m.phoneAttributes = splitList(c.getString("phone"));
    if (c.has("keep")) m.keepAttributes = splitList(c.getString("keep"));
    m.maxValueBytes = static_cast<std::size_t>(c.getInt("maxValueBytes", static_cast<int>(m.maxValueBytes)));
    return m;
}

const Mapping::Plan& Mapping::plan() const {
    if (plan_) return *plan_;
    Plan plan;
    plan.attributes = personAttributes();
    auto slots = [&](const std::vector<std::string>& names) {
        std::vector<std::size_t> out;
        for (const auto& n : names) {
            auto it = std::find(plan.attributes.begin(), plan.attributes.end(), n);
            if (it != plan.attributes.end()) out.push_back(static_cast<std::size_t>(it - plan.attributes.begin()));
        }
        return out;
    };
    plan.id = slots({idAttribute});
    plan.name = slots(nameAttributes);
    plan.department = slots(departmentAttributes);
    plan.audience = slots(audienceAttributes);
    plan.roles = slots(roleAttributes);
    plan.emails = slots(emailAttributes);
    plan.phones = slots(phoneAttributes);
    plan_ = std::move(plan);
    return *plan_;
}

std::vector<std::string> Mapping::personAttributes() const {
    std::vector<std::string> out;
    auto addAll = [&](const std::vector<std::string>& l) {
        for (const auto& a : l) addUnique(out, a);
    };
    addUnique(out, idAttribute);
    addAll(nameAttributes);
    addAll(departmentAttributes);
    addAll(audienceAttributes);
    addAll(roleAttributes);
    addAll(emailAttributes);
    addAll(phoneAttributes);
    addAll(keepAttributes);
    return out;
}

namespace {

// Sanitises in place: valid, short values (nearly all) are left untouched, no copy.
void sanitizeInPlace(std::string& v, std::size_t max) {
    if (v.size() > max || !isValidUtf8(v)) v = sanitizeValue(v, max);
}

void lowerInto(std::string& out, const std::string& in) {
    out.assign(in);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
}

}  // namespace

Person Mapping::mapPerson(const ldap::Entry& entry, const std::string& entryUuid, const GroupIndex& groups) const {
    ldap::Entry copy = entry;
    return mapPerson(std::move(copy), entryUuid, groups);
}

Person Mapping::mapPerson(ldap::Entry&& entry, const std::string& entryUuid, const GroupIndex& groups) const {
    for (auto& a : entry.attributes)
        for (auto& v : a.values) sanitizeInPlace(v, maxValueBytes);
    sanitizeInPlace(entry.dn, maxValueBytes);
    Person p;
    p.entryUuid = entryUuid;
    p.modifyTimestamp = entry.first("modifyTimestamp");
    p.dn = std::move(entry.dn);
    return finish(std::move(p), entry, groups);
}

Person Mapping::remapPerson(const Person& stored, const GroupIndex& groups) const {
    ldap::Entry e;
    e.dn = stored.dn;
    e.attributes = detail::parseJsonAttributes(stored.attributesJson);
    Person p;
    p.entryUuid = stored.entryUuid;
    p.dn = stored.dn;
    p.modifyTimestamp = stored.modifyTimestamp;
    p.status = stored.status;
    return finish(std::move(p), e, groups);
}

// `entry`'s values are already sanitised.
Person Mapping::finish(Person p, const ldap::Entry& entry, const GroupIndex& groups) const {
    const Plan& plan = this->plan();
    // The entry's values of each mapped attribute, found in one pass over the entry
    // instead of a scan of it for every use. As Entry::values: the first attribute
    // of that name (case-insensitive) wins.
    static const std::vector<std::string> none;
    std::vector<const std::vector<std::string>*> values(plan.attributes.size(), &none);
    for (const auto& a : entry.attributes)
        for (std::size_t k = 0; k < values.size(); ++k)
            if (a.name.size() == plan.attributes[k].size() && values[k] == &none &&
                ldap::equalsIgnoreCase(a.name, plan.attributes[k]))
                values[k] = &a.values;

    auto firstOf = [&](const std::vector<std::size_t>& slots) -> std::string {
        for (std::size_t k : slots)
            if (!values[k]->empty()) return values[k]->front();
        return {};
    };
    auto allOf = [&](const std::vector<std::size_t>& slots) {
        std::vector<std::string> out;
        for (std::size_t k : slots)
            for (const auto& v : *values[k]) addUnique(out, v);
        return out;
    };
    p.id = firstOf(plan.id);
    p.name = firstOf(plan.name);
    p.department = firstOf(plan.department);
    if (p.department.empty()) p.department = nearestOu(p.dn);
    p.emails = allOf(plan.emails);
    p.phones = allOf(plan.phones);
    const auto memberOf = groups.entriesOf(p.dn, p.id);
    p.groups.clear();
    for (const auto* g : memberOf) addUnique(p.groups, g->name);

    std::string lower;
    for (std::size_t k : plan.audience)
        for (const auto& v : *values[k]) {
            if (audienceValues.empty()) {
                addUnique(p.audience, v);
                continue;
            }
            lowerInto(lower, v);
            auto it = audienceValues.find(lower);
            if (it != audienceValues.end()) addUnique(p.audience, it->second);
        }
    if (!audienceGroups.empty())
        for (const auto* g : memberOf)
            if (auto audience = audienceGroups.of(*g)) addUnique(p.audience, *audience);
    std::sort(p.audience.begin(), p.audience.end());

    for (const auto& v : allOf(plan.roles)) addUnique(p.roles, v);
    // Only explicitly mapped groups give roles (see GroupGrants); no group does by default.
    if (!roleGroups.empty())
        for (const auto* g : memberOf)
            if (auto role = roleGroups.of(*g)) addUnique(p.roles, *role);
    std::sort(p.roles.begin(), p.roles.end());

    // Keep every mapped input, so a later group change can re-map the person from
    // the store without asking the directory again. Written straight from the entry.
    std::string& jsonText = p.attributesJson;
    jsonText.clear();
    jsonText.reserve(512);
    jsonText += '{';
    bool firstAttr = true;
    for (std::size_t k = 0; k < values.size(); ++k) {
        const auto& v = *values[k];
        if (v.empty()) continue;
        if (!firstAttr) jsonText += ',';
        firstAttr = false;
        json::appendKey(jsonText, plan.attributes[k]);
        json::appendStringArray(jsonText, v);
    }
    jsonText += '}';
    return p;
}

Org Mapping::mapOrg(const ldap::Entry& entry, const std::string& entryUuid) const {
    Org o;
    o.entryUuid = entryUuid;
    o.dn = sanitizeValue(entry.dn, maxValueBytes);
    o.name = sanitizeValue(entry.first("ou"), maxValueBytes);
    o.description = sanitizeValue(entry.first("description"), maxValueBytes);
    auto comma = o.dn.find(',');
    o.parentDn = comma == std::string::npos ? std::string() : o.dn.substr(comma + 1);
    return o;
}

Group Mapping::mapGroup(const ldap::Entry& entry, const std::string& entryUuid) const {
    Group g;
    g.entryUuid = entryUuid;
    g.dn = sanitizeValue(entry.dn, maxValueBytes);
    g.name = sanitizeValue(entry.first("cn"), maxValueBytes);
    for (const char* attr : {"member", "uniqueMember"})
        for (const auto& v : entry.values(attr)) g.members.push_back(normalizeDn(sanitizeValue(v, maxValueBytes)));
    for (const auto& v : entry.values("memberUid")) g.members.push_back("uid:" + sanitizeValue(v, maxValueBytes));
    std::sort(g.members.begin(), g.members.end());
    g.members.erase(std::unique(g.members.begin(), g.members.end()), g.members.end());
    return g;
}

}  // namespace hub::identity
