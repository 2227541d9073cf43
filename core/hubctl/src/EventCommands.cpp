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

// One consumer's dead letters, one event per call, oldest first, a page of the
// listing at a time: the progress advances per event, and a replay of
// thousands shows how far it got (each is an audited admin call of its own).
// An event replayed here that fails again comes back as a dead letter: it is
// not sent twice in one go. Returns how many were queued for delivery again.
long long replayConsumer(const hubctl::HubClient& hub, const std::string& consumer, hubctl::Progress& progress,
                         long long& done) {
    const std::string query = "?consumer=" + hubctl::queryValue(consumer);
    std::set<std::string> sent;
    long long replayed = 0;
    for (;;) {
        auto items = hub.get("/admin/events/dead-letters" + query).object()->getArray("items");
        bool sentAny = false;
        for (std::size_t i = 0; i < items->size(); ++i) {
            const std::string id = hubctl::text(items->getObject(static_cast<unsigned>(i)), "id");
            if (!sent.insert(id).second) continue;
            sentAny = true;
            auto n = hub.post("/admin/events/dead-letters/replay" + query + "&id=" + hubctl::queryValue(id), "", 60)
                         .object()
                         ->getValue<long long>("replayed");
            replayed += n;
            progress.update(done += n);
        }
        if (sentAny) continue;
        // A full page of events already sent once (they failed again at once):
        // what lies beyond it goes in one call.
        if (items->size() >= 100) {
            auto n = hub.post("/admin/events/dead-letters/replay" + query, "", 600).object()->getValue<long long>("replayed");
            replayed += n;
            progress.update(done += n);
        }
        return replayed;
    }
}

int replay(const hubctl::GlobalOptions& global, const ReplayOptions& o) {
    hubctl::HubClient hub(global);
    if (!o.id.empty()) {
        if (o.consumer.empty()) throw hubctl::Failure(hubctl::exitUsage, "--id needs --consumer");
        auto answer = hub.post("/admin/events/dead-letters/replay?consumer=" + hubctl::queryValue(o.consumer) +
                               "&id=" + hubctl::queryValue(o.id));
        if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
        std::cout << o.consumer << ": " << answer.object()->getValue<long long>("replayed") << " replayed\n";
        return hubctl::exitOk;
    }
    // Without --consumer: every consumer the relay has, against the dead letters
    // stored now (the bar's total; one consumer's share is not told, so that
    // one gets a count).
    std::vector<std::string> consumers;
    long long total = 0;
    if (!o.consumer.empty()) {
        consumers.push_back(o.consumer);
    } else {
        auto relay = hub.get("/admin/events/consumers").object();
        total = relay->optValue<long long>("deadLetters", 0);
        auto list = relay->getArray("consumers");
        for (std::size_t i = 0; list && i < list->size(); ++i)
            consumers.push_back(hubctl::text(list->getObject(static_cast<unsigned>(i)), "name"));
    }
    Poco::JSON::Object out;
    long long replayed = 0;
    {
        hubctl::Progress progress(global, "replaying", total, "dead letters");
        long long done = 0;
        for (const auto& consumer : consumers) {
            long long n = replayConsumer(hub, consumer, progress, done);
            out.set(consumer, n);
            replayed += n;
        }
    }
    if (global.json) {
        Poco::JSON::Object doc;
        doc.set("replayed", replayed);
        doc.set("consumers", out);
        std::ostringstream text;
        doc.stringify(text);
        return hubctl::printJson(text.str()), hubctl::exitOk;
    }
    for (const auto& consumer : consumers)
        if (out.getValue<long long>(consumer) > 0 || !o.consumer.empty())
            std::cout << consumer << ": " << out.getValue<long long>(consumer) << " replayed\n";
    std::cout << replayed << " dead letter(s) queued for delivery again\n";
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
