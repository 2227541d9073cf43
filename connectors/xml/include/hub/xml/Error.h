#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace hub::xml {

/// One problem found in an XML document or schema, with where it was found.
///
/// `message` is libxml2's text, which names the element and attribute at
/// fault ("Element 'item', attribute 'channel': ..."); `path` is the node's
/// XPath-like location ("/catalog/item[3]/@channel") when a node is known.
struct Error {
    std::string file;     ///< Path, or the name given to parseMemory.
    int line = 0;         ///< 1-based line; 0 when unknown.
    int column = 0;       ///< 1-based column; 0 when unknown.
    std::string message;  ///< One line, no trailing newline.
    std::string path;     ///< Node location, empty when not known.

    /// "file:line:column: message" (column omitted when unknown).
    std::string toString() const;
};

/// Thrown when a document cannot be read, parsed, or is refused by policy
/// (size cap, DOCTYPE/entities, encoding), or when a schema is itself broken.
/// what() is a one-line summary; errors() holds every problem found.
class XmlException : public std::runtime_error {
public:
    XmlException(const std::string& summary, std::vector<Error> errors);

    const std::vector<Error>& errors() const noexcept { return errors_; }

private:
    std::vector<Error> errors_;
};

}  // namespace hub::xml
