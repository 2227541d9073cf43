// hubctl catalog validate DIR: checks a catalogue folder offline, as the hub
// would load it (the XSD, then the cross-checks), printing file:line errors.
// hubctl catalog put|remove|reload: a department's own file, through the admin
// API (hub:admin, or the department's admin).
#include "Cli.h"

#include "hub/catalog/Catalog.h"
#include "hub/catalog/CatalogException.h"
#include "hub/common/JsonWriter.h"
#include "hub/xml/Error.h"

#include <Poco/File.h>

#include <fstream>
#include <iostream>
#include <sstream>

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

std::string readAll(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw hubctl::Failure(hubctl::exitUsage, "cannot read " + file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

int printed(const hubctl::GlobalOptions& global, const hubctl::Answer& answer, const std::string& department) {
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto o = answer.object();
    std::cout << "catalogue version " << hubctl::text(o, "version") << ": " << hubctl::text(o, "items")
              << " item(s), " << (department.empty() ? "" : hubctl::text(o, "department_items") + " of them "
                                                            + department + "'s own")
              << "\n";
    return hubctl::exitOk;
}

std::string departmentPath(const std::string& department) {
    return "/admin/catalog/departments/" + hubctl::queryValue(department);
}

const hubctl::Registration registration(50, [](hubctl::Commands& c) {
    auto& global = c.options();
    auto* catalog = c.group(c.root(), "catalog", "the service catalogue");
    auto o = std::make_shared<ValidateOptions>();
    auto* validateCommand = c.leaf(*catalog, "validate", "check a catalogue folder offline (file:line errors)",
                                   [&global, o] { return validate(global, *o); });
    validateCommand->add_option("DIR", o->directory, "the folder of catalogue files (*.xml)")->required();
    validateCommand->add_option("--schema", o->schema, "the XSD (default: DIR/catalog.xsd)");

    // A department's own file (docs/operator.md, "A department's own catalogue and flows").
    auto department = std::make_shared<std::string>();
    auto file = std::make_shared<std::string>();
    auto* put = c.leaf(*catalog, "put", "replace a department's own catalogue file (checked by the hub first)",
                       [&global, department, file] {
                           hubctl::HubClient hub(global);
                           return printed(global, hub.put(departmentPath(*department), readAll(*file)), *department);
                       });
    put->add_option("DEPARTMENT", *department, "the department id")->required();
    put->add_option("FILE", *file, "the catalogue file (<catalog> with the department's items)")->required();
    c.leaf(*catalog, "remove", "delete a department's own catalogue file and its items",
           [&global, department] {
               hubctl::HubClient hub(global);
               return printed(global, hub.remove(departmentPath(*department)), *department);
           })
        ->add_option("DEPARTMENT", *department, "the department id")
        ->required();
    c.leaf(*catalog, "reload", "read the catalogue again: every file, or only DEPARTMENT's own",
           [&global, department] {
               hubctl::HubClient hub(global);
               if (department->empty()) return printed(global, hub.post("/admin/catalog/reload", ""), "");
               return printed(global, hub.post(departmentPath(*department) + "/reload", ""), *department);
           })
        ->add_option("DEPARTMENT", *department, "only this department's own file");
});

}  // namespace catalog_commands
}  // namespace
