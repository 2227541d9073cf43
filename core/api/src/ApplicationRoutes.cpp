#include "hub/api/ApplicationRoutes.h"

#include "hub/api/OwnedFields.h"
#include "hub/api/AnswerPolicy.h"
#include "hub/api/RouteAudit.h"
#include "hub/common/PersonalDataMask.h"
#include "hub/catalog/Catalog.h"
#include "hub/catalog/DataOwners.h"
#include "hub/catalog/Snapshot.h"
#include "hub/flows/ApplicationService.h"
#include "hub/flows/FlowException.h"
#include "hub/host/CallContext.h"
#include "hub/host/PluginHost.h"
#include "hub/runtime/WorkerPool.h"
#include "hub/store/Database.h"
#include "hub/store/TraceLog.h"

#include "StoreProblem.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Logger.h>
#include <Poco/NumberParser.h>

#include <chrono>
#include <functional>
#include <memory>
#include <sstream>

namespace hub::api {

namespace {

using flows::ApplicationService;

constexpr std::string_view kProblem = "urn:campushub:problem:";

std::string type(std::string_view slug) { return std::string(kProblem) + std::string(slug); }

std::string describe(const std::exception& e) {
    if (auto* poco = dynamic_cast<const Poco::Exception*>(&e)) return poco->displayText();
    return e.what();
}

catalog::AudienceSet audiencesOf(const Principal& p) {
    std::string names;
    for (const auto& a : p.audiences) names += a + " ";
    auto set = catalog::AudienceSet::parse(names);
    return set ? *set : catalog::AudienceSet{};
}

bool isClerkOf(const Principal& p, const std::string& department) {
    return !department.empty() && p.hasRole("dept:" + department + ":clerk");
}

// A department's admin reads what its clerks read (docs/privacy.md).
bool isStaffOf(const Principal& p, const std::string& department) {
    return isClerkOf(p, department) || (!department.empty() && p.hasRole("dept:" + department + ":admin"));
}

bool mayRead(const Principal& p, const flows::Application& a) {
    return a.applicant == p.subject || isStaffOf(p, a.department) || p.hasRole("hub:admin");
}

AnswerPolicy::Relation relationTo(const Principal& p, const flows::Application& a) {
    if (a.applicant == p.subject) return AnswerPolicy::Relation::Self;
    if (isStaffOf(p, a.department)) return AnswerPolicy::Relation::Department;
    return p.hasRole("hub:admin") ? AnswerPolicy::Relation::Admin : AnswerPolicy::Relation::Other;
}

Poco::JSON::Object::Ptr parseBody(const Request& request) {
    const std::string& body = request.message.body();
    if (body.empty()) return new Poco::JSON::Object;
    if (!isValidUtf8(body)) throw flows::InvalidRequest("request body is not valid UTF-8");
    try {
        Poco::JSON::Parser parser;
        auto v = parser.parse(body);
        if (v.type() != typeid(Poco::JSON::Object::Ptr)) throw flows::InvalidRequest("request body must be a JSON object");
        return v.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        throw flows::InvalidRequest("request body is not valid JSON: " + e.message());
    }
}

std::string stringify(const Poco::Dynamic::Var& v) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(v, out);
    return out.str();
}

std::string optionalString(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    if (!o->has(key) || o->isNull(key)) return {};
    auto v = o->get(key);
    if (!v.isString()) throw flows::InvalidRequest("'" + key + "' must be a string");
    return v.extract<std::string>();
}

std::vector<std::string> stringList(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    std::vector<std::string> out;
    if (!o->has(key) || o->isNull(key)) return out;
    auto array = o->getArray(key);
    if (!array) throw flows::InvalidRequest("'" + key + "' must be an array of strings");
    for (std::size_t i = 0; i < array->size(); ++i) {
        auto v = array->get(static_cast<unsigned>(i));
        if (!v.isString()) throw flows::InvalidRequest("'" + key + "' must be an array of strings");
        out.push_back(v.extract<std::string>());
    }
    return out;
}

std::string formOf(const Poco::JSON::Object::Ptr& o) {
    if (!o->has("form") || o->isNull("form")) return "{}";
    auto form = o->getObject("form");
    if (!form) throw flows::InvalidRequest("'form' must be a JSON object");
    return stringify(form);
}

std::optional<std::int64_t> ifMatch(const Request& request) {
    std::string_view v = request.header("If-Match");
    if (v.empty()) return std::nullopt;
    std::string s(v);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    Poco::Int64 version = 0;
    if (!Poco::NumberParser::tryParse64(s, version)) throw flows::InvalidRequest("If-Match must be a version ETag");
    return version;
}

Response applicationResponse(unsigned status, const flows::Application& a,
                             const AnswerPolicy::Relation relation = AnswerPolicy::Relation::Self,
                             const AnswerPolicy* answers = nullptr) {
    static const AnswerPolicy defaults;
    const AnswerPolicy& policy = answers ? *answers : defaults;
    Response r = Response::json(status, policy.apply(AnswerPolicy::Record::Application, relation, flows::toJson(a)));
    r.headers.emplace_back("ETag", "\"" + std::to_string(a.version) + "\"");
    r.headers.emplace_back("Location", "/api/v1/applications/" + a.id);
    return r;
}

// A form value as the source would give it (a string; a number as its text).
bool sameText(const Poco::Dynamic::Var& given, const std::string& value) {
    if (given.type() == typeid(Poco::JSON::Object::Ptr) || given.type() == typeid(Poco::JSON::Array::Ptr)) return false;
    try {
        return given.convert<std::string>() == value;
    } catch (const Poco::Exception&) {
        return false;
    }
}

// The owned fields of the form from their source, never from the applicant
// (docs/privacy.md, "One datum, one source"): a value the applicant sent must
// be the source's own; the source's values go into `formJson`. A problem when
// the applicant tried to overwrite one, or its source could not be asked.
std::optional<Response> settleOwnedFields(const OwnedFields::Fetched& fetched, std::string& formJson) {
    if (fetched.fields.empty()) return std::nullopt;
    Poco::JSON::Parser parser;
    auto form = parser.parse(formJson).extract<Poco::JSON::Object::Ptr>();  // formOf() wrote it
    auto named = [](Response r, const std::string& field, const std::string& owner) {
        r.body.pop_back();
        r.body += ",\"field\":";
        appendString(r.body, field);
        r.body += ",\"owner\":";
        appendString(r.body, owner);
        r.body += '}';
        return r;
    };
    for (const auto& [field, v] : fetched.fields) {
        const std::string& owner = v.owner->source;
        if (form->has(field) && !form->isNull(field) && (!v.value || !sameText(form->get(field), *v.value)))
            return named(problem(422,
                                 "field '" + field + "' is owned by " + owner +
                                     ": the hub takes it from there, never from the form",
                                 "Owned field", type("owned-field")),
                         field, owner);
        if (!v.value && !v.error.empty())
            return named(problem(503, "field '" + field + "' comes from " + owner + ", which could not be asked: " +
                                          v.error,
                                 "Source unavailable", type("owned-field-unavailable")),
                         field, owner);
        if (v.value) form->set(field, *v.value);
    }
    formJson = stringify(form);
    return std::nullopt;
}

Response validationProblem(const catalog::ValidationResult& v, const std::string& detail) {
    // RFC 7807 extension members: every problem and every missing material at once.
    Response r = problem(422, detail, "Application incomplete", type("application-incomplete"));
    r.body.pop_back();
    r.body += ",\"validation\":";
    r.body += log::maskedPersonalData(v.toJson());  // a problem may quote the form's values
    r.body += '}';
    return r;
}

// Runs fn on the blocking pool (database work stays off the I/O threads) and
// maps the flows module's exceptions, and the store's, onto problem+json.
// fn returns nothing when it arranged to answer later itself.
void blocking(runtime::WorkerPool& pool, store::Database& store, Responder responder,
              std::function<std::optional<Response>()> fn) {
    bool queued = pool.trySubmit([&store, responder, fn = std::move(fn)]() mutable {
        try {
            if (auto response = fn()) responder.send(std::move(*response));
        } catch (const flows::ApplicationNotFound& e) {
            responder.send(problem(404, e.what(), "Unknown application", type("unknown-application")));
        } catch (const flows::IllegalTransition& e) {
            responder.send(problem(409, e.what(), "Not allowed in this state", type("illegal-transition")));
        } catch (const flows::VersionConflict& e) {
            responder.send(problem(412, e.what(), "Changed by someone else", type("version-conflict")));
        } catch (const flows::ValidationFailed& e) {
            responder.send(validationProblem(e.validation(), e.what()));
        } catch (const flows::ItemUnavailable& e) {
            responder.send(problem(409, e.what(), "Service item withdrawn", type("item-unavailable")));
        } catch (const flows::InvalidRequest& e) {
            responder.send(problem(400, e.what(), "Invalid request", type("invalid-request")));
        } catch (const std::exception& e) {
            if (auto unavailable = storeProblem(e, &store)) {
                responder.send(std::move(*unavailable));
                return;
            }
            Poco::Logger::get("hub.api").error("applications: %s", describe(e));
            responder.send(problem(500, "internal error", "Internal error", type("internal")));
        }
    });
    if (!queued) responder.send(problem(503, "the hub is busy; retry shortly", "Overloaded", type("overloaded")));
}

class ApplicationRoutes : public std::enable_shared_from_this<ApplicationRoutes> {
public:
    ApplicationRoutes(flows::ApplicationService& service, catalog::Catalog& catalog, host::PluginHost& plugins,
                      runtime::WorkerPool& pool, store::AuditLog* audit, const OwnedFields* owned,
                      const AnswerPolicy* answers, Reviewer reviewer)
        : service_(service), catalog_(catalog), plugins_(plugins), pool_(pool), audit_(audit), owned_(owned),
          answers_(answers), reviewer_(std::move(reviewer)), trace_(service.database()) {}

    // The routes hold the object: it lives as long as the router's handlers.
    void add(Router& router) {
        auto self = shared_from_this();
        router.add(http::verb::post, "/api/v1/applications",
                   [self](const RequestPtr& r, Responder out) { self->submit(r, out); });
        router.add(http::verb::get, "/api/v1/applications",
                   [self](const RequestPtr& r, Responder out) { self->list(r, out); });
        router.add(http::verb::get, "/api/v1/applications/{id}",
                   [self](const RequestPtr& r, Responder out) { self->get(r, out); });
        router.add(http::verb::post, "/api/v1/applications/{id}/cancel",
                   [self](const RequestPtr& r, Responder out) { self->cancel(r, out); });
        router.add(http::verb::post, "/api/v1/applications/{id}/supplement",
                   [self](const RequestPtr& r, Responder out) { self->supplement(r, out); });
        router.add(http::verb::post, "/api/v1/applications/{id}/transitions",
                   [self](const RequestPtr& r, Responder out) { self->decide(r, out); });
    }

private:
    // A change made through the API, a hop of the application's trace.
    const flows::Application& traced(const Request& request, const flows::Application& a, std::int64_t atMs) {
        trace_.record({0, a.id, "", atMs, "api",
                       std::string(http::to_string(request.message.method())) + " " + std::string(request.path),
                       std::string(flows::toString(a.status)), "request " + request.requestId,
                       store::TraceLog::nowMs() - atMs});
        return a;
    }

    // A 403 of these routes, into the audit trail on its way out.
    Response refused(const Request& request, Response refusal) const {
        auditRouteCall(audit_, request, refusal.status);
        return refusal;
    }

    // The item the submit names and the caller is offered, when its form has owned
    // fields; null otherwise (the submit then refuses it, or needs no source).
    const catalog::ServiceItem* ownedItem(const catalog::Snapshot& snapshot, const Request& request) const {
        if (!owned_) return nullptr;
        const auto owners = owned_->owners();
        if (!owners || owners->all().empty()) return nullptr;
        std::string itemId;
        try {
            itemId = optionalString(parseBody(request), "item_id");
        } catch (const std::exception&) {
            return nullptr;  // the submit answers it, 400
        }
        const auto* item = snapshot.findVisible(itemId, audiencesOf(request.principal));
        if (!item) return nullptr;
        for (const auto& field : item->fields)
            if (owners->find(field.id)) return item;
        return nullptr;
    }

    // The owned fields' sources are asked first, from this I/O thread as every
    // plugin call of the API is (a fiber of this loop, or the plugin's pool),
    // so no pool thread waits for a vendor; the database work follows on the pool.
    void submit(const RequestPtr& request, Responder out) {
        auto snapshot = catalog_.snapshot();
        if (const auto* item = ownedItem(*snapshot, *request)) {
            auto self = shared_from_this();
            try {
                owned_->fetchAsync(
                    *item, request->principal,
                    [self, request, out](OwnedFields::Fetched fetched) {
                        self->store(request, out, std::make_shared<const OwnedFields::Fetched>(std::move(fetched)));
                    },
                    [out](std::chrono::milliseconds delay, std::function<void()> expire) {
                        out.after(delay, std::move(expire));
                    });
                return;
            } catch (const std::exception&) {
                // The directory's read failed here (the store): asked again on the
                // pool, whose answer maps the store's faults (503) as for every submit.
            }
        }
        store(request, out, nullptr);
    }

    void store(const RequestPtr& request, Responder out, std::shared_ptr<const OwnedFields::Fetched> fetched) {
        blocking(pool_, service_.database(), out, [this, request, out, fetched]() -> std::optional<Response> {
            const Principal& p = request->principal;
            auto body = parseBody(*request);
            ApplicationService::SubmitRequest submit;
            submit.subject = p.viaService.empty() ? p.subject : p.viaService;
            submit.actingFor = p.viaService.empty() ? std::string() : p.subject;
            submit.itemId = optionalString(body, "item_id");
            if (submit.itemId.empty()) throw flows::InvalidRequest("'item_id' is required");
            submit.formJson = formOf(body);
            if (owned_) {
                // An item not offered to the applicant is refused by submit() below, unasked.
                if (const auto* item = catalog_.snapshot()->findVisible(submit.itemId, audiencesOf(p))) {
                    // Asked before (submit()), unless the catalogue changed since: then here.
                    const auto& fields = fetched ? *fetched : owned_->fetch(*item, p);
                    if (auto refusal = settleOwnedFields(fields, submit.formJson)) return refusal;
                }
            }
            submit.materials = stringList(body, "materials");
            if (auto key = request->header("Idempotency-Key"); !key.empty()) submit.idempotencyKey = std::string(key);
            // The portal's trace, or a new one: every hop of the application is recorded under it.
            submit.traceId = request->traceId.empty() ? store::TraceLog::newTraceId() : request->traceId;
            const std::int64_t startedAt = store::TraceLog::nowMs();
            // A flow's item is stored in review (approval requested) in the submit's own transaction.
            submit.startReview = true;

            auto snapshot = catalog_.snapshot();
            auto result = service_.submit(submit, *snapshot, audiencesOf(p));
            using Outcome = ApplicationService::SubmitResult::Outcome;
            switch (result.outcome) {
            case Outcome::Replayed: return applicationResponse(200, *result.application);
            case Outcome::IdempotencyConflict:
                return problem(409, result.message, "Idempotency key reused", type("idempotency-conflict"));
            case Outcome::ItemNotFound:
                return problem(404, result.message, "Unknown service item", type("unknown-service"));
            case Outcome::NotAllowedForAudience:
                return refused(*request, problem(403, result.message, "Not offered to you", type("audience")));
            case Outcome::Invalid: return validationProblem(result.validation, result.message);
            case Outcome::Created: break;
            }
            const flows::Application& created = traced(*request, *result.application, startedAt);
            const auto* item = snapshot->findById(created.itemId);
            if (item && !item->handler.system.empty() && plugins_.has(item->handler.system)) {
                // Online item: the plugin does the work; answer when it has.
                runPlugin(request, out, created, item->handler.system, item->handler.operation, submit.traceId);
                return std::nullopt;
            }
            // Reviewed by people (a flow's item): already in_review, handed to the
            // approval engine by the status change's approval.requested event.
            return applicationResponse(201, created);
        });
    }

    void runPlugin(const RequestPtr& request, Responder out, const flows::Application& app, const std::string& system,
                   const std::string& operation, const std::string& traceId) {
        auto limits = plugins_.limits(system);
        const Principal& p = request->principal;
        host::Caller caller{p.viaService.empty() ? p.subject : p.viaService, p.roles,
                            p.viaService.empty() ? std::string() : p.subject, p.audiences};
        auto deadline = host::Clock::now() + limits.timeout;
        // The application is the logical request: every call made for it carries
        // its id as the idempotency key (ABI 1.1), so a vendor system that takes
        // one does the work once.
        host::CallContext context{"application:" + app.id, {}};
        if (!host::isValidIdempotencyKey(context.idempotencyKey)) context.idempotencyKey.clear();
        if (std::string_view trace = request->header("traceparent"); host::isValidTraceparent(trace))
            context.traceparent = std::string(trace);
        else if (std::string own = "00-" + traceId + "-0000000000000001-01"; host::isValidTraceparent(own))
            context.traceparent = host::childTraceparent(own);
        std::string refusal;
        const std::int64_t calledAt = store::TraceLog::nowMs();
        auto accepted = plugins_.submit(
            system, operation, app.formJson, caller, std::move(context), deadline,
            [this, out, app, calledAt, name = system + "." + operation](host::CallResult result) {
                // Runs on the plugin's worker: a definitive answer settles the
                // application; an outage leaves it submitted for a clerk or a retry.
                const std::string& id = app.id;
                trace_.record({0, id, "", calledAt, "plugin", name, host::statusName(result.status),
                               "application:" + id, store::TraceLog::nowMs() - calledAt});
                try {
                    if (result.status == CH_OK || result.status == CH_ERR_INVALID_ARGUMENT ||
                        result.status == CH_ERR_NOT_FOUND || result.status == CH_ERR_PERMISSION ||
                        result.status == CH_ERR_CONFLICT) {
                        std::string body = result.status == CH_OK
                                               ? result.body
                                               : "{\"detail\":" + [&] {
                                                     std::string s;
                                                     appendString(s, result.body);
                                                     return s;
                                                 }() + "}";
                        out.send(applicationResponse(201, service_.completeFromPlugin(id, result.status == CH_OK, body)));
                    } else {
                        out.send(applicationResponse(202, service_.get(id)));
                    }
                } catch (const std::exception& e) {
                    // The application is stored; only settling it failed (e.g. the
                    // disk filled meanwhile). Never claim a failure for what
                    // committed: 202, it stays submitted for a clerk.
                    service_.database().recordFailure(e);
                    Poco::Logger::get("hub.api").error(
                        "application %s stays submitted: storing the plugin's answer failed: %s", id, describe(e));
                    out.send(applicationResponse(202, app));
                }
            },
            &refusal);
        if (accepted == host::PluginHost::Submit::Forbidden) {
            // The operation's access policy says no (e.g. a certificate for someone
            // else): as definitive as the plugin's own refusal.
            std::string detail = "{\"detail\":";
            appendString(detail, refusal);
            try {
                out.send(applicationResponse(201, service_.completeFromPlugin(app.id, false, detail + "}")));
            } catch (const std::exception& e) {
                // Stored as submitted; only settling it failed: never claim a failure for what committed.
                service_.database().recordFailure(e);
                Poco::Logger::get("hub.api").error(
                    "application %s stays submitted: storing the refusal failed: %s", app.id, describe(e));
                out.send(applicationResponse(202, app));
            }
            return;
        }
        if (accepted != host::PluginHost::Submit::Accepted) {
            out.send(applicationResponse(202, app));  // stays submitted
            return;
        }
        out.after(limits.timeout + std::chrono::milliseconds(200), [this, out, app] {
            try {
                out.send(applicationResponse(202, service_.get(app.id)));
            } catch (const std::exception& e) {
                service_.database().recordFailure(e);
                out.send(applicationResponse(202, app));  // stored, as submitted
            }
        });
    }

    void get(const RequestPtr& request, Responder out) {
        blocking(pool_, service_.database(), out, [this, request]() -> std::optional<Response> {
            auto app = service_.find(request->param("id"));
            if (!app) throw flows::ApplicationNotFound(request->param("id"));
            const Principal& p = request->principal;
            // A joint review's other departments read it too, while a task of its
            // flow is theirs, with the fields of the `other` relation (relationTo).
            if (!mayRead(p, *app) && !(reviewer_ && reviewer_(p, app->id)))
                return refused(*request, problem(403, "this application is neither yours nor your department's",
                                                 "Forbidden", type("forbidden")));
            // Another person's application read: audited, naming whose it is.
            if (app->applicant != p.subject) auditRouteCall(audit_, *request, 200, 0, app->applicant);
            return applicationResponse(200, *app, relationTo(p, *app), answers_);
        });
    }

    void list(const RequestPtr& request, Responder out) {
        blocking(pool_, service_.database(), out, [this, request]() -> std::optional<Response> {
            const Principal& p = request->principal;
            ApplicationService::ListQuery q;
            std::string department, value, applicant;
            request->queryParam("applicant", applicant);
            if (request->queryParam("item", value)) q.itemId = value;
            if (request->queryParam("department", department) && !department.empty()) {
                // "*": every department's, for hub:admin (the console's search).
                if (department == "*" ? !p.hasRole("hub:admin") : !isStaffOf(p, department) && !p.hasRole("hub:admin"))
                    return refused(*request,
                                   problem(403, "you hold no clerk role for department '" + department + "'",
                                           "Forbidden", type("forbidden")));
                if (department != "*") q.department = department;
                q.applicant = applicant;
            } else {
                if (!applicant.empty() && applicant != p.subject && !p.hasRole("hub:admin"))
                    return refused(*request, problem(403, "another person's applications need a department",
                                                     "Forbidden", type("forbidden")));
                q.applicant = applicant.empty() ? p.subject : applicant;
            }
            if (request->queryParam("status", value)) {
                std::istringstream in(value);
                std::string one;
                while (std::getline(in, one, ',')) {
                    auto s = flows::parseApplicationStatus(one);
                    if (!s) throw flows::InvalidRequest("unknown status '" + one + "'");
                    q.statuses.push_back(*s);
                }
            }
            auto number = [&](const char* name, std::size_t fallback) {
                std::string v;
                if (!request->queryParam(name, v)) return fallback;
                unsigned n = 0;
                if (!Poco::NumberParser::tryParseUnsigned(v, n) || n == 0)
                    throw flows::InvalidRequest(std::string("'") + name + "' must be a positive integer");
                return static_cast<std::size_t>(n);
            };
            q.page = number("page", 1);
            q.pageSize = number("pageSize", 20);
            auto page = service_.list(q);
            std::string body = "{\"total\":" + std::to_string(page.total) + ",\"page\":" + std::to_string(page.page) +
                               ",\"pageSize\":" + std::to_string(page.pageSize) + ",\"items\":[";
            for (std::size_t i = 0; i < page.items.size(); ++i) {
                if (i) body += ',';
                const auto relation = relationTo(p, page.items[i]);
                body += applicationResponse(200, page.items[i], relation, answers_).body;
            }
            if (!applicant.empty() && applicant != p.subject) auditRouteCall(audit_, *request, 200, 0, applicant);
            body += "]}";
            return Response::json(200, std::move(body));
        });
    }

    void cancel(const RequestPtr& request, Responder out) {
        blocking(pool_, service_.database(), out, [this, request]() -> std::optional<Response> {
            auto body = parseBody(*request);
            auto app = service_.get(request->param("id"));
            if (app.applicant != request->principal.subject)
                return refused(*request,
                               problem(403, "only the applicant may cancel", "Forbidden", type("forbidden")));
            const std::int64_t startedAt = store::TraceLog::nowMs();
            return applicationResponse(200, traced(*request,
                                                   service_.cancel(app.id, request->principal.subject,
                                                                   optionalString(body, "reason"), ifMatch(*request)),
                                                   startedAt));
        });
    }

    void supplement(const RequestPtr& request, Responder out) {
        blocking(pool_, service_.database(), out, [this, request]() -> std::optional<Response> {
            auto body = parseBody(*request);
            auto app = service_.get(request->param("id"));
            if (app.applicant != request->principal.subject)
                return refused(*request,
                               problem(403, "only the applicant may supplement", "Forbidden", type("forbidden")));
            ApplicationService::SupplementRequest s;
            s.id = app.id;
            s.actor = request->principal.subject;
            s.formJson = formOf(body);
            s.materials = stringList(body, "materials");
            s.reason = optionalString(body, "reason");
            s.expectedVersion = ifMatch(*request);
            const std::int64_t startedAt = store::TraceLog::nowMs();
            return applicationResponse(200, traced(*request, service_.supplement(s, *catalog_.snapshot()), startedAt));
        });
    }

    // A department's decision: in_review, approved, rejected, needs_supplement, completed.
    void decide(const RequestPtr& request, Responder out) {
        blocking(pool_, service_.database(), out, [this, request]() -> std::optional<Response> {
            auto body = parseBody(*request);
            auto app = service_.get(request->param("id"));
            const Principal& p = request->principal;
            if (!isClerkOf(p, app.department) && !p.hasRole("hub:admin"))
                return refused(*request, problem(403, "only a clerk of department '" + app.department + "' may decide",
                                                 "Forbidden", type("forbidden")));
            auto to = flows::parseApplicationStatus(optionalString(body, "to"));
            if (!to) throw flows::InvalidRequest("'to' must be a status");
            if (*to == flows::ApplicationStatus::Cancelled)
                throw flows::InvalidRequest("only the applicant cancels; use .../cancel");
            const std::int64_t startedAt = store::TraceLog::nowMs();
            return applicationResponse(
                200,
                traced(*request,
                       service_.transition(app.id, *to, p.subject, optionalString(body, "reason"), ifMatch(*request)),
                       startedAt),
                relationTo(p, app), answers_);
        });
    }

    flows::ApplicationService& service_;
    catalog::Catalog& catalog_;
    host::PluginHost& plugins_;
    runtime::WorkerPool& pool_;
    store::AuditLog* audit_;
    const OwnedFields* owned_;
    const AnswerPolicy* answers_;
    Reviewer reviewer_;
    store::TraceLog trace_;
};

}  // namespace

void addApplicationRoutes(Router& router, flows::ApplicationService& service, catalog::Catalog& catalog,
                          host::PluginHost& plugins, runtime::WorkerPool& blockingPool, store::AuditLog* audit,
                          const OwnedFields* owned, const AnswerPolicy* answers, Reviewer reviewer) {
    std::make_shared<ApplicationRoutes>(service, catalog, plugins, blockingPool, audit, owned, answers,
                                        std::move(reviewer))
        ->add(router);
}

}  // namespace hub::api
