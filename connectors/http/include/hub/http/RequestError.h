#pragma once

#include <exception>
#include <string>
#include <utility>

namespace hub::http {

/// Why an outbound request got no response.
enum class Failure { Timeout, Unavailable, BadRequest };

/// What Client::request and Url::parse throw: the failure and a message naming
/// what went wrong and where.
class RequestError : public std::exception {
public:
    RequestError(Failure failure, std::string message)
        : failure_(failure), message_(std::move(message)) {}
    Failure failure() const noexcept { return failure_; }
    const char* what() const noexcept override { return message_.c_str(); }

private:
    Failure failure_;
    std::string message_;
};

}  // namespace hub::http
