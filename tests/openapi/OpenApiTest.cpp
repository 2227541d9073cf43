// docs/api/openapi.json against the real hub: the simulated student affairs
// system and hubd run as processes; every documented operation is called over
// HTTP on loopback, and what comes back is checked against the document.
#include "hub/test/StoreBackend.h"
#include "hub/auth/TokenIssuer.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Http.h"
#include "hub/test/TempDir.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/URI.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using hub::test::ChildProcess;
using hub::test::HttpResponse;
using hub::test::httpRequest;
using hub::test::TempDir;
using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

const std::string kSecret = "openapi-test-secret-0123456789-abcdefgh";
const std::vector<std::string> kMethods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

std::string token(const std::string& subject) {
    hub::auth::TokenClaims claims;
    claims.subject = subject;
    claims.audience = {"campushub"};
    claims.issuer = "openapi-test";
    claims.lifetime = Poco::Timespan(600, 0);
    return hub::auth::TokenIssuer::hs256(kSecret).issue(claims);
}

Var parseJson(const std::string& text) {
    Poco::JSON::Parser parser;
    return parser.parse(text);
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Canonical text of a parsed document: Poco's default parse handler keeps object
// keys sorted, so equal documents stringify equally whatever their layout.
std::string canonical(const Var& v) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(v, out);
    return out.str();
}

bool isObject(const Var& v) { return v.type() == typeid(Object::Ptr); }
bool isArray(const Var& v) { return v.type() == typeid(Array::Ptr); }

/// The document, with "$ref" resolution and the little schema checking the test needs.
class Document {
public:
    explicit Document(Object::Ptr root) : root_(std::move(root)) {}

    const Object::Ptr& root() const { return root_; }

    /// Follows a local "$ref" ("#/components/..."), repeatedly; other objects as they are.
    Object::Ptr resolve(Object::Ptr node) const {
        for (int hops = 0; node && node->has("$ref"); ++hops) {
            if (hops > 16) throw std::runtime_error("$ref loop");
            std::string ref = node->getValue<std::string>("$ref");
            if (ref.rfind("#/", 0) != 0) throw std::runtime_error("non-local $ref " + ref);
            Object::Ptr at = root_;
            std::istringstream parts(ref.substr(2));
            std::string part;
            while (std::getline(parts, part, '/')) {
                if (!at || !at->has(part)) throw std::runtime_error("unresolved $ref " + ref);
                at = at->getObject(part);
            }
            node = at;
        }
        return node;
    }

    /// Appends to errors every way value departs from schema (type, required
    /// members, enums, nullability), recursing into properties and items.
    void check(const Var& value, Object::Ptr schema, const std::string& where,
               std::vector<std::string>& errors) const {
        schema = resolve(schema);
        if (!schema) return;
        if (schema->has("allOf")) {
            auto all = schema->getArray("allOf");
            for (unsigned i = 0; i < all->size(); ++i) check(value, all->getObject(i), where, errors);
        }
        if (value.isEmpty()) {
            if (schema->has("type") && !schema->optValue("nullable", false))
                errors.push_back(where + ": null where the document says not nullable");
            return;
        }
        std::string type = schema->optValue<std::string>("type", "");
        bool ok = true;
        if (type == "object") ok = isObject(value);
        else if (type == "array") ok = isArray(value);
        else if (type == "string") ok = value.isString();
        else if (type == "integer") ok = value.isInteger();
        else if (type == "number") ok = value.isNumeric();
        else if (type == "boolean") ok = value.isBoolean();
        if (!ok) {
            errors.push_back(where + ": not of type " + type + ": " + canonical(value).substr(0, 200));
            return;
        }
        if (schema->has("enum") && value.isString()) {
            auto values = schema->getArray("enum");
            bool found = false;
            for (unsigned i = 0; i < values->size() && !found; ++i)
                found = !values->get(i).isEmpty() && values->get(i).toString() == value.toString();
            if (!found) errors.push_back(where + ": '" + value.toString() + "' is not in the documented enum");
        }
        if (isObject(value)) {
            auto object = value.extract<Object::Ptr>();
            if (auto required = schema->getArray("required")) {
                for (unsigned i = 0; i < required->size(); ++i) {
                    std::string name = required->getElement<std::string>(i);
                    if (!object->has(name)) errors.push_back(where + ": required member '" + name + "' missing");
                }
            }
            if (auto properties = schema->getObject("properties")) {
                for (const auto& [name, sub] : *properties) {
                    if (object->has(name))
                        check(object->get(name), sub.extract<Object::Ptr>(), where + "." + name, errors);
                }
            }
        }
        if (isArray(value) && schema->has("items")) {
            auto array = value.extract<Array::Ptr>();
            for (unsigned i = 0; i < array->size(); ++i)
                check(array->get(i), schema->getObject("items"), where + "[" + std::to_string(i) + "]", errors);
        }
    }

    /// Path-level and operation-level parameters, resolved.
    std::vector<Object::Ptr> parameters(const Object::Ptr& pathItem, const Object::Ptr& operation) const {
        std::vector<Object::Ptr> out;
        for (const auto& owner : {pathItem, operation}) {
            if (auto list = owner->getArray("parameters"))
                for (unsigned i = 0; i < list->size(); ++i) out.push_back(resolve(list->getObject(i)));
        }
        return out;
    }

    /// The operation's security requirements, or the document's global ones.
    Array::Ptr security(const Object::Ptr& operation) const {
        return operation->has("security") ? operation->getArray("security") : root_->getArray("security");
    }

    /// True when the operation takes the bearer token; false for the open probes and
    /// for the vendors' webhooks, which are signed instead (webhookSignature).
    bool bearer(const Object::Ptr& operation) const {
        auto list = security(operation);
        for (unsigned i = 0; list && i < list->size(); ++i)
            if (list->getObject(i)->has("bearerAuth")) return true;
        return false;
    }

private:
    Object::Ptr root_;
};

Document loadDocument() { return Document(parseJson(readFile(OPENAPI_JSON)).extract<Object::Ptr>()); }

/// Every path + method of the document, for iteration.
struct Operation {
    std::string method;  ///< Upper case.
    std::string path;    ///< Template, e.g. /api/v1/applications/{id}.
    Object::Ptr pathItem;
    Object::Ptr operation;
};

std::vector<Operation> operationsOf(const Document& doc) {
    std::vector<Operation> out;
    auto paths = doc.root()->getObject("paths");
    for (const auto& [path, item] : *paths) {
        auto pathItem = item.extract<Object::Ptr>();
        for (const auto& m : kMethods) {
            if (!pathItem->has(m)) continue;
            std::string upper = m;
            for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            out.push_back({upper, path, pathItem, pathItem->getObject(m)});
        }
    }
    return out;
}

// A value for a parameter: its example, its schema's example, or a stand-in.
std::string sampleValue(const Document& doc, const Object::Ptr& parameter) {
    if (parameter->has("example")) return parameter->get("example").toString();
    if (auto schema = doc.resolve(parameter->getObject("schema")); schema && schema->has("example"))
        return schema->get("example").toString();
    return "00000000-0000-4000-8000-000000000000";
}

/// The request target for an operation: path parameters substituted (and
/// percent-encoded), required query parameters added.
/// applicationId, when given, stands in for the {id} of /api/v1/applications/{id}.
std::string targetFor(const Document& doc, const Operation& op, const std::string& applicationId = {}) {
    std::string target = op.path;
    std::string query;
    for (const auto& p : doc.parameters(op.pathItem, op.operation)) {
        std::string in = p->getValue<std::string>("in");
        std::string name = p->getValue<std::string>("name");
        std::string value = sampleValue(doc, p);
        if (in == "path" && name == "id" && !applicationId.empty() && op.path.rfind("/api/v1/applications/", 0) == 0)
            value = applicationId;
        std::string encoded;
        Poco::URI::encode(value, "/?#&=+%", encoded);
        if (in == "path") {
            auto at = target.find("{" + name + "}");
            if (at != std::string::npos) target.replace(at, name.size() + 2, encoded);
        } else if (in == "query" && p->optValue("required", false)) {
            query += (query.empty() ? "?" : "&") + name + "=" + encoded;
        }
    }
    return target + query;
}

bool isNoSuchResource(const HttpResponse& r) {
    if (r.status != 404) return false;
    try {
        auto p = parseJson(r.body).extract<Object::Ptr>();
        return p->optValue<std::string>("detail", "").rfind("no such resource", 0) == 0;
    } catch (...) {
        return false;
    }
}

std::string mediaType(const std::string& contentType) {
    std::string t = contentType.substr(0, contentType.find(';'));
    while (!t.empty() && t.back() == ' ') t.pop_back();
    return t;
}

class OpenApiTest : public ::testing::Test {
protected:
    // A fixture that cannot start fails every test with the reason: gtest would
    // otherwise mark them skipped, and ctest counts skipped as passed.
    static void SetUpTestSuite() {
        try {
            startProcesses();
        } catch (const Poco::Exception& e) {
            startError_ = e.displayText();
        } catch (const std::exception& e) {
            startError_ = e.what();
        }
    }
    void SetUp() override {
        if (!startError_.empty()) FAIL() << "could not start the simulated system and hubd: " << startError_;
    }
    static void startProcesses() {
        dir_ = new TempDir("openapi-test");
        sim_ = new ChildProcess(SIM_STUDENT_AFFAIRS_EXE,
                                {.args = {"--port", "0", "--port-file", dir_->file("sim.port")},
                                 .portFile = dir_->file("sim.port")});
        fs::create_directories(dir_->file("plugins"));
        fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir_->file("plugins/student_affairs"),
                 fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        dir_->write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_->file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir_->file("var")) + R"(
  <plugins>
    <dir>)" + dir_->file("plugins") + R"(</dir>
    <plugin name="student_affairs"><timeoutMs>3000</timeoutMs>
      <config><base_url>http://127.0.0.1:)" + std::to_string(sim_->port()) + R"(</base_url></config></plugin>
  </plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><issuer>openapi-test</issuer>
    <audience>campushub</audience></jwt></auth>
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CATALOG_DIR) + R"(/../calendar/calendar.xml</file></calendar>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
    <person id="admin" name="Operator" audience="staff" roles="hub:admin"/>
  </static></identity>
</hub>)");
        fs::create_directories(dir_->file("var"));
        hubd_ = new ChildProcess(HUBD_EXE, {.args = {"--config", dir_->file("hub.xml")},
                                            .portFile = dir_->file("hubd.port")});
    }
    static void TearDownTestSuite() {
        delete hubd_;
        delete sim_;
        delete dir_;
    }

    static HttpResponse request(const std::string& method, const std::string& target, const std::string& body = "",
                                bool authenticated = true) {
        std::map<std::string, std::string> headers;
        if (authenticated) headers["Authorization"] = "Bearer " + token("admin");
        return httpRequest(method, hubd_->url(target), body, headers);
    }

    // Submits a complete application for the first counter item run by a flow,
    // with a form built from the item's own field list; its id, or "" when that failed.
    static std::string createSampleApplication() {
        auto page = request("GET", "/api/v1/catalog/services?channel=counter&limit=1000");
        if (page.status != 200) return {};
        auto items = parseJson(page.body).extract<Object::Ptr>()->getArray("items");
        for (unsigned i = 0; i < items->size(); ++i) {
            auto item = items->getObject(i);
            if (item->getObject("handler")->getValue<std::string>("type") != "flow") continue;
            Object::Ptr form = new Object;
            auto fields = item->getArray("form");
            for (unsigned f = 0; f < fields->size(); ++f) {
                auto field = fields->getObject(f);
                std::string id = field->getValue<std::string>("id"), type = field->getValue<std::string>("type");
                if (type == "integer" || type == "number") form->set(id, field->optValue<int>("min", 1));
                else if (type == "boolean") form->set(id, true);
                else if (type == "date") form->set(id, std::string("2030-01-15"));
                else if (type == "enum") form->set(id, field->getArray("options")->getObject(0)->getValue<std::string>("value"));
                else form->set(id, std::string("测试"));
            }
            Array::Ptr materials = new Array;
            auto wanted = item->getArray("materials");
            for (unsigned m = 0; m < wanted->size(); ++m) materials->add(wanted->getObject(m)->getValue<std::string>("id"));
            Object::Ptr submission = new Object;
            submission->set("item_id", item->getValue<std::string>("id"));
            submission->set("form", form);
            submission->set("materials", materials);
            auto r = httpRequest("POST", hubd_->url("/api/v1/applications"), canonical(submission),
                                 {{"Authorization", "Bearer " + token("admin")}, {"Idempotency-Key", "openapi-test-1"}});
            if (r.status == 201) return parseJson(r.body).extract<Object::Ptr>()->getValue<std::string>("id");
            std::cout << "  sample application for " << item->getValue<std::string>("id") << ": " << r.status << " "
                      << r.body.substr(0, 300) << "\n";
        }
        return {};
    }

    static TempDir* dir_;
    static ChildProcess* sim_;
    static ChildProcess* hubd_;
    static std::string startError_;
};

std::string OpenApiTest::startError_;
TempDir* OpenApiTest::dir_ = nullptr;
ChildProcess* OpenApiTest::sim_ = nullptr;
ChildProcess* OpenApiTest::hubd_ = nullptr;

}  // namespace

// Needs no hub: the document alone.
TEST(OpenApiDocument, IsConsistent) {
    Document doc = loadDocument();
    EXPECT_EQ(doc.root()->getValue<std::string>("openapi"), "3.0.3");
    auto global = doc.root()->getArray("security");
    ASSERT_TRUE(global);
    ASSERT_EQ(global->size(), 1u);
    EXPECT_TRUE(global->getObject(0)->has("bearerAuth"));
    auto scheme = doc.resolve(doc.root()->getObject("components")->getObject("securitySchemes")->getObject("bearerAuth"));
    EXPECT_EQ(scheme->getValue<std::string>("scheme"), "bearer");
    EXPECT_EQ(scheme->getValue<std::string>("bearerFormat"), "JWT");

    std::set<std::string> operationIds;
    for (const auto& op : operationsOf(doc)) {
        SCOPED_TRACE(op.method + " " + op.path);
        std::string id = op.operation->optValue<std::string>("operationId", "");
        EXPECT_FALSE(id.empty());
        EXPECT_TRUE(operationIds.insert(id).second) << "operationId used twice: " << id;
        // Every {name} in the template is a declared path parameter, and back.
        std::set<std::string> inTemplate, declared;
        for (std::size_t at = op.path.find('{'); at != std::string::npos; at = op.path.find('{', at + 1))
            inTemplate.insert(op.path.substr(at + 1, op.path.find('}', at) - at - 1));
        for (const auto& p : doc.parameters(op.pathItem, op.operation)) {
            ASSERT_TRUE(p) << "unresolved parameter";
            if (p->getValue<std::string>("in") == "path") {
                EXPECT_TRUE(p->optValue("required", false)) << p->getValue<std::string>("name");
                declared.insert(p->getValue<std::string>("name"));
            }
        }
        EXPECT_EQ(inTemplate, declared);
        // Every response and schema it names exists (resolve throws otherwise).
        auto responses = op.operation->getObject("responses");
        ASSERT_TRUE(responses && responses->size() > 0);
        for (const auto& [status, response] : *responses) {
            auto r = doc.resolve(response.extract<Object::Ptr>());
            EXPECT_FALSE(r->optValue<std::string>("description", "").empty()) << status;
            if (auto content = r->getObject("content"))
                for (const auto& [type, media] : *content) doc.resolve(media.extract<Object::Ptr>()->getObject("schema"));
        }
    }
    // Probes and metrics are open; everything else needs the token.
    for (const auto& op : operationsOf(doc)) {
        bool open = op.path == "/healthz" || op.path == "/readyz" || op.path == "/metrics";
        EXPECT_EQ(doc.security(op.operation)->size() == 0, open) << op.method << " " << op.path;
    }
}

TEST_F(OpenApiTest, HubServesThisDocument) {
    auto r = request("GET", "/api/v1/openapi.json");
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    EXPECT_EQ(mediaType(r.header("Content-Type")), "application/json");
    EXPECT_EQ(canonical(parseJson(r.body)), canonical(parseJson(readFile(OPENAPI_JSON))))
        << "hubd serves a different document than docs/api/openapi.json";
}

// The detectors the walk relies on do fire: a route the hub lacks is "no such
// resource", a wrong method 405, a missing token 401.
TEST_F(OpenApiTest, HubRefusesWhatIsNotThere) {
    auto missing = request("GET", "/api/v1/no-such-collection");
    EXPECT_TRUE(isNoSuchResource(missing)) << missing.status << " " << missing.body;
    EXPECT_EQ(request("DELETE", "/api/v1/systems").status, 405);
    EXPECT_EQ(request("GET", "/api/v1/systems", "", false).status, 401);
    // Hostile template values are data, not routes, and come back as valid JSON.
    auto odd = request("GET", "/api/v1/catalog/services/%E5%9C%A8%22%5C%3Cscript%3E");
    EXPECT_EQ(odd.status, 404);
    EXPECT_FALSE(isNoSuchResource(odd)) << odd.body;
    EXPECT_NO_THROW(parseJson(odd.body)) << odd.body;
    // Values that do not decode to UTF-8 text (NUL, a stray byte) never reach a handler.
    auto undecodable = request("GET", "/api/v1/catalog/services/%E5%9C%A8%00%FF");
    EXPECT_EQ(undecodable.status, 400) << undecodable.body;
    EXPECT_NO_THROW(parseJson(undecodable.body)) << undecodable.body;
    auto huge = request("GET", "/api/v1/catalog/services/" + std::string(4000, 'x'));
    EXPECT_EQ(huge.status, 404);
    EXPECT_FALSE(isNoSuchResource(huge)) << huge.body.substr(0, 200);
}

TEST_F(OpenApiTest, EveryDocumentedOperationExistsAndAnswersAsDocumented) {
    Document doc = loadDocument();
    auto problemSchema = doc.resolve(doc.root()->getObject("components")->getObject("schemas")->getObject("Problem"));
    // A real application, so its routes answer 200 with a body to check, not only 404.
    std::string applicationId = createSampleApplication();
    EXPECT_FALSE(applicationId.empty()) << "could not submit a sample application";
    for (const auto& op : operationsOf(doc)) {
        std::string target = targetFor(doc, op, applicationId);
        SCOPED_TRACE(op.method + " " + target);
        std::string body = op.operation->has("requestBody") ? "{}" : "";
        auto r = request(op.method, target, body);
        std::cout << "  " << op.method << " " << target << " -> " << r.status << "\n";

        EXPECT_FALSE(isNoSuchResource(r)) << "documented, but the hub has no such route: " << r.body;
        EXPECT_NE(r.status, 405) << "documented, but the hub does not allow the method: " << r.body;
        if (doc.bearer(op.operation)) {
            EXPECT_NE(r.status, 401) << "a valid admin token was refused: " << r.body;
        }
        EXPECT_FALSE(r.header("X-Request-Id").empty());

        auto responses = op.operation->getObject("responses");
        std::string status = std::to_string(r.status);
        if (!responses->has(status) && !responses->has("default")) {
            ADD_FAILURE() << "answered " << status << ", which the document does not list: " << r.body.substr(0, 300);
            continue;
        }
        auto documented = doc.resolve(responses->getObject(responses->has(status) ? status : "default"));
        if (auto headers = documented->getObject("headers")) {
            for (const auto& [name, header] : *headers) {
                EXPECT_FALSE(r.header(name).empty()) << "documented header " << name << " missing";
            }
        }

        std::string type = mediaType(r.header("Content-Type"));
        auto content = documented->getObject("content");
        if (!content) continue;
        ASSERT_TRUE(content->has(type)) << "answered " << type << ", documented otherwise";
        if (type != "application/json" && type != "application/problem+json") continue;
        Var value;
        try {
            value = parseJson(r.body);
        } catch (const std::exception&) {
            ADD_FAILURE() << "body is not JSON: " << r.body.substr(0, 200);
            continue;
        }
        std::vector<std::string> errors;
        doc.check(value, content->getObject(type)->getObject("schema"), "body", errors);
        if (type == "application/problem+json") doc.check(value, problemSchema, "problem", errors);
        for (const auto& e : errors) ADD_FAILURE() << e << "\n  in " << r.body.substr(0, 300);
    }
}

TEST_F(OpenApiTest, DocumentedSecurityHolds) {
    Document doc = loadDocument();
    for (const auto& op : operationsOf(doc)) {
        std::string target = targetFor(doc, op);
        SCOPED_TRACE(op.method + " " + target);
        auto r = request(op.method, target, op.operation->has("requestBody") ? "{}" : "", false);
        if (doc.bearer(op.operation)) {
            EXPECT_EQ(r.status, 401) << "documented as needing a token, answered without one: " << r.body;
            EXPECT_NE(r.header("WWW-Authenticate").find("Bearer"), std::string::npos);
        } else if (doc.security(op.operation)->size() > 0) {
            EXPECT_EQ(r.status, 401) << "documented as signed, answered without a signature: " << r.body;
        } else {
            EXPECT_NE(r.status, 401) << "documented as open, but wants a token";
            EXPECT_NE(r.status, 404) << r.body;
        }
    }
}

// The converse: every route the hub registers (core/api/src/*Routes.cpp) is in the
// document, and the document describes nothing else. A new route fails this test
// until it is both listed here and documented.
TEST_F(OpenApiTest, EveryKnownRouteIsDocumented) {
    const std::set<std::pair<std::string, std::string>> known = {
        {"GET", "/healthz"},
        {"GET", "/readyz"},
        {"GET", "/metrics"},
        {"GET", "/api/v1/openapi.json"},
        {"GET", "/api/v1/systems"},
        {"POST", "/api/v1/systems/{system}/operations/{operation}"},
        {"POST", "/api/v1/webhooks/{plugin}/{operation}"},
        {"GET", "/api/v1/catalog/services"},
        {"GET", "/api/v1/catalog/services/{id}"},
        {"GET", "/api/v1/catalog/categories"},
        {"POST", "/api/v1/applications"},
        {"GET", "/api/v1/applications"},
        {"GET", "/api/v1/applications/{id}"},
        {"POST", "/api/v1/applications/{id}/cancel"},
        {"POST", "/api/v1/applications/{id}/supplement"},
        {"POST", "/api/v1/applications/{id}/transitions"},
        {"POST", "/api/v1/applications/{id}/rating"},
        {"GET", "/api/v1/applications/{id}/rating"},
        {"GET", "/admin/evaluation"},
        {"GET", "/admin/plugins/activity"},
        {"GET", "/admin/events/consumers"},
        {"GET", "/api/v1/identities/me"},
        {"GET", "/api/v1/identities/{id}"},
        {"GET", "/api/v1/identities"},
        {"GET", "/admin/identity/sync"},
        {"POST", "/admin/identity/sync"},
        {"GET", "/admin/identity/sync/preview"},
        {"GET", "/admin/audit"},
        {"GET", "/admin/events/dead-letters"},
        {"POST", "/admin/events/dead-letters/replay"},
        {"GET", "/admin/plugins"},
        {"POST", "/admin/plugins/{name}/reload"},
        {"DELETE", "/admin/plugins/{name}"},
        {"POST", "/admin/plugins/rescan"},
        {"GET", "/admin/cluster"},
        {"POST", "/admin/catalog/reload"},
        {"GET", "/api/v1/tasks"},
        {"POST", "/api/v1/tasks/{id}/claim"},
        {"POST", "/api/v1/tasks/{id}/unclaim"},
        {"POST", "/api/v1/tasks/{id}/complete"},
        {"POST", "/admin/flows/reload"},
        {"GET", "/admin/flows"},
        {"GET", "/admin/flows/incidents"},
        {"POST", "/admin/flows/incidents/{id}/retry"},
        {"POST", "/admin/flows/messages"},
        {"GET", "/api/v1/applications/{id}/flow"},
        {"GET", "/admin/applications/{id}/trace"},
        {"GET", "/api/v1/catalog/services/{id}/prefill"},
        {"GET", "/api/v1/me/export"},
        {"POST", "/admin/retention/run"},
        {"GET", "/admin/retention/runs"},
        {"PUT", "/admin/applications/{id}/legal-hold"},
        {"DELETE", "/admin/applications/{id}/legal-hold"},
        {"PUT", "/admin/catalog/departments/{department}"},
        {"DELETE", "/admin/catalog/departments/{department}"},
        {"POST", "/admin/catalog/departments/{department}/reload"},
        {"PUT", "/admin/flows/departments/{department}/{file}"},
        {"DELETE", "/admin/flows/departments/{department}/{file}"},
        {"POST", "/admin/flows/departments/{department}/reload"},
    };
    Document doc = loadDocument();
    std::set<std::pair<std::string, std::string>> documented;
    for (const auto& op : operationsOf(doc)) documented.insert({op.method, op.path});
    for (const auto& route : known)
        EXPECT_TRUE(documented.count(route)) << route.first << " " << route.second << " is not documented";
    for (const auto& route : documented)
        EXPECT_TRUE(known.count(route)) << route.first << " " << route.second << " is documented but not known";
    // And the hub has each of them (whatever the document says).
    for (const auto& [method, path] : known) {
        std::string target = path;
        for (auto at = target.find('{'); at != std::string::npos; at = target.find('{'))
            target.replace(at, target.find('}', at) - at + 1, "sample");
        auto r = request(method, target, method == "POST" ? "{}" : "");
        EXPECT_FALSE(isNoSuchResource(r)) << method << " " << target << ": " << r.body;
        EXPECT_NE(r.status, 405) << method << " " << target;
    }
}
