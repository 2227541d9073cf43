#pragma once

#include <libxml/tree.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub::xml {

/// XPath namespace bindings: {prefix, uri} pairs.
using Namespaces = std::vector<std::pair<std::string, std::string>>;

/// A non-owning view of a node (element, attribute or text) of a Document.
///
/// Valid only while its Document lives; copying is free. Names are local
/// names (prefix stripped), all strings are UTF-8.
class Node {
public:
    explicit Node(xmlNode* node) noexcept : node_(node) {}

    /// Local name ("item" for <c:item>); "text" for text nodes.
    std::string name() const;

    /// Namespace URI, empty when none.
    std::string namespaceUri() const;

    /// The concatenated text of this node and its descendants (XPath string value).
    std::string text() const;

    /// The attribute's value, or nullopt when absent.
    std::optional<std::string> attribute(std::string_view name) const;

    /// The attribute's value, or `fallback` when absent.
    std::string attribute(std::string_view name, std::string_view fallback) const;

    bool hasAttribute(std::string_view name) const;

    /// Source line (1-based); attributes report their element's line.
    int line() const;

    /// Element children, in document order.
    std::vector<Node> children() const;

    /// Element children with this local name.
    std::vector<Node> children(std::string_view name) const;

    /// The first element child with this local name.
    std::optional<Node> child(std::string_view name) const;

    /// Location like "/catalog/item[3]".
    std::string path() const;

    /// XPath evaluated with this node as context; throws XmlException on a bad
    /// expression or when the result is not a node set.
    std::vector<Node> selectNodes(std::string_view xpath, const Namespaces& namespaces = {}) const;

    /// XPath string() of the expression with this node as context.
    std::string evaluateString(std::string_view xpath, const Namespaces& namespaces = {}) const;

    xmlNode* raw() const noexcept { return node_; }

private:
    xmlNode* node_;
};

}  // namespace hub::xml
