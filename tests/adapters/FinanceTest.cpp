// The finance adapter end to end: a private PostgreSQL holding the vendor's
// schema and views (tests/sim/finance), hubd with the data sources in hub.xml,
// every call through hubd's HTTP API. Vendor errors are made the way they
// happen: a view dropped or changed, a grant revoked, the server stopped or
// slow, a row in the wrong encoding; the server is asked what really ran.
#include "AdapterHub.h"
#include "../sim/finance/FinanceVendor.h"

#include <gtest/gtest.h>

#include <future>
#include <set>

using hub::test::HttpResponse;
using hub::test::TempDir;
using hub::test::waitUntil;
using hub::test::adapters::AdapterHub;
using hub::test::adapters::parse;
using hub::test::finance::FinanceVendor;

namespace {

const std::string kTeacher = "T2001001";
const std::string kStudent = "2023010001";

class Finance : public ::testing::Test {
protected:
    void SetUp() override { vendor_ = std::make_unique<FinanceVendor>(HUB_FINANCE_SCHEMA); }

    void startHub(const std::string& pluginXml = {}, bool writable = true, const std::string& isolation = "inproc") {
        AdapterHub::Setup setup;
        setup.plugins = {"finance"};
        setup.pluginsXml = "<plugin name=\"finance\"><timeoutMs>2000</timeoutMs><concurrency>16</concurrency>"
                           "<failureThreshold>100000</failureThreshold><isolation>" + isolation +
                           "</isolation><config><write_source>finance_rw</write_source>" + pluginXml +
                           "</config></plugin>";
        setup.peopleXml = "<person id=\"T2001001\" name=\"王老师\" audience=\"teacher\"/>"
                          "<person id=\"2023010001\" name=\"张三\" audience=\"student\"/>"
                          "<person id=\"clerk.cwc\" name=\"财务处\" audience=\"staff\" roles=\"dept:finance:clerk\"/>";
        setup.moreXml = vendor_->sqlXml("finance", writable);
        hub_ = std::make_unique<AdapterHub>(dir_, setup);
    }

    HttpResponse claim(const std::string& subject, const std::string& body, const std::string& key = {}) {
        return hub_->call(subject, "finance", "reimbursement_status", body, 20000, key);
    }

    // A failed call's problem+json: the status, a part of its detail, and none of
    // the SQL, the schema, the DSN or the secrets.
    void expectProblem(const HttpResponse& r, int status, const std::string& part) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_NE(r.body.find(part), std::string::npos) << r.body;
        for (const char* leak : {"SELECT", "cw.", "v_hub", "host=", "127.0.0.1", "dbname", "hub_reader", "secret",
                                 "port="})
            EXPECT_EQ(r.body.find(leak), std::string::npos) << leak << " in " << r.body;
    }

    long count(const std::string& sql) { return std::stol(vendor_->sql(sql)); }

    TempDir dir_{"finance-test"};
    std::unique_ptr<FinanceVendor> vendor_;
    std::unique_ptr<AdapterHub> hub_;
};

const std::string kClaim = R"({"applicant_id":"T2001001","claim_no":"BX202609001"})";

}  // namespace

TEST_F(Finance, ReadsClaimsAndBudgetsThroughTheViews) {
    startHub();
    auto r = claim(kTeacher, kClaim);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body,
              R"({"claim_no":"BX202609001","applicant_name":"王老师","amount":"3560.80","currency":"CNY",)"
              R"("status":"paid","status_name":"已支付","submitted_at":"2026-09-01 09:30:00",)"
              R"("approved_at":"2026-09-05 15:00:00","remark":"差旅费：北京学术会议"})");
    auto list = claim(kTeacher, R"({"applicant_id":"T2001001"})");
    ASSERT_EQ(list.status, 200) << list.body;
    auto claims = parse(list.body)->getArray("claims");
    ASSERT_EQ(claims->size(), 2u);
    EXPECT_EQ(claims->getObject(0)->getValue<std::string>("claim_no"), "BX202609002");
    EXPECT_EQ(claims->getObject(0)->getValue<std::string>("status"), "in_review");
    EXPECT_TRUE(claims->getObject(0)->isNull("approved_at"));

    auto budget = hub_->call(kTeacher, "finance", "budget_balance",
                             R"({"project_code":"KY2026-017","leader_id":"T2001001"})");
    ASSERT_EQ(budget.status, 200) << budget.body;
    EXPECT_EQ(budget.body, R"({"project_code":"KY2026-017","project_name":"面向高校一站式服务的数据治理研究",)"
                           R"("budget":"500000.00","spent":"123456.78","frozen":"20000.00","balance":"356543.22",)"
                           R"("currency":"CNY"})");

    // Someone else's claim: refused by the hub before the plugin runs; a clerk may read it.
    expectProblem(claim(kStudent, kClaim), 403, "");
    EXPECT_EQ(claim("clerk.cwc", kClaim).status, 200);
    // Not this applicant's claim number: not found, not someone else's data.
    expectProblem(claim(kStudent, R"({"applicant_id":"2023010001","claim_no":"BX202609001"})"), 404, "no reimbursement");
    // Hostile input never reaches the database as SQL.
    expectProblem(claim(kTeacher, R"({"applicant_id":"T2001001","claim_no":"x' OR '1'='1"})"), 400, "claim_no");
    expectProblem(claim(kTeacher, R"({"applicant_id":"T2001001","claim_no":"报销单"})"), 400, "claim_no");
    expectProblem(claim(kTeacher, R"({"applicant_id":"T2001001","claim_no":12})"), 400, "claim_no");
    expectProblem(claim(kTeacher, R"({"applicant_id":"T2001001","claim_no":")" + std::string(5000, 'A') + "\"}"), 400,
                  "claim_no");
    // Not an object: no applicant_id for the self-binding, so the hub refuses it first.
    EXPECT_EQ(claim(kTeacher, "[1,2]").status, 403);
    EXPECT_EQ(claim(kTeacher, "{\"applicant_id\":\"T2001001\",\"claim_no\":\"\xff\"}").status, 400);
}

TEST_F(Finance, VendorErrorsAreMappedAndLeakNothing) {
    startHub();
    ASSERT_EQ(claim(kTeacher, kClaim).status, 200);
    // The vendor dropped the view: its schema no longer matches the adapter.
    vendor_->sql("ALTER VIEW cw.v_hub_reimbursement RENAME TO v_hub_reimbursement_old");
    expectProblem(claim(kTeacher, kClaim), 502, "SQLSTATE 42P01");
    vendor_->sql("ALTER VIEW cw.v_hub_reimbursement_old RENAME TO v_hub_reimbursement");
    // The hub's account lost its grant: IT's to fix, not the caller's.
    vendor_->sql("REVOKE SELECT ON cw.v_hub_reimbursement FROM hub_reader");
    expectProblem(claim(kTeacher, kClaim), 503, "SQLSTATE 42501");
    vendor_->sql("GRANT SELECT ON cw.v_hub_reimbursement TO hub_reader");
    // An SQL error inside the vendor's view (a division by zero).
    vendor_->sql("CREATE OR REPLACE VIEW cw.v_hub_budget AS SELECT xmbh AS project_code, xmmc AS project_name,"
                 " fzr_gh AS leader_id, ysje AS budget, yzje AS spent, djje AS frozen,"
                 " (ysje - yzje - djje) / (djje - djje) AS balance FROM cw.xm_main");
    expectProblem(hub_->call(kTeacher, "finance", "budget_balance", R"({"project_code":"KY2026-017","leader_id":"T2001001"})"),
                  502, "SQLSTATE 22012");
    // Malformed answers: a column of the wrong type, a row in GBK in a SQL_ASCII database.
    vendor_->sql("DROP VIEW cw.v_hub_reimbursement; CREATE VIEW cw.v_hub_reimbursement AS SELECT m.djbh AS claim_no,"
                 " m.sqr_gh AS applicant_id, m.sqr_xm AS applicant_name, m.bxje::text AS amount, m.zt AS status_code,"
                 " '?'::text AS status_name, m.tjrq AS submitted_at, m.shrq AS approved_at, m.bz AS remark"
                 " FROM cw.bx_main m; GRANT SELECT ON cw.v_hub_reimbursement TO hub_reader");
    expectProblem(claim(kTeacher, kClaim), 502, "unexpected type");
    vendor_->sql("UPDATE cw.bx_main SET sqr_xm = convert_from('\\xcdf5c0cfcaa6'::bytea, 'SQL_ASCII')"
                 " WHERE djbh = 'BX202609001'");
    expectProblem(claim(kTeacher, kClaim), 502, "cannot read");
    // Nothing stored was touched by any of it.
    EXPECT_EQ(count("SELECT count(*) FROM cw.bx_main"), 3);
}

TEST_F(Finance, VendorDownIsUnavailableAndBackWhenItRestarts) {
    startHub();
    ASSERT_EQ(claim(kTeacher, kClaim).status, 200);
    vendor_->server().stop();
    // 503, not 504: the hub does not wait for the deadline of a server that is gone.
    expectProblem(claim(kTeacher, kClaim), 503, "unavailable");
    expectProblem(claim(kTeacher, kClaim), 503, "unavailable");
    vendor_->server().start();
    auto r = claim(kTeacher, kClaim);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(hub_->process().output().find("reader-secret"), std::string::npos);
}

TEST_F(Finance, VendorSlowTimesOutAndTheStatementIsCancelledOnTheServer) {
    startHub();
    vendor_->sql("CREATE FUNCTION cw.slow() RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(30); SELECT true';"
                 "CREATE OR REPLACE VIEW cw.v_hub_reimbursement AS SELECT m.djbh AS claim_no, m.sqr_gh AS applicant_id,"
                 " m.sqr_xm AS applicant_name, m.bxje AS amount, m.zt AS status_code, d.mc AS status_name,"
                 " m.tjrq AS submitted_at, m.shrq AS approved_at, m.bz AS remark"
                 " FROM cw.bx_main m JOIN cw.zt_dm d ON d.dm = m.zt WHERE cw.slow()");
    expectProblem(claim(kTeacher, kClaim), 504, "");
    // The statement does not run on after the hub gave up.
    EXPECT_TRUE(waitUntil([&] {
        return count("SELECT count(*) FROM pg_stat_activity WHERE usename = 'hub_reader' AND state = 'active'") == 0;
    })) << vendor_->sql("SELECT usename, state, query FROM pg_stat_activity");
    // The pool is still usable: the budget view is not slow.
    EXPECT_EQ(hub_->call(kTeacher, "finance", "budget_balance", R"({"project_code":"KY2026-017","leader_id":"T2001001"})")
                  .status,
              200);
}

TEST_F(Finance, RetryStormUrgesOnce) {
    startHub();
    const std::string urge = R"({"applicant_id":"T2001001","claim_no":"BX202609002","note":"请尽快审核"})";
    std::vector<std::future<HttpResponse>> calls;
    for (int i = 0; i < 20; ++i)
        calls.push_back(std::async(std::launch::async, [&] {
            return hub_->call(kTeacher, "finance", "urge_reimbursement", urge, 20000, "u-1");
        }));
    // The hub keeps the key (CallKeys): one call reaches the plugin; a retry
    // while it is in flight gets 409, one after it the stored answer.
    std::set<long> ids;
    int inFlight = 0;
    for (auto& f : calls) {
        auto r = f.get();
        if (r.status == 409 && r.header("Retry-After") == "1") {
            ++inFlight;
            continue;
        }
        ASSERT_EQ(r.status, 200) << r.body;
        ids.insert(parse(r.body)->getValue<long>("urge_id"));
    }
    EXPECT_LT(inFlight, 20);
    auto again = hub_->call(kTeacher, "finance", "urge_reimbursement", urge, 20000, "u-1");
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    ids.insert(parse(again.body)->getValue<long>("urge_id"));
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(count("SELECT count(*) FROM cw.hub_cuiban"), 1);
    EXPECT_EQ(vendor_->sql("SELECT bz FROM cw.hub_cuiban"), "请尽快审核\n");
    // Another key is another request; the same key for another claim is a conflict.
    EXPECT_EQ(hub_->call(kTeacher, "finance", "urge_reimbursement", urge, 20000, "u-2").status, 200);
    auto other = hub_->call(kTeacher, "finance", "urge_reimbursement",
                            R"({"applicant_id":"T2001001","claim_no":"BX202609001"})", 20000, "u-1");
    expectProblem(other, 409, "Idempotency-Key");
    expectProblem(hub_->call(kTeacher, "finance", "urge_reimbursement", urge), 400, "Idempotency-Key");
    EXPECT_EQ(count("SELECT count(*) FROM cw.hub_cuiban"), 2);
}

TEST_F(Finance, AReadOnlySourceRefusesAWrite) {
    startHub({}, /*writable=*/false);
    // hub_writer may insert, but the source is read-only: the transaction refuses it.
    auto r = hub_->call(kTeacher, "finance", "urge_reimbursement",
                        R"({"applicant_id":"T2001001","claim_no":"BX202609002"})", 20000, "ro-1");
    expectProblem(r, 503, "SQLSTATE 25006");
    EXPECT_EQ(count("SELECT count(*) FROM cw.hub_cuiban"), 0);
}

TEST_F(Finance, WorksInAWorkerProcessAndOnlyWithItsOwnSources) {
    startHub({}, true, "process");
    auto r = claim(kTeacher, kClaim);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("差旅费"), std::string::npos);
    EXPECT_EQ(hub_->call(kTeacher, "finance", "urge_reimbursement",
                         R"({"applicant_id":"T2001001","claim_no":"BX202609002"})", 20000, "p-1")
                  .status,
              200);
    EXPECT_EQ(count("SELECT count(*) FROM cw.hub_cuiban"), 1);
    EXPECT_EQ(hub_->process().output().find("secret-"), std::string::npos);
}

TEST_F(Finance, ASourceNotConfiguredForThePluginIsRefused) {
    // The plugin names a source IT gave to another plugin only.
    AdapterHub::Setup setup;
    setup.plugins = {"finance"};
    setup.pluginsXml = "<plugin name=\"finance\"><config><source>finance</source></config></plugin>";
    setup.peopleXml = "<person id=\"T2001001\" name=\"王老师\" audience=\"teacher\"/>";
    setup.moreXml = vendor_->sqlXml("audit");
    hub_ = std::make_unique<AdapterHub>(dir_, setup);
    expectProblem(claim(kTeacher, kClaim), 503, "");
    EXPECT_EQ(claim(kTeacher, kClaim).body.find("audit"), std::string::npos);
}
