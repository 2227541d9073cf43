#pragma once

#include "hub/catalog/Query.h"
#include "hub/catalog/ServiceItem.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hub::catalog {

/// A category with the number of items a given viewer can see in it.
struct CategoryCount {
    const Category* category;
    std::size_t itemCount;
};

/// An immutable, fully indexed version of the catalogue.
///
/// Built once per load, then only read, from any number of threads, without
/// locks. Everything a request needs is precomputed: each item's JSON text,
/// per-category and per-department indexes, lower-cased search text, and the
/// categories JSON for every combination of audiences; a catalogue query
/// costs a scan of one index and one string append per item returned.
class Snapshot {
public:
    /// Builds indexes and JSON. The caller (the loader) has already checked
    /// that ids are unique and every reference resolves; broken invariants
    /// here throw std::invalid_argument.
    Snapshot(std::vector<Category> categories, std::vector<Department> departments,
             std::vector<ServiceItem> items, std::uint64_t version);

    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;

    /// Items matching the query, in catalogue order (category order, then
    /// file order), paged. An offset beyond the end gives no items and the
    /// real total.
    Page query(const Query& query) const;

    /// query() serialized: {"total":N,"offset":O,"limit":L,"items":[...]}.
    std::string queryJson(const Query& query) const;

    /// Appends a page as JSON to `out` (reuse one buffer per thread to avoid allocation).
    void appendPageJson(const Page& page, std::string& out) const;

    /// The item with this id, regardless of audience; nullptr if none.
    const ServiceItem* findById(std::string_view id) const;

    /// The item if `viewer` may see it, else nullptr (answer 404 either way,
    /// so ids of other audiences' items are not disclosed).
    const ServiceItem* findVisible(std::string_view id, AudienceSet viewer) const;

    /// The item's precomputed JSON object.
    const std::string& itemJson(const ServiceItem& item) const;

    /// Categories in display order with the number of items `viewer` sees in each.
    std::vector<CategoryCount> categories(AudienceSet viewer) const;

    /// categories() as a JSON array, precomputed:
    /// [{"id":..,"name":{"zh":..,"en":..},"order":n,"itemCount":k}, ...].
    const std::string& categoriesJson(AudienceSet viewer) const;

    const Category* category(std::string_view id) const;
    const Department* department(std::string_view id) const;
    const std::vector<Category>& allCategories() const noexcept { return categories_; }
    const std::vector<Department>& allDepartments() const noexcept { return departments_; }
    const std::vector<ServiceItem>& items() const noexcept { return items_; }

    /// Increases with every successful (re)load.
    std::uint64_t version() const noexcept { return version_; }

private:
    const std::vector<std::uint32_t>* candidates(const Query& query) const;

    std::vector<Category> categories_;
    std::vector<Department> departments_;
    std::vector<ServiceItem> items_;
    std::uint64_t version_;

    std::vector<std::string> itemJson_;    // parallel to items_
    std::vector<std::string> searchText_;  // parallel to items_, ASCII lower-cased
    std::vector<std::uint32_t> allIndex_;
    std::unordered_map<std::string_view, std::uint32_t> byId_;
    std::unordered_map<std::string_view, std::vector<std::uint32_t>> byCategory_;
    std::unordered_map<std::string_view, std::vector<std::uint32_t>> byDepartment_;
    std::unordered_map<std::string_view, std::size_t> categoryIndex_;
    std::unordered_map<std::string_view, std::size_t> departmentIndex_;
    std::array<std::string, 16> categoriesJson_;  // by viewer bit mask
};

}  // namespace hub::catalog
