#pragma once

// Helpers shared by the hub::xml sources; not installed.

#include "hub/xml/Error.h"
#include "hub/xml/Node.h"

#include <libxml/xmlerror.h>

#include <string>
#include <vector>

namespace hub::xml::detail {

/// libxml2 strings are unsigned char; we use std::string for UTF-8.
inline const char* chars(const xmlChar* s) noexcept {
    return reinterpret_cast<const char*>(s);
}
inline const xmlChar* xmlChars(const char* s) noexcept {
    return reinterpret_cast<const xmlChar*>(s);
}

/// Collects libxml2 structured errors into Error records.
struct ErrorSink {
    std::string defaultFile;
    std::vector<Error> errors;
    bool includeWarnings = false;
    // Malformed megabyte inputs can raise an error per byte; keep the first few.
    static constexpr std::size_t maxErrors = 100;

    void add(const xmlError* error);
    void add(Error error);
};

/// xmlStructuredErrorFunc that appends to the ErrorSink passed as userData.
void collectError(void* sink, xmlError* error);

/// Routes this thread's libxml2 generic and structured error handlers into a
/// sink for the guard's lifetime (they are per-thread in libxml2), so no
/// message ever reaches stderr, then restores the previous handlers.
class ThreadErrorCapture {
public:
    explicit ThreadErrorCapture(ErrorSink& sink);
    ~ThreadErrorCapture();
    ThreadErrorCapture(const ThreadErrorCapture&) = delete;
    ThreadErrorCapture& operator=(const ThreadErrorCapture&) = delete;

private:
    xmlStructuredErrorFunc oldStructured_;
    void* oldStructuredContext_;
    xmlGenericErrorFunc oldGeneric_;
    void* oldGenericContext_;
};

/// Shared XPath evaluation for Document and Node.
std::vector<Node> selectNodes(xmlDoc* doc, xmlNode* context, std::string_view xpath,
                              const Namespaces& namespaces, const std::string& file);
std::vector<std::string> selectStrings(xmlDoc* doc, xmlNode* context, std::string_view xpath,
                                       const Namespaces& namespaces, const std::string& file);
std::string evaluateString(xmlDoc* doc, xmlNode* context, std::string_view xpath,
                           const Namespaces& namespaces, const std::string& file);

std::string trimmed(std::string s);

}  // namespace hub::xml::detail
