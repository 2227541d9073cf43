// The hall's figures (flows::Evaluation) as JSON or CSV: per item or
// department, per day, week or month.
#include "ConsoleApiSupport.h"

#include "hub/flows/ApplicationService.h"
#include "hub/flows/Evaluation.h"

#include <cmath>
#include <cstdio>

namespace hub::api::detail {

namespace {

using flows::Evaluation;

Response invalidQuery(const std::string& detail) {
    return problem(400, detail, "Invalid query parameter", problemType("invalid-query"));
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    std::string s = buf;
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
}

std::string optionalNumber(const std::optional<double>& v, const char* none) { return v ? number(*v) : none; }

// RFC 4180 quoting; a cell a spreadsheet would take for a formula gets a leading quote.
void appendCsvCell(std::string& out, const std::string& value) {
    std::string v = value;
    if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) v.insert(v.begin(), '\'');
    if (v.find_first_of(",\"\r\n") == std::string::npos) {
        out += v;
        return;
    }
    out += '"';
    for (char c : v) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

std::string csvOf(const std::vector<Evaluation::Row>& rows) {
    // A BOM, so that spreadsheet programs read the Chinese names as UTF-8.
    std::string out = "\xEF\xBB\xBFperiod,key,department,volume,closed,median_days,p90_days,overdue,overdue_rate,"
                      "mean_satisfaction,ratings\r\n";
    for (const auto& r : rows) {
        appendCsvCell(out, r.period);
        out += ',';
        appendCsvCell(out, r.key);
        out += ',';
        appendCsvCell(out, r.department);
        out += ',' + std::to_string(r.volume) + ',' + std::to_string(r.closed) + ',' + optionalNumber(r.medianDays, "") +
               ',' + optionalNumber(r.p90Days, "") + ',' + std::to_string(r.overdue) + ',' + number(r.overdueRate) +
               ',' + optionalNumber(r.meanSatisfaction, "") + ',' + std::to_string(r.ratings) + "\r\n";
    }
    return out;
}

std::string jsonOf(const Evaluation::Query& q, const std::string& by, const std::string& period,
                   const std::vector<Evaluation::Row>& rows) {
    std::string out = "{\"by\":\"" + by + "\",\"period\":\"" + period + "\",\"from\":\"" +
                      catalog::WorkingCalendar::formatDate(q.from) + "\",\"to\":\"" +
                      catalog::WorkingCalendar::formatDate(q.to) + "\",\"rows\":[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        if (i) out += ',';
        out += "{\"period\":";
        appendString(out, r.period);
        out += ",\"key\":";
        appendString(out, r.key);
        out += ",\"department\":";
        appendString(out, r.department);
        out += ",\"volume\":" + std::to_string(r.volume) + ",\"closed\":" + std::to_string(r.closed) +
               ",\"medianDays\":" + optionalNumber(r.medianDays, "null") +
               ",\"p90Days\":" + optionalNumber(r.p90Days, "null") + ",\"overdue\":" + std::to_string(r.overdue) +
               ",\"overdueRate\":" + number(r.overdueRate) +
               ",\"meanSatisfaction\":" + optionalNumber(r.meanSatisfaction, "null") +
               ",\"ratings\":" + std::to_string(r.ratings) + "}";
    }
    return out + "]}";
}

}  // namespace

void addEvaluationRoutes(Router& router, const ConsoleApiServices& s) {
    // Authenticated only: who sees which departments is decided here, from the
    // caller's roles (hub:admin every department, dept:<d>:<role> department d).
    router.add(http::verb::get, "/admin/evaluation", [s](const RequestPtr& request, Responder responder) {
        AuditedReply out(request, responder, s.audit);
        if (!s.evaluation || !s.applications)
            return (void)out.send(
                problem(404, "no figures are kept here", "No evaluation", problemType("no-evaluation")));
        const Principal& p = request->principal;
        Evaluation::Query q;
        std::string by = "item", period = "month", from, to, department, format = "json";
        request->queryParam("by", by);
        request->queryParam("period", period);
        request->queryParam("format", format);
        if (by == "item")
            q.by = Evaluation::By::Item;
        else if (by == "department")
            q.by = Evaluation::By::Department;
        else
            return (void)out.send(invalidQuery("'by' must be item or department"));
        if (period == "day")
            q.period = Evaluation::Period::Day;
        else if (period == "week")
            q.period = Evaluation::Period::Week;
        else if (period == "month")
            q.period = Evaluation::Period::Month;
        else
            return (void)out.send(invalidQuery("'period' must be day, week or month"));
        if (format != "json" && format != "csv") return (void)out.send(invalidQuery("'format' must be json or csv"));

        q.today = s.applications->today();
        q.to = q.today;
        if (request->queryParam("to", to)) {
            auto d = catalog::WorkingCalendar::parseDate(to);
            if (!d) return (void)out.send(invalidQuery("'to' must be a date YYYY-MM-DD"));
            q.to = *d;
        }
        using namespace std::chrono;
        q.from = Evaluation::Date{sys_days{q.to} - days{364}};
        if (request->queryParam("from", from)) {
            auto d = catalog::WorkingCalendar::parseDate(from);
            if (!d) return (void)out.send(invalidQuery("'from' must be a date YYYY-MM-DD"));
            q.from = *d;
        }

        request->queryParam("department", department);
        if (!p.hasRole("hub:admin")) {
            auto mine = departmentsOf(p);
            if (mine.empty() || (!department.empty() && !mine.count(department)))
                return (void)out.send(problem(
                    403, department.empty() ? "the figures are for hub:admin and department roles (dept:<d>:<role>)"
                                            : "you hold no role in department '" + department + "'",
                    "Forbidden", problemType("forbidden")));
            q.departments.assign(mine.begin(), mine.end());
        }
        if (!department.empty()) q.departments = {department};

        AdminServices pool = adminServicesOf(s);
        blocking(pool, out, [s, q, by, period, format]() -> Response {
            std::vector<Evaluation::Row> rows;
            try {
                rows = s.evaluation->figures(q);
            } catch (const flows::InvalidRequest& e) {
                return invalidQuery(e.what());
            }
            if (format == "json") return Response::json(200, jsonOf(q, by, period, rows));
            Response r;
            r.contentType = "text/csv; charset=utf-8";
            r.body = csvOf(rows);
            r.headers.emplace_back("Content-Disposition", "attachment; filename=\"evaluation-" + by + "-" + period +
                                                              "-" + catalog::WorkingCalendar::formatDate(q.from) +
                                                              "-" + catalog::WorkingCalendar::formatDate(q.to) +
                                                              ".csv\"");
            return r;
        });
    });
}

}  // namespace hub::api::detail
