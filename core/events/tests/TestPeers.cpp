#include "TestPeers.h"

#include "hub/test/Eventually.h"

#include <hub/zmq/Frames.h>
#include <hub/zmq/ZapAuthenticator.h>

#include <Poco/File.h>
#include <algorithm>
#include <csignal>
#include <Poco/Path.h>
#include <Poco/PipeStream.h>

#include <set>
#include <unordered_set>

namespace hub::events::test {

TempDir::TempDir() { Poco::File(dir.path()).createDirectories(); }

std::string TempDir::file(const std::string& name) const { return Poco::Path(dir.path(), name).toString(); }

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
    return hub::test::waitUntil(pred, limit, 10ms);
}

int freePort() {
    ::zmq::context_t ctx;
    ::zmq::socket_t s(ctx, ::zmq::socket_type::router);
    s.set(::zmq::sockopt::linger, 0);
    s.bind("tcp://127.0.0.1:*");
    std::string ep = hub::zmq::boundEndpoint(s);
    return std::stoi(ep.substr(ep.rfind(':') + 1));
}

struct TestConsumer::Sockets {
    ::zmq::context_t ctx;
    std::unique_ptr<hub::zmq::ZapAuthenticator> zap;
    ::zmq::socket_t router{ctx, ::zmq::socket_type::router};
};

TestConsumer::TestConsumer(const std::string& endpoint, Mode mode,
                           std::optional<hub::zmq::CurveKeyPair> serverKeys,
                           std::vector<std::string> allowedClients)
    : mode_(mode), sockets_(std::make_unique<Sockets>()) {
    hub::zmq::applyDefaultOptions(sockets_->router);
    if (serverKeys) {
        sockets_->zap = std::make_unique<hub::zmq::ZapAuthenticator>(
            sockets_->ctx, std::set<std::string>(allowedClients.begin(), allowedClients.end()), false);
        hub::zmq::makeCurveServer(sockets_->router, *serverKeys, "test");
        publicKey_ = serverKeys->publicKey;
    }
    sockets_->router.bind(endpoint);
    endpoint_ = hub::zmq::boundEndpoint(sockets_->router);
    thread_ = std::thread([this] { run(); });
}

TestConsumer::TestConsumer(const AdmitOnly& client, Mode mode, const std::string& endpoint,
                           std::optional<hub::zmq::CurveKeyPair> serverKeys)
    : TestConsumer(endpoint, mode, serverKeys ? *serverKeys : hub::zmq::generateKeyPair(), {client.publicKey}) {}

TestConsumer::~TestConsumer() { stop(); }

void TestConsumer::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    sockets_.reset();
}

void TestConsumer::run() {
    auto& router = sockets_->router;
    std::vector<::zmq::pollitem_t> poll{{router.handle(), 0, ZMQ_POLLIN, 0}};
    while (!stop_) {
        ::zmq::poll(poll, std::chrono::milliseconds(20));
        while (auto f = hub::zmq::receiveFrames(router, true)) {
            if (f->size() != 3) continue;
            const std::string& peer = (*f)[0];
            const std::string& id = (*f)[1];
            std::int64_t at = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
            Mode mode = mode_;
            {
                std::lock_guard lock(mutex_);
                receipts_.push_back({id, (*f)[2], at, peer});
                if (mode == Mode::NackOnce &&
                    std::find(nacked_.begin(), nacked_.end(), id) == nacked_.end()) {
                    nacked_.push_back(id);
                    hub::zmq::sendFrames(router, {peer, id, "nack", "try again"}, true);
                    continue;
                }
            }
            if (mode != Mode::Never) hub::zmq::sendFrames(router, {peer, id, "ack"}, true);
        }
    }
}

std::uint64_t TestConsumer::handshakesRefused() const {
    return sockets_ && sockets_->zap ? sockets_->zap->refused() : 0;
}

std::vector<TestConsumer::Receipt> TestConsumer::receipts() const {
    std::lock_guard lock(mutex_);
    return receipts_;
}

std::size_t TestConsumer::count() const {
    std::lock_guard lock(mutex_);
    return receipts_.size();
}

std::size_t TestConsumer::distinct() const {
    std::lock_guard lock(mutex_);
    std::unordered_set<std::string> ids;
    for (const auto& r : receipts_) ids.insert(r.id);
    return ids.size();
}

DisconnectWatch::DisconnectWatch(::zmq::socket_t& socket) {
    static std::atomic<int> watches{0};
    init(socket, "inproc://test-disconnect-watch-" + std::to_string(++watches), ZMQ_EVENT_DISCONNECTED);
}

bool DisconnectWatch::wait(std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!disconnected_ && std::chrono::steady_clock::now() < end) check_event(20);
    return disconnected_;
}

Child::Child(const std::string& command, const std::vector<std::string>& args) {
    Poco::Process::Args a(args.begin(), args.end());
    handle_ = std::make_unique<Poco::ProcessHandle>(Poco::Process::launch(command, a, nullptr, &out_, nullptr));
    reader_ = std::thread([this] {
        Poco::PipeInputStream in(out_);
        std::string line;
        while (std::getline(in, line)) {
            std::lock_guard lock(mutex_);
            lines_.push_back(line);
        }
    });
}

Child::~Child() {
    if (!reaped_) kill();
    if (reader_.joinable()) reader_.join();
}

std::vector<std::string> Child::lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
}

std::optional<std::string> Child::waitForLine(const std::string& prefix, std::chrono::milliseconds limit) {
    std::optional<std::string> found;
    eventually(
        [&] {
            std::lock_guard lock(mutex_);
            for (const auto& l : lines_)
                if (l.rfind(prefix, 0) == 0) {
                    found = l.substr(prefix.size());
                    return true;
                }
            return false;
        },
        limit);
    return found;
}

bool Child::running() const { return !reaped_ && Poco::Process::isRunning(*handle_); }

void Child::reap() {
    if (reaped_) return;
    handle_->wait();
    reaped_ = true;
    if (reader_.joinable()) reader_.join();
}

void Child::kill() {
    if (reaped_) return;
    ::kill(handle_->id(), SIGKILL);
    reap();
}

void Child::terminate() {
    if (reaped_) return;
    ::kill(handle_->id(), SIGTERM);
    reap();
}

}  // namespace hub::events::test
