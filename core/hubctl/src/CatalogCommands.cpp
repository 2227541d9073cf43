// hubctl catalog validate DIR: checks a catalogue folder offline, as the hub
// would load it (the XSD, then the cross-checks), printing file:line errors.
#include "Cli.h"

#include "hub/catalog/Catalog.h"
#include "hub/catalog/CatalogException.h"
#include "hub/common/JsonWriter.h"
#include "hub/xml/Error.h"

#include <Poco/File.h>

#include <iostream>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace catalog_commands {

struct ValidateOptions {
    std::string directory;
    std::string schema;
};

int validate(const hubctl::GlobalOptions& global, const ValidateOptions& o) {
    if (!Poco::File(o.directory).exists() || !Poco::File(o.directory).isDirectory())
        throw hubctl::Failure(hubctl::exitUsage, "no such folder: " + o.directory);
    std::vector<hub::xml::Error> errors;
    std::size_t items = 0;
    try {
        items = hub::catalog::Catalog::load({o.directory, o.schema})->items().size();
    } catch (const hub::catalog::CatalogException& e) {
        errors = e.errors();
        if (errors.empty()) errors.push_back({o.directory, 0, 0, e.what(), ""});
    } catch (const hub::xml::XmlException& e) {
        errors = e.errors();
        if (errors.empty()) errors.push_back({o.directory, 0, 0, e.what(), ""});
    }
    if (global.json) {
        std::string out = "{\"valid\":";
        out += errors.empty() ? "true" : "false";
        out += ",\"items\":" + std::to_string(items) + ",\"errors\":[";
        for (std::size_t i = 0; i < errors.size(); ++i) {
            if (i) out += ',';
            out += "{\"file\":";
            hub::json::appendString(out, errors[i].file);
            out += ",\"line\":" + std::to_string(errors[i].line) + ",\"column\":" + std::to_string(errors[i].column) +
                   ",\"message\":";
            hub::json::appendString(out, errors[i].message);
            out += '}';
        }
        hubctl::printJson(out + "]}");
    } else if (errors.empty()) {
        std::cout << o.directory << ": " << items << " service item(s), valid\n";
    } else {
        for (const auto& e : errors) std::cout << e.toString() << "\n";
        std::cout << errors.size() << " error(s)\n";
    }
    return errors.empty() ? hubctl::exitOk : hubctl::exitFailure;
}

const hubctl::Registration registration(50, [](hubctl::Commands& c) {
    auto& global = c.options();
    auto* catalog = c.group(c.root(), "catalog", "the service catalogue");
    auto o = std::make_shared<ValidateOptions>();
    auto* validateCommand = c.leaf(*catalog, "validate", "check a catalogue folder offline (file:line errors)",
                                   [&global, o] { return validate(global, *o); });
    validateCommand->add_option("DIR", o->directory, "the folder of catalogue files (*.xml)")->required();
    validateCommand->add_option("--schema", o->schema, "the XSD (default: DIR/catalog.xsd)");
});

}  // namespace catalog_commands
}  // namespace
