#include "hub/identity/StaticDirectory.h"

#include <Poco/StringTokenizer.h>

#include <utility>
#include <vector>

namespace hub::identity {

namespace {

std::vector<std::string> split(const std::string& list) {
    Poco::StringTokenizer t(list, ", ", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
    return {t.begin(), t.end()};
}

}  // namespace

StaticDirectory::StaticDirectory(const Poco::Util::AbstractConfiguration& config) {
    for (int i = 0;; ++i) {
        std::string key = "identity.static.person[" + std::to_string(i) + "]";
        if (!config.has(key)) break;
        Person person;
        person.id = config.getString(key + "[@id]");
        person.name = config.getString(key + "[@name]", "");
        person.department = config.getString(key + "[@department]", "");
        person.audience = split(config.getString(key + "[@audience]", ""));
        person.roles = split(config.getString(key + "[@roles]", ""));
        person.emails = split(config.getString(key + "[@emails]", ""));
        person.phones = split(config.getString(key + "[@phones]", ""));
        std::string id = person.id;
        persons_.emplace(std::move(id), std::move(person));
    }
}

const Person* StaticDirectory::find(const std::string& id) const {
    auto it = persons_.find(id);
    return it == persons_.end() ? nullptr : &it->second;
}

std::optional<std::string> StaticDirectory::json(const std::string& id) const {
    const Person* person = find(id);
    if (!person) return std::nullopt;
    return toJson(*person);
}

}  // namespace hub::identity
