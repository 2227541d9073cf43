// sql_query, the host service over connectors/sql: a plugin names a data source
// IT configured for it and gets rows as JSON; it never sees the DSN or secret.
// The query runs on the plugin's thread (on the offload workers when the
// plugin runs on an event loop), bounded by the call's deadline.
#include "HostServices.h"
#include "OffLoop.h"

#include "hub/common/Exceptions.h"
#include "hub/common/JsonWriter.h"
#include "hub/sql/Sources.h"

#include <Poco/Logger.h>

namespace hub::host {

namespace {

constexpr std::chrono::seconds kNoCallTimeout{30};

void answer(ch_sink sink, ch_status status, const std::string& body) noexcept {
    sink.fn(sink.ctx, status, body.data(), body.size());
}

std::string problem(std::string_view category, std::string_view detail, std::string_view sqlState = {}) {
    std::string out = "{\"detail\":";
    json::appendString(out, detail);
    out += ",\"category\":";
    json::appendString(out, category);
    if (!sqlState.empty()) {
        out += ",\"sqlstate\":";
        json::appendString(out, sqlState);
    }
    return out + "}";
}

ch_status statusOf(sql::Failure f) {
    switch (f) {
        case sql::Failure::InvalidRequest: return CH_ERR_INVALID_ARGUMENT;
        case sql::Failure::Unavailable: return CH_ERR_UNAVAILABLE;
        case sql::Failure::Timeout: return CH_ERR_TIMEOUT;
        case sql::Failure::Permission: return CH_ERR_PERMISSION;
        case sql::Failure::BadQuery:
        case sql::Failure::BadAnswer: return CH_ERR_INTERNAL;
    }
    return CH_ERR_INTERNAL;
}

void sqlQuery(ch_host* host, ch_call* call, ch_buffer source, ch_buffer statement, ch_buffer params, ch_sink sink) {
    if (!host || !host->services.sql)
        return answer(sink, CH_ERR_UNAVAILABLE, problem("unavailable", "this hub has no SQL data sources"));
    const std::string name(view(source).substr(0, 64));
    sql::DataSource* ds = host->services.sql->find(name);
    // One answer for "no such source" and "not yours": a plugin learns nothing of
    // the sources configured for others.
    if (!ds || !sql::Sources::allows(*ds, host->name)) {
        if (host->services.logger)
            host->services.logger->warning("sql_query refused: data source '%s' is not configured for this plugin",
                                           name);
        return answer(sink, CH_ERR_PERMISSION,
                      problem("permission", "data source '" + name + "' is not configured for plugin " + host->name));
    }
    const Clock::time_point deadline = call ? call->deadline : Clock::now() + kNoCallTimeout;
    if (Clock::now() >= deadline)
        return answer(sink, CH_ERR_TIMEOUT, problem("timeout", "the call's deadline has passed"));
    try {
        std::string rows = offLoop(host->services, [&] { return ds->query(view(statement), view(params), deadline); });
        answer(sink, CH_OK, rows);
    } catch (const sql::QueryError& e) {
        answer(sink, statusOf(e.failure()), problem(sql::toString(e.failure()), e.what(), e.sqlState()));
    }
}

}  // namespace

void hostSqlQuery(ch_host* host, ch_call* call, ch_buffer source, ch_buffer sql, ch_buffer params,
                  ch_sink sink) noexcept {
    try {
        sqlQuery(host, call, source, sql, params, sink);
    } catch (...) {
        try {
            if (host && host->services.logger) host->services.logger->error("sql_query failed: " + currentExceptionText());
        } catch (...) {
        }
        static constexpr std::string_view kFailed =
            R"({"detail":"unexpected failure in the SQL service","category":"bad_answer"})";
        sink.fn(sink.ctx, CH_ERR_INTERNAL, kFailed.data(), kFailed.size());
    }
}

}  // namespace hub::host
