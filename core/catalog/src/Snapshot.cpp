#include "hub/catalog/Snapshot.h"

#include "LocalizedJson.h"

#include <algorithm>
#include <stdexcept>

namespace hub::catalog {

namespace {

void appendLower(std::string& out, std::string_view s) {
    for (char c : s) {
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    out += '\n';  // keeps words of different fields from matching across the seam
}

/// Splits on ASCII whitespace and the ideographic space (U+3000).
std::vector<std::string> searchWords(std::string_view text) {
    std::vector<std::string> words;
    std::string current;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        if (!space && text.substr(i, 3) == "\xE3\x80\x80") {
            space = true;
            i += 2;
        }
        if (space) {
            if (!current.empty()) words.push_back(std::move(current));
            current.clear();
        } else {
            current += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        }
    }
    if (!current.empty()) words.push_back(std::move(current));
    return words;
}

const std::vector<std::uint32_t> kNoItems;

}  // namespace

Snapshot::Snapshot(std::vector<Category> categories, std::vector<Department> departments,
                   std::vector<ServiceItem> items, std::uint64_t version)
    : categories_(std::move(categories)),
      departments_(std::move(departments)),
      items_(std::move(items)),
      version_(version) {
    std::stable_sort(categories_.begin(), categories_.end(), [](const Category& a, const Category& b) {
        return a.order != b.order ? a.order < b.order : a.id < b.id;
    });
    for (std::size_t i = 0; i < categories_.size(); ++i) {
        if (!categoryIndex_.emplace(categories_[i].id, i).second) {
            throw std::invalid_argument("duplicate category id " + categories_[i].id);
        }
    }
    for (std::size_t i = 0; i < departments_.size(); ++i) {
        if (!departmentIndex_.emplace(departments_[i].id, i).second) {
            throw std::invalid_argument("duplicate department id " + departments_[i].id);
        }
    }
    // Catalogue order: category display order, then definition order.
    std::stable_sort(items_.begin(), items_.end(), [this](const ServiceItem& a, const ServiceItem& b) {
        auto ia = categoryIndex_.find(a.categoryId);
        auto ib = categoryIndex_.find(b.categoryId);
        std::size_t ka = ia == categoryIndex_.end() ? categories_.size() : ia->second;
        std::size_t kb = ib == categoryIndex_.end() ? categories_.size() : ib->second;
        return ka < kb;
    });

    itemJson_.reserve(items_.size());
    searchText_.reserve(items_.size());
    allIndex_.reserve(items_.size());
    for (std::size_t i = 0; i < items_.size(); ++i) {
        const ServiceItem& item = items_[i];
        const Category* cat = category(item.categoryId);
        const Department* dept = department(item.departmentId);
        if (cat == nullptr || dept == nullptr) {
            throw std::invalid_argument("item " + item.id + " references an unknown category or department");
        }
        auto index = static_cast<std::uint32_t>(i);
        if (!byId_.emplace(item.id, index).second) {
            throw std::invalid_argument("duplicate item id " + item.id);
        }
        allIndex_.push_back(index);
        byCategory_[item.categoryId].push_back(index);
        byDepartment_[item.departmentId].push_back(index);

        std::string search;
        appendLower(search, item.id);
        appendLower(search, item.name.zh);
        appendLower(search, item.name.en);
        appendLower(search, item.description.zh);
        appendLower(search, item.description.en);
        appendLower(search, cat->name.zh);
        appendLower(search, cat->name.en);
        appendLower(search, dept->name.zh);
        appendLower(search, dept->name.en);
        searchText_.push_back(std::move(search));

        std::string j;
        j.reserve(1024);
        j += "{\"id\":";
        json::appendString(j, item.id);
        j += ",\"name\":";
        appendLocalized(j, item.name);
        j += ",\"description\":";
        appendLocalized(j, item.description);
        j += ",\"category\":{\"id\":";
        json::appendString(j, cat->id);
        j += ",\"name\":";
        appendLocalized(j, cat->name);
        j += "},\"department\":{\"id\":";
        json::appendString(j, dept->id);
        j += ",\"name\":";
        appendLocalized(j, dept->name);
        j += "},\"channel\":";
        json::appendString(j, toString(item.channel));
        j += ",\"audience\":[";
        bool first = true;
        for (Audience a : {Audience::Student, Audience::Teacher, Audience::Staff, Audience::Visitor}) {
            if (item.audience.has(a)) {
                if (!first) j += ',';
                json::appendString(j, toString(a));
                first = false;
            }
        }
        j += "],\"timeLimitDays\":";
        json::appendNumber(j, static_cast<std::size_t>(item.timeLimitDays));
        j += ",\"handler\":";
        if (item.handler.kind == Handler::Kind::Plugin) {
            j += "{\"type\":\"plugin\",\"system\":";
            json::appendString(j, item.handler.system);
            j += ",\"operation\":";
            json::appendString(j, item.handler.operation);
            j += '}';
        } else {
            j += "{\"type\":\"flow\",\"flowId\":";
            json::appendString(j, item.handler.flowId);
            j += '}';
        }
        j += ",\"materials\":[";
        for (std::size_t m = 0; m < item.materials.size(); ++m) {
            const Material& mat = item.materials[m];
            if (m) j += ',';
            j += "{\"id\":";
            json::appendString(j, mat.id);
            j += ",\"name\":";
            appendLocalized(j, mat.name);
            j += mat.required ? ",\"required\":true}" : ",\"required\":false}";
        }
        j += "],\"form\":[";
        for (std::size_t f = 0; f < item.fields.size(); ++f) {
            const FormField& field = item.fields[f];
            if (f) j += ',';
            j += "{\"id\":";
            json::appendString(j, field.id);
            j += ",\"label\":";
            appendLocalized(j, field.label);
            j += ",\"type\":";
            json::appendString(j, toString(field.type));
            j += field.required ? ",\"required\":true" : ",\"required\":false";
            if (field.maxLength) {
                j += ",\"maxLength\":";
                json::appendNumber(j, *field.maxLength);
            }
            if (field.min) {
                j += ",\"min\":";
                json::appendNumber(j, *field.min);
            }
            if (field.max) {
                j += ",\"max\":";
                json::appendNumber(j, *field.max);
            }
            if (field.type == FieldType::Enum) {
                j += ",\"options\":[";
                for (std::size_t o = 0; o < field.options.size(); ++o) {
                    if (o) j += ',';
                    j += "{\"value\":";
                    json::appendString(j, field.options[o].value);
                    j += ",\"label\":";
                    appendLocalized(j, field.options[o].label);
                    j += '}';
                }
                j += ']';
            }
            j += '}';
        }
        j += "]}";
        itemJson_.push_back(std::move(j));
    }

    for (std::uint8_t mask = 0; mask < 16; ++mask) {
        std::string& out = categoriesJson_[mask];
        out = "[";
        auto counts = this->categories(AudienceSet(mask));
        for (std::size_t i = 0; i < counts.size(); ++i) {
            const Category& c = *counts[i].category;
            if (i) out += ',';
            out += "{\"id\":";
            json::appendString(out, c.id);
            out += ",\"name\":";
            appendLocalized(out, c.name);
            out += ",\"order\":";
            json::appendNumber(out, static_cast<std::size_t>(c.order));
            out += ",\"itemCount\":";
            json::appendNumber(out, counts[i].itemCount);
            out += '}';
        }
        out += ']';
    }
}

const std::vector<std::uint32_t>* Snapshot::candidates(const Query& query) const {
    const std::vector<std::uint32_t>* best = &allIndex_;
    if (!query.category.empty()) {
        auto it = byCategory_.find(query.category);
        if (it == byCategory_.end()) return &kNoItems;
        best = &it->second;
    }
    if (!query.department.empty()) {
        auto it = byDepartment_.find(query.department);
        if (it == byDepartment_.end()) return &kNoItems;
        if (it->second.size() < best->size()) best = &it->second;
    }
    return best;
}

Page Snapshot::query(const Query& query) const {
    Page page;
    page.offset = query.offset;
    page.limit = std::min(query.limit, Query::maxLimit);
    AudienceSet effective = query.viewer & (query.audience ? *query.audience : AudienceSet::all());
    if (effective.empty()) {
        return page;
    }
    std::vector<std::string> words;
    if (!query.text.empty()) {
        words = searchWords(query.text);
    }
    const std::vector<std::uint32_t>& indexes = *candidates(query);
    if (page.limit > 0 && page.offset < indexes.size()) {
        page.items.reserve(std::min(page.limit, indexes.size() - page.offset));
    }
    for (std::uint32_t index : indexes) {
        const ServiceItem& item = items_[index];
        if (!item.audience.intersects(effective)) continue;
        if (!query.category.empty() && item.categoryId != query.category) continue;
        if (!query.department.empty() && item.departmentId != query.department) continue;
        if (query.channel && item.channel != *query.channel) continue;
        if (!words.empty()) {
            const std::string& haystack = searchText_[index];
            bool all = std::all_of(words.begin(), words.end(),
                                   [&](const std::string& w) { return haystack.find(w) != std::string::npos; });
            if (!all) continue;
        }
        if (page.total >= page.offset && page.total - page.offset < page.limit) {
            page.items.push_back(&item);
        }
        ++page.total;
    }
    return page;
}

void Snapshot::appendPageJson(const Page& page, std::string& out) const {
    std::size_t size = 64;
    for (const ServiceItem* item : page.items) size += itemJson(*item).size() + 1;
    out.reserve(out.size() + size);
    out += "{\"total\":";
    json::appendNumber(out, page.total);
    out += ",\"offset\":";
    json::appendNumber(out, page.offset);
    out += ",\"limit\":";
    json::appendNumber(out, page.limit);
    out += ",\"items\":[";
    for (std::size_t i = 0; i < page.items.size(); ++i) {
        if (i) out += ',';
        out += itemJson(*page.items[i]);
    }
    out += "]}";
}

std::string Snapshot::queryJson(const Query& query) const {
    std::string out;
    appendPageJson(this->query(query), out);
    return out;
}

const ServiceItem* Snapshot::findById(std::string_view id) const {
    auto it = byId_.find(id);
    return it == byId_.end() ? nullptr : &items_[it->second];
}

const ServiceItem* Snapshot::findVisible(std::string_view id, AudienceSet viewer) const {
    const ServiceItem* item = findById(id);
    return (item != nullptr && item->audience.intersects(viewer)) ? item : nullptr;
}

const std::string& Snapshot::itemJson(const ServiceItem& item) const {
    auto index = static_cast<std::size_t>(&item - items_.data());
    if (index >= items_.size()) {
        throw std::invalid_argument("item " + item.id + " does not belong to this snapshot");
    }
    return itemJson_[index];
}

std::vector<CategoryCount> Snapshot::categories(AudienceSet viewer) const {
    std::vector<CategoryCount> out;
    out.reserve(categories_.size());
    for (const Category& c : categories_) {
        std::size_t count = 0;
        auto it = byCategory_.find(c.id);
        if (it != byCategory_.end()) {
            for (std::uint32_t index : it->second) {
                if (items_[index].audience.intersects(viewer)) ++count;
            }
        }
        out.push_back({&c, count});
    }
    return out;
}

const std::string& Snapshot::categoriesJson(AudienceSet viewer) const {
    return categoriesJson_[viewer.bits() & 0x0F];
}

const Category* Snapshot::category(std::string_view id) const {
    auto it = categoryIndex_.find(id);
    return it == categoryIndex_.end() ? nullptr : &categories_[it->second];
}

const Department* Snapshot::department(std::string_view id) const {
    auto it = departmentIndex_.find(id);
    return it == departmentIndex_.end() ? nullptr : &departments_[it->second];
}

}  // namespace hub::catalog
