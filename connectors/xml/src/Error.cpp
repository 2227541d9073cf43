#include "hub/xml/Error.h"

#include "Internal.h"

#include <libxml/tree.h>

namespace hub::xml {

std::string Error::toString() const {
    std::string out = file.empty() ? std::string("<input>") : file;
    if (line > 0) {
        out += ':' + std::to_string(line);
        if (column > 0) {
            out += ':' + std::to_string(column);
        }
    }
    out += ": ";
    out += message;
    return out;
}

XmlException::XmlException(const std::string& summary, std::vector<Error> errors)
    : std::runtime_error(summary), errors_(std::move(errors)) {}

namespace detail {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

void ErrorSink::add(Error error) {
    if (errors.size() < maxErrors) {
        errors.push_back(std::move(error));
    }
}

void ErrorSink::add(const xmlError* error) {
    if (error == nullptr || (error->level == XML_ERR_WARNING && !includeWarnings)) {
        return;
    }
    Error out;
    out.file = error->file != nullptr ? error->file : defaultFile;
    out.line = error->line;
    out.column = error->int2;
    out.message = trimmed(error->message != nullptr ? error->message : "unknown XML error");
    if (error->node != nullptr) {
        auto* node = static_cast<xmlNode*>(error->node);
        if (xmlChar* path = xmlGetNodePath(node)) {
            out.path = chars(path);
            xmlFree(path);
        }
        if (out.line <= 0) {
            // libxml2 reports 0 for attribute nodes: use the owning element's line.
            xmlNode* lineNode = node->type == XML_ATTRIBUTE_NODE ? node->parent : node;
            out.line = lineNode != nullptr ? static_cast<int>(xmlGetLineNo(lineNode)) : 0;
        }
        if (out.file.empty() && node->doc != nullptr && node->doc->URL != nullptr) {
            out.file = chars(node->doc->URL);
        }
    }
    add(std::move(out));
}

void collectError(void* sink, xmlError* error) {
    static_cast<ErrorSink*>(sink)->add(error);
}

namespace {
// Generic (printf-style) messages are rare; they are only kept out of stderr.
void discardGeneric(void*, const char*, ...) {}
}  // namespace

ThreadErrorCapture::ThreadErrorCapture(ErrorSink& sink)
    : oldStructured_(xmlStructuredError),
      oldStructuredContext_(xmlStructuredErrorContext),
      oldGeneric_(xmlGenericError),
      oldGenericContext_(xmlGenericErrorContext) {
    xmlSetStructuredErrorFunc(&sink, collectError);
    xmlSetGenericErrorFunc(nullptr, discardGeneric);
}

ThreadErrorCapture::~ThreadErrorCapture() {
    xmlSetStructuredErrorFunc(oldStructuredContext_, oldStructured_);
    xmlSetGenericErrorFunc(oldGenericContext_, oldGeneric_);
}

}  // namespace detail
}  // namespace hub::xml
