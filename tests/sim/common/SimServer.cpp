#include "SimServer.h"

#include <hub/common/Version.h>

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/NumberParser.h>
#include <Poco/ThreadPool.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <stdexcept>

namespace hub::sim {

namespace {

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Factory(std::function<Poco::Net::HTTPRequestHandler*()> make) : make_(std::move(make)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return make_();
    }

private:
    std::function<Poco::Net::HTTPRequestHandler*()> make_;
};

sigset_t stopSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

}  // namespace

int Options::ownInt(const std::string& name, int fallback, int min, int max) const {
    auto it = own.find(name);
    if (it == own.end()) return fallback;
    int value = 0;
    if (!Poco::NumberParser::tryParse(it->second, value) || value < min || value > max)
        throw std::invalid_argument("--" + name + " must be " + std::to_string(min) + ".." + std::to_string(max));
    return value;
}

std::string Options::ownString(const std::string& name, const std::string& fallback) const {
    auto it = own.find(name);
    return it == own.end() ? fallback : it->second;
}

bool parseOptions(const std::string& program, const std::string& usage, int argc, char** argv,
                  const std::vector<std::string>& ownOptions, Options& out, int& exitCode) {
    auto fail = [&](const std::string& error) {
        std::cerr << program << ": " << error << "\nusage: " << program
                  << " [--host 127.0.0.1] [--port 0] [--port-file F] [--threads 64] " << usage << "\n";
        exitCode = 2;
        return false;
    };
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i], value;
        if (arg == "--help" || arg == "-h") {
            std::cout << "usage: " << program << " [--host 127.0.0.1] [--port 0] [--port-file F] [--threads 64] "
                      << usage << "\n";
            exitCode = 0;
            return false;
        }
        if (arg == "--version") {
            std::cout << program << " (CampusHub) " << hub::projectVersion << "\n";
            exitCode = 0;
            return false;
        }
        if (auto eq = arg.find('='); eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg.resize(eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return fail("missing value for " + arg);
        }
        int number = 0;
        if (arg == "--host") {
            out.host = value;
        } else if (arg == "--port") {
            if (!Poco::NumberParser::tryParse(value, number) || number < 0 || number > 65535)
                return fail("--port must be 0..65535");
            out.port = number;
        } else if (arg == "--port-file") {
            out.portFile = value;
        } else if (arg == "--threads") {
            if (!Poco::NumberParser::tryParse(value, number) || number < 1 || number > 1024)
                return fail("--threads must be 1..1024");
            out.threads = number;
        } else if (arg.rfind("--", 0) == 0 &&
                   std::find(ownOptions.begin(), ownOptions.end(), arg.substr(2)) != ownOptions.end()) {
            out.own[arg.substr(2)] = value;
        } else {
            return fail("unknown option " + arg);
        }
    }
    return true;
}

void blockStopSignals() {
    sigset_t set = stopSignals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

int serve(const std::string& program, const Options& options,
          std::function<Poco::Net::HTTPRequestHandler*()> makeHandler, std::function<void()> onStop) {
    blockStopSignals();
    try {
        Poco::Net::ServerSocket socket;
        socket.bind(Poco::Net::SocketAddress(options.host, static_cast<Poco::UInt16>(options.port)), true);
        socket.listen(256);
        const int port = socket.address().port();
        Poco::ThreadPool pool(2, options.threads, 60);
        Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(options.threads);
        params->setMaxQueued(1000);
        params->setKeepAlive(true);
        params->setKeepAliveTimeout(Poco::Timespan(30, 0));
        params->setServerName(program);
        Poco::Net::HTTPServer server(new Factory(std::move(makeHandler)), pool, socket, params);
        server.start();
        if (!options.portFile.empty()) {
            // Write-then-rename, so a waiting test never reads half a number.
            const std::string temp = options.portFile + ".tmp";
            {
                Poco::FileOutputStream out(temp, std::ios::trunc);
                out << port << "\n";
            }
            Poco::File(temp).renameTo(options.portFile);
        }
        std::cout << program << " ready on " << options.host << ":" << port << std::endl;
        sigset_t set = stopSignals();
        int signal = 0;
        sigwait(&set, &signal);
        std::cout << program << " stopping on signal " << signal << std::endl;
        if (onStop) onStop();
        server.stopAll(true);
        pool.joinAll();
        return 0;
    } catch (const Poco::Exception& e) {
        std::cerr << program << ": " << e.displayText() << std::endl;
        return 1;
    }
}

bool readBody(Poco::Net::HTTPServerRequest& request, std::string& body, std::size_t maxBytes) {
    std::istream& in = request.stream();
    char buffer[8192];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        body.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (body.size() > maxBytes) return false;
    }
    return true;
}

void send(Poco::Net::HTTPServerResponse& response, int status, const std::string& contentType,
          const std::string& body) {
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType(contentType);
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.sendBuffer(body.data(), body.size());
}

std::string xmlEscape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string jsonString(const std::string& text) {
    static const char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xF];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

}  // namespace hub::sim
