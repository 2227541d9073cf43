#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hub::http {
class Client;
}

namespace hub::soap {

/// The SOAP version of an envelope, told by its namespace.
enum class Version {
    Soap11,  ///< http://schemas.xmlsoap.org/soap/envelope/
    Soap12   ///< http://www.w3.org/2003/05/soap-envelope
};

/// Why a call produced no usable response envelope.
enum class Failure {
    InvalidRequest,   ///< The envelope, endpoint or action given is wrong; nothing was sent.
    Timeout,          ///< No complete answer within the timeout.
    Unavailable,      ///< No connection, or an HTTP error without a SOAP envelope.
    InvalidResponse,  ///< The answer is malformed, too large, not a SOAP envelope, or
                      ///< refused by the XML policy (DOCTYPE, entities).
    Fault             ///< The service answered with a SOAP Fault (see fault()).
};

/// A SOAP Fault, in either version's terms: code is faultcode (1.1) or
/// Code/Value (1.2, with the Subcode values appended after '/'), reason is
/// faultstring (1.1) or the first Reason/Text (1.2), detail the text of
/// detail (1.1) or Detail (1.2), trimmed.
struct Fault {
    std::string code;
    std::string reason;
    std::string detail;
    /// True when the fault blames the request (Client in 1.1, Sender in 1.2).
    bool sender = false;
};

/// The error of Client::call; what() is one line naming the endpoint and the cause.
class CallError : public std::runtime_error {
public:
    CallError(Failure failure, const std::string& message, Fault fault = {}, int httpStatus = 0)
        : std::runtime_error(message), failure_(failure), fault_(std::move(fault)), httpStatus_(httpStatus) {}
    Failure failure() const noexcept { return failure_; }
    /// Set when failure() is Failure::Fault.
    const Fault& fault() const noexcept { return fault_; }
    /// The HTTP status received, 0 when no response came.
    int httpStatus() const noexcept { return httpStatus_; }

private:
    Failure failure_;
    Fault fault_;
    int httpStatus_;
};

/// The answer of a successful call.
struct Response {
    std::string envelope;  ///< The response envelope, UTF-8 (converted when the service
                           ///< declared another encoding, e.g. GBK).
    Version version = Version::Soap11;
    int httpStatus = 0;
};

/// A SOAP 1.1 / 1.2 client for vendor systems, over hub::http::Client (its
/// connection pools) and hub::xml (safe parsing: no network, no DTDs, no
/// entities, size capped).
///
/// The caller builds the envelope; call() checks that it is a well-formed SOAP
/// envelope, picks the version from its namespace, sends it with the headers
/// that version wants (1.1: Content-Type text/xml and SOAPAction; 1.2:
/// Content-Type application/soap+xml with an action parameter), and checks the
/// answer: a well-formed envelope of the same version with a Body. A Fault
/// (whatever the HTTP status) becomes CallError with Failure::Fault. Thread-safe
/// as far as the http::Client is (it is).
class Client {
public:
    struct Options {
        /// Larger responses are refused (Failure::InvalidResponse).
        std::size_t maxResponseBytes = 16 * 1024 * 1024;
        /// Largest request envelope accepted from the caller.
        std::size_t maxRequestBytes = 16 * 1024 * 1024;
    };

    /// http must outlive the client.
    explicit Client(http::Client& http);
    Client(http::Client& http, const Options& options);

    /// Sends envelope to endpoint (http:// or https://) with action (may be
    /// empty) and returns the response envelope. extraHeaders ("Name: value\r\n"
    /// lines, from the caller, e.g. a traceparent) are sent after the SOAP ones.
    /// Throws CallError.
    Response call(std::string_view endpoint, std::string_view action, std::string_view envelope,
                  std::chrono::milliseconds timeout, std::string_view extraHeaders = {});

    /// The version of an envelope; throws CallError(InvalidRequest) when it is
    /// not a well-formed SOAP envelope.
    static Version versionOf(std::string_view envelope);

private:
    http::Client& http_;
    Options options_;
};

}  // namespace hub::soap
