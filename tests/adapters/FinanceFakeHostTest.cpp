// The finance plugin against the SDK's fake host, as a vendor tests theirs: no
// hub, no database; sql_query answered from memory. What is checked here is the
// plugin's own part: the statements and bound parameters it sends, and how it
// turns each failure category of the host into a status and a detail that
// quotes no SQL.
#include <campushub/testing/fake_host.hpp>

#include <gtest/gtest.h>

using campushub::testing::FakeHost;
using campushub::testing::PluginLibrary;
using campushub::testing::Result;

namespace {

const std::string kRow =
    R"({"columns":[{"name":"claim_no","type":"varchar"},{"name":"applicant_name","type":"varchar"},)"
    R"({"name":"amount","type":"numeric"},{"name":"status_code","type":"int2"},{"name":"status_name","type":"varchar"},)"
    R"({"name":"submitted_at","type":"timestamp"},{"name":"approved_at","type":"timestamp"},{"name":"remark","type":"text"}],)"
    R"("rows":[{"claim_no":"BX1","applicant_name":"王老师","amount":"12.30","status_code":3,"status_name":"已审核",)"
    R"("submitted_at":"2026-09-01 09:30:00","approved_at":null,"remark":null}],"affected":1})";

const std::string kClaim = R"({"applicant_id":"T1","claim_no":"BX1"})";

}  // namespace

TEST(FinancePlugin, SendsBoundParametersAndMapsTheRows) {
    PluginLibrary library(std::string(FINANCE_PLUGIN) + "/libfinance.so");
    FakeHost host;
    std::string source, sql, params;
    host.onSql([&](const std::string& s, const std::string& q, const std::string& p) {
        source = s;
        sql = q;
        params = p;
        return Result{CH_OK, kRow, 1};
    });
    auto plugin = host.load(library);
    auto r = plugin.invoke("reimbursement_status", kClaim);
    ASSERT_TRUE(r.ok()) << r.body;
    EXPECT_EQ(source, "finance");
    EXPECT_EQ(params, R"(["BX1","T1"])");
    EXPECT_NE(sql.find("$1"), std::string::npos);
    EXPECT_EQ(sql.find("BX1"), std::string::npos);  // the value is bound, never in the text
    EXPECT_EQ(r.body, R"({"claim_no":"BX1","applicant_name":"王老师","amount":"12.30","currency":"CNY",)"
                      R"("status":"approved","status_name":"已审核","submitted_at":"2026-09-01 09:30:00",)"
                      R"("approved_at":null,"remark":null})");
}

TEST(FinancePlugin, TurnsEachFailureCategoryIntoAStatus) {
    PluginLibrary library(std::string(FINANCE_PLUGIN) + "/libfinance.so");
    FakeHost host;
    std::string answer;
    ch_status status = CH_OK;
    host.onSql([&](const std::string&, const std::string&, const std::string&) { return Result{status, answer, 1}; });
    auto plugin = host.load(library);
    auto expect = [&](ch_status given, const std::string& category, ch_status wanted) {
        status = given;
        answer = R"({"detail":"data source finance: relation \"cw.v_hub_reimbursement\" ...","category":")" +
                 category + R"(","sqlstate":"XX999"})";
        auto r = plugin.invoke("reimbursement_status", kClaim);
        EXPECT_EQ(r.status, wanted) << category << ": " << r.body;
        EXPECT_EQ(r.body.find("cw."), std::string::npos) << r.body;
    };
    expect(CH_ERR_TIMEOUT, "timeout", CH_ERR_TIMEOUT);
    expect(CH_ERR_UNAVAILABLE, "unavailable", CH_ERR_UNAVAILABLE);
    expect(CH_ERR_PERMISSION, "permission", CH_ERR_UNAVAILABLE);
    expect(CH_ERR_INTERNAL, "bad_query", CH_ERR_INTERNAL);
    expect(CH_ERR_INTERNAL, "bad_answer", CH_ERR_INTERNAL);
    expect(CH_ERR_INVALID_ARGUMENT, "invalid_request", CH_ERR_INTERNAL);
    // A view whose amount is no longer numeric, and an answer without rows.
    status = CH_OK;
    answer = R"({"columns":[{"name":"amount","type":"text"},{"name":"status_code","type":"int2"}],"rows":[],"affected":0})";
    EXPECT_EQ(plugin.invoke("reimbursement_status", kClaim).status, CH_ERR_INTERNAL);
    answer = R"({"columns":[{"name":"amount","type":"numeric"},{"name":"status_code","type":"int2"}]})";
    EXPECT_EQ(plugin.invoke("reimbursement_status", kClaim).status, CH_ERR_INTERNAL);
    // A hub without sql_query: the plugin says it cannot work, it does not crash.
    FakeHost old;
    old.table().sql_query = nullptr;
    EXPECT_THROW(old.load(library), std::runtime_error);
}
