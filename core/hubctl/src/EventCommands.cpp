// hubctl events dead-letters list|replay: the relay's dead letters.
#include "Cli.h"

#include <Poco/JSON/Array.h>

#include <iostream>
#include <set>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace event_commands {

int list(const hubctl::GlobalOptions& global, const std::string& consumer) {
    hubctl::HubClient hub(global);
    auto answer = hub.get("/admin/events/dead-letters" + (consumer.empty() ? "" : "?consumer=" + hubctl::queryValue(consumer)));
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto items = answer.object()->getArray("items");
    if (items->size() == 0) {
        std::cout << "no dead letters\n";
        return hubctl::exitOk;
    }
    hubctl::Table table({"CONSUMER", "SEQ", "ID", "TYPE", "ATTEMPTS", "LAST ERROR"});
    for (std::size_t i = 0; i < items->size(); ++i) {
        auto d = items->getObject(static_cast<unsigned>(i));
        using hubctl::text;
        table.add({text(d, "consumer"), text(d, "seq"), text(d, "id"), text(d, "type"), text(d, "attempts"),
                   text(d, "lastError")});
    }
    table.print(std::cout);
    if (items->size() >= 100) std::cout << "(the first 100 shown)\n";
    return hubctl::exitOk;
}

struct ReplayOptions {
    std::string consumer;
    std::string id;
};

int replay(const hubctl::GlobalOptions& global, const ReplayOptions& o) {
    hubctl::HubClient hub(global);
    // Without --consumer: every consumer that has dead letters, one call each.
    std::vector<std::string> consumers;
    if (!o.consumer.empty()) {
        consumers.push_back(o.consumer);
    } else {
        if (!o.id.empty()) throw hubctl::Failure(hubctl::exitUsage, "--id needs --consumer");
        std::set<std::string> seen;
        auto items = hub.get("/admin/events/dead-letters").object()->getArray("items");
        for (std::size_t i = 0; i < items->size(); ++i)
            seen.insert(hubctl::text(items->getObject(static_cast<unsigned>(i)), "consumer"));
        consumers.assign(seen.begin(), seen.end());
    }
    Poco::JSON::Object out;
    long long total = 0;
    {
        hubctl::Progress progress(global, "replaying", static_cast<long long>(consumers.size()));
        long long done = 0;
        for (const auto& consumer : consumers) {
            std::string query = "?consumer=" + hubctl::queryValue(consumer);
            if (!o.id.empty()) query += "&id=" + hubctl::queryValue(o.id);
            auto answer = progress.whileRunning(
                [&] { return hub.post("/admin/events/dead-letters/replay" + query, "", 600); });
            long long replayed = answer.object()->getValue<long long>("replayed");
            out.set(consumer, replayed);
            total += replayed;
            progress.update(++done);
        }
    }
    if (global.json) {
        Poco::JSON::Object doc;
        doc.set("replayed", total);
        doc.set("consumers", out);
        std::ostringstream text;
        doc.stringify(text);
        return hubctl::printJson(text.str()), hubctl::exitOk;
    }
    for (const auto& consumer : consumers)
        std::cout << consumer << ": " << out.getValue<long long>(consumer) << " replayed\n";
    std::cout << total << " dead letter(s) queued for delivery again\n";
    return hubctl::exitOk;
}

const hubctl::Registration registration(40, [](hubctl::Commands& c) {
    auto& global = c.options();
    auto* events = c.group(c.root(), "events", "the event relay");
    auto* dead = c.group(*events, "dead-letters", "events a consumer could not take, kept for replay");
    auto consumer = std::make_shared<std::string>();
    c.leaf(*dead, "list", "dead letters (the first 100), all consumers or one",
           [&global, consumer] { return list(global, *consumer); })
        ->add_option("--consumer", *consumer, "only this consumer's");
    auto o = std::make_shared<ReplayOptions>();
    auto* replayCommand =
        c.leaf(*dead, "replay", "deliver dead letters again (all, one consumer's, or one event)",
               [&global, o] { return replay(global, *o); });
    replayCommand->add_option("--consumer", o->consumer, "only this consumer's (default: every consumer)");
    replayCommand->add_option("--id", o->id, "only this event id (needs --consumer)");
});

}  // namespace event_commands
}  // namespace
