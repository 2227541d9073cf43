// The clerks' to-do list over the flow engine's task rows (TaskRoutes.h).
#include "hub/api/TaskRoutes.h"

#include "AdminRouteSupport.h"
#include "ApplicationAccess.h"

#include "hub/api/AdminScope.h"
#include "hub/api/Http.h"
#include "hub/catalog/Catalog.h"
#include "hub/catalog/Snapshot.h"
#include "hub/common/Utf8.h"
#include "hub/flows/ApplicationService.h"
#include "hub/flows/FlowRunner.h"
#include "hub/flows/engine/EngineStore.h"
#include "hub/flows/engine/FlowRepository.h"
#include "hub/flows/engine/TaskForm.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/StringTokenizer.h>

#include <algorithm>
#include <chrono>
#include <sstream>

namespace hub::api {

namespace {

using detail::problemType;

std::vector<std::string> groupsOf(const flows::engine::StoredTask& task) {
    Poco::StringTokenizer groups(task.candidateGroups, ",",
                                 Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    return {groups.begin(), groups.end()};
}

// A member of one of the task's candidate groups, its assignee, or an admin
// (hub:admin, or the admin of the application's department).
bool mayAct(const Principal& p, const flows::engine::StoredTask& task, const std::string& department = {}) {
    if (p.hasRole("hub:admin") || (!task.assignee.empty() && task.assignee == p.subject)) return true;
    if (!department.empty() && p.hasRole("dept:" + department + ":admin")) return true;
    for (const auto& group : groupsOf(task))
        if (p.hasRole(group)) return true;
    return false;
}

// The open tasks mayAct() can let through for p, and the list's filters: what
// the to-do list reads from the store.
flows::engine::TaskSelection selectionFor(const Principal& p, const std::string& department, const std::string& item) {
    flows::engine::TaskSelection selection;
    selection.everyTask = p.hasRole("hub:admin");
    selection.assignee = p.subject;
    for (const auto& role : p.roles) {
        // dept:<department>:admin administers that department's applications.
        constexpr std::string_view prefix = "dept:", suffix = ":admin";
        if (role.size() > prefix.size() + suffix.size() && role.compare(0, prefix.size(), prefix) == 0 &&
            role.compare(role.size() - suffix.size(), suffix.size(), suffix) == 0)
            selection.adminOf.push_back(role.substr(prefix.size(), role.size() - prefix.size() - suffix.size()));
        selection.groups.push_back(role);
    }
    selection.department = department;
    selection.itemId = item;
    return selection;
}

std::string departmentOf(const TaskServices& s, const std::string& applicationId) {
    auto application = s.applications->find(applicationId);
    return application ? application->department : std::string();
}

// The department of the application an engine instance runs for.
std::string departmentOfInstance(const TaskServices& s, Poco::Data::Session& session, const std::string& instanceId) {
    auto application = s.engineStore->applicationOf(session, instanceId);
    return application ? departmentOf(s, *application) : std::string();
}

// A department admin sees the flows of their departments' folders and those their items use.
bool flowInScope(const TaskServices& s, const AdminScope& scope, const std::string& flowId) {
    if (scope.global) return true;
    if (auto definition = s.flows->latest(flowId).first;
        definition && scope.covers(flows::engine::FlowRepository::departmentOfFile(definition->file)))
        return true;
    if (!s.catalog) return false;
    for (const auto& item : s.catalog->snapshot()->items())
        if (item.handler.flowId == flowId && scope.covers(item.departmentId)) return true;
    return false;
}

std::optional<flows::engine::StoredTask> findOpen(const TaskServices& s, const std::string& id) {
    Poco::Data::Session session = s.store->session();
    return s.engineStore->openTask(session, id);  // by its key: not the whole to-do list per step
}

void appendTask(std::string& out, const flows::engine::StoredTask& task, const flows::Application* application) {
    out += "{\"id\":";
    appendString(out, task.id);
    out += ",\"instance_id\":";
    appendString(out, task.instanceId);
    out += ",\"application_id\":";
    appendString(out, task.applicationId);
    out += ",\"element_id\":";
    appendString(out, task.elementId);
    out += ",\"name\":";
    appendString(out, task.name);
    out += ",\"candidate_groups\":[";
    bool first = true;
    for (const auto& group : groupsOf(task)) {
        if (!std::exchange(first, false)) out += ',';
        appendString(out, group);
    }
    out += "],\"assignee\":";
    appendString(out, task.assignee);
    out += ",\"claimed_by\":";
    appendString(out, task.claimedBy);
    out += ",\"created_at\":" + std::to_string(task.createdAt);
    if (application) {
        out += ",\"item_id\":";
        appendString(out, application->itemId);
        out += ",\"department\":";
        appendString(out, application->department);
        out += ",\"due_date\":";
        appendString(out, application->dueDate);
        out += std::string(",\"overdue\":") + (application->overdue ? "true" : "false");
    }
    out += '}';
}

Poco::JSON::Object::Ptr bodyObject(const Request& request) {
    const std::string& body = request.message.body();
    if (body.empty()) return new Poco::JSON::Object;
    if (!isValidUtf8(body)) throw std::invalid_argument("request body is not valid UTF-8");
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v;
    try {
        v = parser.parse(body);
    } catch (const Poco::Exception& e) {
        throw std::invalid_argument("request body is not valid JSON: " + e.message());
    }
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) throw std::invalid_argument("request body must be a JSON object");
    return v.extract<Poco::JSON::Object::Ptr>();
}

// The member `name` of the body as the engine's value: an object, {} when absent.
flows::engine::Value objectMember(const Poco::JSON::Object& body, const std::string& name) {
    if (!body.has(name)) return flows::engine::Value(flows::engine::Value::Object{});
    auto member = body.getObject(name);
    if (!member) throw std::invalid_argument(name + " must be an object");
    std::ostringstream text;
    Poco::JSON::Stringifier::condense(member, text);
    return flows::engine::Value::fromJson(text.str());
}

// Runs fn on the api pool; a bad body is a 400, store faults a 503.
template <class Reply>
void run(const TaskServices& s, Reply out, std::function<Response()> fn) {
    bool queued = s.blocking->trySubmit([out, store = s.store, fn = std::move(fn)] {
        try {
            out.send(fn());
        } catch (const std::invalid_argument& e) {
            out.send(problem(400, e.what(), "Invalid request", problemType("invalid-request")));
        } catch (const std::exception& e) {
            if (auto unavailable = storeProblem(e, store)) return (void)out.send(std::move(*unavailable));
            Poco::Logger::get("hub.api").error("tasks: %s", std::string(e.what()));
            out.send(problem(500, "internal error", "Internal error", problemType("internal")));
        }
    });
    if (!queued) out.send(problem(503, "the hub is busy; retry shortly", "Overloaded", problemType("overloaded")));
}

Response notFound(const std::string& id) {
    return problem(404, "no open task " + id, "Unknown task", problemType("unknown-task"));
}

Response notYours(const TaskServices& s, const Request& request) {
    auditRouteCall(s.audit, request, 403);
    return problem(403, "only a member of the task's candidate groups, its assignee or hub:admin may act on it",
                   "Not your task", problemType("forbidden"));
}

// The task's form (zeebe:formDefinition), if it declares one: every field that
// does not fit, at once, as a 422 naming each field.
std::optional<Response> checkForm(const TaskServices& s, const flows::engine::StoredTask& task,
                                  const flows::engine::Value& fields) {
    std::optional<flows::engine::InstanceState> state;
    {
        Poco::Data::Session session = s.store->session();
        state = s.engineStore->load(session, task.instanceId);
    }
    if (!state) return std::nullopt;
    auto definition = s.flows->version(state->flowId, state->version);
    const auto* element = definition ? definition->process.find(task.elementId) : nullptr;
    if (!element || element->formKey.empty()) return std::nullopt;
    auto problems = flows::engine::checkTaskForm(element->formFields, fields);
    if (problems.empty()) return std::nullopt;
    std::string detail;
    for (const auto& p : problems) detail += (detail.empty() ? "" : "; ") + p.message;
    // RFC 7807 extension member: each field that does not fit.
    Response r = problem(422, detail, "Task form incomplete", problemType("task-form-invalid"));
    r.body.pop_back();
    r.body += ",\"errors\":[";
    for (std::size_t n = 0; n < problems.size(); ++n) {
        if (n) r.body += ',';
        r.body += "{\"field\":";
        appendString(r.body, problems[n].field);
        r.body += ",\"code\":";
        appendString(r.body, problems[n].code);
        r.body += ",\"message\":";
        appendString(r.body, problems[n].message);
        r.body += '}';
    }
    r.body += "]}";
    return r;
}

}  // namespace

void addTaskRoutes(Router& router, TaskServices s) {
    router.add(http::verb::get, "/api/v1/tasks", [s](const RequestPtr& request, Responder out) {
        run(s, out, [s, request] {
            const Principal& p = request->principal;
            std::string department, item, overdue, due;
            request->queryParam("due", due);
            if (!due.empty() && (due.size() != 10 || due[4] != '-' || due[7] != '-'))
                throw std::invalid_argument("due must be a date, YYYY-MM-DD");
            request->queryParam("department", department);
            request->queryParam("item", item);
            request->queryParam("overdue", overdue);
            if (!overdue.empty() && overdue != "true" && overdue != "false")
                throw std::invalid_argument("overdue must be true or false");
            std::vector<flows::engine::StoredTask> tasks;
            {
                // Only the caller's tasks leave the database (a clerk's list among
                // thousands of open tasks); mayAct below still decides each.
                Poco::Data::Session session = s.store->session();
                tasks = s.engineStore->openTasksFor(session, selectionFor(p, department, item));
            }
            // Their applications in one read, not a transaction per task.
            std::vector<std::string> ids;
            for (const auto& task : tasks) ids.push_back(task.applicationId);
            std::sort(ids.begin(), ids.end());
            ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
            const auto applications = s.applications->findMany(ids);
            std::string body = "{\"items\":[";
            std::size_t count = 0;
            for (const auto& task : tasks) {
                const auto found = applications.find(task.applicationId);
                const flows::Application* application = found == applications.end() ? nullptr : &found->second;
                if (!mayAct(p, task, application ? application->department : std::string())) continue;
                if (!department.empty() && (!application || application->department != department)) continue;
                if (!item.empty() && (!application || application->itemId != item)) continue;
                if (!overdue.empty() && (!application || application->overdue != (overdue == "true"))) continue;
                // ISO dates compare as text: due on or before the given day.
                if (!due.empty() && (!application || application->dueDate > due)) continue;
                if (count++) body += ',';
                appendTask(body, task, application);
            }
            body += "],\"total\":" + std::to_string(count) + "}";
            return Response::json(200, std::move(body));
        });
    });

    for (const char* action : {"claim", "unclaim"}) {
        const bool claim = std::string_view(action) == "claim";
        router.add(http::verb::post, std::string("/api/v1/tasks/{id}/") + action,
                   [s, claim](const RequestPtr& request, Responder out) {
                       run(s, out, [s, request, claim] {
                           const Principal& p = request->principal;
                           const std::string& id = request->param("id");
                           auto task = findOpen(s, id);
                           if (!task) return notFound(id);
                           const std::string department = departmentOf(s, task->applicationId);
                           if (!mayAct(p, *task, department)) return notYours(s, *request);
                           const bool admin = AdminScope::of(p).covers(department);
                           Poco::Data::Session session = s.store->session();
                           bool done = claim ? s.engineStore->claimTask(session, id, p.subject)
                                             : s.engineStore->unclaimTask(session, id, p.subject, admin);
                           if (!done)
                               return problem(409,
                                              claim ? "the task is claimed by someone else or closed"
                                                    : "the task is not claimed by you",
                                              "Task taken", problemType("task-conflict"));
                           auto now = findOpen(s, id);
                           std::string body;
                           appendTask(body, now ? *now : *task, nullptr);
                           return Response::json(200, std::move(body));
                       });
                   });
    }

    router.add(http::verb::post, "/api/v1/tasks/{id}/complete", [s](const RequestPtr& request, Responder out) {
        run(s, out, [s, request] {
            const Principal& p = request->principal;
            const std::string& id = request->param("id");
            auto body = bodyObject(*request);
            flows::engine::Input input;
            input.kind = flows::engine::Input::Kind::TaskCompleted;
            input.taskId = id;
            input.actor = p.subject;
            input.decision = body->optValue<std::string>("decision", "");
            if (input.decision != "approve" && input.decision != "reject" &&
                input.decision != "return_for_supplement")
                throw std::invalid_argument("decision must be approve, reject or return_for_supplement");
            input.comment = body->optValue<std::string>("comment", "");
            if (input.comment.size() > 2000) throw std::invalid_argument("comment is longer than 2000 bytes");
            input.variables = objectMember(*body, "fields");
            auto task = findOpen(s, id);
            if (!task) {
                // A task of a running instance that is no longer open was
                // completed (or cancelled) meanwhile: the race's loser.
                Poco::Data::Session session = s.store->session();
                if (s.engineStore->load(session, id.substr(0, id.find(':'))))
                    return problem(409, "the task is no longer open", "Task taken", problemType("task-conflict"));
                return notFound(id);
            }
            const std::string department = departmentOf(s, task->applicationId);
            if (!mayAct(p, *task, department)) return notYours(s, *request);
            if (!task->claimedBy.empty() && task->claimedBy != p.subject && !AdminScope::of(p).covers(department))
                return problem(409, "the task is claimed by " + task->claimedBy, "Task taken",
                               problemType("task-conflict"));
            if (auto refusal = checkForm(s, *task, input.variables)) return std::move(*refusal);
            // Applied under the instance's compare-and-set: of two completions
            // at once, the second finds the task gone and is not applied.
            if (!s.runner->apply(task->instanceId, input))
                return problem(409, "the task was completed meanwhile", "Task taken", problemType("task-conflict"));
            return Response::json(200, "{\"id\":\"" + id + "\",\"completed\":true}");
        });
    });

    router.add(http::verb::get, "/api/v1/applications/{id}/flow", [s](const RequestPtr& request, Responder out) {
        run(s, out, [s, request] {
            const std::string& id = request->param("id");
            auto found = detail::applicationFor(*s.applications, s.audit, *request, detail::seesOnConsole,
                                                "this application is neither yours nor your department's");
            if (auto* refused = std::get_if<Response>(&found)) return *refused;
            Poco::Data::Session session = s.store->session();
            auto instance = s.engineStore->instanceOf(session, id);
            auto state = instance ? s.engineStore->load(session, *instance) : std::nullopt;
            if (!state)
                return problem(404, "no BPMN flow drives application " + id, "No flow", problemType("no-flow"));
            auto xml = s.engineStore->deploymentXml(session, state->flowId, state->version);
            std::string body = "{\"flow_id\":";
            appendString(body, state->flowId);
            body += ",\"version\":" + std::to_string(state->version) + ",\"status\":";
            appendString(body, flows::engine::statusName(state->status));
            body += ",\"xml\":";
            appendString(body, xml.value_or(""));
            body += ",\"active\":[";
            std::vector<std::string> seen;
            for (const auto& token : state->tokens) {
                if (std::find(seen.begin(), seen.end(), token.elementId) != seen.end()) continue;
                if (!seen.empty()) body += ',';
                seen.push_back(token.elementId);
                appendString(body, token.elementId);
            }
            body += "],\"completed\":[";
            auto history = s.engineStore->history(session, *instance);
            seen.clear();
            for (const auto& entry : history) {
                if (entry.event != "completed") continue;
                if (std::find(seen.begin(), seen.end(), entry.elementId) != seen.end()) continue;
                if (!seen.empty()) body += ',';
                seen.push_back(entry.elementId);
                appendString(body, entry.elementId);
            }
            body += "],\"history\":[";
            for (std::size_t n = 0; n < history.size(); ++n) {
                const auto& entry = history[n];
                if (n) body += ',';
                body += "{\"element_id\":";
                appendString(body, entry.elementId);
                body += ",\"event\":";
                appendString(body, entry.event);
                body += ",\"actor\":";
                appendString(body, entry.actor);
                body += ",\"at\":" + std::to_string(entry.at) + ",\"result\":";
                appendString(body, entry.result);
                body += '}';
            }
            body += "]}";
            return Response::json(200, std::move(body));
        });
    });

    const detail::AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/flows", [s](const RequestPtr& request, detail::AuditedReply out) {
        run(s, out, [s, scope = AdminScope::of(request->principal)] {
            std::string body = "{\"items\":[";
            bool first = true;
            for (const auto& id : s.flows->flowIds()) {
                auto [definition, version] = s.flows->latest(id);
                if (!definition || !flowInScope(s, scope, id)) continue;
                if (!std::exchange(first, false)) body += ',';
                body += "{\"id\":";
                appendString(body, id);
                body += ",\"version\":" + std::to_string(version) + ",\"file\":";
                appendString(body, definition->file);
                body += ",\"sha256\":";
                appendString(body, definition->sha256);
                body += ",\"warnings\":[";
                for (std::size_t n = 0; n < definition->warnings.size(); ++n) {
                    if (n) body += ',';
                    appendString(body, definition->warnings[n]);
                }
                body += "]}";
            }
            return Response::json(200, body + "]}");
        });
    }, detail::anyDepartment);
    admin.add(http::verb::get, "/admin/flows/incidents", [s](const RequestPtr& request, detail::AuditedReply out) {
        run(s, out, [s, scope = AdminScope::of(request->principal)] {
            Poco::Data::Session session = s.store->session();
            std::string body = "{\"items\":[";
            bool first = true;
            for (const auto& incident : s.engineStore->openIncidents(session)) {
                if (!scope.global && !scope.covers(departmentOfInstance(s, session, incident.instanceId))) continue;
                if (!std::exchange(first, false)) body += ',';
                body += "{\"id\":";
                appendString(body, incident.id);
                body += ",\"instance_id\":";
                appendString(body, incident.instanceId);
                body += ",\"element_id\":";
                appendString(body, incident.elementId);
                body += ",\"message\":";
                appendString(body, incident.message);
                body += ",\"created_at\":" + std::to_string(incident.createdAt) + "}";
            }
            return Response::json(200, body + "]}");
        });
    }, detail::anyDepartment);
    admin.add(http::verb::post, "/admin/flows/incidents/{id}/retry",
              [s](const RequestPtr& request, detail::AuditedReply out) {
                  run(s, out, [s, request] {
                      const std::string& id = request->param("id");
                      std::optional<flows::engine::StoredIncident> incident;
                      std::string department;
                      {
                          Poco::Data::Session session = s.store->session();
                          for (auto& open : s.engineStore->openIncidents(session))
                              if (open.id == id) incident = open;
                          if (incident) department = departmentOfInstance(s, session, incident->instanceId);
                      }
                      if (!incident)
                          return problem(404, "no open incident " + id, "Unknown incident",
                                         problemType("unknown-incident"));
                      if (!AdminScope::of(request->principal).covers(department))
                          return detail::outsideScope("incident " + id);
                      flows::engine::Input input;
                      input.kind = flows::engine::Input::Kind::RetryIncident;
                      input.incidentId = id;
                      input.actor = request->principal.subject;
                      if (!s.runner->apply(incident->instanceId, input))
                          return problem(409, "the incident was resolved meanwhile", "Incident resolved",
                                         problemType("incident-conflict"));
                      return Response::json(200, "{\"retried\":true}");
                  });
              },
              detail::anyDepartment);
    // A message published to the flows (e.g. a vendor's "work order done"):
    // every instance waiting for it by name and correlation key moves on, or,
    // when none waits yet, it is kept for the first wait that begins.
    admin.add(http::verb::post, "/admin/flows/messages", [s](const RequestPtr& request, detail::AuditedReply out) {
        run(s, out, [s, request] {
            if (request->message.body().size() > 64 * 1024)
                throw std::invalid_argument("the message is larger than 64 KiB");
            auto body = bodyObject(*request);
            flows::FlowRunner::Message message;
            message.name = body->optValue<std::string>("name", "");
            if (message.name.empty() || message.name.size() > 200 || !body->get("name").isString())
                throw std::invalid_argument("name must be the message's name, 1-200 bytes");
            if (body->has("correlationKey")) {
                auto key = body->get("correlationKey");
                if (!key.isString() && !key.isNumeric())
                    throw std::invalid_argument("correlationKey must be a string or a number");
                message.correlationKey = key.isString() ? key.extract<std::string>()
                                                         : flows::engine::Value::fromJson(key.toString()).toJson();
            }
            message.applicationId = body->optValue<std::string>("applicationId", "");
            if (message.correlationKey.empty() && message.applicationId.empty())
                throw std::invalid_argument("give the correlationKey the flow waits with, or the applicationId");
            message.variables = objectMember(*body, "variables");
            if (body->has("messageId")) {
                auto id = body->get("messageId");
                if (!id.isString() || id.extract<std::string>().empty() || id.extract<std::string>().size() > 200)
                    throw std::invalid_argument("messageId must be a string of 1-200 bytes");
                message.messageId = id.extract<std::string>();
            }
            if (body->has("ttlSeconds")) {
                auto ttl = body->get("ttlSeconds");
                if (!ttl.isInteger())
                    throw std::invalid_argument("ttlSeconds must be a whole number of seconds, 0 (never kept) to " +
                                                std::to_string(flows::FlowRunner::maxMessageTtlSeconds));
                message.ttlSeconds = ttl.convert<Poco::Int64>();
            }
            message.actor = request->principal.subject;
            const auto published = s.runner->publishMessage(message);
            using Outcome = flows::FlowRunner::Publication::Outcome;
            if (published.outcome == Outcome::NoWait)
                return problem(404,
                               "no running instance waits for message '" + message.name + "'" +
                                   (message.correlationKey.empty() ? "" : " with correlation key '" +
                                                                              message.correlationKey + "'") +
                                   ", and a time-to-live of 0 keeps nothing",
                               "No waiting instance", problemType("no-message-wait"));
            if (published.outcome == Outcome::Duplicate)
                return problem(409,
                               "message " + published.messageId + " came before and was " +
                                   (published.previous.empty() ? std::string("taken") : published.previous) +
                                   "; nothing moves twice",
                               "Duplicate message", problemType("duplicate-message"));
            // 200 delivered (the instances that took it), 202 kept for a wait
            // that has not begun, until expiresAt.
            const bool delivered = published.outcome == Outcome::Delivered;
            std::string reply = std::string("{\"status\":\"") + (delivered ? "delivered" : "buffered") + "\",\"messageId\":";
            appendString(reply, published.messageId);
            reply += ",\"expiresAt\":" + std::to_string(published.expiresAt) + ",\"delivered\":[";
            for (std::size_t n = 0; n < published.instances.size(); ++n) {
                if (n) reply += ',';
                appendString(reply, published.instances[n]);
            }
            return Response::json(delivered ? 200 : 202, reply + "]}");
        });
    });
    // A department's own BPMN files (flows.departmentsDir/<department>/):
    // checked before they are written, then that folder alone is deployed.
    const detail::DepartmentOf named = [](const Request& request) { return request.param("department"); };
    auto answer = [](const DepartmentFlowChange& change) {
        using Outcome = DepartmentFlowChange::Outcome;
        switch (change.outcome) {
        case Outcome::NotFound:
            return detail::withErrors(problem(404, change.problems.empty() ? "no such file" : change.problems.front(),
                                              "No such flow file", problemType("no-flow-file")),
                                      {});
        case Outcome::Foreign:
            return detail::withErrors(problem(403,
                                              std::to_string(change.problems.size()) +
                                                  " part(s) of the flow reach past the department; nothing changed",
                                              "Forbidden", problemType("forbidden")),
                                      change.problems);
        case Outcome::Invalid:
            return detail::withErrors(
                problem(422, std::to_string(change.problems.size()) + " file(s) refused; their running version stays",
                        "Flow refused", problemType("flow-invalid")),
                change.problems);
        case Outcome::Done:
            break;
        }
        std::string body = "{\"result\":";
        appendString(body, change.summary);
        body += ",\"refused\":[";
        for (std::size_t n = 0; n < change.problems.size(); ++n) {
            if (n) body += ',';
            appendString(body, change.problems[n]);
        }
        return Response::json(200, body + "]}");
    };
    auto unavailable = [] {
        return problem(503, "this hub does not manage departments' flows", "Unavailable", problemType("unavailable"));
    };
    admin.add(http::verb::put, "/admin/flows/departments/{department}/{file}",
              [s, answer, unavailable](const RequestPtr& request, detail::AuditedReply out) {
                  run(s, out, [s, request, answer, unavailable] {
                      if (!s.departmentFlows.put) return unavailable();
                      return answer(s.departmentFlows.put(request->param("department"), request->param("file"),
                                                          request->message.body()));
                  });
              },
              named);
    admin.add(http::verb::delete_, "/admin/flows/departments/{department}/{file}",
              [s, answer, unavailable](const RequestPtr& request, detail::AuditedReply out) {
                  run(s, out, [s, request, answer, unavailable] {
                      if (!s.departmentFlows.remove) return unavailable();
                      return answer(s.departmentFlows.remove(request->param("department"), request->param("file")));
                  });
              },
              named);
    admin.add(http::verb::post, "/admin/flows/departments/{department}/reload",
              [s, answer, unavailable](const RequestPtr& request, detail::AuditedReply out) {
                  run(s, out, [s, request, answer, unavailable] {
                      if (!s.departmentFlows.reload) return unavailable();
                      return answer(s.departmentFlows.reload(request->param("department")));
                  });
              },
              named);
    admin.add(http::verb::post, "/admin/flows/reload", [s](const RequestPtr&, detail::AuditedReply out) {
        run(s, out, [s] {
            try {
                std::string summary = s.reloadFlows();
                std::string body = "{\"result\":";
                appendString(body, summary);
                return Response::json(200, body + "}");
            } catch (const std::exception& e) {
                return problem(422, e.what(), "Flow refused", problemType("flow-invalid"));
            }
        });
    });
}

}  // namespace hub::api
