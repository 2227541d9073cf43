#pragma once

// The bounded queue between two stages of the full sync. Private to hub::identity.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace hub::identity {

/// Hands items from one thread to the next, at most `depth` waiting, so memory
/// stays at a few batches and no stage runs far ahead of a failing one.
/// close(): nothing more comes, the consumer drains what is queued; abort(): a
/// stage failed, pushing and popping stop at once (what is queued is dropped).
template <typename Item>
class HandOffQueue {
public:
    explicit HandOffQueue(std::size_t depth) : depth_(std::max<std::size_t>(1, depth)) {}

    /// Waits for room; false when aborted (the item is not taken).
    bool push(Item&& item) {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return q_.size() < depth_ || aborted_; });
        if (aborted_) return false;
        q_.push_back(std::move(item));
        cv_.notify_all();
        return true;
    }

    /// The next item; nothing once closed and drained, or aborted.
    std::optional<Item> pop() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return !q_.empty() || closed_ || aborted_; });
        if (aborted_ || q_.empty()) return std::nullopt;
        auto item = std::move(q_.front());
        q_.pop_front();
        cv_.notify_all();
        return item;
    }

    /// Everything queued, at most `most` items (waits for one); empty once closed
    /// and drained, or aborted.
    std::vector<Item> popUpTo(std::size_t most) {
        std::vector<Item> out;
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return !q_.empty() || closed_ || aborted_; });
        if (aborted_) return out;
        while (!q_.empty() && out.size() < most) {
            out.push_back(std::move(q_.front()));
            q_.pop_front();
        }
        cv_.notify_all();
        return out;
    }

    void close() {
        std::lock_guard lock(m_);
        closed_ = true;
        cv_.notify_all();
    }

    void abort() {
        std::lock_guard lock(m_);
        aborted_ = true;
        cv_.notify_all();
    }

private:
    const std::size_t depth_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<Item> q_;
    bool closed_ = false, aborted_ = false;
};

}  // namespace hub::identity
