#pragma once

// A user task's form, as Camunda 8 files embed it: the process's
// <zeebe:userTaskForm id="..."> holds a Camunda Forms JSON schema, and the
// task names it with <zeebe:formDefinition formKey="camunda-forms:bpmn:<id>"/>.
// The schema is read when the file is deployed; the fields a clerk sends with
// a completion are checked against it (docs/flows/bpmn.md, "Task forms").

#include "hub/flows/engine/Value.h"

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub::flows::engine {

/// One input of a form (a Camunda Forms component with a key).
struct FormField {
    std::string key;
    std::string label;
    /// "textfield", "textarea", "number", "checkbox", "select", "radio",
    /// "checklist", "taglist", "datetime".
    std::string type;
    bool required = false;
    std::optional<std::size_t> minLength, maxLength;  ///< In characters (UTF-8 code points).
    std::optional<double> min, max;
    std::vector<std::string> options;  ///< select, radio, checklist, taglist: the allowed values.
};

/// A form schema that cannot be run (refused at deploy time).
class FormError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Reads a Camunda Forms schema ({"components": [...]}); components that show
/// text only (text, spacer, separator, image, button, html) are skipped, any
/// other unknown type is refused. At most 200 fields, 64 KiB.
std::vector<FormField> parseTaskForm(const std::string& json);

/// One field that does not fit its form.
struct FormProblem {
    std::string field;
    std::string code;  ///< "required", "type", "enum", "min_length", "max_length", "min", "max", "unknown"
    std::string message;
};

/// Every problem of `fields` (an object) against `form`, at once: a required
/// field missing (absent, null or ""), a value of the wrong type, a value not
/// among the options, a text too short or long, a number out of range, a
/// field the form does not declare.
std::vector<FormProblem> checkTaskForm(const std::vector<FormField>& form, const Value& fields);

}  // namespace hub::flows::engine
