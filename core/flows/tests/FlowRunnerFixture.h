#pragma once

// The flows' runner in process, wired as hubd wires it (FlowInputsTest,
// FlowVersionsTest).
#include "FlowsTestSupport.h"

#include "hub/events/CloudEvent.h"
#include "hub/events/Outbox.h"
#include "hub/flows/ApprovalEngineLink.h"
#include "hub/flows/FlowRunner.h"
#include "hub/host/PluginHost.h"
#include "hub/store/WriteTransaction.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Transaction.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace hub::flows::test {

using namespace Poco::Data::Keywords;
using Outcome = ApplicationService::SubmitResult::Outcome;

/// The start of a .bpmn file, up to its process.
inline const std::string kFlowHeader =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D1" targetNamespace="http://bpmn.io/schema/bpmn">
)";

// The outbox's events of one type, their data.
inline std::vector<std::string> outboxData(store::Database& db, const std::string& type) {
    std::vector<std::string> payloads;
    std::string t = type;
    db.session() << db.sql("SELECT payload FROM events_outbox WHERE type = ? ORDER BY seq"), use(t), into(payloads),
        now;
    std::vector<std::string> out;
    for (const auto& payload : payloads) {
        auto event = engine::Value::fromJson(payload);
        out.push_back(event.member("data").toJson());
    }
    return out;
}

/// The runner, its store and repository, the approval engine link and a
/// plugin host without plugins, wired as hubd wires them, on the Fixture's
/// database; the flow file is flows/vehicle-pass.bpmn (the item vehicle-pass).
struct RunnerFixture : Fixture {
    explicit RunnerFixture(const std::string& flowXml) { init(flowXml); }
    /// A second hub on the store of `first` (several nodes on one PostgreSQL).
    RunnerFixture(const std::string& flowXml, const RunnerFixture& first)
        : Fixture("2026-09-30T02:00:00Z", first.storeOptions) {
        init(flowXml);
    }
    ~RunnerFixture() { runner->stop(); }

    void init(const std::string& flowXml) {
        events::Outbox::migrate(*db);
        std::filesystem::create_directories(dir.path() / "flows");
        std::filesystem::create_directories(dir.path() / "plugins");
        std::ofstream(dir.path() / "flows" / "vehicle-pass.bpmn") << flowXml;
        build();
    }

    /// A hub restart: everything closed and opened again on the same files,
    /// then the runner resumes (due timers, pending calls, stuck submits).
    void restart() {
        runner->stop();
        runner.reset();
        link.reset();
        plugins.reset();
        repository.reset();
        engineStore.reset();
        reopen();
        build();
        runner->resume();
    }

    /// Writes a new version of the flow file and deploys the folder again.
    void redeploy(const std::string& flowXml) {
        std::ofstream(dir.path() / "flows" / "vehicle-pass.bpmn", std::ios::trunc) << flowXml;
        auto report = repository->reload(0);
        EXPECT_TRUE(report.refused.empty()) << (report.refused.empty() ? "" : report.refused.front().second);
    }

    void build() {
        engineStore = std::make_unique<engine::EngineStore>(*db);
        engine::DeployOptions deploy;
        deploy.externalGroups = {"oa:approvers"};
        repository = std::make_unique<engine::FlowRepository>(*db, *engineStore, (dir.path() / "flows").string(), deploy);
        auto report = repository->reload(0);
        EXPECT_TRUE(report.refused.empty()) << (report.refused.empty() ? "" : report.refused.front().second);
        host::PluginHost::Options hostOptions;
        hostOptions.pluginsDir = (dir.path() / "plugins").string();
        plugins = std::make_unique<host::PluginHost>(hostOptions);
        link = std::make_unique<ApprovalEngineLink>(*service, "/campus-hub");
        runner = std::make_unique<FlowRunner>(*db, *service, *engineStore, *repository, *plugins, runnerOptions);
        runner->setExternalGroups({"oa:approvers"});
        link->setFlowDriven([this](Poco::Data::Session& s, const std::string& id) {
            return engineStore->instanceOf(s, id).has_value();
        });
        link->setFlowDecision([this](Poco::Data::Session& s, const FlowRunner::Decision& d) {
            return runner->applyDecisionWithin(s, d);
        });
        service->setEventSink([this, sink = link->outboxSink()](Poco::Data::Session& s, const std::string& type,
                                                                const std::string& subject, const std::string& data) {
            sink(s, type, subject, data);
            runner->onApplicationEvent(s, type, data);
        });
        service->setFlowStarter([this](Poco::Data::Session& s, const Application& a, const std::string& flowId) {
            return runner->startWithin(s, a, flowId);
        });
    }

    FlowRunner::Options runnerOptions;

    std::string submit(const std::string& plate = "京A12345") {
        auto request = vehiclePass("t.wang", plate);
        request.startReview = true;
        auto r = service->submit(request, shippedCatalog(), kTeacher);
        EXPECT_EQ(r.outcome, Outcome::Created);
        return r.application->id;
    }

    // The relay's inbound path: the handler inside a transaction that writes
    // first (the relay's inbox row; here store::WriteTransaction), committed
    // when it returns.
    void decide(const std::string& applicationId, const std::string& taskId, const std::string& decision) {
        auto event = events::CloudEvent::create(
            events::EventType::ApprovalDecided, "/approval-engine", "applications/" + applicationId,
            R"({"applicationId":")" + applicationId + R"(","taskId":")" + taskId + R"(","decision":")" + decision +
                R"(","reason":"OA 已审批"})");
        Poco::Data::Session s = db->session();
        store::WriteTransaction tx(s);
        link->inboundHandler()(s, event, events::InboundPeer{"engine-1", true});
        tx.commit();
    }

    std::vector<engine::StoredTask> openTasks() {
        Poco::Data::Session s = db->session();
        return engineStore->openTasks(s);
    }

    std::unique_ptr<engine::EngineStore> engineStore;
    std::unique_ptr<engine::FlowRepository> repository;
    std::unique_ptr<host::PluginHost> plugins;
    std::unique_ptr<ApprovalEngineLink> link;
    std::unique_ptr<FlowRunner> runner;
};

}  // namespace hub::flows::test
