// The hall's shipped flows (config/flows, docs/flows/hall-flows.md) run end
// to end by hubd through its HTTP API: applicants submit, the clerks of each
// department work their to-do lists, and the vendor systems the flows call are
// the test plugins of tests/plugins/hall_vendors (SDK only, counting their
// calls). The files run as shipped, except that their working-day timers are
// rewritten to a short calendar duration (or to an hour, where a test must not
// see them fire): hubd has no test clock.

#include "hub/test/StoreBackend.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/Json.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;

namespace {

const std::string kSecret = "shipped-flows-test-secret-0123456789-abcd";

std::string token(const std::string& subject) { return hub::test::token(kSecret, subject); }

std::string readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// Working-day timers become `duration` of calendar time.
std::string withTimers(std::string xml, const std::string& duration) {
    xml = std::regex_replace(xml, std::regex(R"(\s*<zeebe:property name="calendar" value="working-days" />)"), "");
    return std::regex_replace(xml, std::regex(R"(>P\d+[DW]</bpmn:timeDuration>)"),
                              ">" + duration + "</bpmn:timeDuration>");
}

class ShippedFlowsRunTest : public ::testing::Test {
protected:
    void start(const std::string& timer = "PT1H") {
        fs::create_directories(dir_.file("flows"));
        for (const auto& entry : fs::directory_iterator(FLOWS_DIR))
            if (entry.path().extension() == ".bpmn")
                dir_.write("flows/" + entry.path().filename().string(), withTimers(readFile(entry.path()), timer));
        fs::create_directories(dir_.file("plugins"));
        for (const char* vendor : {"labs", "logistics", "finance", "international"})
            fs::copy(std::string(HALL_VENDOR_PLUGINS_DIR) + "/" + vendor, dir_.file(std::string("plugins/") + vendor),
                     fs::copy_options::recursive);
        dir_.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_.file("hubd.port") + R"(</portFile><ioThreads>1</ioThreads></http>
  )" + hub::test::storeXml(dir_.file("var")) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <flows><dir>)" + dir_.file("flows") + R"(</dir></flows>
  <plugins><dir>)" + dir_.file("plugins") + R"(</dir><watchIntervalMs>0</watchIntervalMs></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static>
    <person id="2023010001" name="张三" department="physics" audience="student"/>
    <person id="untrained.1" name="李四" department="physics" audience="student"/>
    <person id="t.wang" name="王老师" department="physics" audience="teacher"/>
    <person id="head.phys" name="物理系主任" department="physics" audience="staff" roles="dept:physics:head"/>
    <person id="sup.1" name="导师" department="physics" audience="staff"/>
    <person id="io.1" name="国际处" department="international-office" audience="staff" roles="dept:international-office:clerk"/>
    <person id="hr.1" name="人事处" department="human-resources" audience="staff" roles="dept:human-resources:clerk"/>
    <person id="po.head" name="校办主任" department="president-office" audience="staff" roles="dept:president-office:head"/>
    <person id="po.1" name="校办" department="president-office" audience="staff" roles="dept:president-office:clerk"/>
    <person id="fin.1" name="财务处" department="finance" audience="staff" roles="dept:finance:clerk"/>
    <person id="fin.head" name="财务处长" department="finance" audience="staff" roles="dept:finance:head"/>
    <person id="lab.mgr" name="实验室主任" department="lab-management" audience="staff" roles="dept:lab-management:manager"/>
    <person id="log.1" name="后勤" department="logistics" audience="staff" roles="dept:logistics:clerk"/>
    <person id="sec.1" name="保卫处" department="security" audience="staff" roles="dept:security:clerk"/>
    <person id="gs.1" name="研究生院" department="graduate-school" audience="staff" roles="dept:graduate-school:clerk"/>
    <person id="admin" name="Operator" audience="staff" roles="hub:admin"/>
  </static></identity>
</hub>)");
        std::error_code ignored;
        fs::remove(dir_.file("hubd.port"), ignored);
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(dir_));
        // hubd logs each deployment before it serves; the output reader may lag behind.
        for (const char* flow : {"travel-abroad", "reimbursement", "lab-access", "dorm-repair", "seal-use",
                                 "graduate-leave", "visiting-scholar"})
            ASSERT_TRUE(hub::test::waitUntil([&] {
                return hubd_->output().find(std::string("flow deployed: ") + flow + " v1") != std::string::npos;
            }, std::chrono::seconds(10))) << flow << "\n" << hubd_->output();
    }

    hub::test::HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                                    const std::string& subject) {
        return httpRequest(method, hubd_->url(path), body, bearer(token(subject)));
    }

    std::string submit(const std::string& subject, const std::string& body) {
        auto r = request("POST", "/api/v1/applications", body, subject);
        EXPECT_EQ(r.status, 201) << r.body;
        return r.status == 201 ? parse(r.body)->getValue<std::string>("id") : std::string();
    }

    // The application once `pred` holds for it (or the last one seen).
    Poco::JSON::Object::Ptr application(const std::string& id, const std::string& subject, const std::string& status) {
        Poco::JSON::Object::Ptr last;
        hub::test::waitUntil(
            [&] {
                auto r = request("GET", "/api/v1/applications/" + id, "", subject);
                if (r.status != 200) return false;
                last = parse(r.body);
                return last->getValue<std::string>("status") == status;
            },
            std::chrono::seconds(20), std::chrono::milliseconds(50));
        return last;
    }

    std::string statusOf(const std::string& id, const std::string& subject) {
        return parse(request("GET", "/api/v1/applications/" + id, "", subject).body)->getValue<std::string>("status");
    }

    // The one open task of `application` on `who`'s list at element `element`,
    // waited for (service calls before it answer on the runner's pool).
    std::string taskOf(const std::string& who, const std::string& applicationId, const std::string& element) {
        std::string found;
        hub::test::waitUntil(
            [&] {
                auto r = request("GET", "/api/v1/tasks", "", who);
                if (r.status != 200) return false;
                auto items = parse(r.body)->getArray("items");
                for (std::size_t n = 0; items && n < items->size(); ++n) {
                    auto task = items->getObject(static_cast<unsigned>(n));
                    if (task->getValue<std::string>("application_id") == applicationId &&
                        task->getValue<std::string>("element_id") == element)
                        found = task->getValue<std::string>("id");
                }
                return !found.empty();
            },
            std::chrono::seconds(20), std::chrono::milliseconds(50));
        EXPECT_FALSE(found.empty()) << who << " has no task " << element << " of " << applicationId << "\n"
                                    << hubd_->output();
        return found;
    }

    std::size_t openTasks(const std::string& applicationId) {
        auto items = parse(request("GET", "/api/v1/tasks", "", "admin").body)->getArray("items");
        std::size_t count = 0;
        for (std::size_t n = 0; items && n < items->size(); ++n)
            if (items->getObject(static_cast<unsigned>(n))->getValue<std::string>("application_id") == applicationId)
                ++count;
        return count;
    }

    int complete(const std::string& task, const std::string& who, const std::string& decision,
                 const std::string& comment = "同意") {
        auto r = request("POST", "/api/v1/tasks/" + task + "/complete",
                         R"({"decision":")" + decision + R"(","comment":")" + comment + R"("})", who);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status;
    }

    // {"calls": {op: n}, "keys": {op: distinct idempotency keys}} of a vendor plugin.
    Poco::JSON::Object::Ptr calls(const std::string& vendor) {
        auto r = request("POST", "/api/v1/systems/" + vendor + "/operations/calls", "{}", "admin");
        EXPECT_EQ(r.status, 200) << r.body;
        return parse(r.body);
    }
    int callCount(const std::string& vendor, const std::string& operation) {
        return calls(vendor)->getObject("calls")->optValue<int>(operation, 0);
    }

    TempDir dir_{"shipped-flows-test"};
    std::unique_ptr<ChildProcess> hubd_;
};

const std::string kTravel =
    R"({"item_id":"going-abroad-approval","form":{"destination":"日本","departure":"2026-12-01","days":40},)"
    R"("materials":["invitation","budget"]})";

}  // namespace

// 因公出国（境）: four reviews in parallel (over 30 days adds the president's
// office), the inclusive join, then international.record_travel_approval.
TEST_F(ShippedFlowsRunTest, TravelAbroadFourParallelReviewsThenTheRecordIsMadeOnce) {
    start();
    const std::string id = submit("t.wang", kTravel);
    EXPECT_EQ(statusOf(id, "t.wang"), "in_review");
    EXPECT_EQ(openTasks(id), 4u);
    complete(taskOf("head.phys", id, "Task_UnitReview"), "head.phys", "approve");
    complete(taskOf("io.1", id, "Task_InternationalReview"), "io.1", "approve");
    complete(taskOf("hr.1", id, "Task_HrReview"), "hr.1", "approve");
    EXPECT_EQ(statusOf(id, "t.wang"), "in_review");  // the join waits for the president's office
    EXPECT_EQ(callCount("international", "record_travel_approval"), 0);
    complete(taskOf("po.head", id, "Task_PresidentReview"), "po.head", "approve");
    auto app = application(id, "t.wang", "approved");
    EXPECT_EQ(app->getValue<std::string>("status"), "approved") << hubd_->output();
    EXPECT_EQ(callCount("international", "record_travel_approval"), 1);
    auto flow = request("GET", "/api/v1/applications/" + id + "/flow", "", "t.wang").body;
    EXPECT_NE(flow.substr(flow.find("\"completed\":[")).find("Task_RecordApproval"), std::string::npos) << flow;
}

TEST_F(ShippedFlowsRunTest, TravelAbroadAnyRejectTerminatesTheOtherReviews) {
    start();
    const std::string id = submit("t.wang", R"({"item_id":"going-abroad-approval","form":{"destination":"德国",)"
                                            R"("departure":"2026-12-01","days":10},"materials":["invitation","budget"]})");
    EXPECT_EQ(openTasks(id), 3u);  // 10 days: no president's office
    complete(taskOf("hr.1", id, "Task_HrReview"), "hr.1", "reject", "经费不足");
    auto app = application(id, "t.wang", "rejected");
    EXPECT_EQ(app->getValue<std::string>("status"), "rejected") << hubd_->output();
    EXPECT_EQ(openTasks(id), 0u);
    EXPECT_EQ(callCount("international", "record_travel_approval"), 0);
}

// 差旅报销: amount tiers; above 5,000 the unit head first; a return for supplement
// goes to the applicant, who supplements through POST .../supplement.
TEST_F(ShippedFlowsRunTest, ReimbursementTiersReturnSupplementAndOneVoucher) {
    start();
    const std::string id =
        submit("t.wang", R"({"item_id":"reimbursement","form":{"amount":12000,"project-code":"KY-001",)"
                         R"("expense-type":"travel"},"materials":["invoices","expense-form"]})");
    complete(taskOf("head.phys", id, "Task_HeadReview"), "head.phys", "approve");
    complete(taskOf("fin.1", id, "Task_FinanceAudit"), "fin.1", "return_for_supplement", "缺少会议通知");
    EXPECT_EQ(application(id, "t.wang", "needs_supplement")->getValue<std::string>("status"), "needs_supplement");
    auto r = request("POST", "/api/v1/applications/" + id + "/supplement",
                     R"({"form":{"amount":11800},"materials":["contract"],"reason":"已补充"})", "t.wang");
    ASSERT_EQ(r.status, 200) << r.body;
    // Back through the tiers with the corrected amount.
    complete(taskOf("head.phys", id, "Task_HeadReview"), "head.phys", "approve");
    complete(taskOf("fin.1", id, "Task_FinanceAudit"), "fin.1", "approve");
    auto app = application(id, "t.wang", "completed");
    EXPECT_EQ(app->getValue<std::string>("status"), "completed") << hubd_->output();
    EXPECT_EQ(callCount("finance", "create_voucher"), 1);
    // A small claim: the finance audit alone.
    const std::string small =
        submit("t.wang", R"({"item_id":"reimbursement","form":{"amount":300,"project-code":"KY-001",)"
                         R"("expense-type":"consumables"},"materials":["invoices","expense-form"]})");
    complete(taskOf("fin.1", small, "Task_FinanceAudit"), "fin.1", "approve");
    EXPECT_EQ(application(small, "t.wang", "completed")->getValue<std::string>("status"), "completed");
    EXPECT_EQ(callCount("finance", "create_voucher"), 2);
}

// 实验室准入: the training check by plugin, then the lab manager, then the door
// system; untrained applicants end at once; a vendor outage is an incident.
TEST_F(ShippedFlowsRunTest, LabAccessTrainingCheckManagerGrantAndItsErrorPaths) {
    start();
    const std::string body = R"({"item_id":"lab-access","form":{"lab":"B-301","supervisor":"李老师",)"
                             R"("start-date":"2026-12-01"},"materials":["safety-certificate","supervisor-approval"]})";
    const std::string id = submit("2023010001", body);
    complete(taskOf("lab.mgr", id, "Task_ManagerReview"), "lab.mgr", "approve");
    EXPECT_EQ(application(id, "2023010001", "completed")->getValue<std::string>("status"), "completed");
    EXPECT_EQ(callCount("labs", "check_safety_training"), 1);
    EXPECT_EQ(callCount("labs", "grant_access"), 1);

    const std::string untrained = submit("untrained.1", body);
    EXPECT_EQ(application(untrained, "untrained.1", "rejected")->getValue<std::string>("status"), "rejected");
    EXPECT_EQ(openTasks(untrained), 0u);

    // The vendor is down: three attempts, then an incident an admin sees.
    std::string down = body;
    down.replace(down.find("B-301"), 5, "vendor-down");
    const std::string failing = submit("2023010001", down);
    std::string incidents;
    ASSERT_TRUE(hub::test::waitUntil(
        [&] {
            incidents = request("GET", "/admin/flows/incidents", "", "admin").body;
            return incidents.find("Task_CheckTraining") != std::string::npos;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(100)))
        << incidents << hubd_->output();
    EXPECT_NE(incidents.find("after 3 attempts"), std::string::npos) << incidents;
    EXPECT_EQ(statusOf(failing, "2023010001"), "submitted");
}

// 宿舍报修: a work order in the logistics system, then a wait for its completion
// message, published by correlation key; duplicates and other orders move nothing.
TEST_F(ShippedFlowsRunTest, DormRepairWaitsForTheWorkOrdersCompletionMessage) {
    start();
    const std::string id =
        submit("2023010001", R"({"item_id":"dorm-repair","form":{"building":"西区3号楼","room":"402",)"
                             R"("problem":"plumbing","details":"水管漏水","phone":"13800000000"}})");
    ASSERT_TRUE(hub::test::waitUntil([&] { return callCount("logistics", "create_work_order") == 1; },
                                     std::chrono::seconds(20)));
    const std::string order = "WO-1";
    auto publish = [&](const std::string& key, const std::string& who = "admin") {
        return request("POST", "/admin/flows/messages",
                       R"({"name":"logistics.work_order_completed","correlationKey":")" + key +
                           R"(","variables":{"repair_note":"已更换水管"}})",
                       who);
    };
    // Nothing waits for another order: with a time-to-live of 0 it is not kept.
    hub::test::HttpResponse r = request("POST", "/admin/flows/messages",
                                        R"({"name":"logistics.work_order_completed","correlationKey":"WO-99",)"
                                        R"("ttlSeconds":0})",
                                        "admin");
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_NE(r.body.find("no-message-wait"), std::string::npos) << r.body;
    EXPECT_EQ(publish(order, "2023010001").status, 403);
    // Delivered at once (200), or kept (202) when it came before the runner
    // stored the order id from the plugin's answer: either way taken once.
    r = publish(order);
    EXPECT_TRUE(r.status == 200 || r.status == 202) << r.body;
    EXPECT_EQ(application(id, "2023010001", "completed")->getValue<std::string>("status"), "completed");
    r = request("POST", "/admin/flows/messages",
                R"({"name":"logistics.work_order_completed","correlationKey":"WO-1","ttlSeconds":0})", "admin");
    EXPECT_EQ(r.status, 404) << "nothing waits any more: " << r.body;

    // The vendor's own report through its plugin (emit_event of a flow message).
    const std::string second =
        submit("2023010001", R"({"item_id":"dorm-repair","form":{"building":"西区3号楼","room":"403",)"
                             R"("problem":"door","details":"门锁坏了","phone":"13800000000"}})");
    auto report = [&](const std::string& key) {
        return request("POST", "/api/v1/systems/logistics/operations/complete_work_order",
                       R"({"work_order_id":")" + key + R"("})", "admin");
    };
    // Kept when it comes before the wait (the order id is stored after the
    // plugin's answer), taken when the wait begins.
    r = report("WO-2");
    EXPECT_EQ(r.status, 200) << r.body << hubd_->output();
    EXPECT_EQ(application(second, "2023010001", "completed")->getValue<std::string>("status"), "completed");
    EXPECT_EQ(report("WO-2").status, 404) << "reported twice (the same message id)";
    EXPECT_EQ(request("POST", "/admin/flows/messages", R"({"name":""})", "admin").status, 400);
    EXPECT_EQ(request("POST", "/admin/flows/messages", R"({"name":"x","correlationKey":[1]})", "admin").status, 400);
    EXPECT_EQ(callCount("logistics", "create_work_order"), 2);
}

// The vendor reports the order done before the hub waits for it (its answer
// to create_work_order still on the way): the message is kept for its
// time-to-live and the wait takes it when it begins, once. Hostile
// publications are refused and keep nothing; an unused one expires, counted.
TEST_F(ShippedFlowsRunTest, DormRepairCompletionReportedBeforeTheWaitIsKeptAndTakenOnce) {
    start();
    auto publish = [&](const std::string& body) { return request("POST", "/admin/flows/messages", body, "admin"); };
    const std::string bad = std::string(R"({"name":"logistics.work_order_completed","correlationKey":"WO-1",)") +
                            R"("variables":{"repair_note":")" + "\xe4\xbf" + R"("}})";
    const std::string huge = R"({"name":"logistics.work_order_completed","correlationKey":"WO-1",)"
                             R"("variables":{"repair_note":")" + std::string(70 * 1024, 'x') + R"("}})";
    for (const std::string& hostile :
         {bad, huge, std::string(R"({"correlationKey":"WO-1"})"), std::string(R"({"name":"logistics.work_order_completed"})"),
          std::string(R"({"name":"logistics.work_order_completed","correlationKey":"WO-1","ttlSeconds":-5})"),
          std::string(R"({"name":"logistics.work_order_completed","correlationKey":"WO-1","ttlSeconds":"1h"})"),
          std::string(R"({"name":"logistics.work_order_completed","correlationKey":"WO-1","ttlSeconds":99999999999})"),
          std::string(R"({"name":"logistics.work_order_completed","correlationKey":"WO-1","messageId":")") +
              std::string(201, 'm') + "\"}",
          std::string(R"({"name":"logistics.work_order_completed","correlationKey":"WO-1","variables":[1]})"),
          std::string("[1,2]"), std::string("{\"name\":")}) {
        auto r = publish(hostile);
        EXPECT_TRUE(r.status == 400 || r.status == 413) << r.status << " " << r.body.substr(0, 300);
    }

    auto kept = publish(R"({"name":"logistics.work_order_completed","correlationKey":"WO-1",)"
                        R"("messageId":"wo-1-done","variables":{"repair_note":"提前修好了"}})");
    ASSERT_EQ(kept.status, 202) << kept.body;
    EXPECT_EQ(parse(kept.body)->getValue<std::string>("status"), "buffered");
    EXPECT_GT(parse(kept.body)->getValue<Poco::Int64>("expiresAt"), 0);
    auto again = publish(R"({"name":"logistics.work_order_completed","correlationKey":"WO-1","messageId":"wo-1-done"})");
    EXPECT_EQ(again.status, 409) << again.body;
    EXPECT_NE(again.body.find("duplicate-message"), std::string::npos) << again.body;

    const std::string id =
        submit("2023010001", R"({"item_id":"dorm-repair","form":{"building":"西区3号楼","room":"402",)"
                             R"("problem":"plumbing","details":"水管漏水","phone":"13800000000"}})");
    EXPECT_EQ(application(id, "2023010001", "completed")->getValue<std::string>("status"), "completed");
    auto flow = request("GET", "/api/v1/applications/" + id + "/flow", "", "2023010001");
    EXPECT_NE(flow.body.find("logistics.work_order_completed"), std::string::npos) << flow.body;
    EXPECT_EQ(publish(R"({"name":"logistics.work_order_completed","correlationKey":"WO-1","messageId":"wo-1-done"})")
                  .status,
              409);

    // One for an order no flow ever waits for: dropped when its second is up, and counted.
    ASSERT_EQ(publish(R"({"name":"logistics.work_order_completed","correlationKey":"WO-404","ttlSeconds":1})").status,
              202);
    std::string metrics;
    ASSERT_TRUE(hub::test::waitUntil(
        [&] {
            metrics = httpRequest("GET", hubd_->url("/metrics"), "", {}).body;
            return metrics.find("hub_flow_messages_expired_total 1") != std::string::npos;
        },
        std::chrono::seconds(20), std::chrono::milliseconds(100)))
        << metrics.substr(0, 2000);
    EXPECT_NE(metrics.find("hub_flow_messages_buffered 0"), std::string::npos);
    EXPECT_EQ(callCount("logistics", "create_work_order"), 1);
}

// The interrupting timer on the wait: after its duration the logistics clerk
// follows the order up, and the flow waits for the message again.
TEST_F(ShippedFlowsRunTest, DormRepairOverdueMovesToTheLogisticsClerkAndWaitsAgain) {
    start("PT1S");
    const std::string id =
        submit("2023010001", R"({"item_id":"dorm-repair","form":{"building":"东区1号楼","room":"101",)"
                             R"("problem":"electrical","details":"停电","phone":"13900000000"}})");
    complete(taskOf("log.1", id, "Task_FollowUp"), "log.1", "approve", "已督办");
    // The wait began again (and may time out again meanwhile): the message
    // ends it, taken at once (200) or kept for the wait's next start (202).
    ASSERT_TRUE(hub::test::waitUntil(
        [&] {
            auto r = request("POST", "/admin/flows/messages",
                             R"({"name":"logistics.work_order_completed","correlationKey":"WO-1"})", "admin");
            if (r.status == 200 || r.status == 202) return true;
            auto items = parse(request("GET", "/api/v1/tasks", "", "log.1").body)->getArray("items");
            for (std::size_t n = 0; items && n < items->size(); ++n)
                complete(items->getObject(static_cast<unsigned>(n))->getValue<std::string>("id"), "log.1", "approve");
            return false;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(100)));
    EXPECT_EQ(application(id, "2023010001", "completed")->getValue<std::string>("status"), "completed");
    EXPECT_EQ(callCount("logistics", "create_work_order"), 1);
}

// 用印申请: sequential reviews; a reminder on the office's review.
TEST_F(ShippedFlowsRunTest, SealUseSequentialReviewsWithAReminderThenSealed) {
    start("PT1S");
    const std::string id = submit("t.wang", R"({"item_id":"seal-use","form":{"purpose":"合作协议用印","copies":2,)"
                                            R"("seal-type":"university"},"materials":["document"]})");
    complete(taskOf("head.phys", id, "Task_UnitReview"), "head.phys", "approve");
    const std::string office = taskOf("po.1", id, "Task_OfficeReview");
    // The reminder fires and leaves the task open.
    ASSERT_TRUE(hub::test::waitUntil(
        [&] {
            return request("GET", "/api/v1/applications/" + id + "/flow", "", "t.wang").body.find("\"reminded\"") !=
                   std::string::npos;
        },
        std::chrono::seconds(20), std::chrono::milliseconds(100)));
    complete(office, "po.1", "approve");
    complete(taskOf("po.1", id, "Task_Seal"), "po.1", "approve", "已用印");
    EXPECT_EQ(application(id, "t.wang", "completed")->getValue<std::string>("status"), "completed");
}

// 研究生请假: the supervisor on the form, then over 7 days the graduate school;
// a return goes to the student and back to the supervisor.
TEST_F(ShippedFlowsRunTest, GraduateLeaveSupervisorThenGraduateSchoolWithAReturn) {
    start();
    const std::string id =
        submit("2023010001", R"({"item_id":"graduate-leave","form":{"leave_type":"academic","from":"2026-12-01",)"
                             R"("to":"2026-12-10","days":10,"supervisor_id":"sup.1","reason":"参加学术会议",)"
                             R"("phone":"13800000000"}})");
    complete(taskOf("sup.1", id, "Task_SupervisorReview"), "sup.1", "return_for_supplement", "请附会议通知");
    EXPECT_EQ(application(id, "2023010001", "needs_supplement")->getValue<std::string>("status"), "needs_supplement");
    complete(taskOf("2023010001", id, "Task_Supplement"), "2023010001", "approve", "已附会议通知");
    complete(taskOf("sup.1", id, "Task_SupervisorReview"), "sup.1", "approve");
    complete(taskOf("gs.1", id, "Task_SchoolReview"), "gs.1", "approve");
    EXPECT_EQ(application(id, "2023010001", "approved")->getValue<std::string>("status"), "approved");
}

// 访问学者接待: the host unit, then three offices in parallel; the invitation once.
TEST_F(ShippedFlowsRunTest, VisitingScholarHostUnitThenThreeOfficesThenTheInvitation) {
    start();
    const std::string id =
        submit("t.wang", R"({"item_id":"visiting-scholar","form":{"scholar_name":"John Smith","nationality":"英国",)"
                         R"("institution":"University of Oxford","arrival":"2026-12-01","departure":"2026-12-20"},)"
                         R"("materials":["passport-copy","cv","programme"]})");
    complete(taskOf("head.phys", id, "Task_HostReview"), "head.phys", "approve");
    complete(taskOf("io.1", id, "Task_InternationalReview"), "io.1", "approve");
    complete(taskOf("sec.1", id, "Task_SecurityReview"), "sec.1", "approve");
    EXPECT_EQ(callCount("international", "issue_invitation"), 0);
    complete(taskOf("log.1", id, "Task_Accommodation"), "log.1", "approve");
    EXPECT_EQ(application(id, "t.wang", "completed")->getValue<std::string>("status"), "completed");
    EXPECT_EQ(callCount("international", "issue_invitation"), 1);
    EXPECT_EQ(calls("international")->getObject("keys")->optValue<int>("issue_invitation", 0), 1);
}
