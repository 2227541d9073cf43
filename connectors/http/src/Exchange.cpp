#include "Exchange.h"

#include "DeadlineSocket.h"

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <cctype>
#include <cstring>

namespace hub::http::detail {

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

bool equalsIgnoringCase(std::string_view a, std::string_view lower) {
    if (a.size() != lower.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != lower[i]) return false;
    return true;
}

// Framing and connection management are the client's: a plugin that set them
// could split one request into two on a kept-alive connection (smuggling).
bool reservedHeader(std::string_view name) {
    for (std::string_view h : {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
                               "host", "proxy-connection", "trailer"})
        if (equalsIgnoringCase(name, h)) return true;
    return false;
}

// Appends the plugin's header lines ("Name: value\r\n"...) to the request's head,
// checked, and without the ones the client owns.
void appendHeaders(std::string& out, std::string_view headers) {
    while (!headers.empty()) {
        auto end = headers.find("\r\n");
        std::string_view line = headers.substr(0, end);
        headers = end == std::string_view::npos ? std::string_view{} : headers.substr(end + 2);
        if (line.empty()) continue;
        if (line.find_first_of("\r\n") != std::string_view::npos)
            throw RequestError(Failure::BadRequest, "a request header holds a bare CR or LF");
        auto colon = line.find(':');
        if (colon == std::string_view::npos || !isToken(line.substr(0, colon)))
            throw RequestError(Failure::BadRequest, "malformed request header '" + std::string(line.substr(0, 64)) + "'");
        if (reservedHeader(line.substr(0, colon))) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        out.append(line.data(), colon);
        out += ": ";
        out.append(value);
        out += "\r\n";
    }
}

}  // namespace

bool isToken(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7F || std::strchr("()<>@,;:\\\"/[]?={}", c)) return false;
    return true;
}

// Formatted here rather than by Beast's fields and serializer, for a measured
// gain: Beast's basic_fields allocated per header, and with it gone hubd's user
// CPU per plugin call fell from 17.0 to 15.5 us (docs/bench/api.md, fourth
// session, together with the audit's cached clock). Head and body then go out in
// one gathered write.
std::string formatRequestHead(std::string_view method, const Url& url, std::string_view headers,
                              std::size_t bodySize) {
    std::string head;
    head.reserve(128 + url.target.size() + headers.size());
    head.append(method);
    head += ' ';
    head += url.target;
    head += " HTTP/1.1\r\nHost: ";
    if (url.host.find(':') != std::string::npos) {
        head += '[';
        head += url.host;
        head += ']';
    } else {
        head += url.host;
    }
    if (url.port != (url.https ? 443 : 80)) {
        head += ':';
        head += std::to_string(url.port);
    }
    head += "\r\n";
    appendHeaders(head, headers);
    if (bodySize != 0 || method == "POST" || method == "PUT" || method == "PATCH") {
        head += "Content-Length: ";
        head += std::to_string(bodySize);
        head += "\r\n";
    }
    head += "\r\n";
    return head;
}

// The answer is read by Beast's response_parser. An own basic_parser that wrote
// the header lines straight into the Response (no basic_fields) measured no gain
// (docs/bench/api.md, fourth session: 15.0-15.6 us of user CPU per call against
// 15.5 before, in one step with a cheaper SQLite), so it went back to the library.
template <class Stream>
Outcome exchange(Stream& stream, boost::beast::flat_buffer& buffer, const std::string& requestHead,
                 std::string_view body, bool head, std::size_t maxBody, Response& result, bool& reusable,
                 boost::system::error_code& ec) {
    asio::write(stream, std::array<asio::const_buffer, 2>{asio::buffer(requestHead), asio::buffer(body.data(), body.size())},
                ec);
    if (ec) return Outcome::Stale;
    for (bool first = true;; first = false) {
        bhttp::response_parser<bhttp::string_body> parser;
        parser.header_limit(64 * 1024);
        parser.body_limit(maxBody);
        if (head) parser.skip(true);
        // The head first: Boost 1.74's parser, reading head and body in one eager
        // pass, drops the body_limit error of a too-large Content-Length.
        bhttp::read_header(stream, buffer, parser, ec);
        if (!ec && !parser.is_done()) bhttp::read(stream, buffer, parser, ec);
        if (ec) {
            bool nothing = first && (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
                                     ec == asio::error::eof);
            return nothing ? Outcome::Stale : Outcome::Done;
        }
        auto& answer = parser.get();
        unsigned status = answer.result_int();
        if (status >= 100 && status < 200 && status != 101) continue;
        // Beast reads any three digits; RFC 9110 knows 100-599 (and a 0 would
        // look like "no answer" to a plugin).
        if (status < 100 || status > 599) {
            ec = bhttp::error::bad_status;
            return Outcome::Done;
        }
        result.status = static_cast<int>(status);
        result.headers.clear();
        for (const auto& field : answer) {
            result.headers.append(field.name_string().data(), field.name_string().size());
            result.headers += ": ";
            result.headers.append(field.value().data(), field.value().size());
            result.headers += "\r\n";
        }
        result.body = std::move(answer.body());
        reusable = parser.keep_alive() && !parser.need_eof() && buffer.size() == 0;
        return Outcome::Done;
    }
}

template Outcome exchange(DeadlineSocket&, boost::beast::flat_buffer&, const std::string&, std::string_view, bool,
                          std::size_t, Response&, bool&, boost::system::error_code&);
template Outcome exchange(asio::ssl::stream<DeadlineSocket&>&, boost::beast::flat_buffer&, const std::string&,
                          std::string_view, bool, std::size_t, Response&, bool&, boost::system::error_code&);

}  // namespace hub::http::detail
