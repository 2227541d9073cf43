#include "hub/host/Manifest.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <regex>
#include <set>

namespace hub::host {

namespace {

constexpr const char* kNamespace = "urn:campushub:plugin:1";
constexpr long kMaxManifestBytes = 256 * 1024;

struct DocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

std::string text(xmlNode* node) {
    xmlChar* content = xmlNodeGetContent(node);
    std::string out = content ? reinterpret_cast<const char*>(content) : "";
    xmlFree(content);
    auto notSpace = [](unsigned char c) { return !std::isspace(c); };
    out.erase(out.begin(), std::find_if(out.begin(), out.end(), notSpace));
    out.erase(std::find_if(out.rbegin(), out.rend(), notSpace).base(), out.end());
    return out;
}

std::string attribute(xmlNode* node, const char* name) {
    xmlChar* v = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
    std::string out = v ? reinterpret_cast<const char*>(v) : "";
    xmlFree(v);
    return out;
}

bool hasAttribute(xmlNode* node, const char* name) {
    return xmlHasProp(node, reinterpret_cast<const xmlChar*>(name)) != nullptr;
}

bool is(xmlNode* node, const char* name) {
    return node->type == XML_ELEMENT_NODE && std::strcmp(reinterpret_cast<const char*>(node->name), name) == 0;
}

[[noreturn]] void fail(const std::string& file, xmlNode* node, const std::string& field,
                       const std::string& message) {
    throw ManifestError(file + ":" + std::to_string(node ? xmlGetLineNo(node) : 0) + ": " +
                        field + ": " + message);
}

const std::regex& identifierPattern() {
    static const std::regex re("[a-z][a-z0-9_]{0,63}");
    return re;
}

}  // namespace

bool Manifest::hasOperation(std::string_view op) const {
    return std::any_of(operations.begin(), operations.end(),
                       [&](const Operation& o) { return o.name == op; });
}

Manifest readManifest(const std::string& path) {
    // No network, no DTD loading, no entity substitution: a manifest is data.
    int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    std::unique_ptr<xmlDoc, DocFree> doc;
    {
        FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) throw ManifestError(path + ": cannot open: " + std::strerror(errno));
        std::fseek(f, 0, SEEK_END);
        long size = std::ftell(f);
        std::fclose(f);
        if (size > kMaxManifestBytes)
            throw ManifestError(path + ": larger than " + std::to_string(kMaxManifestBytes) + " bytes");
        doc.reset(xmlReadFile(path.c_str(), nullptr, options));
    }
    if (!doc) {
        const xmlError* e = xmlGetLastError();
        throw ManifestError(path + ":" + std::to_string(e ? e->line : 0) + ": not well-formed XML" +
                            (e && e->message ? std::string(": ") + e->message : std::string()));
    }
    if (doc->intSubset || doc->extSubset)
        throw ManifestError(path + ": a DOCTYPE is not allowed in a manifest");

    xmlNode* root = xmlDocGetRootElement(doc.get());
    if (!root || !is(root, "plugin")) fail(path, root, "plugin", "root element must be <plugin>");
    if (!root->ns || std::strcmp(reinterpret_cast<const char*>(root->ns->href), kNamespace) != 0)
        fail(path, root, "plugin/@xmlns", std::string("namespace must be ") + kNamespace);

    Manifest m;
    m.file = path;
    m.name = attribute(root, "name");
    if (!std::regex_match(m.name, identifierPattern()))
        fail(path, root, "plugin/@name", "must match [a-z][a-z0-9_]{0,63}, got '" + m.name + "'");
    m.version = attribute(root, "version");
    static const std::regex semver("[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?");
    if (!std::regex_match(m.version, semver))
        fail(path, root, "plugin/@version", "must be MAJOR.MINOR.PATCH, got '" + m.version + "'");
    std::string abi = attribute(root, "abi");
    std::smatch match;
    static const std::regex abiPattern("([0-9]{1,4})\\.([0-9]{1,4})");
    if (!std::regex_match(abi, match, abiPattern))
        fail(path, root, "plugin/@abi", "must be MAJOR.MINOR, got '" + abi + "'");
    m.abiMajor = std::stoi(match[1]);
    m.abiMinor = std::stoi(match[2]);
    m.library = attribute(root, "library");
    static const std::regex libraryPattern("[A-Za-z0-9_.+-]+\\.so(\\.[0-9]+)*");
    if (!std::regex_match(m.library, libraryPattern) || m.library.find("..") != std::string::npos)
        fail(path, root, "plugin/@library",
             "must be a plain .so file name beside the manifest, got '" + m.library + "'");
    m.isolation = hasAttribute(root, "isolation") ? attribute(root, "isolation") : "inproc";
    if (m.isolation != "inproc" && m.isolation != "process")
        fail(path, root, "plugin/@isolation", "must be inproc or process, got '" + m.isolation + "'");

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
                if (!is(op, "operation")) fail(path, op, "operations", "only <operation> allowed");
                Manifest::Operation o{attribute(op, "name"), text(op)};
                if (!std::regex_match(o.name, identifierPattern()))
                    fail(path, op, "operation/@name", "must match [a-z][a-z0-9_]{0,63}, got '" + o.name + "'");
                if (!seen.insert(o.name).second)
                    fail(path, op, "operation/@name", "duplicate operation '" + o.name + "'");
                m.operations.push_back(std::move(o));
            }
        } else if (is(child, "owns")) {
            for (xmlNode* d = child->children; d; d = d->next)
                if (is(d, "data")) m.owns.push_back(text(d));
        } else if (is(child, "provisions")) {
            m.provisionsIdentities = attribute(child, "identities") == "true";
        } else if (is(child, "config")) {
            for (xmlNode* k = child->children; k; k = k->next) {
                if (k->type != XML_ELEMENT_NODE) continue;
                if (!is(k, "key")) fail(path, k, "config", "only <key> allowed");
                Manifest::ConfigKey key{attribute(k, "name"), attribute(k, "type"),
                                        attribute(k, "required") == "true"};
                if (!std::regex_match(key.name, identifierPattern()))
                    fail(path, k, "config/key/@name", "must match [a-z][a-z0-9_]{0,63}");
                m.config.push_back(std::move(key));
            }
        } else {
            fail(path, child, reinterpret_cast<const char*>(child->name), "unknown element");
        }
    }
    if (m.operations.empty()) fail(path, root, "operations", "a plugin must declare at least one operation");
    return m;
}

}  // namespace hub::host
