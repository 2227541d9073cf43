#pragma once

#include "hub/catalog/ServiceItem.h"

#include <Poco/JSON/Object.h>

#include <string>
#include <string_view>
#include <vector>

namespace hub::catalog {

/// One thing wrong with an application.
struct ValidationProblem {
    /// "form.<fieldId>", "materials.<materialId>", or "form" for the body as a whole.
    std::string field;
    /// Stable machine code: missing, too_long, wrong_type, invalid_date,
    /// not_an_option, out_of_range, unknown_field, invalid_utf8,
    /// material_missing, unknown_material, invalid_json.
    std::string code;
    std::string message;    ///< English, names the field by its label.
    std::string messageZh;  ///< Chinese.
};

/// Everything wrong with an application, found in one pass: the hall's rule
/// is to tell the applicant everything missing at once.
struct ValidationResult {
    std::vector<ValidationProblem> problems;       ///< Form and material problems, in item order.
    std::vector<Material> missingMaterials;  ///< Required materials not provided (also in problems), copied.

    bool ok() const noexcept { return problems.empty(); }

    /// {"problems":[{"field","code","message","messageZh"}...],
    ///  "missingMaterials":[{"id","name":{"zh","en"}}...]} — for a
    /// problem+json body ("invalid-params").
    std::string toJson() const;
};

/// Checks form data and provided material ids against the item: required
/// fields present, types, enum options, lengths (in characters), ranges,
/// dates (YYYY-MM-DD), no unknown fields, every required material provided,
/// no unknown materials. Reports every problem, never just the first.
ValidationResult validateApplication(const ServiceItem& item, const Poco::JSON::Object::Ptr& form,
                                     const std::vector<std::string>& providedMaterials);

/// Same, with the form as JSON text (an object); unparsable or non-object
/// JSON is one problem (code invalid_json) plus the material problems.
ValidationResult validateApplication(const ServiceItem& item, std::string_view formJson,
                                     const std::vector<std::string>& providedMaterials);

}  // namespace hub::catalog
