// CloudEvent::fromJson (core/events), which reads every event a peer sends the
// relay (approval.decided from the approval engine, acknowledgements aside).
// Documented to throw only EventError; an event it accepts must serialize and
// read back to the same event.
#include "FuzzSupport.h"

#include "hub/events/CloudEvent.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view json(reinterpret_cast<const char*>(data), size);
    hub::events::CloudEvent event;
    try {
        event = hub::events::CloudEvent::fromJson(json);
    } catch (const hub::events::EventError&) {
        return 0;
    }
    std::string again;
    try {
        again = event.toJson();
        auto back = hub::events::CloudEvent::fromJson(again);
        if (back.id != event.id || back.type != event.type || back.source != event.source ||
            back.subject != event.subject || back.time != event.time || back.data != event.data ||
            back.datacontenttype != event.datacontenttype)
            hub::fuzz::fail("an accepted event does not read back the same", again);
    } catch (const hub::events::EventError& e) {
        hub::fuzz::fail("an accepted event does not serialize and read back", e.displayText());
    }
    return 0;
}
