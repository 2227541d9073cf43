#include "hub/xml/Library.h"

#include <libxml/parser.h>
#include <libxml/xmlIO.h>

#include <mutex>

namespace hub::xml {

void initialize() {
    static std::once_flag once;
    std::call_once(once, [] {
        xmlInitParser();
        // Defence in depth: even code paths that load resources on their own
        // (schema includes) can never reach the network.
        xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
    });
}

}  // namespace hub::xml
