// Reference adapter for a finance system read through SQL views (财务系统): the
// model for a vendor whose system offers no API, only a database. The vendor
// publishes views for the hub (cw.v_hub_reimbursement, cw.v_hub_budget) and an
// interface table it reads requests from (cw.hub_cuiban); campus IT configures
// the data sources in hub.xml (sql/sources/<name>: DSN, account, secret, pool,
// read-only or not) and names this plugin there. The plugin names the source,
// binds every value as a parameter, and never sees the DSN or the secret.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <cctype>
#include <map>
#include <string>

namespace {

using campushub::json::Document;
using campushub::json::Value;

// The statements. Every value is a $n parameter: nothing from a caller is ever
// written into the SQL text.
constexpr std::string_view kClaim =
    "SELECT claim_no, applicant_name, amount, status_code, status_name, submitted_at, approved_at, remark "
    "FROM cw.v_hub_reimbursement WHERE claim_no = $1 AND applicant_id = $2";
constexpr std::string_view kClaims =
    "SELECT claim_no, applicant_name, amount, status_code, status_name, submitted_at, approved_at, remark "
    "FROM cw.v_hub_reimbursement WHERE applicant_id = $1 ORDER BY submitted_at DESC NULLS LAST, claim_no LIMIT 100";
constexpr std::string_view kBudget =
    "SELECT project_code, project_name, budget, spent, frozen, balance "
    "FROM cw.v_hub_budget WHERE project_code = $1 AND leader_id = $2";
// The vendor's interface table takes each request once per key (a UNIQUE
// hub_key): a retried call inserts nothing and finds the first row.
constexpr std::string_view kUrge =
    "INSERT INTO cw.hub_cuiban (djbh, sqr_gh, hub_key, bz) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (hub_key) DO NOTHING RETURNING id, djbh";
constexpr std::string_view kUrgeAgain = "SELECT id, djbh FROM cw.hub_cuiban WHERE hub_key = $1";

// The vendor's status codes (cw.zt_dm), as the portal's words.
const std::map<std::int64_t, std::string>& statusWords() {
    static const std::map<std::int64_t, std::string> words = {
        {0, "draft"}, {1, "submitted"}, {2, "in_review"}, {3, "approved"}, {4, "paid"}, {9, "returned"}};
    return words;
}

std::string requireCode(const Value& input, const std::string& field) {
    std::string value = campushub::json::requireString(input, field, 32);
    for (char c : value)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            throw campushub::InvalidArgument(field + " may hold only letters, digits, '-' and '_'");
    return value;
}

std::string params(std::initializer_list<std::string_view> values) {
    campushub::json::Writer w;
    w.array();
    for (auto v : values) w.string(v);
    w.end();
    return w.str();
}

/// The hub's SQL failure as this adapter's answer: fixed words and the SQLSTATE,
/// never the database's own message (it may quote the schema) or the DSN.
campushub::Error vendorError(const campushub::Host& host, const campushub::Error& e) {
    std::string category = "bad_answer", state;
    try {
        Document d = campushub::json::parseObject(e.what());
        category = campushub::json::optionalString(d, "category", category, 64);
        state = campushub::json::optionalString(d, "sqlstate", "", 16);
    } catch (const campushub::Error&) {
    }
    host.warning(std::string("finance source failed: ") + e.what());
    const std::string code = state.empty() ? "" : " (SQLSTATE " + state + ")";
    if (category == "timeout") return campushub::Timeout("the finance system did not answer in time");
    if (category == "unavailable") return campushub::Unavailable("the finance system is unavailable" + code);
    if (category == "permission")
        return campushub::Unavailable("the finance system refused the hub's access; campus IT must check the "
                                      "data source's grants" + code);
    if (category == "bad_query")
        return campushub::Error(CH_ERR_INTERNAL,
                                "the finance system's views do not match this adapter" + code);
    return campushub::Error(CH_ERR_INTERNAL, "the finance system answered with data the hub cannot read" + code);
}

/// The column's type as the view declares it; 502 when the vendor changed it.
void expectType(const Value& answer, std::string_view column, std::initializer_list<std::string_view> types) {
    const Value* columns = campushub::json::member(answer, "columns");
    if (columns && columns->IsArray())
        for (const auto& c : columns->GetArray()) {
            const Value* name = campushub::json::member(c, "name");
            const Value* type = campushub::json::member(c, "type");
            if (!name || !name->IsString() || std::string_view(name->GetString()) != column) continue;
            for (auto t : types)
                if (type && type->IsString() && std::string_view(type->GetString()) == t) return;
            throw campushub::Error(CH_ERR_INTERNAL, "the finance system's view gives " + std::string(column) +
                                                        " an unexpected type");
        }
    throw campushub::Error(CH_ERR_INTERNAL, "the finance system's view lacks " + std::string(column));
}

/// The answer's rows (the hub always sends them; a missing array is a broken answer).
const Value& rowsOf(const Document& answer) {
    const Value* rows = campushub::json::member(answer, "rows");
    if (!rows || !rows->IsArray()) throw campushub::Error(CH_ERR_INTERNAL, "the hub's SQL answer has no rows");
    return *rows;
}

void copyText(campushub::json::Writer& out, const Value& row, std::string_view field) {
    out.key(field);
    const Value* v = campushub::json::member(row, field);
    if (v && v->IsString()) out.string(std::string_view(v->GetString(), v->GetStringLength()));
    else out.null();
}

class FinancePlugin : public campushub::Plugin {
public:
    FinancePlugin(campushub::Host& host, std::string_view /*config*/) : Plugin(host) {
        source_ = host.config("source").value_or("finance");
        writeSource_ = host.config("write_source").value_or("");
        operation("reimbursement_status", "A reimbursement claim's status, or the caller's claims",
                  [this](campushub::Call& call, std::string_view input) { return reimbursement(call, input); });
        operation("budget_balance", "A research project's budget and balance",
                  [this](campushub::Call& call, std::string_view input) { return budget(call, input); });
        operation("urge_reimbursement", "Asks the finance office to hurry a claim (催办); once per idempotency key",
                  [this](campushub::Call& call, std::string_view input) { return urge(call, input); });
    }

    std::string health() override { return R"({"status":"up"})"; }

private:
    Document query(campushub::Call& call, const std::string& source, std::string_view sql, const std::string& args) {
        std::string answer;
        try {
            answer = host().sqlQuery(&call, source, sql, args);
        } catch (const campushub::Error& e) {
            throw vendorError(host(), e);
        }
        return campushub::json::parseObject(answer);
    }

    std::string reimbursement(campushub::Call& call, std::string_view input) {
        const Document request = campushub::json::parseObject(input);
        const std::string applicant = requireCode(request, "applicant_id");
        const bool one = campushub::json::member(request, "claim_no") != nullptr;
        const Document answer = one ? query(call, source_, kClaim, params({requireCode(request, "claim_no"), applicant}))
                                    : query(call, source_, kClaims, params({applicant}));
        expectType(answer, "amount", {"numeric"});
        expectType(answer, "status_code", {"int2", "int4"});
        const Value& rows = rowsOf(answer);
        if (one && rows.Empty()) throw campushub::NotFound("no reimbursement claim of that number for this applicant");
        campushub::json::Writer out;
        if (!one) out.object().key("claims").array();
        for (const auto& row : rows.GetArray()) {
            out.object();
            for (auto field : {"claim_no", "applicant_name", "amount"}) copyText(out, row, field);
            out.key("currency").string("CNY");
            const Value* code = campushub::json::member(row, "status_code");
            auto word = code && code->IsInt64() ? statusWords().find(code->GetInt64()) : statusWords().end();
            out.key("status").string(word == statusWords().end() ? "unknown" : word->second);
            for (auto field : {"status_name", "submitted_at", "approved_at", "remark"}) copyText(out, row, field);
            out.end();
        }
        if (!one) out.end().end();
        return out.str();
    }

    std::string budget(campushub::Call& call, std::string_view input) {
        const Document request = campushub::json::parseObject(input);
        const std::string project = requireCode(request, "project_code");
        const std::string leader = requireCode(request, "leader_id");
        const Document answer = query(call, source_, kBudget, params({project, leader}));
        for (auto column : {"budget", "spent", "frozen", "balance"}) expectType(answer, column, {"numeric"});
        const Value& rows = rowsOf(answer);
        if (rows.Empty()) throw campushub::NotFound("no project of that code led by this person");
        campushub::json::Writer out;
        out.object();
        for (auto field : {"project_code", "project_name", "budget", "spent", "frozen", "balance"})
            copyText(out, rows[0], field);
        out.key("currency").string("CNY").end();
        return out.str();
    }

    std::string urge(campushub::Call& call, std::string_view input) {
        if (writeSource_.empty())
            throw campushub::Unavailable("urging is not set up: campus IT has named no write_source for finance");
        const Document request = campushub::json::parseObject(input);
        const std::string applicant = requireCode(request, "applicant_id");
        const std::string claim = requireCode(request, "claim_no");
        const std::string note = campushub::json::optionalString(request, "note", "", 500);
        const std::string_view key = call.idempotencyKey();
        if (key.empty())
            throw campushub::InvalidArgument("send an Idempotency-Key header: an urge is recorded once per key");
        // The claim must be the caller's own; read through the read-only source.
        const Document claimRow = query(call, source_, kClaim, params({claim, applicant}));
        if (rowsOf(claimRow).Empty()) throw campushub::NotFound("no reimbursement claim of that number for this applicant");
        Document inserted = query(call, writeSource_, kUrge, params({claim, applicant, key, note}));
        bool replayed = rowsOf(inserted).Empty();
        if (replayed) inserted = query(call, writeSource_, kUrgeAgain, params({key}));
        if (rowsOf(inserted).Empty()) throw campushub::Error(CH_ERR_INTERNAL, "the finance system lost the urge request");
        const Value& row = rowsOf(inserted)[0];
        const Value* urged = campushub::json::member(row, "djbh");
        if (!urged || !urged->IsString() || claim != urged->GetString())
            throw campushub::Conflict("the Idempotency-Key was already used to urge another claim");
        const Value* id = campushub::json::member(row, "id");
        if (!id || !id->IsInt64()) throw campushub::Error(CH_ERR_INTERNAL, "the finance system's urge id is not a number");
        campushub::json::Writer out;
        out.object().key("urge_id").integer(id->GetInt64()).key("claim_no").string(claim).key("replayed").boolean(replayed).end();
        return out.str();
    }

    std::string source_, writeSource_;
};

}  // namespace

// sql_query it cannot work without; call_idempotency_key keeps an urge single.
CAMPUSHUB_PLUGIN_REQUIRES(FinancePlugin, "finance", "1.1.0", "sql_query", "call_idempotency_key")
