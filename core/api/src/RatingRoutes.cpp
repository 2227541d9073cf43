// An applicant's satisfaction rating of a closed application (the hall's figures).
#include "ConsoleApiSupport.h"

#include "hub/flows/ApplicationService.h"
#include "hub/flows/Evaluation.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <optional>

namespace hub::api::detail {

namespace {

constexpr std::size_t kMaxCommentBytes = 2000;

Response invalidRating(const std::string& detail) {
    return problem(400, detail, "Invalid request", problemType("invalid-request"));
}

// {"score": 1..5, "comment": "..."}; the 400 to answer when it is not that.
std::optional<Response> parseRating(const std::string& body, int& score, std::string& comment) {
    if (!isValidUtf8(body)) return invalidRating("request body is not valid UTF-8");
    try {
        Poco::JSON::Parser parser;
        auto v = parser.parse(body);
        auto o = v.type() == typeid(Poco::JSON::Object::Ptr) ? v.extract<Poco::JSON::Object::Ptr>() : nullptr;
        if (!o) return invalidRating("request body must be a JSON object");
        auto sv = o->get("score");
        if (!sv.isInteger()) return invalidRating("'score' must be an integer from 1 to 5");
        auto n = sv.convert<Poco::Int64>();
        if (n < 1 || n > 5) return invalidRating("'score' must be an integer from 1 to 5");
        score = static_cast<int>(n);
        if (o->has("comment") && !o->isNull("comment")) {
            auto cv = o->get("comment");
            if (!cv.isString()) return invalidRating("'comment' must be a string");
            comment = cv.extract<std::string>();
        }
    } catch (const Poco::Exception& e) {
        return invalidRating("request body is not valid JSON: " + e.message());
    }
    if (comment.size() > kMaxCommentBytes)
        return invalidRating("'comment' is longer than " + std::to_string(kMaxCommentBytes) + " bytes");
    return std::nullopt;
}

}  // namespace

void addRatingRoutes(Router& router, const ConsoleApiServices& s) {
    router.add(http::verb::post, "/api/v1/applications/{id}/rating", [s](const RequestPtr& request, Responder out) {
        if (!s.applications || !s.evaluation)
            return (void)out.send(problem(404, "ratings are not kept here", "No ratings", problemType("no-ratings")));
        AdminServices pool = adminServicesOf(s);
        blocking(pool, out, [s, request]() -> Response {
            const std::string& id = request->param("id");
            auto app = s.applications->find(id);
            if (!app)
                return problem(404, "application '" + id + "' does not exist", "Unknown application",
                               problemType("unknown-application"));
            if (app->applicant != request->principal.subject) {
                Response refusal = problem(403, "only the applicant rates an application", "Forbidden",
                                           problemType("forbidden"));
                auditRouteCall(s.audit, *request, refusal.status);
                return refusal;
            }
            // Who asks is settled before what they sent is judged.
            int score = 0;
            std::string comment;
            if (auto bad = parseRating(request->message.body(), score, comment)) return *bad;
            if (!flows::isTerminal(app->status))
                return problem(409,
                               "the application is " + std::string(flows::toString(app->status)) +
                                   "; it can be rated once it is closed",
                               "Not closed yet", problemType("not-closed"));
            if (s.evaluation->rate(id, app->applicant, score, comment) == flows::Evaluation::RateOutcome::AlreadyRated)
                return problem(409, "this application has been rated already", "Already rated",
                               problemType("already-rated"));
            auto stored = s.evaluation->rating(id);
            std::string answer = "{\"application_id\":";
            appendString(answer, id);
            answer += ",\"score\":" + std::to_string(score) + ",\"comment\":";
            appendString(answer, comment);
            answer += ",\"rated_at\":";
            appendString(answer, stored ? stored->ratedAt : std::string());
            Response r = Response::json(201, answer + "}");
            r.headers.emplace_back("Location", "/api/v1/applications/" + id + "/rating");
            return r;
        });
    });
    // The rating and its comment, for the console's application page: the
    // applicant, hub:admin, and whoever sees the department's figures.
    router.add(http::verb::get, "/api/v1/applications/{id}/rating", [s](const RequestPtr& request, Responder out) {
        if (!s.applications || !s.evaluation)
            return (void)out.send(problem(404, "ratings are not kept here", "No ratings", problemType("no-ratings")));
        AdminServices pool = adminServicesOf(s);
        blocking(pool, out, [s, request]() -> Response {
            const std::string& id = request->param("id");
            auto app = s.applications->find(id);
            if (!app)
                return problem(404, "application '" + id + "' does not exist", "Unknown application",
                               problemType("unknown-application"));
            const Principal& p = request->principal;
            if (app->applicant != p.subject && !p.hasRole("hub:admin") && !departmentsOf(p).count(app->department)) {
                Response refusal = problem(403, "this application is neither yours nor your department's", "Forbidden",
                                           problemType("forbidden"));
                auditRouteCall(s.audit, *request, refusal.status);
                return refusal;
            }
            auto stored = s.evaluation->rating(id);
            if (!stored)
                return problem(404, "application '" + id + "' has not been rated", "Not rated", problemType("not-rated"));
            std::string answer = "{\"application_id\":";
            appendString(answer, id);
            answer += ",\"score\":" + std::to_string(stored->score) + ",\"comment\":";
            appendString(answer, stored->comment);
            answer += ",\"rated_at\":";
            appendString(answer, stored->ratedAt);
            return Response::json(200, answer + "}");
        });
    });
}

}  // namespace hub::api::detail
