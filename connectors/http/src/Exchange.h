#pragma once
// Internal to hub::http: one request and its answer on a connection.

#include "hub/http/Client.h"
#include "hub/http/Url.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/system/error_code.hpp>

#include <string>
#include <string_view>

namespace hub::http::detail {

/// Whether s is an HTTP token (a method or a header name).
bool isToken(std::string_view s);

/// The request's head: request line, Host, the plugin's header lines (checked:
/// RequestError(BadRequest) for a bare CR or LF or a malformed line; framing and
/// connection headers dropped, they are the client's) and Content-Length.
std::string formatRequestHead(std::string_view method, const Url& url, std::string_view headers,
                              std::size_t bodySize);

/// Done: an answer came, or an error after its first byte. Stale: the
/// connection failed before a byte of the answer came back (a kept-alive one the
/// server has closed).
enum class Outcome { Done, Stale };

/// Writes head and body on stream and reads the answer into result (interim 1xx
/// answers skipped; a status outside 100-599 is bad_status). buffer holds bytes
/// read past it; reusable says whether the connection may serve another request.
template <class Stream>
Outcome exchange(Stream& stream, boost::beast::flat_buffer& buffer, const std::string& requestHead,
                 std::string_view body, bool head, std::size_t maxBody, Response& result, bool& reusable,
                 boost::system::error_code& ec);

}  // namespace hub::http::detail
