#pragma once

#include "hub/xml/Error.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace hub::catalog {

/// Thrown when a catalogue or calendar cannot be loaded: every problem found
/// (schema violations, dangling references, duplicates), each naming file,
/// line and the element/attribute at fault. what() summarizes the first.
class CatalogException : public std::runtime_error {
public:
    CatalogException(const std::string& summary, std::vector<hub::xml::Error> errors)
        : std::runtime_error(summary), errors_(std::move(errors)) {}

    const std::vector<hub::xml::Error>& errors() const noexcept { return errors_; }

private:
    std::vector<hub::xml::Error> errors_;
};

}  // namespace hub::catalog
