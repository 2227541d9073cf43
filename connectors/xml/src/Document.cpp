#include "hub/xml/Document.h"

#include "Internal.h"
#include "hub/xml/Error.h"
#include "hub/xml/Library.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlsave.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <memory>

namespace hub::xml {

using detail::chars;

namespace {

/// Per-parse state reachable from SAX callbacks through ctxt->_private.
struct ParseState {
    detail::ErrorSink sink;
    bool allowDoctype = false;
    bool refused = false;
};

int currentLine(xmlParserCtxt* ctxt) {
    return ctxt->input != nullptr ? ctxt->input->line : 0;
}

void refuse(xmlParserCtxt* ctxt, const std::string& message) {
    auto* state = static_cast<ParseState*>(ctxt->_private);
    if (!state->refused) {
        state->refused = true;
        state->sink.add(Error{state->sink.defaultFile, currentLine(ctxt), 0, message, {}});
    }
    // Stops before any later declaration is read or any reference expanded.
    xmlStopParser(ctxt);
}

void onInternalSubset(void* ctx, const xmlChar* name, const xmlChar* externalId,
                      const xmlChar* systemId) {
    auto* ctxt = static_cast<xmlParserCtxt*>(ctx);
    auto* state = static_cast<ParseState*>(ctxt->_private);
    if (!state->allowDoctype) {
        refuse(ctxt, std::string("DOCTYPE declarations are not accepted (<!DOCTYPE ") +
                         (name != nullptr ? chars(name) : "") + ">)");
        return;
    }
    xmlSAX2InternalSubset(ctx, name, externalId, systemId);
}

void onEntityDecl(void* ctx, const xmlChar* name, int, const xmlChar*, const xmlChar*, xmlChar*) {
    refuse(static_cast<xmlParserCtxt*>(ctx),
           std::string("entity declarations are not accepted (<!ENTITY ") +
               (name != nullptr ? chars(name) : "") +
               ">): refused to prevent external entity (XXE) and entity expansion attacks");
}

// serror receives ctxt->userData, which the SAX2 handlers need to be the context.
void onParserError(void* ctx, xmlError* error) {
    auto* ctxt = static_cast<xmlParserCtxt*>(ctx);
    static_cast<ParseState*>(ctxt->_private)->sink.add(error);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

/// The encoding named in the XML declaration, empty when none. Only looks at
/// the declaration, which must be at the very start of the document.
std::string declaredEncoding(std::string_view buffer) {
    if (buffer.substr(0, 3) == "\xEF\xBB\xBF") {
        buffer.remove_prefix(3);
    }
    if (buffer.substr(0, 5) != "<?xml") {
        return {};
    }
    auto end = buffer.find("?>");
    if (end == std::string_view::npos || end > 512) {
        return {};
    }
    std::string_view decl = buffer.substr(0, end);
    auto pos = decl.find("encoding");
    if (pos == std::string_view::npos) {
        return {};
    }
    pos = decl.find_first_of("\"'", pos);
    if (pos == std::string_view::npos) {
        return {};
    }
    auto close = decl.find(decl[pos], pos + 1);
    if (close == std::string_view::npos) {
        return {};
    }
    return std::string(decl.substr(pos + 1, close - pos - 1));
}

[[noreturn]] void fail(const std::string& file, const std::string& summary, std::vector<Error> errors) {
    Error first = errors.empty() ? Error{file, 0, 0, summary, {}} : errors.front();
    if (errors.empty()) {
        errors.push_back(first);
    }
    throw XmlException(file + ": " + summary + ": " + first.toString(), std::move(errors));
}

}  // namespace

Document Document::parseMemory(std::string_view buffer, const std::string& name,
                               const ParseOptions& options) {
    initialize();
    if (buffer.size() > options.maxBytes || buffer.size() > static_cast<std::size_t>(INT_MAX)) {
        fail(name, "document too large",
             {Error{name, 0, 0,
                    "document is " + std::to_string(buffer.size()) + " bytes, the limit is " +
                        std::to_string(options.maxBytes),
                    {}}});
    }
    if (options.utf8Only) {
        if (buffer.substr(0, 2) == "\xFE\xFF" || buffer.substr(0, 2) == "\xFF\xFE") {
            fail(name, "encoding not accepted",
                 {Error{name, 1, 1, "UTF-16 documents are not accepted; only UTF-8", {}}});
        }
        std::string encoding = declaredEncoding(buffer);
        if (!encoding.empty() && !equalsIgnoreCase(encoding, "UTF-8") && !equalsIgnoreCase(encoding, "UTF8")) {
            fail(name, "encoding not accepted",
                 {Error{name, 1, 1, "declared encoding '" + encoding + "' is not accepted; only UTF-8", {}}});
        }
    }

    ParseState state;
    state.sink.defaultFile = name;
    state.allowDoctype = options.allowDoctype;
    detail::ThreadErrorCapture capture(state.sink);

    std::unique_ptr<xmlParserCtxt, decltype(&xmlFreeParserCtxt)> ctxt(xmlNewParserCtxt(), xmlFreeParserCtxt);
    if (!ctxt) {
        throw std::bad_alloc();
    }
    ctxt->_private = &state;
    ctxt->sax->internalSubset = onInternalSubset;
    ctxt->sax->entityDecl = onEntityDecl;
    ctxt->sax->serror = onParserError;

    int flags = XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA;
    if (!options.keepBlanks) {
        flags |= XML_PARSE_NOBLANKS;
    }
    xmlDoc* doc = xmlCtxtReadMemory(ctxt.get(), buffer.data(), static_cast<int>(buffer.size()),
                                    name.c_str(), nullptr, flags);
    bool wellFormed = ctxt->wellFormed != 0;
    if (doc == nullptr || state.refused || !wellFormed) {
        if (doc != nullptr) {
            xmlFreeDoc(doc);
        }
        fail(name, state.refused ? "document refused" : "malformed XML", std::move(state.sink.errors));
    }
    if (xmlDocGetRootElement(doc) == nullptr) {
        xmlFreeDoc(doc);
        fail(name, "malformed XML", {Error{name, 0, 0, "document has no root element", {}}});
    }
    return Document(doc, name);
}

Document Document::parseFile(const std::string& path, const ParseOptions& options) {
    // Read it ourselves rather than xmlReadFile: that would transparently
    // gunzip (a decompression bomb) and we want the size cap before reading.
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        fail(path, "cannot open", {Error{path, 0, 0, std::string("cannot open file: ") + std::strerror(errno), {}}});
    }
    std::string buffer;
    char chunk[65536];
    while (in) {
        in.read(chunk, sizeof chunk);
        buffer.append(chunk, static_cast<std::size_t>(in.gcount()));
        if (buffer.size() > options.maxBytes) {
            fail(path, "document too large",
                 {Error{path, 0, 0, "document exceeds the limit of " + std::to_string(options.maxBytes) + " bytes", {}}});
        }
    }
    if (in.bad()) {
        fail(path, "cannot read", {Error{path, 0, 0, "read error", {}}});
    }
    return parseMemory(buffer, path, options);
}

Document::Document(Document&& other) noexcept : doc_(other.doc_), name_(std::move(other.name_)) {
    other.doc_ = nullptr;
}

Document& Document::operator=(Document&& other) noexcept {
    if (this != &other) {
        if (doc_ != nullptr) {
            xmlFreeDoc(doc_);
        }
        doc_ = other.doc_;
        name_ = std::move(other.name_);
        other.doc_ = nullptr;
    }
    return *this;
}

Document::~Document() {
    if (doc_ != nullptr) {
        xmlFreeDoc(doc_);
    }
}

Node Document::root() const {
    return Node(xmlDocGetRootElement(doc_));
}

std::vector<Node> Document::selectNodes(std::string_view xpath, const Namespaces& namespaces) const {
    return detail::selectNodes(doc_, nullptr, xpath, namespaces, name_);
}

std::optional<Node> Document::selectNode(std::string_view xpath, const Namespaces& namespaces) const {
    auto nodes = selectNodes(xpath, namespaces);
    if (nodes.empty()) {
        return std::nullopt;
    }
    return nodes.front();
}

std::vector<std::string> Document::selectStrings(std::string_view xpath, const Namespaces& namespaces) const {
    return detail::selectStrings(doc_, nullptr, xpath, namespaces, name_);
}

std::string Document::evaluateString(std::string_view xpath, const Namespaces& namespaces) const {
    return detail::evaluateString(doc_, nullptr, xpath, namespaces, name_);
}

std::string Document::toString(bool indent) const {
    xmlChar* out = nullptr;
    int size = 0;
    xmlDocDumpFormatMemoryEnc(doc_, &out, &size, "UTF-8", indent ? 1 : 0);
    std::string text(out != nullptr ? chars(out) : "", static_cast<std::size_t>(size > 0 ? size : 0));
    xmlFree(out);
    return text;
}

}  // namespace hub::xml
