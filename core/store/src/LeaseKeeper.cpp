#include "hub/store/LeaseKeeper.h"

#include "hub/store/Database.h"

#include <Poco/Logger.h>

namespace hub::store {

LeaseKeeper::LeaseKeeper(Database& db, std::string name, std::string holder, std::chrono::milliseconds ttl,
                         Callbacks callbacks)
    : lease_((Lease::migrate(db), db), std::move(name), std::move(holder), ttl), interval_(ttl / 3),
      callbacks_(std::move(callbacks)) {
    thread_ = std::thread([this] { run(); });
}

LeaseKeeper::~LeaseKeeper() { stop(true); }

bool LeaseKeeper::held() const {
    const std::int64_t until = validUntilNs_.load(std::memory_order_acquire);
    return until != 0 && std::chrono::steady_clock::now().time_since_epoch().count() < until;
}

void LeaseKeeper::abandon() { stop(false); }

void LeaseKeeper::stop(bool release) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    validUntilNs_.store(0, std::memory_order_release);
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (release) lease_.release();
    const bool wasHolding = holding_;
    holding_ = false;
    if (wasHolding && callbacks_.lost) callbacks_.lost();
}

void LeaseKeeper::run() {
    auto& log = Poco::Logger::get("hub.store");
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
        }
        bool holds = false;
        try {
            holds = lease_.tryAcquire();
        } catch (const std::exception& e) {
            // The store cannot answer: the lease runs out unless a later turn renews it.
            holds = lease_.held();
            log.warning("lease %s: cannot renew (%s)", lease_.name(), std::string(e.what()));
        }
        token_.store(lease_.token(), std::memory_order_relaxed);
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;  // stop() has cleared validUntilNs_: not set again
            const auto until = lease_.validUntil();
            validUntilNs_.store(until ? until->time_since_epoch().count() : 0, std::memory_order_release);
        }
        if (holds != holding_) {
            holding_ = holds;
            log.information("lease %s: %s by this node (%s), token %?d", lease_.name(),
                            std::string(holds ? "held" : "no longer held"), lease_.holder(),
                            lease_.token());
            if (holds && callbacks_.acquired) callbacks_.acquired(lease_.token());
            if (!holds && callbacks_.lost) callbacks_.lost();
        }
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
}

}  // namespace hub::store
