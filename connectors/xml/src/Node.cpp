#include "hub/xml/Node.h"

#include "Internal.h"
#include "hub/xml/Error.h"
#include "hub/xml/Library.h"

#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <memory>

namespace hub::xml {

using detail::chars;
using detail::xmlChars;

namespace {

std::string takeString(xmlChar* s) {
    std::string out = s != nullptr ? chars(s) : "";
    xmlFree(s);
    return out;
}

bool isElementNamed(const xmlNode* node, std::string_view name) {
    return node->type == XML_ELEMENT_NODE && name == chars(node->name);
}

}  // namespace

std::string Node::name() const {
    return node_->name != nullptr ? chars(node_->name) : "";
}

std::string Node::namespaceUri() const {
    return (node_->ns != nullptr && node_->ns->href != nullptr) ? chars(node_->ns->href) : "";
}

std::string Node::text() const {
    return takeString(xmlNodeGetContent(node_));
}

std::optional<std::string> Node::attribute(std::string_view name) const {
    if (node_->type != XML_ELEMENT_NODE) {
        return std::nullopt;
    }
    std::string key(name);
    // xmlHasProp also sees DTD-defaulted attributes; we never load DTDs, so
    // only attributes written in the document are found.
    xmlAttr* attr = xmlHasProp(node_, xmlChars(key.c_str()));
    if (attr == nullptr) {
        return std::nullopt;
    }
    return takeString(xmlNodeGetContent(reinterpret_cast<xmlNode*>(attr)));
}

std::string Node::attribute(std::string_view name, std::string_view fallback) const {
    auto value = attribute(name);
    return value ? *value : std::string(fallback);
}

bool Node::hasAttribute(std::string_view name) const {
    return attribute(name).has_value();
}

int Node::line() const {
    const xmlNode* node = node_->type == XML_ATTRIBUTE_NODE ? node_->parent : node_;
    return node != nullptr ? static_cast<int>(xmlGetLineNo(node)) : 0;
}

std::vector<Node> Node::children() const {
    std::vector<Node> out;
    for (xmlNode* c = node_->children; c != nullptr; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            out.emplace_back(c);
        }
    }
    return out;
}

std::vector<Node> Node::children(std::string_view name) const {
    std::vector<Node> out;
    for (xmlNode* c = node_->children; c != nullptr; c = c->next) {
        if (isElementNamed(c, name)) {
            out.emplace_back(c);
        }
    }
    return out;
}

std::optional<Node> Node::child(std::string_view name) const {
    for (xmlNode* c = node_->children; c != nullptr; c = c->next) {
        if (isElementNamed(c, name)) {
            return Node(c);
        }
    }
    return std::nullopt;
}

std::string Node::path() const {
    return takeString(xmlGetNodePath(node_));
}

std::vector<Node> Node::selectNodes(std::string_view xpath, const Namespaces& namespaces) const {
    return detail::selectNodes(node_->doc, node_, xpath, namespaces,
                               node_->doc && node_->doc->URL ? chars(node_->doc->URL) : "");
}

std::string Node::evaluateString(std::string_view xpath, const Namespaces& namespaces) const {
    return detail::evaluateString(node_->doc, node_, xpath, namespaces,
                                  node_->doc && node_->doc->URL ? chars(node_->doc->URL) : "");
}

namespace detail {

namespace {

using ContextPtr = std::unique_ptr<xmlXPathContext, decltype(&xmlXPathFreeContext)>;
using ObjectPtr = std::unique_ptr<xmlXPathObject, decltype(&xmlXPathFreeObject)>;

ObjectPtr evaluate(xmlDoc* doc, xmlNode* context, std::string_view xpath, const Namespaces& namespaces,
                   const std::string& file) {
    initialize();
    ErrorSink sink;
    sink.defaultFile = file;
    ThreadErrorCapture capture(sink);
    ContextPtr ctx(xmlXPathNewContext(doc), xmlXPathFreeContext);
    if (!ctx) {
        throw std::bad_alloc();
    }
    ctx->error = collectError;
    ctx->userData = &sink;
    if (context != nullptr) {
        ctx->node = context;
    }
    for (const auto& [prefix, uri] : namespaces) {
        xmlXPathRegisterNs(ctx.get(), xmlChars(prefix.c_str()), xmlChars(uri.c_str()));
    }
    std::string expr(xpath);
    ObjectPtr result(xmlXPathEvalExpression(xmlChars(expr.c_str()), ctx.get()), xmlXPathFreeObject);
    if (!result) {
        if (sink.errors.empty()) {
            sink.errors.push_back(Error{file, 0, 0, "cannot evaluate XPath '" + expr + "'", {}});
        }
        for (auto& e : sink.errors) {
            e.line = 0;  // XPath errors are about the expression, not the document
            e.message += " in XPath '" + expr + "'";
        }
        throw XmlException("invalid XPath expression '" + expr + "'", std::move(sink.errors));
    }
    return result;
}

}  // namespace

std::vector<Node> selectNodes(xmlDoc* doc, xmlNode* context, std::string_view xpath,
                              const Namespaces& namespaces, const std::string& file) {
    ObjectPtr result = evaluate(doc, context, xpath, namespaces, file);
    if (result->type != XPATH_NODESET) {
        std::string expr(xpath);
        throw XmlException("XPath '" + expr + "' does not select nodes",
                           {Error{file, 0, 0, "XPath '" + expr + "' does not select nodes", {}}});
    }
    std::vector<Node> out;
    if (xmlNodeSet* set = result->nodesetval) {
        out.reserve(static_cast<std::size_t>(set->nodeNr));
        for (int i = 0; i < set->nodeNr; ++i) {
            out.emplace_back(set->nodeTab[i]);
        }
    }
    return out;
}

std::vector<std::string> selectStrings(xmlDoc* doc, xmlNode* context, std::string_view xpath,
                                       const Namespaces& namespaces, const std::string& file) {
    ObjectPtr result = evaluate(doc, context, xpath, namespaces, file);
    std::vector<std::string> out;
    if (result->type == XPATH_NODESET) {
        if (xmlNodeSet* set = result->nodesetval) {
            out.reserve(static_cast<std::size_t>(set->nodeNr));
            for (int i = 0; i < set->nodeNr; ++i) {
                out.push_back(takeString(xmlXPathCastNodeToString(set->nodeTab[i])));
            }
        }
    } else {
        out.push_back(takeString(xmlXPathCastToString(result.get())));
    }
    return out;
}

std::string evaluateString(xmlDoc* doc, xmlNode* context, std::string_view xpath,
                           const Namespaces& namespaces, const std::string& file) {
    ObjectPtr result = evaluate(doc, context, xpath, namespaces, file);
    return takeString(xmlXPathCastToString(result.get()));
}

}  // namespace detail
}  // namespace hub::xml
