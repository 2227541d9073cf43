#pragma once

#include "hub/xml/Document.h"
#include "hub/xml/Error.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hub::xml {

/// A compiled W3C XML Schema (XSD 1.0, libxml2).
///
/// Compile once, validate from any number of threads: the compiled schema is
/// read-only and every validate() call uses its own validation context.
/// Copies share the compiled schema.
///
/// The schema text itself is parsed with Document's safe parser; xs:include
/// and xs:import of local files are resolved relative to it, never from the
/// network. Schemas are operator-owned files, not user input.
class Schema {
public:
    /// Compiles the XSD at `xsdPath`; throws XmlException listing every
    /// problem in the schema (file, line, message).
    static Schema fromFile(const std::string& xsdPath);

    /// Compiles an XSD held in memory; `name` is its file name in errors and
    /// the base for relative includes.
    static Schema fromMemory(std::string_view xsd, const std::string& name);

    /// Validates `document`; returns every error found (empty when valid).
    /// Each names the document's file, the line, and in its message the
    /// element and attribute at fault. Nothing is printed.
    std::vector<Error> validate(const Document& document) const;

    /// Like validate() but throws XmlException when there are errors.
    void check(const Document& document) const;

    const std::string& name() const noexcept;

    struct Compiled;  ///< Implementation detail (the compiled libxml2 schema).

private:
    explicit Schema(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}
    std::shared_ptr<const Compiled> compiled_;
};

}  // namespace hub::xml
