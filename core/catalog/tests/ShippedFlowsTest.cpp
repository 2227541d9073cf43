// The hall's flows in config/flows/ as a modeler saves them: read with the
// hub's hardened XML parser, every node drawn, every edge routed, ids unique,
// references resolved, only the elements the engine runs, extension values in
// the agreed forms, and the catalogue items that name them finding them.
// (No BPMN 2.0 XSD ships with Debian, so these checks stand in for one.)

#include "TestSupport.h"
#include "hub/catalog/Catalog.h"
#include "hub/xml/Document.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using hub::catalog::test::configDir;
using hub::xml::Document;
using hub::xml::Node;

namespace {

const hub::xml::Namespaces kNs = {
    {"bpmn", "http://www.omg.org/spec/BPMN/20100524/MODEL"},
    {"bpmndi", "http://www.omg.org/spec/BPMN/20100524/DI"},
    {"dc", "http://www.omg.org/spec/DD/20100524/DC"},
    {"di", "http://www.omg.org/spec/DD/20100524/DI"},
    {"zeebe", "http://camunda.org/schema/zeebe/1.0"},
    {"modeler", "http://camunda.org/schema/modeler/1.0"},
};

// What the engine runs (issue 14), plus the process's own furniture.
const std::set<std::string> kFlowNodes = {
    "startEvent", "endEvent", "serviceTask", "userTask", "receiveTask", "intermediateCatchEvent",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "boundaryEvent"};
const std::set<std::string> kOtherProcessChildren = {"sequenceFlow", "laneSet", "documentation",
                                                     "extensionElements", "textAnnotation", "association"};

std::vector<fs::path> flowFiles() {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(configDir() / "flows"))
        if (e.path().extension() == ".bpmn") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

struct Box {
    double x, y, w, h;
};

Box bounds(const Node& shape) {
    auto b = shape.child("Bounds");
    EXPECT_TRUE(b.has_value()) << shape.path();
    if (!b) return {0, 0, 0, 0};
    return {std::stod(b->attribute("x", "0")), std::stod(b->attribute("y", "0")),
            std::stod(b->attribute("width", "0")), std::stod(b->attribute("height", "0"))};
}

std::set<std::string> pluginOperations(const std::string& plugin) {
    std::set<std::string> ops;
    auto manifest = configDir() / ".." / "plugins" / plugin / "plugin.xml";
    if (!fs::exists(manifest)) return ops;
    auto doc = Document::parseFile(manifest.string());
    for (const auto& v : doc.selectStrings("//*[local-name()='operation']/@name")) ops.insert(v);
    return ops;
}

}  // namespace

TEST(ShippedFlows, EveryFileIsACompleteCamunda8DiagramOfTheSupportedSubset) {
    auto files = flowFiles();
    ASSERT_GE(files.size(), 8u);
    std::set<std::string> catalogueDepartments;
    for (const auto& id : Document::parseFile((configDir() / "catalog" / "00-taxonomy.xml").string())
                              .selectStrings("/catalog/department/@id"))
        catalogueDepartments.insert(id);
    const auto studentAffairsOps = pluginOperations("student_affairs");
    ASSERT_FALSE(studentAffairsOps.empty());
    const std::regex group(R"(dept:([a-z][a-z0-9-]*):([a-z][a-z0-9_-]*))");
    const std::regex taskType(R"(([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*))");

    for (const auto& file : files) {
        SCOPED_TRACE(file.filename().string());
        Document doc = Document::parseFile(file.string());  // hardened: no DOCTYPE, no entities, size cap
        Node root = doc.root();
        EXPECT_EQ(root.name(), "definitions");
        EXPECT_EQ(root.namespaceUri(), "http://www.omg.org/spec/BPMN/20100524/MODEL");
        EXPECT_EQ(doc.evaluateString("string(/bpmn:definitions/@modeler:executionPlatform)", kNs), "Camunda Cloud");
        EXPECT_EQ(doc.evaluateString("substring(/bpmn:definitions/@modeler:executionPlatformVersion, 1, 2)", kNs), "8.");
        EXPECT_EQ(doc.evaluateString("string(/bpmn:definitions/@exporter)", kNs), "Camunda Modeler");
        EXPECT_EQ(doc.evaluateString("substring(/bpmn:definitions/@exporterVersion, 1, 2)", kNs), "5.");

        // One executable process, named like the file (the catalogue's flow id).
        auto processes = doc.selectNodes("/bpmn:definitions/bpmn:process", kNs);
        ASSERT_EQ(processes.size(), 1u);
        Node process = processes[0];
        EXPECT_EQ(process.attribute("id", ""), file.stem().string());
        EXPECT_EQ(process.attribute("isExecutable", ""), "true");

        // Ids unique across the document.
        std::set<std::string> ids;
        for (const auto& id : doc.selectStrings("//@id")) EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;

        // Only the supported elements.
        std::map<std::string, Node> nodes;
        std::map<std::string, std::string> kind;
        std::vector<Node> flows;
        for (const auto& child : process.children()) {
            if (kFlowNodes.count(child.name())) {
                nodes.emplace(child.attribute("id", ""), child);
                kind[child.attribute("id", "")] = child.name();
            } else if (child.name() == "sequenceFlow") {
                flows.push_back(child);
            } else {
                EXPECT_TRUE(kOtherProcessChildren.count(child.name()))
                    << "unsupported element <" << child.name() << "> at line " << child.line();
            }
        }
        ASSERT_FALSE(nodes.empty());

        // Every flow's ends exist; incoming/outgoing lists agree with the flows.
        std::map<std::string, std::vector<std::string>> successors;
        std::map<std::string, int> in, out;
        for (const auto& f : flows) {
            std::string id = f.attribute("id", ""), s = f.attribute("sourceRef", ""), t = f.attribute("targetRef", "");
            EXPECT_TRUE(nodes.count(s)) << id << ": sourceRef " << s;
            EXPECT_TRUE(nodes.count(t)) << id << ": targetRef " << t;
            successors[s].push_back(t);
            ++out[s];
            ++in[t];
            EXPECT_EQ(doc.selectNodes("//bpmn:*[@id='" + s + "']/bpmn:outgoing[text()='" + id + "']", kNs).size(), 1u) << id;
            EXPECT_EQ(doc.selectNodes("//bpmn:*[@id='" + t + "']/bpmn:incoming[text()='" + id + "']", kNs).size(), 1u) << id;
            if (auto c = f.child("conditionExpression")) {
                EXPECT_EQ(c->text().rfind("= ", 0), 0u) << id << ": FEEL starts with '='";
            }
        }
        for (const auto& [id, n] : nodes) {
            const std::string k = n.name();
            if (k == "boundaryEvent") {
                std::string host = n.attribute("attachedToRef", "");
                EXPECT_TRUE(nodes.count(host)) << id;
                successors[host].push_back(id);  // reachable through its host
                EXPECT_GE(out[id], 1) << id;
                continue;
            }
            if (k == "startEvent") EXPECT_EQ(in[id], 0) << id;
            else EXPECT_GE(in[id], 1) << id << " has no incoming flow";
            if (k == "endEvent") EXPECT_EQ(out[id], 0) << id;
            else EXPECT_GE(out[id], 1) << id << " has no outgoing flow";
            if (auto d = n.attribute("default")) {
                EXPECT_EQ(doc.selectNodes("//bpmn:sequenceFlow[@id='" + *d + "' and @sourceRef='" + id + "']", kNs).size(), 1u)
                    << id << ": default flow " << *d;
            }
            if (k == "exclusiveGateway" || k == "inclusiveGateway") {
                // A split: every flow out but the default carries a condition.
                if (out[id] > 1) {
                    for (const auto& f : doc.selectNodes("//bpmn:sequenceFlow[@sourceRef='" + id + "']", kNs)) {
                        if (f.attribute("id", "") == n.attribute("default", "")) continue;
                        EXPECT_TRUE(f.child("conditionExpression").has_value()) << f.attribute("id", "");
                    }
                }
            }
            if (k == "userTask") {
                auto a = n.selectNodes("bpmn:extensionElements/zeebe:assignmentDefinition", kNs);
                ASSERT_EQ(a.size(), 1u) << id;
                auto groups = a[0].attribute("candidateGroups");
                auto assignee = a[0].attribute("assignee");
                EXPECT_TRUE(groups || assignee) << id;
                if (groups && (*groups)[0] != '=') {
                    std::smatch m;
                    ASSERT_TRUE(std::regex_match(*groups, m, group)) << id << ": " << *groups;
                    EXPECT_TRUE(catalogueDepartments.count(m[1].str())) << id << ": department " << m[1];
                }
            }
            if (k == "serviceTask") {
                auto t = n.selectNodes("bpmn:extensionElements/zeebe:taskDefinition", kNs);
                ASSERT_EQ(t.size(), 1u) << id;
                std::string type = t[0].attribute("type", "");
                std::smatch m;
                ASSERT_TRUE(std::regex_match(type, m, taskType)) << id << ": " << type;
                EXPECT_EQ(t[0].attribute("retries", ""), "3") << id;
                if (m[1] == "student_affairs") {
                    EXPECT_TRUE(studentAffairsOps.count(m[2].str())) << type;
                }
            }
            if (k == "receiveTask" || k == "intermediateCatchEvent") {
                std::string ref = n.attribute("messageRef", "");
                if (ref.empty()) ref = n.evaluateString("string(bpmn:messageEventDefinition/@messageRef)", kNs);
                EXPECT_EQ(doc.selectNodes("/bpmn:definitions/bpmn:message[@id='" + ref + "']/bpmn:extensionElements/"
                                          "zeebe:subscription[@correlationKey]",
                                          kNs)
                              .size(),
                          1u)
                    << id;
            }
        }
        // Timers: ISO 8601 durations; a working-days timer says so the agreed way.
        for (const auto& timer : doc.selectNodes("//bpmn:timerEventDefinition", kNs)) {
            auto duration = timer.selectNodes("bpmn:timeDuration", kNs);
            ASSERT_EQ(duration.size(), 1u);
            EXPECT_TRUE(std::regex_match(duration[0].text(), std::regex(R"(P(\d+D)?(T(\d+H)?(\d+M)?)?)"))) << duration[0].text();
            auto calendar = timer.evaluateString("string(../bpmn:extensionElements/zeebe:properties/"
                                                 "zeebe:property[@name='calendar']/@value)",
                                                 kNs);
            EXPECT_TRUE(calendar.empty() || calendar == "working-days") << calendar;
        }

        // Every node reachable from the start, and every node reaches an end.
        std::set<std::string> seen;
        std::vector<std::string> todo;
        for (const auto& [id, n] : nodes)
            if (kind[id] == "startEvent") todo.push_back(id);
        EXPECT_EQ(todo.size(), 1u);
        while (!todo.empty()) {
            auto at = todo.back();
            todo.pop_back();
            if (!seen.insert(at).second) continue;
            for (const auto& s : successors[at]) todo.push_back(s);
        }
        for (const auto& [id, n] : nodes) {
            EXPECT_TRUE(seen.count(id)) << id << " is not reachable from the start";
            std::set<std::string> visited;
            std::vector<std::string> walk = {id};
            bool ends = false;
            while (!walk.empty() && !ends) {
                auto at = walk.back();
                walk.pop_back();
                if (!visited.insert(at).second) continue;
                if (kind[at] == "endEvent") ends = true;
                for (const auto& f : flows)
                    if (f.attribute("sourceRef", "") == at) walk.push_back(f.attribute("targetRef", ""));
            }
            EXPECT_TRUE(ends) << id << " cannot reach an end";
        }

        // The diagram: a shape for every node, lane and the pool; an edge with
        // waypoints for every flow; no two node shapes overlap.
        std::map<std::string, Box> shapes;
        for (const auto& s : doc.selectNodes("//bpmndi:BPMNShape", kNs)) shapes[s.attribute("bpmnElement", "")] = bounds(s);
        for (const auto& [id, n] : nodes) EXPECT_TRUE(shapes.count(id)) << id << " has no shape";
        for (const auto& lane : doc.selectStrings("//bpmn:lane/@id", kNs)) EXPECT_TRUE(shapes.count(lane)) << lane;
        for (const auto& p : doc.selectStrings("//bpmn:participant/@id", kNs)) EXPECT_TRUE(shapes.count(p)) << p;
        for (const auto& f : flows) {
            std::string id = f.attribute("id", "");
            auto edge = doc.selectNodes("//bpmndi:BPMNEdge[@bpmnElement='" + id + "']", kNs);
            ASSERT_EQ(edge.size(), 1u) << id << " has no edge";
            EXPECT_GE(edge[0].selectNodes("di:waypoint", kNs).size(), 2u) << id;
        }
        std::vector<std::pair<std::string, Box>> boxes;
        for (const auto& [id, n] : nodes)
            if (kind[id] != "boundaryEvent" && shapes.count(id)) boxes.emplace_back(id, shapes[id]);
        for (std::size_t i = 0; i < boxes.size(); ++i)
            for (std::size_t j = i + 1; j < boxes.size(); ++j) {
                const Box &a = boxes[i].second, &b = boxes[j].second;
                bool overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
                EXPECT_FALSE(overlap) << boxes[i].first << " overlaps " << boxes[j].first;
            }
        // Each node sits inside its lane.
        for (const auto& lane : doc.selectNodes("//bpmn:lane", kNs)) {
            const Box l = shapes[lane.attribute("id", "")];
            for (const auto& ref : lane.selectNodes("bpmn:flowNodeRef", kNs)) {
                const Box s = shapes[ref.text()];
                EXPECT_TRUE(s.x >= l.x && s.y >= l.y && s.x + s.w <= l.x + l.w && s.y + s.h <= l.y + l.h)
                    << ref.text() << " outside lane " << lane.attribute("id", "");
            }
        }
    }
}

TEST(ShippedFlows, CatalogueItemsNameShippedFlows) {
    hub::catalog::Catalog catalog({(configDir() / "catalog").string(), ""});
    auto snap = catalog.snapshot();
    const std::map<std::string, std::string> wired = {
        {"seal-use", "seal-use"},           {"going-abroad-approval", "travel-abroad"},
        {"reimbursement", "reimbursement"}, {"lab-access", "lab-access"},
        {"dorm-repair", "dorm-repair"},     {"graduate-leave", "graduate-leave"},
        {"visiting-scholar", "visiting-scholar"}, {"graduate-enrolment-certificate", "enrolment-certificate"},
        {"enrolment-certificate", "enrolment-certificate"}, {"student-card-replacement", "counter-ticket"}};
    for (const auto& [item, flow] : wired) {
        const auto* found = snap->findById(item);
        ASSERT_NE(found, nullptr) << item;
        EXPECT_EQ(found->handler.kind, hub::catalog::Handler::Kind::Flow) << item;
        EXPECT_EQ(found->handler.flowId, flow) << item;
        EXPECT_TRUE(fs::exists(configDir() / "flows" / (flow + ".bpmn"))) << flow;
    }
    // The form fields the flows read exist on their items (FEEL paths form.x).
    EXPECT_NE(snap->findById("going-abroad-approval")->field("days"), nullptr);
    EXPECT_NE(snap->findById("reimbursement")->field("amount"), nullptr);
    EXPECT_NE(snap->findById("graduate-leave")->field("days"), nullptr);
    EXPECT_NE(snap->findById("graduate-leave")->field("supervisor_id"), nullptr);
    EXPECT_NE(snap->findById("lab-access")->field("lab"), nullptr);
    EXPECT_NE(snap->findById("dorm-repair")->field("building"), nullptr);
    EXPECT_NE(snap->findById("visiting-scholar")->field("scholar_name"), nullptr);
}
