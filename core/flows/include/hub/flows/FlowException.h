#pragma once

#include "hub/catalog/ApplicationValidator.h"
#include "hub/flows/ApplicationStatus.h"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace hub::flows {

/// Base of the errors ApplicationService reports for requests it refuses.
/// Database failures are not FlowExceptions: they arrive as Poco exceptions
/// (and have rolled back whatever was under way).
class FlowException : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// No application with that id (HTTP 404).
class ApplicationNotFound : public FlowException {
public:
    explicit ApplicationNotFound(const std::string& id)
        : FlowException("application '" + id + "' does not exist"), id_(id) {}
    const std::string& id() const noexcept { return id_; }

private:
    std::string id_;
};

/// The state machine does not allow this move (HTTP 409).
class IllegalTransition : public FlowException {
public:
    IllegalTransition(ApplicationStatus from, ApplicationStatus to, const std::string& message)
        : FlowException(message), from_(from), to_(to) {}
    ApplicationStatus from() const noexcept { return from_; }
    ApplicationStatus to() const noexcept { return to_; }

private:
    ApplicationStatus from_;
    ApplicationStatus to_;
};

/// The caller's expected version is not the stored one: someone else changed
/// the application first (HTTP 409, or 412 for an If-Match header).
class VersionConflict : public FlowException {
public:
    VersionConflict(std::int64_t expected, std::int64_t actual)
        : FlowException("the application is at version " + std::to_string(actual) + ", not " +
                        std::to_string(expected) + ": it was changed meanwhile"),
          expected_(expected), actual_(actual) {}
    std::int64_t expected() const noexcept { return expected_; }
    std::int64_t actual() const noexcept { return actual_; }

private:
    std::int64_t expected_;
    std::int64_t actual_;
};

/// A malformed argument: empty actor, missing reason where one is required,
/// over-long or non-UTF-8 text, bad paging (HTTP 400).
class InvalidRequest : public FlowException {
public:
    using FlowException::FlowException;
};

/// A supplement that still leaves the application invalid: every problem at
/// once, in validation() (HTTP 422). Nothing was changed.
class ValidationFailed : public FlowException {
public:
    explicit ValidationFailed(catalog::ValidationResult validation)
        : FlowException("the application is not complete: " + std::to_string(validation.problems.size()) +
                        " problem(s)"),
          validation_(std::move(validation)) {}
    const catalog::ValidationResult& validation() const noexcept { return validation_; }

private:
    catalog::ValidationResult validation_;
};

/// The application's service item is no longer in the catalogue, so a
/// supplement cannot be checked against it (HTTP 409).
class ItemUnavailable : public FlowException {
public:
    explicit ItemUnavailable(const std::string& itemId)
        : FlowException("service item '" + itemId + "' is no longer in the catalogue"), itemId_(itemId) {}
    const std::string& itemId() const noexcept { return itemId_; }

private:
    std::string itemId_;
};

}  // namespace hub::flows
