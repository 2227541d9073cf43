// plugin.xml for the conformance kit. The SDK may not use the hub's headers, so
// this is a second reader of the same rules as core/host's Manifest.cpp; keep
// the two in step (the outsider test runs both on the template's manifest).
#include "campushub/testing/conformance.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <regex>
#include <set>

namespace campushub::testing {

extern const char* const kPluginXsd;  // generated from sdk/schema/plugin.xsd

namespace {

constexpr const char* kNamespace = "urn:campushub:plugin:1";
constexpr off_t kMaxManifestBytes = 256 * 1024;

struct DocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

const char* str(const xmlChar* s) { return reinterpret_cast<const char*>(s); }

std::string text(xmlNode* node) {
    xmlChar* content = xmlNodeGetContent(node);
    std::string out = content ? str(content) : "";
    xmlFree(content);
    auto notSpace = [](unsigned char c) { return !std::isspace(c); };
    out.erase(out.begin(), std::find_if(out.begin(), out.end(), notSpace));
    out.erase(std::find_if(out.rbegin(), out.rend(), notSpace).base(), out.end());
    return out;
}

std::string attribute(xmlNode* node, const char* name) {
    xmlChar* v = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
    std::string out = v ? str(v) : "";
    xmlFree(v);
    return out;
}

bool is(xmlNode* node, const char* name) {
    return node->type == XML_ELEMENT_NODE && std::strcmp(str(node->name), name) == 0;
}

[[noreturn]] void fail(const std::string& file, xmlNode* node, const std::string& field, const std::string& why) {
    throw ManifestError(file + ":" + std::to_string(node ? xmlGetLineNo(node) : 0) + ": " + field + ": " + why);
}

// Validates doc against the manifest schema; the first error as "file:line: message".
std::string schemaError(xmlDoc* doc, const std::string& file) {
    struct Free {
        void operator()(xmlSchemaParserCtxt* p) const { xmlSchemaFreeParserCtxt(p); }
        void operator()(xmlSchema* s) const { xmlSchemaFree(s); }
        void operator()(xmlSchemaValidCtxt* v) const { xmlSchemaFreeValidCtxt(v); }
    };
    std::unique_ptr<xmlSchemaParserCtxt, Free> parser(
        xmlSchemaNewMemParserCtxt(kPluginXsd, static_cast<int>(std::strlen(kPluginXsd))));
    std::unique_ptr<xmlSchema, Free> schema(parser ? xmlSchemaParse(parser.get()) : nullptr);
    if (!schema) return file + ": the conformance kit's manifest schema does not compile";
    std::unique_ptr<xmlSchemaValidCtxt, Free> validator(xmlSchemaNewValidCtxt(schema.get()));
    std::string first;
    xmlSchemaSetValidStructuredErrors(
        validator.get(),
        [](void* ctx, xmlErrorPtr e) {
            auto* out = static_cast<std::string*>(ctx);
            if (!out->empty() || !e) return;
            std::string message = e->message ? e->message : "invalid";
            while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
            *out = std::to_string(e->line) + ": " + message;
        },
        &first);
    if (xmlSchemaValidateDoc(validator.get(), doc) == 0) return {};
    return file + ":" + (first.empty() ? std::string("0: does not match plugin.xsd") : first);
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

bool isDirectory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

PluginManifest readPluginManifest(const std::string& path) {
    std::string file = isDirectory(path) ? path + "/plugin.xml" : path;
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) throw ManifestError(file + ": cannot open: " + std::strerror(errno));
    if (st.st_size > kMaxManifestBytes)
        throw ManifestError(file + ": larger than " + std::to_string(kMaxManifestBytes) + " bytes");

    // A manifest is data: no network, no DTD, no entities.
    std::unique_ptr<xmlDoc, DocFree> doc(
        xmlReadFile(file.c_str(), nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) {
        const xmlError* e = xmlGetLastError();
        throw ManifestError(file + ":" + std::to_string(e ? e->line : 0) + ": not well-formed XML" +
                            (e && e->message ? std::string(": ") + e->message : std::string()));
    }
    if (doc->intSubset || doc->extSubset) throw ManifestError(file + ": a DOCTYPE is not allowed in a manifest");

    xmlNode* root = xmlDocGetRootElement(doc.get());
    if (!root || !is(root, "plugin")) fail(file, root, "plugin", "root element must be <plugin>");
    if (!root->ns || std::strcmp(str(root->ns->href), kNamespace) != 0)
        fail(file, root, "plugin/@xmlns", std::string("namespace must be ") + kNamespace);

    static const std::regex identifier("[a-z][a-z0-9_]{0,63}");
    static const std::regex semver("[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?");
    static const std::regex abiPattern("([0-9]{1,4})\\.([0-9]{1,4})");
    static const std::regex libraryPattern("[A-Za-z0-9_.+-]+\\.so(\\.[0-9]+)*");

    PluginManifest m;
    m.file = file;
    m.folder = file.find('/') == std::string::npos ? "." : file.substr(0, file.find_last_of('/'));
    m.name = attribute(root, "name");
    if (!std::regex_match(m.name, identifier))
        fail(file, root, "plugin/@name", "must match [a-z][a-z0-9_]{0,63}, got '" + m.name + "'");
    m.version = attribute(root, "version");
    if (!std::regex_match(m.version, semver))
        fail(file, root, "plugin/@version", "must be MAJOR.MINOR.PATCH, got '" + m.version + "'");
    std::string abi = attribute(root, "abi");
    std::smatch match;
    if (!std::regex_match(abi, match, abiPattern))
        fail(file, root, "plugin/@abi", "must be MAJOR.MINOR, got '" + abi + "'");
    m.abiMajor = std::stoi(match[1]);
    m.abiMinor = std::stoi(match[2]);
    m.library = attribute(root, "library");
    if (!std::regex_match(m.library, libraryPattern) || m.library.find("..") != std::string::npos)
        fail(file, root, "plugin/@library", "must be a plain .so file name beside the manifest, got '" + m.library + "'");
    if (xmlHasProp(root, reinterpret_cast<const xmlChar*>("isolation"))) m.isolation = attribute(root, "isolation");
    if (m.isolation != "inproc" && m.isolation != "process")
        fail(file, root, "plugin/@isolation", "must be inproc or process, got '" + m.isolation + "'");

    std::set<std::string> seen;
    for (xmlNode* child = root->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE) continue;
        if (is(child, "vendor")) {
            m.vendor = text(child);
        } else if (is(child, "description")) {
            m.description = text(child);
        } else if (is(child, "operations")) {
            for (xmlNode* op = child->children; op; op = op->next) {
                if (op->type != XML_ELEMENT_NODE) continue;
                if (!is(op, "operation")) fail(file, op, "operations", "only <operation> allowed");
                PluginManifest::Operation o;
                o.name = attribute(op, "name");
                o.description = text(op);
                if (!std::regex_match(o.name, identifier))
                    fail(file, op, "operation/@name", "must match [a-z][a-z0-9_]{0,63}, got '" + o.name + "'");
                if (!seen.insert(o.name).second) fail(file, op, "operation/@name", "duplicate operation '" + o.name + "'");
                // The forms are the schema's to check (below); their combination, as the hub checks it, here.
                o.access = attribute(op, "access");
                o.audiences = words(attribute(op, "audiences"));
                o.roles = words(attribute(op, "roles"));
                o.self = attribute(op, "self");
                o.webhook = attribute(op, "webhook") == "true" || attribute(op, "webhook") == "1";
                if (o.webhook && (!o.access.empty() || !o.audiences.empty() || !o.roles.empty() || !o.self.empty()))
                    fail(file, op, "operation[@name=" + o.name + "]",
                         "a webhook is called only by the vendor's signed callbacks; drop access, audiences, roles "
                         "and self");
                if (!o.access.empty() && !o.audiences.empty())
                    fail(file, op, "operation[@name=" + o.name + "]",
                         "access=\"authenticated\" already admits every audience; drop audiences or access");
                if (!o.self.empty() && o.access.empty() && o.audiences.empty())
                    fail(file, op, "operation[@name=" + o.name + "]",
                         "self binds the input to callers admitted by audiences or access; name them");
                m.operations.push_back(std::move(o));
            }
        } else if (is(child, "owns")) {
            // The person fields among them are what identity_submit may write (ABI 1.2).
            for (xmlNode* d = child->children; d; d = d->next) {
                if (d->type != XML_ELEMENT_NODE) continue;
                std::string data = text(d);
                if (data.rfind("identity.person.", 0) == 0 && data.size() > 16) m.ownedPersonFields.push_back(data.substr(16));
            }
        } else if (is(child, "emits")) {
            for (xmlNode* e = child->children; e; e = e->next)
                if (e->type == XML_ELEMENT_NODE) m.emits.push_back(attribute(e, "type"));
        } else if (is(child, "provisions") || is(child, "subscribes")) {
            // Read by the hub; the schema below checks them.
        } else if (is(child, "config")) {
            for (xmlNode* k = child->children; k; k = k->next) {
                if (k->type != XML_ELEMENT_NODE) continue;
                if (!is(k, "key")) fail(file, k, "config", "only <key> allowed");
                PluginManifest::ConfigKey key{attribute(k, "name"), attribute(k, "type"),
                                              attribute(k, "required") == "true"};
                if (!std::regex_match(key.name, identifier))
                    fail(file, k, "config/key/@name", "must match [a-z][a-z0-9_]{0,63}");
                m.config.push_back(std::move(key));
            }
        } else {
            fail(file, child, str(child->name), "unknown element");
        }
    }
    if (m.operations.empty()) fail(file, root, "operations", "a plugin must declare at least one operation");
    // Then the schema the hub validates with (sdk/schema/plugin.xsd): what it
    // refuses, the kit refuses.
    if (std::string e = schemaError(doc.get(), file); !e.empty()) throw ManifestError(e + " (plugin.xsd)");
    return m;
}

}  // namespace campushub::testing
