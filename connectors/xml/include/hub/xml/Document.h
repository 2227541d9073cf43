#pragma once

#include "hub/xml/Node.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hub::xml {

/// What a parse accepts. The defaults suit the hub's own files (catalogue,
/// calendar, plugin manifests) and anything received from outside.
struct ParseOptions {
    /// Larger inputs are refused before libxml2 sees a byte.
    std::size_t maxBytes = 16 * 1024 * 1024;

    /// Refuse any <!DOCTYPE>. Entity declarations are refused regardless.
    bool allowDoctype = false;

    /// Refuse documents that declare an encoding other than UTF-8 (or carry a
    /// UTF-16 byte order mark). When false, libxml2 converts declared
    /// encodings such as GBK or ISO-8859-1 to UTF-8; note that a wrong
    /// declaration then yields wrong text rather than an error.
    bool utf8Only = true;

    /// Keep whitespace-only text nodes (formatting) in the tree.
    bool keepBlanks = true;
};

/// An owned, parsed XML document (RAII over xmlDoc).
///
/// Parsing is safe for untrusted input: the network is never touched
/// (XML_PARSE_NONET), external DTDs and entities are never loaded (no
/// XML_PARSE_NOENT, DTDLOAD, DTDVALID or XINCLUDE), any entity declaration is
/// refused (so XXE and "billion laughs" fail cleanly), the input size is
/// capped, and nothing is decompressed. libxml2's messages are captured into
/// XmlException, never printed. A Document may be read from several threads
/// at once; it must not be modified while shared.
class Document {
public:
    /// Reads and parses a file. Throws XmlException (file, line, message) when
    /// it cannot be read, is too large, malformed, or refused by policy.
    static Document parseFile(const std::string& path, const ParseOptions& options = {});

    /// Parses a buffer; `name` is used as the document's file name in errors
    /// and as its base URI.
    static Document parseMemory(std::string_view buffer, const std::string& name,
                                const ParseOptions& options = {});

    Document(Document&& other) noexcept;
    Document& operator=(Document&& other) noexcept;
    Document(const Document&) = delete;
    Document& operator=(const Document&) = delete;
    ~Document();

    /// The root element.
    Node root() const;

    /// The file name or buffer name given at parse time.
    const std::string& name() const noexcept { return name_; }

    /// Nodes selected by an absolute XPath; throws XmlException on a bad
    /// expression or a non-node-set result.
    std::vector<Node> selectNodes(std::string_view xpath, const Namespaces& namespaces = {}) const;

    /// The first node selected, or nullopt.
    std::optional<Node> selectNode(std::string_view xpath, const Namespaces& namespaces = {}) const;

    /// String values: one per selected node, or the single value of a
    /// string/number/boolean expression.
    std::vector<std::string> selectStrings(std::string_view xpath,
                                           const Namespaces& namespaces = {}) const;

    /// XPath string() of the expression ("" when nothing is selected).
    std::string evaluateString(std::string_view xpath, const Namespaces& namespaces = {}) const;

    /// The document serialized as UTF-8, optionally indented.
    std::string toString(bool indent = false) const;

    xmlDoc* raw() const noexcept { return doc_; }

private:
    Document(xmlDoc* doc, std::string name) noexcept : doc_(doc), name_(std::move(name)) {}

    xmlDoc* doc_ = nullptr;
    std::string name_;
};

}  // namespace hub::xml
