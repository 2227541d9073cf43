#include "hub/xml/Schema.h"

#include "Internal.h"
#include "hub/xml/Library.h"

#include <libxml/xmlschemas.h>

namespace hub::xml {

struct Schema::Compiled {
    // libxml2's compiled schema may point into the document it was built
    // from, so the document lives exactly as long as the schema.
    Document source;
    xmlSchema* schema = nullptr;

    explicit Compiled(Document doc) : source(std::move(doc)) {}
    ~Compiled() {
        if (schema != nullptr) {
            xmlSchemaFree(schema);
        }
    }
    Compiled(const Compiled&) = delete;
    Compiled& operator=(const Compiled&) = delete;
};

namespace {

Schema::Compiled* compile(Schema::Compiled* compiled) {
    const std::string& name = compiled->source.name();
    detail::ErrorSink sink;
    sink.defaultFile = name;
    detail::ThreadErrorCapture capture(sink);
    std::unique_ptr<xmlSchemaParserCtxt, decltype(&xmlSchemaFreeParserCtxt)> parser(
        xmlSchemaNewDocParserCtxt(compiled->source.raw()), xmlSchemaFreeParserCtxt);
    if (!parser) {
        throw std::bad_alloc();
    }
    xmlSchemaSetParserStructuredErrors(parser.get(), detail::collectError, &sink);
    compiled->schema = xmlSchemaParse(parser.get());
    if (compiled->schema == nullptr || !sink.errors.empty()) {
        if (sink.errors.empty()) {
            sink.errors.push_back(Error{name, 0, 0, "cannot compile the schema", {}});
        }
        // Build the summary first: argument evaluation order is unspecified.
        std::string summary = name + ": invalid XML schema: " + sink.errors.front().toString();
        throw XmlException(summary, std::move(sink.errors));
    }
    return compiled;
}

}  // namespace

Schema Schema::fromFile(const std::string& xsdPath) {
    auto compiled = std::make_shared<Compiled>(Document::parseFile(xsdPath));
    compile(compiled.get());
    return Schema(std::move(compiled));
}

Schema Schema::fromMemory(std::string_view xsd, const std::string& name) {
    auto compiled = std::make_shared<Compiled>(Document::parseMemory(xsd, name));
    compile(compiled.get());
    return Schema(std::move(compiled));
}

std::vector<Error> Schema::validate(const Document& document) const {
    initialize();
    detail::ErrorSink sink;
    sink.defaultFile = document.name();
    detail::ThreadErrorCapture capture(sink);
    std::unique_ptr<xmlSchemaValidCtxt, decltype(&xmlSchemaFreeValidCtxt)> ctxt(
        xmlSchemaNewValidCtxt(compiled_->schema), xmlSchemaFreeValidCtxt);
    if (!ctxt) {
        throw std::bad_alloc();
    }
    xmlSchemaSetValidStructuredErrors(ctxt.get(), detail::collectError, &sink);
    int rc = xmlSchemaValidateDoc(ctxt.get(), document.raw());
    if (rc != 0 && sink.errors.empty()) {
        sink.errors.push_back(Error{document.name(), 0, 0,
                                    rc < 0 ? "internal error while validating against " + name()
                                           : "document does not conform to " + name(),
                                    {}});
    }
    return std::move(sink.errors);
}

void Schema::check(const Document& document) const {
    auto errors = validate(document);
    if (!errors.empty()) {
        std::string summary = document.name() + ": " + std::to_string(errors.size()) +
                              " schema error(s); first: " + errors.front().toString();
        throw XmlException(summary, std::move(errors));
    }
}

const std::string& Schema::name() const noexcept {
    return compiled_->source.name();
}

}  // namespace hub::xml
