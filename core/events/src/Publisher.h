#pragma once

#include <zmq.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace hub::events {

class DeliveryStore;

/// Best-effort fan-out: every new outbox event goes out once on the PUB socket
/// as [type, event JSON], so subscribers filter by type prefix. No acks, no
/// replay; a slow subscriber loses what passes its high-water mark. Driven by
/// the delivery thread; publishedUpTo() may be read from any thread.
class Publisher {
public:
    Publisher(::zmq::socket_t& socket, std::size_t batchSize, std::atomic<std::uint64_t>& published)
        : socket_(socket), batchSize_(batchSize), published_(published) {}

    /// Live fan-out starts with what is new: everything up to `seq` is passed over.
    void startAfter(std::int64_t seq) { publishedUpTo_ = seq; }

    /// Sends the events the outbox got since the last call (one batch at most).
    /// Publishes what is new up to `upTo` (the outbox horizon).
    void publishNew(DeliveryStore& store, std::int64_t upTo);

    /// The highest seq sent (or passed over): the outbox may be pruned up to it.
    std::int64_t publishedUpTo() const { return publishedUpTo_; }

private:
    ::zmq::socket_t& socket_;
    std::size_t batchSize_;
    std::atomic<std::uint64_t>& published_;
    std::atomic<std::int64_t> publishedUpTo_{0};
};

}  // namespace hub::events
