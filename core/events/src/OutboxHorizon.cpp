#include "hub/events/OutboxHorizon.h"

#include "DeliveryStore.h"

namespace hub::events {

namespace {
// Seqs read per advance(): only the seq column, from the primary key's index.
constexpr std::size_t kHorizonBatch = 20000;
}  // namespace

void OutboxHorizon::advance(Poco::Data::Session& session) {
    if (!bounded_) return;
    const DeliveryStore::SeqsInSnapshot read = DeliveryStore(session).readSeqs(safe_, kHorizonBatch);
    std::int64_t expected = safe_ + 1;
    for (std::int64_t seq : read.seqs) {
        if (seq != expected) {
            const bool sameGap = gap_ && gap_->at == expected;
            // Every transaction that could have drawn the missing seqs has
            // ended, and this snapshot sees what they committed: they are gone.
            const bool ended = sameGap && read.xmin >= gap_->threshold;
            if (!ended) {
                if (!sameGap) gap_ = Gap{expected, read.xmax};
                return;
            }
        }
        safe_ = seq;
        expected = seq + 1;
        gap_.reset();
    }
}

}  // namespace hub::events
