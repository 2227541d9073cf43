#include "Publisher.h"

#include "DeliveryStore.h"

#include <hub/zmq/Frames.h>

namespace hub::events {

void Publisher::publishNew(DeliveryStore& store, std::int64_t upTo) {
    for (const auto& event : store.readForPublish(publishedUpTo_, batchSize_, upTo)) {
        // Best effort: a slow subscriber loses messages at the high-water mark.
        try {
            if (hub::zmq::sendFrames(socket_, {event.type, event.payload}, true)) ++published_;
        } catch (const ::zmq::error_t&) {
        }
        publishedUpTo_ = event.seq;
    }
}

}  // namespace hub::events
