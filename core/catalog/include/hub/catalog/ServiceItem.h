#pragma once

#include "hub/catalog/Audience.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hub::catalog {

/// A text in the hall's two languages; both are always present.
struct LocalizedText {
    std::string zh;
    std::string en;
};

/// A service category (one of the hall's 12).
struct Category {
    std::string id;
    LocalizedText name;
    int order = 0;  ///< Display order; categories() is sorted by it, then id.
};

/// An owning department.
struct Department {
    std::string id;
    LocalizedText name;
};

/// A document the applicant hands in (uploaded online, shown at the counter).
struct Material {
    std::string id;
    LocalizedText name;
    bool required = true;
};

enum class FieldType : std::uint8_t { String, Integer, Number, Date, Boolean, Enum, File };

/// "string", "integer", "number", "date", "boolean", "enum", "file".
std::string_view toString(FieldType type) noexcept;

/// One allowed value of an enum field.
struct FieldOption {
    std::string value;
    LocalizedText label;
};

/// A form field the applicant fills in.
struct FormField {
    std::string id;
    LocalizedText label;
    FieldType type = FieldType::String;
    bool required = false;
    std::optional<std::size_t> maxLength;  ///< In characters (code points); string and file fields.
    std::optional<double> min;             ///< Inclusive; integer and number fields.
    std::optional<double> max;             ///< Inclusive; integer and number fields.
    std::vector<FieldOption> options;      ///< Enum fields only, never empty for them.
};

/// What carries out an application: a plugin operation of a department
/// system, or a BPMN flow run by the hub.
struct Handler {
    enum class Kind : std::uint8_t { Plugin, Flow };
    Kind kind = Kind::Flow;
    std::string system;     ///< Plugin handlers: the plugin's system name ("student_affairs").
    std::string operation;  ///< Plugin handlers: the operation ("enrolment_certificate").
    std::string flowId;     ///< Flow handlers: the BPMN process id.
};

/// One service item of the catalogue. Immutable once in a Snapshot.
struct ServiceItem {
    std::string id;
    LocalizedText name;
    LocalizedText description;  ///< May be empty in both languages.
    std::string categoryId;
    std::string departmentId;
    Channel channel = Channel::Online;
    AudienceSet audience;
    int timeLimitDays = 0;  ///< Published time limit in working days; 0 = handled on the spot.
    std::vector<Material> materials;
    Handler handler;
    std::vector<FormField> fields;

    std::string sourceFile;  ///< Where it was defined, for operators' messages.
    int sourceLine = 0;

    /// The material with this id, or nullptr.
    const Material* material(std::string_view materialId) const noexcept;
    /// The form field with this id, or nullptr.
    const FormField* field(std::string_view fieldId) const noexcept;
};

}  // namespace hub::catalog
