#include "hub/catalog/Catalog.h"

#include "hub/catalog/CatalogException.h"
#include "hub/xml/Document.h"
#include "hub/xml/Schema.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <system_error>
#include <unistd.h>

namespace hub::catalog {

namespace fs = std::filesystem;
using hub::xml::Error;
using hub::xml::Node;

namespace {

/// Collects the contents of all files plus every problem, each with its place.
class Loader {
public:
    std::vector<Category> categories;
    std::vector<Department> departments;
    std::vector<ServiceItem> items;
    std::vector<Error> errors;
    std::vector<Error> foreign;  // what reaches past a department's own file (also in errors)

    /// A department's own file: its items only, all of that department.
    void readDepartmentFile(const hub::xml::Document& doc, const std::string& department,
                            const Catalog::ItemCheck& check) {
        const std::size_t first = items.size();
        for (const Node& node : doc.root().children()) {
            const std::string element = node.name();
            if (element == "category" || element == "department") {
                reachesPast(doc.name(), node.line(), element, "id",
                            "the taxonomy (" + element + " '" + node.attribute("id", "") +
                                "') is kept in the catalogue folder by hub:admin, not in a department's file");
            } else if (element == "item") {
                readItem(doc, node);
            }
        }
        for (std::size_t n = first; n < items.size(); ++n) {
            const ServiceItem& item = items[n];
            if (item.departmentId != department) {
                reachesPast(item.sourceFile, item.sourceLine, "item", "department",
                            "item '" + item.id + "' belongs to department '" + item.departmentId +
                                "'; this file holds department '" + department + "''s items only");
            } else if (check) {
                if (std::string why = check(item); !why.empty())
                    reachesPast(item.sourceFile, item.sourceLine, "item", "", "item '" + item.id + "': " + why);
            }
        }
    }

    /// The catalogue in service, but for the items of one file (being replaced).
    void adopt(const Snapshot& snapshot, const std::string& skipFile) {
        for (const Category& c : snapshot.allCategories()) {
            categoryPlaces_.emplace(c.id, "the catalogue in service");
            categories.push_back(c);
        }
        for (const Department& d : snapshot.allDepartments()) {
            departmentPlaces_.emplace(d.id, "the catalogue in service");
            departments.push_back(d);
        }
        for (const ServiceItem& item : snapshot.items())
            if (item.sourceFile != skipFile) items.push_back(item);
    }

    void readFile(const hub::xml::Document& doc) {
        for (const Node& node : doc.root().children()) {
            std::string element = node.name();
            if (element == "category") {
                readCategory(doc, node);
            } else if (element == "department") {
                readDepartment(doc, node);
            } else if (element == "item") {
                readItem(doc, node);
            }
        }
    }

    /// What a schema cannot see: ids unique across files, references resolving.
    void crossCheck() {
        std::map<std::string, const ServiceItem*> itemIds;
        for (const ServiceItem& item : items) {
            auto [it, fresh] = itemIds.emplace(item.id, &item);
            if (!fresh) {
                error(item.sourceFile, item.sourceLine, "item", "id",
                      "duplicate item id '" + item.id + "' (first defined at " + it->second->sourceFile + ":" +
                          std::to_string(it->second->sourceLine) + ")");
            }
            if (categoryPlaces_.count(item.categoryId) == 0) {
                error(item.sourceFile, item.sourceLine, "item", "category",
                      "unknown category '" + item.categoryId + "' in item '" + item.id + "'");
            }
            if (departmentPlaces_.count(item.departmentId) == 0) {
                error(item.sourceFile, item.sourceLine, "item", "department",
                      "unknown department '" + item.departmentId + "' in item '" + item.id + "'");
            }
        }
    }

    void error(const std::string& file, int line, std::string_view element, std::string_view attribute,
               const std::string& message) {
        // Same shape as libxml2's schema messages, so operators read one style.
        std::string text = "Element '" + std::string(element) + "'";
        if (!attribute.empty()) {
            text += ", attribute '" + std::string(attribute) + "'";
        }
        errors.push_back(Error{file, line, 0, text + ": " + message, {}});
    }

    void reachesPast(const std::string& file, int line, std::string_view element, std::string_view attribute,
                     const std::string& message) {
        error(file, line, element, attribute, message);
        foreign.push_back(errors.back());
    }

private:
    std::map<std::string, std::string> categoryPlaces_;    // id -> "file:line"
    std::map<std::string, std::string> departmentPlaces_;

    static LocalizedText names(const Node& node) {
        return LocalizedText{node.attribute("zh", ""), node.attribute("en", "")};
    }

    static std::string place(const hub::xml::Document& doc, const Node& node) {
        return doc.name() + ":" + std::to_string(node.line());
    }

    bool unique(std::map<std::string, std::string>& places, const std::string& id, const hub::xml::Document& doc,
                const Node& node, std::string_view element) {
        auto [it, fresh] = places.emplace(id, place(doc, node));
        if (!fresh) {
            error(doc.name(), node.line(), element, "id",
                  "duplicate " + std::string(element) + " id '" + id + "' (first defined at " + it->second + ")");
        }
        return fresh;
    }

    static bool boolean(const Node& node, std::string_view name, bool fallback) {
        auto value = node.attribute(name);
        if (!value) return fallback;
        return *value == "true" || *value == "1";
    }

    // The schema has checked the lexical form; what is left is the form XSD
    // allows and from_chars does not (white space around, a leading '+'), and
    // magnitude: xs:nonNegativeInteger, xs:positiveInteger and xs:decimal have no
    // upper bound, so a value past what the field holds is reported in place.
    static std::string_view number(std::string_view text) {
        constexpr std::string_view space = " \t\r\n";
        auto first = text.find_first_not_of(space);
        if (first == std::string_view::npos) return {};
        text = text.substr(first, text.find_last_not_of(space) - first + 1);
        if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
        return text;
    }

    template <class T>
    std::optional<T> parsed(const hub::xml::Document& doc, const Node& node, std::string_view element,
                            std::string_view name) {
        auto value = node.attribute(name);
        if (!value) return std::nullopt;
        std::string_view text = number(*value);
        T out{};
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        if (ec == std::errc() && ptr == text.data() + text.size()) return out;
        error(doc.name(), node.line(), element, name,
              "'" + *value + "' is " + (ec == std::errc::result_out_of_range ? "out of range" : "not a number"));
        return std::nullopt;
    }

    template <class T>
    T integer(const hub::xml::Document& doc, const Node& node, std::string_view element, std::string_view name,
              T fallback) {
        return parsed<T>(doc, node, element, name).value_or(fallback);
    }

    std::optional<double> decimal(const hub::xml::Document& doc, const Node& node, std::string_view name) {
        return parsed<double>(doc, node, "field", name);
    }

    void readCategory(const hub::xml::Document& doc, const Node& node) {
        Category c;
        c.id = node.attribute("id", "");
        c.name = names(node);
        c.order = integer(doc, node, "category", "order", 0);
        if (unique(categoryPlaces_, c.id, doc, node, "category")) {
            categories.push_back(std::move(c));
        }
    }

    void readDepartment(const hub::xml::Document& doc, const Node& node) {
        Department d;
        d.id = node.attribute("id", "");
        d.name = names(node);
        if (unique(departmentPlaces_, d.id, doc, node, "department")) {
            departments.push_back(std::move(d));
        }
    }

    void readItem(const hub::xml::Document& doc, const Node& node) {
        ServiceItem item;
        item.id = node.attribute("id", "");
        item.categoryId = node.attribute("category", "");
        item.departmentId = node.attribute("department", "");
        item.channel = parseChannel(node.attribute("channel", "")).value_or(Channel::Online);
        item.audience = AudienceSet::parse(node.attribute("audience", "")).value_or(AudienceSet());
        item.timeLimitDays = integer(doc, node, "item", "timeLimit", 0);
        item.sourceFile = doc.name();
        item.sourceLine = node.line();
        if (auto name = node.child("name")) item.name = names(*name);
        if (auto description = node.child("description")) item.description = names(*description);
        if (auto materials = node.child("materials")) {
            for (const Node& m : materials->children("material")) {
                item.materials.push_back(Material{m.attribute("id", ""), names(m), boolean(m, "required", true)});
            }
        }
        if (auto handler = node.child("handler")) {
            if (auto plugin = handler->child("plugin")) {
                item.handler.kind = Handler::Kind::Plugin;
                item.handler.system = plugin->attribute("system", "");
                item.handler.operation = plugin->attribute("operation", "");
            } else if (auto flow = handler->child("flow")) {
                item.handler.kind = Handler::Kind::Flow;
                item.handler.flowId = flow->attribute("id", "");
            }
        }
        if (auto form = node.child("form")) {
            for (const Node& f : form->children("field")) {
                item.fields.push_back(readField(doc, f));
            }
        }
        items.push_back(std::move(item));
    }

    FormField readField(const hub::xml::Document& doc, const Node& node) {
        static const std::map<std::string, FieldType, std::less<>> kTypes{
            {"string", FieldType::String}, {"integer", FieldType::Integer}, {"number", FieldType::Number},
            {"date", FieldType::Date},     {"boolean", FieldType::Boolean}, {"enum", FieldType::Enum},
            {"file", FieldType::File}};
        FormField field;
        field.id = node.attribute("id", "");
        field.label = names(node);
        auto type = kTypes.find(node.attribute("type", "string"));
        field.type = type != kTypes.end() ? type->second : FieldType::String;
        field.required = boolean(node, "required", false);
        field.maxLength = parsed<std::size_t>(doc, node, "field", "maxLength");
        field.min = decimal(doc, node, "min");
        field.max = decimal(doc, node, "max");
        for (const Node& o : node.children("option")) {
            field.options.push_back(FieldOption{o.attribute("value", ""), names(o)});
        }

        const std::string what = "field '" + field.id + "' (type " + std::string(toString(field.type)) + ")";
        bool textual = field.type == FieldType::String || field.type == FieldType::File;
        bool numeric = field.type == FieldType::Integer || field.type == FieldType::Number;
        if (field.type == FieldType::Enum && field.options.empty()) {
            error(doc.name(), node.line(), "field", "type", what + ": an enum field needs at least one <option>");
        }
        if (field.type != FieldType::Enum && !field.options.empty()) {
            error(doc.name(), node.line(), "option", "", what + ": only enum fields take <option>s");
        }
        if (field.maxLength && !textual) {
            error(doc.name(), node.line(), "field", "maxLength", what + ": maxLength applies to string and file fields only");
        }
        if ((field.min || field.max) && !numeric) {
            error(doc.name(), node.line(), "field", field.min ? "min" : "max",
                  what + ": min/max apply to integer and number fields only");
        }
        if (field.min && field.max && *field.min > *field.max) {
            error(doc.name(), node.line(), "field", "min", what + ": min is greater than max");
        }
        std::map<std::string, int> seen;
        for (const Node& o : node.children("option")) {
            if (++seen[o.attribute("value", "")] == 2) {
                error(doc.name(), o.line(), "option", "value",
                      what + ": duplicate option value '" + o.attribute("value", "") + "'");
            }
        }
        return field;
    }
};

fs::path departmentsDirectory(const Catalog::Options& options) {
    return options.departmentsDirectory.empty() ? fs::path(options.directory) / "departments"
                                                : fs::path(options.departmentsDirectory);
}

bool isDepartmentId(const std::string& id) {
    static const std::regex pattern("[a-z][a-z0-9_.-]{0,63}");
    return std::regex_match(id, pattern);
}

// department id -> file, in name order; none when the folder is missing.
std::vector<std::pair<std::string, std::string>> departmentFiles(const Catalog::Options& options) {
    std::vector<std::pair<std::string, std::string>> files;
    std::error_code ec;
    for (fs::directory_iterator it(departmentsDirectory(options), ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".xml" && it->is_regular_file())
            files.emplace_back(it->path().stem().string(), it->path().string());
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    return files;
}

// Temporary file beside the target, renamed over it: a reload, here or by a
// full reload, reads the old file or the new one, never half of one.
void replaceFile(const fs::path& path, std::string_view text) {
    fs::create_directories(path.parent_path());
    const fs::path temporary = path.parent_path() / ("." + path.filename().string() + "." +
                                                     std::to_string(::getpid()) + ".tmp");
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.flush();
        if (!out) {
            std::error_code ignored;
            fs::remove(temporary, ignored);
            throw std::runtime_error("cannot write " + temporary.string());
        }
    }
    fs::rename(temporary, path);
}

[[noreturn]] void failWith(std::vector<Error> errors) {
    std::string summary = std::to_string(errors.size()) + " error(s) in the service catalogue; first: " +
                          errors.front().toString();
    throw CatalogException(summary, std::move(errors));
}

}  // namespace

std::shared_ptr<const Snapshot> Catalog::load(const Options& options, std::uint64_t version) {
    fs::path directory(options.directory);
    std::string schemaPath = options.schemaPath.empty() ? (directory / "catalog.xsd").string() : options.schemaPath;

    std::optional<hub::xml::Schema> schema;
    try {
        schema = hub::xml::Schema::fromFile(schemaPath);
    } catch (const hub::xml::XmlException& e) {
        failWith(e.errors());
    }

    std::vector<std::string> files;
    std::error_code ec;
    for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == ".xml" && it->is_regular_file()) {
            files.push_back(it->path().string());
        }
    }
    if (ec) {
        failWith({Error{options.directory, 0, 0, "cannot list the catalogue directory: " + ec.message(), {}}});
    }
    if (files.empty()) {
        failWith({Error{options.directory, 0, 0, "no catalogue files (*.xml) in the directory", {}}});
    }
    std::sort(files.begin(), files.end());

    Loader loader;
    for (const std::string& file : files) {
        try {
            auto doc = hub::xml::Document::parseFile(file);
            auto problems = schema->validate(doc);
            if (!problems.empty()) {
                loader.errors.insert(loader.errors.end(), problems.begin(), problems.end());
                continue;  // reading an invalid file would only add confusing follow-up errors
            }
            loader.readFile(doc);
        } catch (const hub::xml::XmlException& e) {
            loader.errors.insert(loader.errors.end(), e.errors().begin(), e.errors().end());
        }
    }
    // The departments' own files, after the hub-wide ones, under the same rule
    // as when their admins change them.
    for (const auto& [department, file] : departmentFiles(options)) {
        if (!isDepartmentId(department)) {
            loader.errors.push_back(Error{file, 0, 0, "'" + department + "' is not a department id: a department's "
                                                      "own file is named <department id>.xml", {}});
            continue;
        }
        try {
            auto doc = hub::xml::Document::parseFile(file);
            auto problems = schema->validate(doc);
            if (!problems.empty()) {
                loader.errors.insert(loader.errors.end(), problems.begin(), problems.end());
                continue;
            }
            loader.readDepartmentFile(doc, department, {});
        } catch (const hub::xml::XmlException& e) {
            loader.errors.insert(loader.errors.end(), e.errors().begin(), e.errors().end());
        }
    }
    loader.crossCheck();
    if (!loader.errors.empty()) {
        failWith(std::move(loader.errors));
    }
    return std::make_shared<const Snapshot>(std::move(loader.categories), std::move(loader.departments),
                                            std::move(loader.items), version);
}

Catalog::Catalog(Options options) : options_(std::move(options)) {
    std::atomic_store(&current_, load(options_, 1));
}

std::shared_ptr<const Snapshot> Catalog::snapshot() const {
    return std::atomic_load(&current_);
}

Catalog::ReloadResult Catalog::reload() {
    std::lock_guard lock(reloadMutex_);
    ReloadResult result;
    auto old = std::atomic_load(&current_);
    try {
        auto fresh = load(options_, old->version() + 1);
        std::atomic_store(&current_, fresh);
        result.ok = true;
        result.version = fresh->version();
    } catch (const CatalogException& e) {
        result.errors = e.errors();
        result.version = old->version();
    }
    return result;
}

std::string Catalog::departmentFile(const std::string& department) const {
    return (departmentsDirectory(options_) / (department + ".xml")).string();
}

Catalog::DepartmentResult Catalog::putDepartment(const std::string& department, std::string_view xml,
                                                 const ItemCheck& check) {
    return changeDepartment(department, std::string(xml), check, true);
}

Catalog::DepartmentResult Catalog::removeDepartment(const std::string& department) {
    return changeDepartment(department, std::nullopt, {}, true);
}

Catalog::DepartmentResult Catalog::reloadDepartment(const std::string& department, const ItemCheck& check) {
    std::optional<std::string> xml;
    const std::string file = departmentFile(department);
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) {
        std::ifstream in(file, std::ios::binary);
        // One byte past the parser's limit is enough for it to refuse the file.
        std::string text(hub::xml::ParseOptions{}.maxBytes + 1, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
        if (in.bad()) {
            DepartmentResult result;
            result.version = snapshot()->version();
            result.errors.push_back(Error{file, 0, 0, "cannot read the file", {}});
            return result;
        }
        xml = std::move(text);
    }
    return changeDepartment(department, xml, check, false);
}

// The catalogue in service with one department's file replaced (or removed):
// its taxonomy and every other file as served, not as they are on disk now, so
// a department's change never publishes someone else's unfinished edit.
Catalog::DepartmentResult Catalog::changeDepartment(const std::string& department,
                                                    const std::optional<std::string>& xml, const ItemCheck& check,
                                                    bool write) {
    std::lock_guard lock(reloadMutex_);
    DepartmentResult result;
    auto old = std::atomic_load(&current_);
    result.version = old->version();
    const std::string file = departmentFile(department);
    if (!isDepartmentId(department)) {
        result.errors.push_back(Error{file, 0, 0, "'" + department + "' is not a department id", {}});
        return result;
    }

    Loader loader;
    loader.adopt(*old, file);
    if (xml) {
        try {
            auto schema = hub::xml::Schema::fromFile(
                options_.schemaPath.empty() ? (fs::path(options_.directory) / "catalog.xsd").string()
                                            : options_.schemaPath);
            auto doc = hub::xml::Document::parseMemory(*xml, file);
            auto problems = schema.validate(doc);
            if (!problems.empty()) {
                result.errors = std::move(problems);
                return result;
            }
            loader.readDepartmentFile(doc, department, check);
        } catch (const hub::xml::XmlException& e) {
            result.errors = e.errors();
            return result;
        }
    }
    loader.crossCheck();
    if (!loader.errors.empty()) {
        result.foreign = std::move(loader.foreign);
        result.errors = std::move(loader.errors);
        return result;
    }

    // The order a full reload would read them in: the hub-wide files, then the
    // departments' files, each by name, each file's items as written.
    const std::string departmentsPrefix = (departmentsDirectory(options_) / "").string();
    auto rank = [&departmentsPrefix](const ServiceItem& item) {
        return std::pair(item.sourceFile.rfind(departmentsPrefix, 0) == 0, std::string_view(item.sourceFile));
    };
    std::stable_sort(loader.items.begin(), loader.items.end(),
                     [&rank](const ServiceItem& a, const ServiceItem& b) { return rank(a) < rank(b); });
    auto fresh = std::make_shared<const Snapshot>(std::move(loader.categories), std::move(loader.departments),
                                                  std::move(loader.items), old->version() + 1);
    if (write) {
        std::error_code ec;
        if (xml) {
            replaceFile(file, *xml);  // throws: nothing is served that is not on disk
        } else if (!fs::remove(file, ec)) {
            if (ec) throw std::runtime_error("cannot delete " + file + ": " + ec.message());
            result.existed = false;
            return result;  // nothing to remove; the catalogue is unchanged
        }
    }
    std::atomic_store(&current_, fresh);
    result.ok = true;
    result.version = fresh->version();
    return result;
}

}  // namespace hub::catalog
