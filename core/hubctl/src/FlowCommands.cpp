// hubctl flows list|incidents|retry|deploy|message|validate|put|remove: the
// service flows the hub runs (docs/flows/bpmn.md), their incidents, the messages
// they wait for, an offline check of .bpmn files, and a department's own files
// (hub:admin, or the department's admin).
#include "Cli.h"

#include "hub/common/JsonWriter.h"
#include "hub/flows/engine/Deployer.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace flow_commands {

int list(const hubctl::GlobalOptions& global) {
    hubctl::HubClient hub(global);
    auto answer = hub.get("/admin/flows");
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto items = answer.object()->getArray("items");
    if (items->size() == 0) {
        std::cout << "no flows deployed\n";
        return hubctl::exitOk;
    }
    hubctl::Table table({"FLOW", "VERSION", "FILE", "WARNINGS"});
    for (std::size_t i = 0; i < items->size(); ++i) {
        auto f = items->getObject(static_cast<unsigned>(i));
        using hubctl::text;
        table.add({text(f, "id"), text(f, "version"), text(f, "file"),
                   std::to_string(f->getArray("warnings") ? f->getArray("warnings")->size() : 0)});
    }
    table.print(std::cout);
    return hubctl::exitOk;
}

int incidents(const hubctl::GlobalOptions& global) {
    hubctl::HubClient hub(global);
    auto answer = hub.get("/admin/flows/incidents");
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto items = answer.object()->getArray("items");
    if (items->size() == 0) {
        std::cout << "no open incidents\n";
        return hubctl::exitOk;
    }
    hubctl::Table table({"INCIDENT", "INSTANCE", "ELEMENT", "MESSAGE"});
    for (std::size_t i = 0; i < items->size(); ++i) {
        auto d = items->getObject(static_cast<unsigned>(i));
        using hubctl::text;
        table.add({text(d, "id"), text(d, "instance_id"), text(d, "element_id"), text(d, "message")});
    }
    table.print(std::cout);
    return hubctl::exitOk;
}

int retry(const hubctl::GlobalOptions& global, const std::string& id) {
    hubctl::HubClient hub(global);
    auto answer = hub.post("/admin/flows/incidents/" + hubctl::queryValue(id) + "/retry", "");
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    std::cout << "incident " << id << " retried\n";
    return hubctl::exitOk;
}

// The hub deploys what its flows folder holds: a new or changed file becomes a
// new version, a refused one keeps the running version (and fails here).
// With a department, only its own folder.
int deploy(const hubctl::GlobalOptions& global, const std::string& department) {
    hubctl::HubClient hub(global);
    auto answer = hub.post(department.empty() ? std::string("/admin/flows/reload")
                                              : "/admin/flows/departments/" + hubctl::queryValue(department) + "/reload",
                           "");
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    std::cout << hubctl::text(answer.object(), "result") << "\n";
    return hubctl::exitOk;
}

// A department's own file: written and deployed by the hub after its checks
// (put), or deleted and its flow withdrawn (remove). Other files of the folder
// that do not deploy are listed.
int departmentFile(const hubctl::GlobalOptions& global, const std::string& department, const std::string& file,
                   bool put) {
    hubctl::HubClient hub(global);
    const std::string name = std::filesystem::path(file).filename().string();
    const std::string path =
        "/admin/flows/departments/" + hubctl::queryValue(department) + "/" + hubctl::queryValue(name);
    hubctl::Answer answer;
    if (put) {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw hubctl::Failure(hubctl::exitUsage, "cannot read " + file);
        std::stringstream xml;
        xml << in.rdbuf();
        answer = hub.put(path, xml.str());
    } else {
        answer = hub.remove(path);
    }
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto o = answer.object();
    std::cout << hubctl::text(o, "result") << "\n";
    if (auto refused = o->getArray("refused"))
        for (std::size_t i = 0; i < refused->size(); ++i) std::cout << "  " << refused->getElement<std::string>(i) << "\n";
    return hubctl::exitOk;
}

struct MessageOptions {
    std::string name;
    std::string key;
    std::string application;
    std::string vars;
    std::string id;
    long long ttl = -1;  // -1: the hub's flows.messageTtlSeconds
};

// Publishes a message to the flows (POST /admin/flows/messages): the waiting
// instances take it, or the hub keeps it for a wait that begins later.
int message(const hubctl::GlobalOptions& global, const MessageOptions& m) {
    if (m.key.empty() && m.application.empty())
        throw hubctl::Failure(hubctl::exitUsage, "give --key (the wait's correlation key) or --application");
    std::string body = "{\"name\":";
    hub::json::appendString(body, m.name);
    if (!m.key.empty()) {
        body += ",\"correlationKey\":";
        hub::json::appendString(body, m.key);
    }
    if (!m.application.empty()) {
        body += ",\"applicationId\":";
        hub::json::appendString(body, m.application);
    }
    if (!m.id.empty()) {
        body += ",\"messageId\":";
        hub::json::appendString(body, m.id);
    }
    if (m.ttl >= 0) body += ",\"ttlSeconds\":" + std::to_string(m.ttl);
    if (!m.vars.empty()) {
        // Checked here, so a typo is a usage error and never reaches the hub.
        Poco::Dynamic::Var parsed;
        try {
            parsed = Poco::JSON::Parser().parse(m.vars);
        } catch (const Poco::Exception& e) {
            throw hubctl::Failure(hubctl::exitUsage, "--vars is not valid JSON: " + e.displayText());
        }
        if (parsed.type() != typeid(Poco::JSON::Object::Ptr))
            throw hubctl::Failure(hubctl::exitUsage, "--vars must be a JSON object, e.g. '{\"note\":\"done\"}'");
        std::ostringstream vars;
        Poco::JSON::Stringifier::condense(parsed, vars);
        body += ",\"variables\":" + vars.str();
    }
    body += '}';
    hubctl::HubClient hub(global);
    auto answer = hub.post("/admin/flows/messages", body);
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto result = answer.object();
    const std::string id = hubctl::text(result, "messageId");
    if (hubctl::text(result, "status") == "buffered") {
        std::cout << "message " << id << " kept: nothing waits for it yet; the first wait that begins before "
                  << hubctl::text(result, "expiresAt") << " (ms since the epoch) takes it\n";
        return hubctl::exitOk;
    }
    auto delivered = result->getArray("delivered");
    std::cout << "message " << id << " delivered to " << (delivered ? delivered->size() : 0) << " instance(s):";
    for (std::size_t n = 0; delivered && n < delivered->size(); ++n) std::cout << " " << delivered->getElement<std::string>(static_cast<unsigned>(n));
    std::cout << "\n";
    return hubctl::exitOk;
}

// Offline, as the hub deploys a file (without the loaded plugins' manifests:
// every plugin operation passes here; the hub checks them on deploy).
int validate(const hubctl::GlobalOptions& global, const std::vector<std::string>& files) {
    std::string json = "{\"files\":[";
    int invalid = 0;
    for (std::size_t n = 0; n < files.size(); ++n) {
        const std::string& file = files[n];
        std::ifstream in(file, std::ios::binary);
        if (!in) throw hubctl::Failure(hubctl::exitUsage, "cannot read " + file);
        std::stringstream xml;
        xml << in.rdbuf();
        std::vector<hub::flows::engine::Problem> problems;
        std::string flowId;
        try {
            flowId = hub::flows::engine::deployFlow(xml.str(), file)->flowId;
        } catch (const hub::flows::engine::DeployError& e) {
            problems = e.problems();
        } catch (const std::exception& e) {
            problems.push_back({"", "", 0, e.what()});
        }
        invalid += problems.empty() ? 0 : 1;
        if (n) json += ',';
        json += "{\"file\":";
        hub::json::appendString(json, file);
        json += ",\"flow\":";
        hub::json::appendString(json, flowId);
        json += ",\"valid\":";
        json += problems.empty() ? "true" : "false";
        json += ",\"problems\":[";
        for (std::size_t i = 0; i < problems.size(); ++i) {
            if (i) json += ',';
            json += "{\"element\":";
            hub::json::appendString(json, problems[i].elementId);
            json += ",\"line\":" + std::to_string(problems[i].line) + ",\"message\":";
            hub::json::appendString(json, problems[i].message);
            json += '}';
        }
        json += "]}";
        if (global.json) continue;
        if (problems.empty()) std::cout << file << ": flow '" << flowId << "', valid\n";
        for (const auto& p : problems) std::cout << p.toString(file) << "\n";
    }
    if (global.json) hubctl::printJson(json + "]}");
    return invalid ? hubctl::exitFailure : hubctl::exitOk;
}

const hubctl::Registration registration(45, [](hubctl::Commands& c) {
    auto& global = c.options();
    auto* flows = c.group(c.root(), "flows", "the service flows (BPMN) the hub runs");
    c.leaf(*flows, "list", "the deployed flows, latest version each", [&global] { return list(global); });
    c.leaf(*flows, "incidents", "open incidents (a service task that failed after its retries, a step limit)",
           [&global] { return incidents(global); });
    auto id = std::make_shared<std::string>();
    c.leaf(*flows, "retry", "retry an incident's step", [&global, id] { return retry(global, *id); })
        ->add_option("ID", *id, "the incident's id (hubctl flows incidents)")
        ->required();
    auto department = std::make_shared<std::string>();
    c.leaf(*flows, "deploy",
           "deploy the hub's flows folder again (new or changed files become new versions), or only DEPARTMENT's own",
           [&global, department] { return deploy(global, *department); })
        ->add_option("DEPARTMENT", *department, "only this department's own folder");
    auto file = std::make_shared<std::string>();
    auto* put = c.leaf(*flows, "put", "write and deploy one of a department's own .bpmn files (checked by the hub first)",
                       [&global, department, file] { return departmentFile(global, *department, *file, true); });
    put->add_option("DEPARTMENT", *department, "the department id")->required();
    put->add_option("FILE", *file, "the .bpmn file (kept under its own name)")->required();
    auto* remove = c.leaf(*flows, "remove", "delete one of a department's own .bpmn files and withdraw its flow",
                          [&global, department, file] { return departmentFile(global, *department, *file, false); });
    remove->add_option("DEPARTMENT", *department, "the department id")->required();
    remove->add_option("NAME", *file, "the file's name (e.g. book-purchase.bpmn)")->required();
    auto m = std::make_shared<MessageOptions>();
    auto* publish = c.leaf(*flows, "message",
                           "publish a message the flows wait for (delivered, or kept for a wait that begins later)",
                           [&global, m] { return message(global, *m); });
    publish->add_option("NAME", m->name, "the message's name, as the flow's bpmn:message names it")->required();
    publish->add_option("--key", m->key, "the correlation key the wait was given (its zeebe:subscription)");
    publish->add_option("--application", m->application, "only the flow of this application");
    publish->add_option("--vars", m->vars, "the message's variables, a JSON object");
    publish->add_option("--id", m->id, "a message id: the same id again is refused as a duplicate");
    publish->add_option("--ttl", m->ttl, "seconds to keep it when nothing waits yet (0: never; default: the hub's)")
        ->check(CLI::Range(0LL, 30LL * 24 * 3600));
    auto files = std::make_shared<std::vector<std::string>>();
    c.leaf(*flows, "validate", "check .bpmn files offline, as the hub deploys them (file:line errors)",
           [&global, files] { return validate(global, *files); })
        ->add_option("FILE", *files, "the .bpmn files")
        ->required();
});

}  // namespace flow_commands
}  // namespace
