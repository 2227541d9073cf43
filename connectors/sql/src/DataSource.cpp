// A PostgreSQL data source over libpq: the pool, the connect and the query,
// each bounded by the caller's deadline (libpq's non-blocking calls and poll(2);
// the blocking PQconnectdb and PQexec would wait past it).
#include "hub/sql/DataSource.h"

#include "Answer.h"
#include "Parameters.h"

#include <Poco/Logger.h>

#include <libpq-fe.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <condition_variable>
#include <mutex>
#include <poll.h>

namespace hub::sql {

namespace {

Poco::Logger& logger() {
    static Poco::Logger& l = Poco::Logger::get("hub.sql");
    return l;
}

/// libpq's message, first line, for the hub's log (never the answer).
std::string firstLine(const char* message) {
    std::string s = message ? message : "";
    s = s.substr(0, s.find('\n'));
    return s.substr(0, 300);
}

int millisecondsLeft(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 24LL * 3600 * 1000));
}

/// Waits until the connection's socket is readable (or writable); false when the deadline passed.
bool waitSocket(PGconn* c, bool forWrite, Clock::time_point deadline) {
    for (;;) {
        pollfd p{PQsocket(c), static_cast<short>(forWrite ? POLLOUT : POLLIN), 0};
        int left = millisecondsLeft(deadline);
        if (left == 0) return false;
        int n = ::poll(&p, 1, left);
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return true;  // let libpq find and report the error
    }
}

struct ConnectionFailed {};  // the connection broke under a query: maybe a stale pooled one

}  // namespace

struct DataSource::Pool {
    std::mutex mutex;
    std::condition_variable released;
    std::vector<PGconn*> idle;
    std::size_t open = 0;

    ~Pool() {
        for (PGconn* c : idle) PQfinish(c);
    }
};

const char* toString(Failure failure) noexcept {
    switch (failure) {
        case Failure::InvalidRequest: return "invalid_request";
        case Failure::Unavailable: return "unavailable";
        case Failure::Timeout: return "timeout";
        case Failure::BadQuery: return "bad_query";
        case Failure::Permission: return "permission";
        case Failure::BadAnswer: return "bad_answer";
    }
    return "unavailable";
}

Failure failureOf(const std::string& state) noexcept {
    if (state == "57014") return Failure::Timeout;  // query_canceled: statement_timeout or our cancel
    if (state == "42501" || state == "25006" || state.rfind("28", 0) == 0) return Failure::Permission;
    // The server's own check of what it sends: bytes of a SQL_ASCII database that
    // are not UTF-8 (our parameters are checked before they leave).
    if (state == "22021" || state == "22P05") return Failure::BadAnswer;
    // connection exceptions, shutdown, too many connections, out of resources, a
    // serialization failure or deadlock: the database, not the statement; try again later.
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || state.rfind("53", 0) == 0 ||
        state.rfind("40", 0) == 0 || state.rfind("58", 0) == 0 || state == "XX000")
        return Failure::Unavailable;
    return Failure::BadQuery;
}

void validate(const SourceOptions& o) {
    const bool goodName = !o.name.empty() && o.name.size() <= 64 &&
                          std::all_of(o.name.begin(), o.name.end(), [](char c) {
                              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                          });
    if (!goodName)
        throw std::invalid_argument("data source name '" + o.name.substr(0, 80) + "' must be 1-64 of a-z 0-9 _ -");
    if (o.conninfo.empty()) throw std::invalid_argument("data source " + o.name + ": dsn is empty");
    char* error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(o.conninfo.c_str(), &error);
    if (!parsed) {
        // libpq's message may quote the DSN, which may hold a secret after all.
        if (error) PQfreemem(error);
        throw std::invalid_argument("data source " + o.name + ": dsn is not a libpq connection string");
    }
    bool hasPassword = false;
    for (PQconninfoOption* p = parsed; p->keyword; ++p)
        if (std::string_view(p->keyword) == "password" && p->val && *p->val) hasPassword = true;
    PQconninfoFree(parsed);
    if (hasPassword)
        throw std::invalid_argument("data source " + o.name +
                                    ": dsn holds a password; put it in a file named by passwordFile");
    if (o.poolSize < 1 || o.poolSize > 64) throw std::invalid_argument("data source " + o.name + ": poolSize must be 1-64");
    if (o.maxRows < 1 || o.maxRows > 1000000)
        throw std::invalid_argument("data source " + o.name + ": maxRows must be 1-1000000");
}

DataSource::DataSource(SourceOptions options) : options_(std::move(options)), pool_(std::make_unique<Pool>()) {
    validate(options_);
}

DataSource::~DataSource() = default;

std::size_t DataSource::openConnections() const {
    std::lock_guard lock(pool_->mutex);
    return pool_->open;
}

// The work of one query, with the source's pool at hand.
class QueryRun {
public:
    QueryRun(const SourceOptions& o, DataSource::Pool& pool, Clock::time_point deadline)
        : o_(o), pool_(pool), deadline_(deadline) {}

    std::string run(std::string_view sql, const Parameters& params) {
        for (int attempt = 0;; ++attempt) {
            bool reused = false;
            PGconn* c = acquire(reused);
            try {
                std::string answer = execute(c, sql, params);
                release(c, true);
                return answer;
            } catch (const ConnectionFailed&) {
                release(c, false);
                dropIdle();  // the server restarted or went away: the others are as dead
                // Nothing was written by a read-only statement: safe to send again.
                if (reused && !o_.writable && attempt == 0 && Clock::now() < deadline_) continue;
                throw QueryError(Failure::Unavailable, "data source " + o_.name + " closed the connection");
            } catch (...) {
                release(c, false);
                throw;
            }
        }
    }

private:
    PGconn* acquire(bool& reused) {
        {
            std::unique_lock lock(pool_.mutex);
            if (!pool_.released.wait_until(lock, deadline_,
                                           [&] { return !pool_.idle.empty() || pool_.open < o_.poolSize; }))
                throw QueryError(Failure::Timeout, "all " + std::to_string(o_.poolSize) + " connections of data source " +
                                                       o_.name + " stayed busy until the call's deadline");
            if (!pool_.idle.empty()) {
                PGconn* c = pool_.idle.back();
                pool_.idle.pop_back();
                reused = true;
                return c;
            }
            ++pool_.open;
        }
        try {
            return connect();
        } catch (...) {
            std::lock_guard lock(pool_.mutex);
            --pool_.open;
            pool_.released.notify_one();
            throw;
        }
    }

    void release(PGconn* c, bool healthy) {
        std::lock_guard lock(pool_.mutex);
        if (healthy && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE) {
            pool_.idle.push_back(c);
        } else {
            PQfinish(c);
            --pool_.open;
        }
        pool_.released.notify_one();
    }

    void dropIdle() {
        std::lock_guard lock(pool_.mutex);
        for (PGconn* c : pool_.idle) PQfinish(c);
        pool_.open -= pool_.idle.size();
        pool_.idle.clear();
        pool_.released.notify_all();
    }

    PGconn* connect() {
        // dbname first with expand_dbname: the DSN's keywords, then ours over them.
        const char* keys[] = {"dbname", "user", "password", "client_encoding", "application_name", "options", nullptr};
        const char* values[] = {o_.conninfo.c_str(),
                                o_.user.empty() ? nullptr : o_.user.c_str(),
                                o_.password.empty() ? nullptr : o_.password.c_str(),
                                "UTF8",
                                "campushub",
                                "-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=iso_8601 -c extra_float_digits=1",
                                nullptr};
        PGconn* c = PQconnectStartParams(keys, values, 1);
        if (!c) throw QueryError(Failure::Unavailable, "data source " + o_.name + ": out of memory");
        auto fail = [&](Failure f, const std::string& why) {
            logger().warning("sql source %s: cannot connect: %s", o_.name, why);
            PQfinish(c);
            throw QueryError(f, "data source " + o_.name + " cannot be reached");
        };
        if (PQstatus(c) == CONNECTION_BAD) fail(Failure::Unavailable, firstLine(PQerrorMessage(c)));
        PostgresPollingStatusType state = PGRES_POLLING_WRITING;
        while (state != PGRES_POLLING_OK) {
            if (state == PGRES_POLLING_FAILED) {
                std::string why = firstLine(PQerrorMessage(c));
                bool refused = why.find("authentication failed") != std::string::npos ||
                               why.find("no pg_hba.conf entry") != std::string::npos ||
                               why.find("permission denied") != std::string::npos;
                fail(refused ? Failure::Permission : Failure::Unavailable, why);
            }
            if (!waitSocket(c, state == PGRES_POLLING_WRITING, deadline_)) {
                PQfinish(c);
                throw QueryError(Failure::Timeout,
                                 "data source " + o_.name + " did not accept a connection before the call's deadline");
            }
            state = PQconnectPoll(c);
        }
        if (PQsetnonblocking(c, 1) != 0 || PQenterPipelineMode(c) != 1)
            fail(Failure::Unavailable, "cannot enter pipeline mode: " + firstLine(PQerrorMessage(c)));
        return c;
    }

    // BEGIN, the time limit, the statement and the end, sent as one pipeline.
    std::string execute(PGconn* c, std::string_view sql, const Parameters& params) {
        const int left = millisecondsLeft(deadline_);
        if (left == 0) throw QueryError(Failure::Timeout, "the call's deadline passed before data source " + o_.name + " was asked");
        const std::string timeout = std::to_string(std::max(left, 1));
        const char* timeoutValue[] = {timeout.c_str()};
        const std::string statement(sql);
        bool sent = PQsendQueryParams(c, o_.writable ? "BEGIN READ WRITE" : "BEGIN READ ONLY", 0, nullptr, nullptr,
                                      nullptr, nullptr, 0) &&
                    PQsendQueryParams(c, "SELECT set_config('statement_timeout', $1, true)", 1, nullptr, timeoutValue,
                                      nullptr, nullptr, 0) &&
                    PQsendQueryParams(c, statement.c_str(), static_cast<int>(params.size()), nullptr,
                                      params.values(), nullptr, nullptr, 0) &&
                    // A read-only query rolls back, so not even a session SET it ran outlives it.
                    PQsendQueryParams(c, o_.writable ? "COMMIT" : "ROLLBACK", 0, nullptr, nullptr, nullptr, nullptr,
                                      0) &&
                    PQpipelineSync(c);
        if (!sent) throw ConnectionFailed{};
        for (;;) {
            int f = PQflush(c);
            if (f == 0) break;
            if (f < 0) throw ConnectionFailed{};
            if (!waitSocket(c, true, deadline_)) cancelAndThrow(c);
        }
        return readResults(c);
    }

    std::string readResults(PGconn* c) {
        int command = 0;  // 0 BEGIN, 1 set_config, 2 the statement, 3 the end
        std::string answer;
        std::optional<QueryError> error;
        bool receivedAny = false;
        for (;;) {
            while (PQisBusy(c)) {
                if (!waitSocket(c, false, deadline_)) cancelAndThrow(c);
                if (!PQconsumeInput(c)) {
                    logger().warning("sql source %s: connection lost: %s", o_.name, firstLine(PQerrorMessage(c)));
                    if (!receivedAny) throw ConnectionFailed{};
                    throw QueryError(Failure::Unavailable, "data source " + o_.name + " closed the connection");
                }
            }
            PGresult* r = PQgetResult(c);
            if (!r) {
                ++command;
                continue;
            }
            receivedAny = true;
            std::unique_ptr<PGresult, void (*)(PGresult*)> owned(r, PQclear);
            ExecStatusType status = PQresultStatus(r);
            if (status == PGRES_PIPELINE_SYNC) break;
            if (status == PGRES_FATAL_ERROR && !error) error = serverError(r);
            if (command == 2 && (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) && !error)
                answer = toJson(r, o_);  // throws QueryError (BadAnswer); the pipeline is left mid-way: dropped
        }
        if (error) throw *error;
        return answer;
    }

    QueryError serverError(const PGresult* r) {
        const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        std::string state = s ? s : "";
        Failure f = failureOf(state);
        const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        // Logged for IT; the answer keeps only the category and the SQLSTATE (the
        // message may quote the statement or the schema).
        logger().warning("sql source %s: %s (SQLSTATE %s): %s", o_.name, std::string(toString(f)), state,
                         firstLine(primary));
        std::string detail;
        switch (f) {
            case Failure::Timeout: detail = "data source " + o_.name + " cancelled the statement at the call's deadline"; break;
            case Failure::Permission: detail = "data source " + o_.name + " refused the hub's account"; break;
            case Failure::Unavailable: detail = "data source " + o_.name + " could not run the statement now"; break;
            case Failure::BadAnswer: detail = "data source " + o_.name + " holds data that is not valid UTF-8"; break;
            default: detail = "data source " + o_.name + " refused the statement"; break;
        }
        return QueryError(f, detail + " (SQLSTATE " + state + ")", state);
    }

    [[noreturn]] void cancelAndThrow(PGconn* c) {
        // Without the cancel the server would run the statement to its end (it
        // notices a closed socket only when it next writes to it).
        if (PGcancel* cancel = PQgetCancel(c)) {
            char error[256];
            if (!PQcancel(cancel, error, sizeof error))
                logger().warning("sql source %s: cancel failed: %s", o_.name, firstLine(error));
            PQfreeCancel(cancel);
        }
        throw QueryError(Failure::Timeout,
                         "data source " + o_.name + " did not answer before the call's deadline; the statement was cancelled");
    }

    const SourceOptions& o_;
    DataSource::Pool& pool_;
    Clock::time_point deadline_;
};

std::string DataSource::query(std::string_view sql, std::string_view paramsJson, Clock::time_point deadline) {
    checkStatement(sql);
    Parameters params(paramsJson);
    return QueryRun(options_, *pool_, deadline).run(sql, params);
}

}  // namespace hub::sql
