#include "hub/host/Manifest.h"

#include "hub/xml/Document.h"
#include "hub/xml/Error.h"
#include "hub/xml/Node.h"
#include "hub/xml/Schema.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <set>

namespace hub::host {

extern const char* const kPluginXsd;  // generated from sdk/schema/plugin.xsd

namespace {

constexpr const char* kNamespace = "urn:campushub:plugin:1";
constexpr std::size_t kMaxManifestBytes = 256 * 1024;
constexpr const char* kIdentityChanged = "edu.campus.hub.identity.changed";

const xml::Schema& schema() {
    static const xml::Schema compiled = xml::Schema::fromMemory(kPluginXsd, "plugin.xsd");
    return compiled;
}

// "file:line: field: message" for each problem, one per line.
std::string describe(const std::vector<xml::Error>& errors) {
    std::string out;
    for (const auto& e : errors) {
        if (!out.empty()) out += "\n";
        out += e.file + ":" + std::to_string(e.line) + ": ";
        // libxml2's paths for namespaced documents read "/*/*[2]": say nothing then.
        if (!e.path.empty() && e.path.find('*') == std::string::npos) out += e.path + ": ";
        out += e.message;
    }
    return out;
}

std::vector<std::string> words(const std::string& list) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while ((at = list.find_first_not_of(" \t\r\n", at)) != std::string::npos) {
        auto end = list.find_first_of(" \t\r\n", at);
        out.push_back(list.substr(at, end - at));
        at = end;
    }
    return out;
}

// The schema has checked each attribute's form; what it cannot say about their
// combination is checked here (and likewise by the conformance kit).
AccessPolicy readPolicy(const std::string& path, const xml::Node& op) {
    AccessPolicy p;
    auto where = [&] {
        return path + ":" + std::to_string(op.line()) + ": operation[@name=" + op.attribute("name", "") + "]: ";
    };
    p.anyAudience = op.attribute("access", "") == "authenticated";
    p.audiences = words(op.attribute("audiences", ""));
    p.roles = words(op.attribute("roles", ""));
    p.self = op.attribute("self", "");
    p.webhook = op.attribute("webhook", "false") == "true" || op.attribute("webhook", "") == "1";
    if (p.webhook && (p.anyAudience || !p.audiences.empty() || !p.roles.empty() || !p.self.empty()))
        throw ManifestError(where() + "a webhook is called only by the vendor's signed callbacks; drop access, "
                                      "audiences, roles and self");
    p.declared = p.webhook || p.anyAudience || !p.audiences.empty() || !p.roles.empty();
    if (p.anyAudience && !p.audiences.empty())
        throw ManifestError(where() +
                            "access=\"authenticated\" already admits every audience; drop audiences or access");
    if (!p.self.empty() && !p.anyAudience && p.audiences.empty())
        throw ManifestError(where() + "self binds the input to callers admitted by audiences or access; name them");
    return p;
}

}  // namespace

bool Manifest::subscribesTo(std::string_view type) const {
    return std::find(subscribes.begin(), subscribes.end(), type) != subscribes.end();
}

bool Manifest::hasOperation(std::string_view op) const { return findOperation(op) != nullptr; }

const Manifest::Operation* Manifest::findOperation(std::string_view op) const {
    for (const auto& o : operations)
        if (o.name == op) return &o;
    return nullptr;
}

Manifest readManifest(const std::string& path) {
    xml::ParseOptions options;
    options.maxBytes = kMaxManifestBytes;
    std::optional<xml::Document> doc;
    try {
        doc.emplace(xml::Document::parseFile(path, options));
    } catch (const xml::XmlException& e) {
        throw ManifestError(e.errors().empty() ? path + ": " + e.what() : describe(e.errors()));
    }
    xml::Node root = doc->root();
    if (root.name() != "plugin" || root.namespaceUri() != kNamespace)
        throw ManifestError(path + ":" + std::to_string(root.line()) + ": /" + root.name() +
                            ": the root must be <plugin xmlns=\"" + kNamespace + "\">");
    // Structure, types and patterns are the schema's job (sdk/schema/plugin.xsd,
    // which vendors run through xmllint too); errors name file, line and field.
    auto errors = schema().validate(*doc);
    if (!errors.empty()) throw ManifestError(describe(errors));

    Manifest m;
    m.file = path;
    m.name = root.attribute("name", "");
    m.version = root.attribute("version", "");
    std::string abi = root.attribute("abi", "");
    auto dot = abi.find('.');
    m.abiMajor = std::stoi(abi.substr(0, dot));
    m.abiMinor = std::stoi(abi.substr(dot + 1));
    m.library = root.attribute("library", "");
    m.isolation = root.attribute("isolation", "inproc");
    if (auto v = root.child("vendor")) m.vendor = v->text();
    if (auto d = root.child("description")) m.description = d->text();
    for (const auto& op : root.child("operations")->children("operation"))
        m.operations.push_back({op.attribute("name", ""), op.text(), readPolicy(path, op)});
    if (auto owns = root.child("owns"))
        for (const auto& d : owns->children("data")) m.owns.push_back(d.text());
    if (auto p = root.child("provisions")) {
        std::string v = p->attribute("identities", "false");
        m.provisionsIdentities = v == "true" || v == "1";
    }
    if (auto s = root.child("subscribes"))
        for (const auto& e : s->children("event")) {
            std::string type = e.attribute("type", "");
            if (!m.subscribesTo(type)) m.subscribes.push_back(type);
        }
    if (auto e = root.child("emits"))
        for (const auto& ev : e->children("event")) {
            std::string type = ev.attribute("type", "");
            if (std::find(m.emits.begin(), m.emits.end(), type) == m.emits.end()) m.emits.push_back(type);
        }
    // A plugin that provisions accounts must hear of every identity change.
    if (m.provisionsIdentities && !m.subscribesTo(kIdentityChanged)) m.subscribes.emplace_back(kIdentityChanged);
    if (auto config = root.child("config"))
        for (const auto& k : config->children("key")) {
            std::string required = k.attribute("required", "false");
            m.config.push_back({k.attribute("name", ""), k.attribute("type", "string"),
                                required == "true" || required == "1"});
        }
    return m;
}

std::string describeMismatch(const Manifest& manifest, std::string_view describeJson) {
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(std::string(describeJson));
        if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return "describe did not return a JSON object";
        auto object = parsed.extract<Poco::JSON::Object::Ptr>();
        std::string name = object->optValue<std::string>("name", "");
        std::string version = object->optValue<std::string>("version", "");
        if (name != manifest.name || version != manifest.version)
            return "library is " + name + " " + version + " but manifest " + manifest.file + " says " +
                   manifest.name + " " + manifest.version;
        std::set<std::string> described, declared;
        if (auto ops = object->getArray("operations"))
            for (std::size_t i = 0; i < ops->size(); ++i)
                if (auto op = ops->getObject(static_cast<unsigned>(i)))
                    described.insert(op->optValue<std::string>("name", ""));
        for (const auto& op : manifest.operations) declared.insert(op.name);
        if (described != declared) return "operations of the library differ from " + manifest.file;
        return {};
    } catch (const Poco::Exception& e) {
        return "describe returned invalid JSON: " + e.displayText();
    } catch (const std::exception& e) {
        return std::string("describe returned invalid JSON: ") + e.what();
    }
}

}  // namespace hub::host
