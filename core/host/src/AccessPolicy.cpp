#include "hub/host/AccessPolicy.h"

#include "hub/host/Manifest.h"

#include <Poco/Exception.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace hub::host {

namespace {

bool contains(const std::vector<std::string>& list, std::string_view value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

bool intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    return std::any_of(a.begin(), a.end(), [&](const std::string& x) { return contains(b, x); });
}

std::string joined(const std::vector<std::string>& list) {
    std::string out;
    for (const auto& item : list) {
        if (!out.empty()) out += ' ';
        out += item;
    }
    return out;
}

std::vector<std::string> listedWords(const std::string& list) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while ((at = list.find_first_not_of(" \t\r\n,", at)) != std::string::npos) {
        auto end = list.find_first_of(" \t\r\n,", at);
        out.push_back(list.substr(at, end - at));
        at = end;
    }
    return out;
}

// Keeps the member's decoded value and counts its occurrences at depth 1; the
// rest of the document is only walked.
struct MemberFinder : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, MemberFinder> {
    std::string_view name;
    std::string* value = nullptr;
    int depth = 0;
    bool rootIsObject = false;
    bool atMember = false;  // the next value at depth 1 is the member's
    int occurrences = 0;
    bool isString = false;

    // A value where the member's value is expected that is not a string.
    void other() {
        if (depth == 1 && atMember) isString = false;
        atMember = false;
    }
    bool Default() {
        other();
        return true;
    }
    bool String(const char* s, rapidjson::SizeType length, bool) {
        if (depth == 1 && atMember) {
            value->assign(s, length);
            isString = true;
        }
        atMember = false;
        return true;
    }
    bool Key(const char* s, rapidjson::SizeType length, bool) {
        if (depth == 1) {
            atMember = std::string_view(s, length) == name;
            if (atMember) ++occurrences;
        }
        return true;
    }
    bool StartObject() {
        if (depth == 0) rootIsObject = true;
        other();
        ++depth;
        return true;
    }
    bool StartArray() {
        other();
        ++depth;
        return true;
    }
    bool EndObject(rapidjson::SizeType) {
        --depth;
        return true;
    }
    bool EndArray(rapidjson::SizeType) {
        --depth;
        return true;
    }
};

// hub.xml names the operation's policy keys like this in its errors.
std::string keyOf(const std::string& plugin, const std::string& operation, std::string_view attribute = {}) {
    std::string key = "plugins.plugin[@name=" + plugin + "].operation[@name=" + operation + "]";
    if (!attribute.empty()) key += "[@" + std::string(attribute) + "]";
    return key;
}

bool isRole(std::string_view role) {
    if (role.empty() || role.size() > 128 || !std::isalnum(static_cast<unsigned char>(role.front()))) return false;
    return std::all_of(role.begin(), role.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' || c == '-';
    });
}

bool isAudience(std::string_view a) {
    return a == "student" || a == "teacher" || a == "staff" || a == "visitor";
}

bool isField(std::string_view f) {
    if (f.empty() || f.size() > 64 || std::isdigit(static_cast<unsigned char>(f.front()))) return false;
    return std::all_of(f.begin(), f.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

MemberLookup findTopLevelString(std::string_view json, std::string_view name, std::string& value) {
    // RapidJSON stops at a NUL byte; valid JSON text has none outside escapes.
    if (json.find('\0') != std::string_view::npos) return MemberLookup::NotObject;
    thread_local rapidjson::Reader reader;
    MemberFinder finder;
    finder.name = name;
    finder.value = &value;
    rapidjson::MemoryStream in(json.data(), json.size());
    if (!reader.Parse<rapidjson::kParseIterativeFlag>(in, finder) || !finder.rootIsObject)
        return MemberLookup::NotObject;
    if (finder.occurrences == 0) return MemberLookup::Missing;
    if (finder.occurrences > 1) return MemberLookup::Repeated;
    return finder.isString ? MemberLookup::Found : MemberLookup::NotString;
}

std::string AccessPolicy::describe() const {
    if (webhook) return "the vendor's signed callbacks (webhook)";
    std::string out;
    if (anyAudience)
        out = "any signed-in caller";
    else if (!audiences.empty())
        out = "audiences " + joined(audiences);
    if (!out.empty() && !self.empty()) out += " (self " + self + ")";
    if (!roles.empty()) out += (out.empty() ? "roles " : "; roles ") + joined(roles);
    return out.empty() ? "nobody" : out;
}

std::string AccessPolicy::refusal(std::string_view user, const std::vector<std::string>& callerRoles,
                                  const std::vector<std::string>& callerAudiences, std::string_view input) const {
    if (!declared) return "declares no access policy; see docs/sdk/abi-reference.md#access-policies";
    if (disabled) return "is disabled by the operator (hub.xml)";
    if (webhook) return "is a webhook: only the vendor's signed callbacks call it";
    if (user.empty()) return "needs an authenticated caller";
    if (intersects(roles, callerRoles)) return {};
    if (!anyAudience && !intersects(audiences, callerAudiences))
        return "is for " + describe() + "; the caller has none of them";
    if (self.empty()) return {};
    std::string value;
    switch (findTopLevelString(input, self, value)) {
        case MemberLookup::Found:
            if (value == user) return {};
            return "takes only the caller's own id as '" + self + "'";
        case MemberLookup::Repeated:
            return "takes '" + self + "' once; the input has it more than once";
        case MemberLookup::Missing:
        case MemberLookup::NotString:
        case MemberLookup::NotObject:
            break;
    }
    return "needs '" + self + "' in its input object: a string, the caller's own id";
}

void applyOperatorPolicies(Manifest& manifest, const Poco::Util::AbstractConfiguration* plugins) {
    if (!plugins) return;
    const std::string base = "plugin[@name=" + manifest.name + "]";
    std::vector<std::string> seen;
    for (int n = 0;; ++n) {
        const std::string entry = base + ".operation[" + std::to_string(n) + "]";
        if (!plugins->has(entry)) break;
        const std::string name = plugins->getString(entry + "[@name]", "");
        if (name.empty())
            throw std::invalid_argument("plugins." + entry + "[@name]: names the operation whose policy it narrows");
        if (contains(seen, name)) throw std::invalid_argument(keyOf(manifest.name, name) + ": given twice");
        seen.push_back(name);
        auto op = std::find_if(manifest.operations.begin(), manifest.operations.end(),
                               [&](const Manifest::Operation& o) { return o.name == name; });
        if (op == manifest.operations.end())
            throw std::invalid_argument(keyOf(manifest.name, name) + ": plugin " + manifest.name +
                                        " has no operation '" + name + "'");
        AccessPolicy& policy = op->access;
        auto given = [&](const char* attribute) { return plugins->has(entry + "[@" + attribute + "]"); };
        // What is not read must not look as if it were: a tightening that silently
        // does nothing is worse than none.
        Poco::Util::AbstractConfiguration::Keys children;
        plugins->keys(entry, children);
        if (!children.empty())
            throw std::invalid_argument(keyOf(manifest.name, name) +
                                        ": give roles, audiences, self, access and "
                                        "enabled as attributes, not as elements (<" +
                                        children.front() + ">)");
        if (!given("roles") && !given("audiences") && !given("self") && !given("access") && !given("enabled"))
            throw std::invalid_argument(keyOf(manifest.name, name) +
                                        ": changes nothing; the attributes are roles, audiences, self, access and "
                                        "enabled");
        auto text = [&](const char* attribute) { return plugins->getString(entry + "[@" + attribute + "]"); };
        auto refuse = [&](const char* attribute, const std::string& why) {
            throw std::invalid_argument(keyOf(manifest.name, name, attribute) + ": " + why);
        };

        // The manifest's author knows what the operation reveals: without a
        // policy of theirs, the operator's stands alone; with one, it only narrows.
        const bool own = !policy.declared;
        if (policy.webhook && (given("roles") || given("audiences") || given("self") || given("access")))
            throw std::invalid_argument(keyOf(manifest.name, name) +
                                        ": is a webhook (the vendor's signed callbacks only); hub.xml may only "
                                        "turn it off with enabled=\"false\"");
        if (given("enabled")) {
            try {
                policy.disabled = !plugins->getBool(entry + "[@enabled]");
            } catch (const Poco::SyntaxException&) {
                refuse("enabled", "must be true or false, not '" + text("enabled") + "'");
            }
        }
        if (given("access")) {
            if (text("access") != "authenticated") refuse("access", "the only value is 'authenticated'");
            if (!own && !policy.anyAudience)
                refuse("access", "would admit every signed-in caller; the manifest admits " + policy.describe() +
                                     " and hub.xml may only narrow it");
            policy.anyAudience = true;
        }
        if (given("audiences")) {
            auto list = listedWords(text("audiences"));
            for (const auto& a : list) {
                if (!isAudience(a)) refuse("audiences", "'" + a + "' is not student, teacher, staff or visitor");
                if (!own && !policy.anyAudience && !contains(policy.audiences, a))
                    refuse("audiences", "'" + a + "' is not among the manifest's audiences (" +
                                            joined(policy.audiences) + "); hub.xml may only narrow them");
            }
            if (own && policy.anyAudience && !list.empty())
                refuse("audiences", "access=\"authenticated\" already admits every audience");
            policy.anyAudience = false;
            policy.audiences = std::move(list);
        }
        if (given("roles")) {
            auto list = listedWords(text("roles"));
            for (const auto& r : list) {
                if (!isRole(r)) refuse("roles", "'" + r + "' is not a role name");
                if (!own && !contains(policy.roles, r))
                    refuse("roles", "'" + r + "' is not among the manifest's roles (" + joined(policy.roles) +
                                        "); hub.xml may only narrow them");
            }
            policy.roles = std::move(list);
        }
        if (given("self")) {
            std::string self = text("self");
            if (!self.empty() && !isField(self)) refuse("self", "'" + self + "' is not an input member name");
            if (!policy.self.empty() && self != policy.self)
                refuse("self", "the manifest binds '" + policy.self +
                                   "'; hub.xml may add a binding, not change or "
                                   "drop one");
            policy.self = std::move(self);
        }
        if (own) {
            if (!policy.self.empty() && !policy.anyAudience && policy.audiences.empty())
                refuse("self", "binds the input for callers admitted by audiences or access; name them");
            policy.declared = policy.anyAudience || !policy.audiences.empty() || !policy.roles.empty();
            policy.fromHubConfig = policy.declared;
        }
    }
}

}  // namespace hub::host
