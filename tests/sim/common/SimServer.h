#pragma once
// What the simulated vendor systems under tests/sim/ share: the command line
// every one of them takes, a Poco HTTPServer on loopback with the port written
// to a file (write-then-rename), a clean stop on SIGTERM/SIGINT, and small
// helpers for answering and reading bodies. Each simulator adds its own options
// and its own request handler.
//
//   hub-sim-<name> [--host 127.0.0.1] [--port 0] [--port-file F] [--threads 64] [own options]

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hub::sim {

/// The options every simulator takes, and the simulator's own (name -> value) as given.
struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string portFile;
    /// A thread serves one kept-alive connection until it idles out, so this must
    /// exceed the connections a hub opens at once (a plugin's concurrency, 32 in the
    /// tests): with 16, a retry storm's 17th connection waited past every deadline.
    int threads = 64;
    std::map<std::string, std::string> own;

    /// An own option as an integer in [min, max]; throws std::invalid_argument naming it.
    int ownInt(const std::string& name, int fallback, int min, int max) const;
    std::string ownString(const std::string& name, const std::string& fallback) const;
};

/// Parses argv. ownOptions names the simulator's own options (without "--"). Returns
/// false after printing usage (or --version) when the program should exit with *exitCode.
bool parseOptions(const std::string& program, const std::string& usage, int argc, char** argv,
                  const std::vector<std::string>& ownOptions, Options& out, int& exitCode);

/// Serves requests with handlers made by makeHandler until SIGTERM or SIGINT, then calls
/// onStop (to release requests the simulator holds) and stops. Returns the exit code.
/// Blocks the stop signals first: call it before starting any thread of your own.
int serve(const std::string& program, const Options& options,
          std::function<Poco::Net::HTTPRequestHandler*()> makeHandler, std::function<void()> onStop);

/// Blocks SIGTERM/SIGINT in the calling thread (and the threads it starts later).
void blockStopSignals();

/// Reads a request body of at most maxBytes; false (and nothing answered) when larger.
bool readBody(Poco::Net::HTTPServerRequest& request, std::string& body, std::size_t maxBytes);

/// Answers with status, content type and body.
void send(Poco::Net::HTTPServerResponse& response, int status, const std::string& contentType,
          const std::string& body);

/// Escapes text for an XML element or attribute value.
std::string xmlEscape(const std::string& text);

/// Quotes and escapes text as a JSON string.
std::string jsonString(const std::string& text);

}  // namespace hub::sim
