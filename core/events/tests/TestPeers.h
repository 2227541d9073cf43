#pragma once
// Test helpers: a consumer on real sockets, child processes, temp dirs.

#include <hub/zmq/Curve.h>

#include <Poco/Pipe.h>
#include <Poco/Process.h>
#include <Poco/TemporaryFile.h>

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hub::events::test {

using namespace std::chrono_literals;

struct TempDir {
    Poco::TemporaryFile dir;
    TempDir();
    std::string file(const std::string& name) const;
};

/// Waits until `pred` holds, polling; generous limits, no timing assertions.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 30s);

/// A free TCP port on 127.0.0.1 (bound and released; tiny race, fine on loopback).
int freePort();

/// A consumer on a real ROUTER socket, run on its own thread.
class TestConsumer {
public:
    enum class Mode { Ack, Never, NackOnce };
    struct Receipt {
        std::string id;
        std::string payload;
        std::int64_t atMs;
        std::string from;  ///< The sending connection (its ROUTER routing id).
    };

    /// Admit only the client holding this public key (the hub's), as a real consumer does.
    struct AdmitOnly {
        std::string publicKey;
    };

    /// Without keys: the NULL mechanism (for a relay that opted out of CURVE).
    explicit TestConsumer(const std::string& endpoint = "tcp://127.0.0.1:*", Mode mode = Mode::Ack,
                          std::optional<hub::zmq::CurveKeyPair> serverKeys = std::nullopt,
                          std::vector<std::string> allowedClients = {});
    /// A CURVE server with `serverKeys` (fresh ones by default) admitting `client` only.
    explicit TestConsumer(const AdmitOnly& client, Mode mode = Mode::Ack,
                          const std::string& endpoint = "tcp://127.0.0.1:*",
                          std::optional<hub::zmq::CurveKeyPair> serverKeys = std::nullopt);
    ~TestConsumer();

    std::string endpoint() const { return endpoint_; }
    /// The CURVE public key clients must trust (empty without CURVE).
    std::string publicKey() const { return publicKey_; }
    void setMode(Mode mode) { mode_ = mode; }
    std::vector<Receipt> receipts() const;
    std::size_t count() const;
    std::size_t distinct() const;
    /// CURVE clients this consumer's ZAP handler turned away (0 without CURVE).
    std::uint64_t handshakesRefused() const;
    void stop();

private:
    void run();

    std::string endpoint_;
    std::string publicKey_;
    std::atomic<Mode> mode_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::vector<Receipt> receipts_;
    std::vector<std::string> nacked_;
    struct Sockets;
    std::unique_ptr<Sockets> sockets_;
    std::thread thread_;
};

/// Watches a socket for the end of its connection (ZMQ_EVENT_DISCONNECTED: the
/// peer closed it). Make it before whatever should end the connection.
class DisconnectWatch : private ::zmq::monitor_t {
public:
    explicit DisconnectWatch(::zmq::socket_t& socket);
    /// Waits up to `limit` for the disconnect; false if it did not come.
    bool wait(std::chrono::milliseconds limit = 10s);

private:
    void on_event_disconnected(const zmq_event_t&, const char*) override { disconnected_ = true; }
    bool disconnected_ = false;
};

/// A child process with its stdout collected line by line.
class Child {
public:
    Child(const std::string& command, const std::vector<std::string>& args);
    ~Child();
    std::vector<std::string> lines() const;
    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    std::optional<std::string> waitForLine(const std::string& prefix, std::chrono::milliseconds limit = 20s);
    void kill();       ///< SIGKILL, then reap.
    void terminate();  ///< SIGTERM, then reap.
    bool running() const;

private:
    void reap();
    std::unique_ptr<Poco::ProcessHandle> handle_;
    Poco::Pipe out_;
    std::thread reader_;
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
    bool reaped_ = false;
};

}  // namespace hub::events::test
