#include "hub/catalog/DataOwners.h"

#include "hub/common/ConfigValue.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/AbstractConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <algorithm>
#include <array>

namespace hub::catalog {

namespace {

constexpr std::array<const char*, 6> kAttributes = {"id", "name", "department", "email", "phone", "audience"};

std::vector<FieldOwner> read(const Poco::Util::AbstractConfiguration& c, const std::string& prefix) {
    std::vector<FieldOwner> out;
    for (int i = 0;; ++i) {
        const std::string base = prefix + "field[" + std::to_string(i) + "]";
        if (!c.has(base) && !c.has(base + "[@name]")) break;
        FieldOwner o;
        o.where = base;
        o.field = c.getString(base + "[@name]", "");
        o.source = c.getString(base + "[@source]", "");
        if (o.field.empty()) throw config::ConfigError(base + ": name is missing");
        if (o.fromDirectory()) {
            o.attribute = c.getString(base + "[@attribute]", o.field);
            if (std::find(kAttributes.begin(), kAttributes.end(), o.attribute) == kAttributes.end())
                throw config::ConfigError(base + " (" + o.field + "): attribute '" + o.attribute +
                                          "' is not one of id, name, department, email, phone, audience");
        } else if (o.source.rfind("plugin:", 0) == 0 && o.source.size() > 7) {
            o.plugin = o.source.substr(7);
            o.operation = c.getString(base + "[@operation]", "");
            o.key = c.getString(base + "[@key]", "");
            o.result = c.getString(base + "[@result]", o.field);
            if (o.operation.empty() || o.key.empty())
                throw config::ConfigError(base + " (" + o.field + "): a plugin source needs operation and key");
        } else {
            throw config::ConfigError(base + " (" + o.field + "): source '" + o.source +
                                      "' is neither directory nor plugin:<system>");
        }
        out.push_back(std::move(o));
    }
    return out;
}

}  // namespace

std::shared_ptr<const DataOwners> DataOwners::fromConfig(const Poco::Util::AbstractConfiguration& config) {
    auto owners = std::make_shared<DataOwners>();
    if (config.has("privacy.ownersFile")) {
        const std::string file = config.getString("privacy.ownersFile");
        Poco::AutoPtr<Poco::Util::XMLConfiguration> xml;
        try {
            xml = new Poco::Util::XMLConfiguration(file);
        } catch (const Poco::Exception& e) {
            throw config::ConfigError("privacy.ownersFile " + file + ": " + e.displayText());
        }
        owners->owners_ = read(*xml, "");
        for (auto& o : owners->owners_) o.where = file + ": " + o.where;
    } else {
        owners->owners_ = read(config, "privacy.owners.");
    }
    // One datum, one source: a field listed twice is refused, naming both.
    for (std::size_t i = 0; i < owners->owners_.size(); ++i)
        for (std::size_t j = 0; j < i; ++j) {
            const auto& a = owners->owners_[j];
            const auto& b = owners->owners_[i];
            if (a.field == b.field)
                throw config::ConfigError("field '" + a.field + "' has two sources: " + a.source + " (" + a.where +
                                          ") and " + b.source + " (" + b.where + "); one datum, one source");
        }
    return owners;
}

const FieldOwner* DataOwners::find(const std::string& field) const {
    for (const auto& o : owners_)
        if (o.field == field) return &o;
    return nullptr;
}

}  // namespace hub::catalog
