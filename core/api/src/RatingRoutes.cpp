// An applicant's satisfaction rating of a closed application (the hall's figures).
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <optional>

#include "ApplicationAccess.h"
#include "ConsoleApiSupport.h"
#include "hub/flows/ApplicationService.h"
#include "hub/flows/Evaluation.h"

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

// {"application_id", "score", "comment", "rated_at"}: what both routes answer.
std::string ratingJson(const std::string& id, int score, const std::string& comment, const std::string& ratedAt) {
    std::string answer = "{\"application_id\":";
    appendString(answer, id);
    answer += ",\"score\":" + std::to_string(score) + ",\"comment\":";
    appendString(answer, comment);
    answer += ",\"rated_at\":";
    appendString(answer, ratedAt);
    return answer + "}";
}

// A rating route: 404 where no ratings are kept, then, off the event loop, the
// application {id} for whoever `allowed` lets see it (else its 404 or 403), to
// `handle`.
template <typename Allowed, typename Handle>
void addRatingRoute(Router& router, http::verb verb, const ConsoleApiServices& s, Allowed allowed, std::string refusal,
                    Handle handle) {
    router.add(verb, "/api/v1/applications/{id}/rating",
               [s, allowed, refusal, handle](const RequestPtr& request, Responder out) {
                   if (!s.applications || !s.evaluation)
                       return (void)out.send(
                           problem(404, "ratings are not kept here", "No ratings", problemType("no-ratings")));
                   AdminServices pool = adminServicesOf(s);
                   blocking(pool, out, [s, allowed, refusal, handle, request]() -> Response {
                       auto found = applicationFor(*s.applications, s.audit, *request, allowed, refusal);
                       if (auto* refused = std::get_if<Response>(&found)) return *refused;
                       return handle(*request, std::get<flows::Application>(found));
                   });
               });
}

}  // namespace

void addRatingRoutes(Router& router, const ConsoleApiServices& s) {
    auto applicantOnly = [](const Principal& p, const flows::Application& a) { return a.applicant == p.subject; };
    addRatingRoute(router, http::verb::post, s, applicantOnly, "only the applicant rates an application",
                   [s](const Request& request, const flows::Application& app) -> Response {
                       // Who asks is settled before what they sent is judged.
                       int score = 0;
                       std::string comment;
                       if (auto bad = parseRating(request.message.body(), score, comment)) return *bad;
                       if (!flows::isTerminal(app.status))
                           return problem(409,
                                          "the application is " + std::string(flows::toString(app.status)) +
                                              "; it can be rated once it is closed",
                                          "Not closed yet", problemType("not-closed"));
                       if (s.evaluation->rate(app.id, app.applicant, score, comment) ==
                           flows::Evaluation::RateOutcome::AlreadyRated)
                           return problem(409, "this application has been rated already", "Already rated",
                                          problemType("already-rated"));
                       auto stored = s.evaluation->rating(app.id);
                       Response r = Response::json(
                           201, ratingJson(app.id, score, comment, stored ? stored->ratedAt : std::string()));
                       r.headers.emplace_back("Location", "/api/v1/applications/" + app.id + "/rating");
                       return r;
                   });
    // The rating and its comment, for the console's application page: the
    // applicant, hub:admin, and whoever sees the department's figures.
    addRatingRoute(router, http::verb::get, s, seesOnConsole, "this application is neither yours nor your department's",
                   [s](const Request&, const flows::Application& app) -> Response {
                       auto stored = s.evaluation->rating(app.id);
                       if (!stored)
                           return problem(404, "application '" + app.id + "' has not been rated", "Not rated",
                                          problemType("not-rated"));
                       return Response::json(200, ratingJson(app.id, stored->score, stored->comment, stored->ratedAt));
                   });
}

}  // namespace hub::api::detail
