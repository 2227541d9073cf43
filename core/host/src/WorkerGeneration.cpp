#include "WorkerGeneration.h"

#include "../worker/WorkerProtocol.h"

#include <campushub/plugin.h>

#include <cerrno>
#include <climits>
#include <poll.h>
#include <unistd.h>
#include <utility>

namespace hub::host {

WorkerGeneration::~WorkerGeneration() {
    sockets.clear();
    for (std::size_t i = 0; !socketBase.empty() && i < 4096; ++i)
        if (::unlink((socketBase + "." + std::to_string(i)).c_str()) != 0 && errno == ENOENT) break;
}

void WorkerGeneration::connect(zmq::context_t& context, std::size_t concurrency, std::size_t maxReplyBytes) {
    const std::string endpoint = "ipc://" + socketBase;
    for (std::size_t i = 0; i <= concurrency; ++i) {
        zmq::socket_t socket(context, zmq::socket_type::dealer);
        socket.set(zmq::sockopt::linger, 0);
        socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(maxReplyBytes));
        socket.connect(endpoint + "." + std::to_string(i));
        sockets.push_back(std::move(socket));
        if (i < concurrency) idle.push_back(i);
    }
    controlChannel = concurrency;
}

bool WorkerGeneration::alive() {
    if (exited.load(std::memory_order_relaxed)) return false;
    pollfd p{pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) exited = true;
    return !exited;
}

void WorkerGeneration::release(std::size_t channel) {
    {
        std::lock_guard lock(mutex);
        if (channel == controlChannel)
            controlIdle = true;
        else
            idle.push_back(channel);
    }
    freed.notify_all();
}

void WorkerGeneration::markDead() {
    {
        std::lock_guard lock(mutex);
        dead = true;
    }
    freed.notify_all();
}

WorkerGeneration::Exchange WorkerGeneration::exchange(std::uint64_t id, std::string_view kind,
                                                      std::string_view operation, std::string_view input,
                                                      std::string_view caller, const CallContext& context,
                                                      Clock::time_point deadline,
                                                      const ServiceHandler& services) {
    using Outcome = Exchange::Outcome;
    using std::chrono::milliseconds;
    Exchange x{Outcome::Busy};
    x.id = id;
    const bool control = kind == worker::kHealth || kind == worker::kDescribe;
    {
        std::unique_lock lock(mutex);
        auto free = [&] { return control ? controlIdle : !idle.empty(); };
        if (!freed.wait_until(lock, deadline, [&] { return dead || free(); })) return x;
        if (dead) {
            x.outcome = Outcome::Dead;
            return x;
        }
        if (control) {
            x.channel = controlChannel;
            controlIdle = false;
        } else {
            x.channel = idle.back();
            idle.pop_back();
        }
    }
    zmq::socket_t& socket = sockets[x.channel];
    std::uint32_t remaining = static_cast<std::uint32_t>(std::min<long>(msUntil(deadline), UINT32_MAX));
    try {
        if (!worker::sendRequest(socket, id, kind, operation, input, caller, context, remaining)) {
            release(x.channel);
            x.outcome = Outcome::Refused;
            return x;
        }
    } catch (const zmq::error_t& e) {
        release(x.channel);
        x.outcome = Outcome::SendFailed;
        x.body = e.what();
        return x;
    }

    worker::Message parts;
    for (;;) {
        long wait = msUntil(deadline);
        if (wait <= 0) {
            x.outcome = Outcome::TimedOut;
            return x;
        }
        zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, pidfd.get(), ZMQ_POLLIN, 0}};
        try {
            zmq::poll(items, 2, milliseconds(wait));
        } catch (const zmq::error_t& e) {
            if (e.num() == EINTR) continue;
            x.outcome = Outcome::PollFailed;
            x.body = e.what();
            return x;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            while (worker::receiveNow(socket, parts)) {
                if (worker::idOf(parts) != id) continue;  // the late reply to an earlier call on this channel
                if (worker::isServiceRequest(parts)) {
                    auto [status, answer] =
                        services ? services(parts[2].to_string_view(), parts[3].to_string_view())
                                 : std::pair<std::int32_t, std::string>(CH_ERR_UNAVAILABLE, R"({"detail":"no such service here"})");
                    zmq::message_t idFrame(&id, sizeof id);
                    try {
                        worker::sendReply(socket, idFrame, status, answer);
                    } catch (const zmq::error_t&) {
                        // The worker waits out its call's deadline; the call then times out.
                    }
                    continue;
                }
                release(x.channel);
                x.outcome = worker::readReply(parts, x.status, x.body) ? Outcome::Replied : Outcome::Malformed;
                return x;
            }
            continue;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            exited = true;
            release(x.channel);
            x.outcome = Outcome::Died;
            return x;
        }
    }
}

}  // namespace hub::host
