#pragma once
// Private to core/host.

#include "WorkerProcess.h"

#include <zmq.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace hub::host {

/// One incarnation of a plugin's worker process and the hub's channels to it:
/// a DEALER socket per worker thread, each carrying one call at a time, pooled
/// here. Channels [0, concurrency) take invokes and events; one more, the
/// control channel, takes health and describe only, so that a health check
/// gets through while every call channel is busy.
///
/// Callers hold it by shared_ptr, so a generation that died stays valid (and
/// its sockets open) until the last call on it has returned. Its socket files
/// are removed with it (a worker that crashed leaves them behind).
struct WorkerGeneration {
    std::uint64_t number = 0;
    pid_t pid = -1;
    Fd pidfd;                // readable once the process has exited
    std::string socketBase;  // <dir>/g<number>; channel i is <socketBase>.<i>
    std::vector<zmq::socket_t> sockets;
    Clock::time_point readyAt;

    std::mutex mutex;
    std::condition_variable freed;
    std::vector<std::size_t> idle;  // call channels no call is using
    std::size_t controlChannel = 0;
    bool controlIdle = true;
    bool dead = false;
    std::string exitHow;              // set by the supervisor before it reaps
    std::atomic<bool> exited{false};  // seen to have exited, by anyone

    ~WorkerGeneration();

    /// Connects to the worker's channels (concurrency call channels and the
    /// control channel). A reply bigger than maxReplyBytes drops its connection
    /// (the call times out), so a runaway plugin cannot make hubd buffer
    /// without bound.
    void connect(zmq::context_t& context, std::size_t concurrency, std::size_t maxReplyBytes);

    /// False once the process has exited, even before the supervisor noticed.
    bool alive();
    void release(std::size_t channel);
    /// No more calls: wakes those waiting for a channel.
    void markDead();

    /// How one request over a channel went.
    struct Exchange {
        enum class Outcome {
            Replied,     ///< status and body hold the reply; the channel is free again.
            Malformed,   ///< A reply of the wrong shape; the channel is free again.
            Busy,        ///< No channel came free before the deadline.
            Dead,        ///< The worker died before a channel was free.
            Refused,     ///< The channel would not take the request; it is free again.
            SendFailed,  ///< body says why; the channel is free again.
            TimedOut,    ///< No reply by the deadline: channel and id are the caller's to hand over.
            PollFailed,  ///< body says why; channel and id as for TimedOut.
            Died,        ///< The worker died while the request was out; the channel is free again.
        };
        Outcome outcome;
        std::size_t channel = 0;
        std::uint64_t id = 0;
        std::int32_t status = 0;
        std::string body;
    };

    /// Sends a request (kind from WorkerProtocol.h) over a free channel, the
    /// control channel for health and describe, and waits for its reply, the
    /// deadline, or the worker's death, whichever comes first. A reply to an
    /// earlier request on the channel (one that timed out) is dropped.
    ///
    /// A host service the worker asks for meanwhile (worker::isServiceRequest)
    /// is run by services, on this thread, and answered on the channel; without
    /// services it is answered CH_ERR_UNAVAILABLE.
    using ServiceHandler = std::function<std::pair<std::int32_t, std::string>(std::string_view name,
                                                                              std::string_view payload)>;
    Exchange exchange(std::uint64_t id, std::string_view kind, std::string_view operation, std::string_view input,
                      std::string_view caller, const CallContext& context, Clock::time_point deadline,
                      const ServiceHandler& services = {});
};

}  // namespace hub::host
