#include "hub/events/OutboxHorizon.h"

#include "DeliveryStore.h"

namespace hub::events {

namespace {
// Seqs read per advance(): only the seq column, from the primary key's index.
constexpr std::size_t kHorizonBatch = 20000;
}  // namespace

void OutboxHorizon::advance(Poco::Data::Session& session) {
    if (!bounded_) return;
    DeliveryStore store(session);
    const DeliveryStore::SeqsInSnapshot read = store.readSeqs(safe_, kHorizonBatch);
    std::int64_t expected = safe_ + 1;
    for (std::int64_t seq : read.seqs) {
        if (seq != expected) {
            const bool sameGap = gap_ && gap_->at == expected;
            // Every transaction that could have drawn the missing seqs has
            // ended, and this snapshot sees what they committed: they are gone.
            const bool ended = sameGap && read.xmin >= gap_->threshold;
            if (!ended) {
                // A transaction id drawn now is above that of every
                // transaction that drew a missing seq (each had its id before
                // its seq, and its seq before the read). Not the snapshot's
                // xmax: that is the latest *completed* id plus one, and a
                // running transaction's id may be above it (the two-hub test
                // lost an event now and then with it).
                if (!sameGap) gap_ = Gap{expected, store.freshTransactionId()};
                return;
            }
        }
        safe_ = seq;
        expected = seq + 1;
        gap_.reset();
    }
}

}  // namespace hub::events
