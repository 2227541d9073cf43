#pragma once

#include "hub/store/Lease.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace hub::store {

/// Keeps trying for a Lease on a thread of its own: every ttl/3 it calls
/// tryAcquire() (which renews while this node holds it), and tells the module
/// when this node becomes the holder and when it stops being one. The way a
/// module runs its one-node work (docs/store.md, "Leases"):
///
///     store::LeaseKeeper keeper(db, "identity.sync", nodeId, 15s);
///     ...in the sync loop: if (keeper.held()) runOneRound(keeper);  // checks held() between pages
///
/// held() is the Lease's own (false once the time to live has run out since
/// the last renewal was sent, whether or not the keeper noticed yet). A store
/// that cannot answer counts as "not renewed": the lease runs out, and the
/// keeper tries again at its next turn. Stopping (the destructor) releases
/// the lease, so another node takes over at once.
class LeaseKeeper {
public:
    struct Callbacks {
        std::function<void(std::int64_t token)> acquired;  ///< This node became the holder.
        std::function<void()> lost;                        ///< It no longer is (lost, expired or released).
    };

    LeaseKeeper(Database& db, std::string name, std::string holder, std::chrono::milliseconds ttl,
                Callbacks callbacks = {});
    ~LeaseKeeper();

    LeaseKeeper(const LeaseKeeper&) = delete;
    LeaseKeeper& operator=(const LeaseKeeper&) = delete;

    /// No lock, no I/O: callable from the module's work loop at any rate, and
    /// never blocked by a renewal waiting on the database.
    bool held() const;
    std::int64_t token() const { return token_.load(std::memory_order_relaxed); }

    /// For tests of a node that dies: stops renewing without releasing, as a
    /// killed process would; the lease runs out on its own.
    void abandon();

private:
    void run();
    void stop(bool release);

    Lease lease_;  // the keeper thread's alone while it runs; stop() uses it after the join
    std::chrono::milliseconds interval_;
    Callbacks callbacks_;
    std::mutex mutex_;  // guards stopping_
    std::condition_variable wake_;
    bool stopping_ = false;
    bool holding_ = false;  // what the callbacks were last told
    std::atomic<std::int64_t> token_{0};
    std::atomic<std::int64_t> validUntilNs_{0};  // the lease's validUntil(), steady clock; 0: not held
    std::thread thread_;
};

}  // namespace hub::store
