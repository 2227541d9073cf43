// deployFlow: modeler files accepted as saved, and every refusal with its message.
#include "EngineTestSupport.h"

#include "hub/flows/engine/Deployer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

using namespace hub::flows::engine;
using namespace hub::flows::engine::test;

namespace {

std::vector<Problem> refusal(const std::string& xml, const DeployOptions& options = {}) {
    try {
        deployFlow(xml, "test.bpmn", options);
    } catch (const DeployError& e) {
        return e.problems();
    }
    ADD_FAILURE() << "the file was accepted";
    return {};
}

// The single problem's message (failing when there is not exactly one).
std::string refusedWith(const std::string& xml, const DeployOptions& options = {}) {
    auto problems = refusal(xml, options);
    if (problems.size() != 1) {
        std::string all;
        for (const auto& p : problems) all += p.toString("test.bpmn") + "\n";
        ADD_FAILURE() << problems.size() << " problems:\n" << all;
        return problems.empty() ? "" : problems.front().message;
    }
    return problems.front().message;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(DeployTest, ReadsTheEnrolmentFlowAsTheModelerSavesIt) {
    auto def = deployFlow(readData("enrolment-certificate.bpmn"), "enrolment-certificate.bpmn");
    EXPECT_EQ(def->flowId, "enrolment-certificate");
    EXPECT_EQ(def->process.name, "在读证明");
    EXPECT_EQ(def->executionPlatform, "Camunda Cloud");
    EXPECT_TRUE(def->hasDiagram);
    EXPECT_EQ(def->sha256.size(), 64u);
    EXPECT_EQ(def->xml, readData("enrolment-certificate.bpmn"));
    const Element* lookup = def->process.find("Activity_lookup");
    ASSERT_NE(lookup, nullptr);
    EXPECT_EQ(lookup->kind, ElementKind::ServiceTask);
    EXPECT_EQ(lookup->plugin, "student_affairs");
    EXPECT_EQ(lookup->operation, "lookup_status");
    EXPECT_EQ(lookup->retries, 3);
    EXPECT_EQ(lookup->line, 8);
    ASSERT_EQ(lookup->inputs.size(), 1u);
    EXPECT_EQ(lookup->inputs[0].target, "studentId");
    ASSERT_EQ(lookup->boundaries.size(), 1u);
    const Element& error = def->process.elements[lookup->boundaries[0]];
    EXPECT_EQ(error.kind, ElementKind::ErrorBoundaryEvent);
    EXPECT_EQ(error.errorCode, "NOT_FOUND");
    EXPECT_EQ(def->process.find("Event_rejected")->properties.at("outcome"), "rejected");
    EXPECT_EQ(def->process.find("Gateway_status")->defaultFlow, "Flow_notEnrolled");
    EXPECT_FALSE(def->process.find("StartEvent_1")->documentation.size());
}

TEST(DeployTest, ReadsTheTravelFlowWithPoolLanesAnnotationsAndTimers) {
    auto def = deployFlow(readData("travel-abroad.bpmn"), "travel-abroad.bpmn");
    EXPECT_EQ(def->flowId, "travel-abroad");
    ASSERT_EQ(def->process.lanes.size(), 3u);
    EXPECT_EQ(def->process.find("Task_intl")->lane, "职能部门");
    const Element* remind = def->process.find("Event_remind");
    ASSERT_NE(remind, nullptr);
    EXPECT_FALSE(remind->cancelActivity);
    ASSERT_TRUE(remind->timer);
    EXPECT_TRUE(remind->timer->workingDayCalendar);
    EXPECT_EQ(remind->timer->workingDays, 3);
    EXPECT_TRUE(def->process.find("Event_rejected")->terminate);
    EXPECT_EQ(def->process.find("Task_dept")->candidateGroups, std::vector<std::string>{"dept:cs:dean"});
}

TEST(DeployTest, AcceptsAnyPrefixAndTheDefaultNamespace) {
    const std::string original = readData("enrolment-certificate.bpmn");
    std::string bpmn2 = std::regex_replace(original, std::regex("bpmn:"), "bpmn2:");
    bpmn2 = std::regex_replace(bpmn2, std::regex("xmlns:bpmn="), "xmlns:bpmn2=");
    EXPECT_EQ(deployFlow(bpmn2, "bpmn2.bpmn")->process.elements.size(), 7u);

    std::string plain = std::regex_replace(original, std::regex("<bpmn:"), "<");
    plain = std::regex_replace(plain, std::regex("</bpmn:"), "</");
    plain = std::regex_replace(plain, std::regex("xmlns:bpmn="), "xmlns=");
    plain = std::regex_replace(plain, std::regex("bpmn:tFormalExpression"), "tFormalExpression");
    EXPECT_EQ(deployFlow(plain, "plain.bpmn")->process.elements.size(), 7u);
}

TEST(DeployTest, WarnsAboutAPluginNotLoadedAndRefusesAnUnknownOperation) {
    DeployOptions options;
    options.operations = [](const std::string& plugin, const std::string& operation) {
        if (plugin != "student_affairs") return OperationCheck::PluginNotLoaded;
        return operation == "lookup_status" ? OperationCheck::Known : OperationCheck::UnknownOperation;
    };
    const auto problems = refusal(readData("enrolment-certificate.bpmn"), options);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].elementId, "Activity_issue");
    EXPECT_EQ(problems[0].line, 34);
    EXPECT_EQ(problems[0].message, "plugin 'student_affairs' declares no operation 'issue_certificate' in its manifest");

    options.operations = [](const std::string&, const std::string&) { return OperationCheck::PluginNotLoaded; };
    auto def = deployFlow(readData("enrolment-certificate.bpmn"), "e.bpmn", options);
    ASSERT_EQ(def->warnings.size(), 2u);
    EXPECT_TRUE(contains(def->warnings[0], "plugin 'student_affairs' is not loaded")) << def->warnings[0];
}

TEST(DeployTest, RefusesAnUnsupportedElementWithIdNameLineAndTheSupportedList) {
    const auto problems = refusal(flowFile(linear("<bpmn:subProcess id=\"a\" name=\"子流程\"/>\n")));
    ASSERT_GE(problems.size(), 1u);
    EXPECT_EQ(problems[0].elementId, "a");
    EXPECT_EQ(problems[0].elementName, "子流程");
    EXPECT_EQ(problems[0].line, 6);
    EXPECT_TRUE(contains(problems[0].message, "<subProcess> is not supported; supported: startEvent")) << problems[0].message;
    EXPECT_EQ(problems[0].toString("f.bpmn").rfind("f.bpmn:6: element 'a' (子流程): <subProcess>", 0), 0u);
    for (const char* kind : {"scriptTask", "sendTask", "callActivity", "businessRuleTask", "task", "manualTask",
                             "eventBasedGateway", "complexGateway", "intermediateThrowEvent", "transaction"}) {
        auto p = refusal(flowFile(linear(std::string("<bpmn:") + kind + " id=\"a\"/>\n")));
        ASSERT_FALSE(p.empty()) << kind;
        EXPECT_TRUE(contains(p[0].message, std::string("<") + kind + "> is not supported")) << kind;
    }
}

TEST(DeployTest, RefusesExpressionsOutsideTheFeelSubsetWithTheElementAndLine) {
    const std::string body = "<bpmn:startEvent id=\"start\"/>\n" + flow("f0", "start", "g") +
                             "<bpmn:exclusiveGateway id=\"g\" default=\"f2\"/>\n" +
                             flow("f1", "g", "end", "=sum(form.amounts) &gt; 100") + flow("f2", "g", "end") +
                             "<bpmn:endEvent id=\"end\"/>\n";
    const auto problems = refusal(flowFile(body));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].elementId, "f1");
    EXPECT_EQ(problems[0].line, 7);
    EXPECT_TRUE(contains(problems[0].message, "condition '=sum(form.amounts) > 100': function calls ('sum(') are not "
                                              "supported, only not() at offset 4; supported: a leading '='"))
        << problems[0].message;

    EXPECT_TRUE(contains(refusedWith(flowFile(linear(serviceTask(
                             "a", "x.y", "<zeebe:ioMapping><zeebe:input source=\"=if a then b else c\" target=\"t\"/>"
                                         "</zeebe:ioMapping>")))),
                         "zeebe:input source '=if a then b else c': 'if' expressions are not supported"));
    EXPECT_TRUE(contains(refusedWith(flowFile(linear(serviceTask(
                             "a", "x.y", "<zeebe:ioMapping><zeebe:output source=\"=r\" target=\"1bad\"/>"
                                         "</zeebe:ioMapping>")))),
                         "zeebe:output target '1bad' is not a variable name"));
}

TEST(DeployTest, RefusesBrokenLinks) {
    EXPECT_EQ(refusedWith(flowFile(linear(userTask("a", "dept:cs:dean")) + flow("f9", "a", "nowhere"))),
              "targetRef 'nowhere' names no element of the process");
    EXPECT_EQ(refusedWith(flowFile(linear(userTask("a", "dept:cs:dean")) + flow("f9", "ghost", "end"))),
              "sourceRef 'ghost' names no element of the process");
}

TEST(DeployTest, RefusesWhatCannotBeReachedOrCannotEnd) {
    const auto unreachable =
        refusal(flowFile(linear(userTask("a", "dept:cs:dean")) + userTask("b", "dept:cs:dean") + flow("fb", "b", "end")));
    ASSERT_EQ(unreachable.size(), 1u);
    EXPECT_EQ(unreachable[0].elementId, "b");
    EXPECT_EQ(unreachable[0].message, "the userTask has no incoming flow");

    const std::string loop = "<bpmn:startEvent id=\"start\"/>\n" + flow("f0", "start", "g") +
                             "<bpmn:exclusiveGateway id=\"g\" default=\"f2\"/>\n" + flow("f1", "g", "a", "=x") +
                             flow("f2", "g", "end") + userTask("a", "dept:cs:dean") + userTask("b", "dept:cs:dean") +
                             flow("fa", "a", "b") + flow("fb", "b", "a") + "<bpmn:endEvent id=\"end\"/>\n";
    const auto stuck = refusal(flowFile(loop));
    ASSERT_EQ(stuck.size(), 2u);
    EXPECT_EQ(stuck[0].message, "cannot reach an end event");

    const std::string island = linear(userTask("a", "dept:cs:dean")) + userTask("b", "dept:cs:dean") +
                               userTask("c", "dept:cs:dean") + flow("fb", "b", "c") + flow("fc", "c", "b") +
                               flow("fe", "c", "end");
    const auto islandProblems = refusal(flowFile(island));
    ASSERT_EQ(islandProblems.size(), 2u);
    EXPECT_EQ(islandProblems[0].message, "cannot be reached from the start event");
}

TEST(DeployTest, RefusesGatewaysWithoutTheFlowsTheyNeed) {
    const std::string head = "<bpmn:startEvent id=\"start\"/>\n" + flow("f0", "start", "g");
    const std::string tail = "<bpmn:endEvent id=\"end\"/>\n";
    EXPECT_EQ(refusedWith(flowFile(head + "<bpmn:exclusiveGateway id=\"g\"/>\n" + flow("f1", "g", "end", "=x") +
                                   flow("f2", "g", "end") + tail)),
              "a flow leaving a exclusiveGateway that splits needs a condition (=...) or must be the gateway's default");
    EXPECT_EQ(refusedWith(flowFile(head + "<bpmn:exclusiveGateway id=\"g\" default=\"f9\"/>\n" +
                                   flow("f1", "g", "end", "=x") + tail)),
              "default 'f9' is not one of the gateway's outgoing flows");
    EXPECT_EQ(refusedWith(flowFile(head + "<bpmn:inclusiveGateway id=\"g\" default=\"f2\"/>\n" +
                                   flow("f1", "g", "end", "=x") + flow("f2", "g", "end", "=y") + tail)),
              "the default flow of a gateway has no condition");
    EXPECT_EQ(refusedWith(flowFile(head + "<bpmn:parallelGateway id=\"g\"/>\n" + flow("f1", "g", "end", "=x") + tail)),
              "a flow leaving a parallel gateway has no condition (use an inclusive gateway)");
    EXPECT_EQ(refusal(flowFile(head + "<bpmn:parallelGateway id=\"g\"/>\n" + tail)).front().message,
              "the parallelGateway has no outgoing flow");
    EXPECT_EQ(refusedWith(flowFile(linear(userTask("a", "dept:cs:dean")) + flow("f5", "a", "end", "=x"))),
              "a condition on a flow leaving a userTask is not supported; put an exclusive or inclusive gateway "
              "before the branches");
}

TEST(DeployTest, RefusesAnExclusiveSplitJoinedByAParallelJoin) {
    const std::string body = "<bpmn:startEvent id=\"start\"/>\n" + flow("f0", "start", "x") +
                             "<bpmn:exclusiveGateway id=\"x\" default=\"f2\"/>\n" + flow("f1", "x", "a", "=big") +
                             flow("f2", "x", "b") + userTask("a", "dept:cs:dean") + userTask("b", "dept:hr:officer") +
                             flow("fa", "a", "j") + flow("fb", "b", "j") + "<bpmn:parallelGateway id=\"j\"/>\n" +
                             flow("fj", "j", "end") + "<bpmn:endEvent id=\"end\"/>\n";
    const auto problems = refusal(flowFile(body));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].elementId, "j");
    EXPECT_TRUE(contains(problems[0].message, "deadlock: exclusive gateway 'x' (line 6)")) << problems[0].message;

    // The same with a parallel fork is the normal joint review.
    std::string fork = std::regex_replace(body, std::regex("<bpmn:exclusiveGateway id=\"x\" default=\"f2\"/>"),
                                          "<bpmn:parallelGateway id=\"x\"/>");
    fork = std::regex_replace(fork, std::regex("<bpmn:conditionExpression[^<]*</bpmn:conditionExpression>"), "");
    EXPECT_NO_THROW(deployFlow(flowFile(fork), "fork.bpmn"));
}

TEST(DeployTest, ChecksServiceTasksAndCandidateGroups) {
    EXPECT_EQ(refusedWith(flowFile(linear("<bpmn:serviceTask id=\"a\"/>\n"))),
              "a service task needs zeebe:taskDefinition type=\"<plugin>.<operation>\"");
    EXPECT_EQ(refusedWith(flowFile(linear(serviceTask("a", "lookup")))), "task type 'lookup' is not <plugin>.<operation>");
    EXPECT_EQ(refusedWith(flowFile(linear(serviceTask("a", "=plugin")))), "task type '=plugin' is not <plugin>.<operation>");
    EXPECT_EQ(refusedWith(flowFile(linear(
                  "<bpmn:serviceTask id=\"a\"><bpmn:extensionElements><zeebe:taskDefinition type=\"a.b\" retries=\"x\"/>"
                  "</bpmn:extensionElements></bpmn:serviceTask>\n"))),
              "zeebe:taskDefinition retries 'x' is not a number 1-100");
    EXPECT_EQ(refusedWith(flowFile(linear(userTask("a", "clerks")))),
              "candidate group 'clerks' is not dept:<dept>:<role>, hub:admin or a configured external group");
    EXPECT_EQ(refusedWith(flowFile(linear("<bpmn:userTask id=\"a\"/>\n"))),
              "a user task needs zeebe:assignmentDefinition candidateGroups (dept:<dept>:<role>) or an assignee");
    EXPECT_NO_THROW(deployFlow(flowFile(linear(userTask("a", "dept:cs:dean, hub:admin"))), "ok.bpmn"));
    DeployOptions options;
    options.externalGroups = {"oa-approvers"};
    EXPECT_NO_THROW(deployFlow(flowFile(linear(userTask("a", "oa-approvers"))), "ok.bpmn", options));
}

TEST(DeployTest, RefusesUnsupportedEventsAndTimers) {
    EXPECT_TRUE(contains(refusedWith(flowFile(
                             "<bpmn:startEvent id=\"start\"><bpmn:messageEventDefinition/></bpmn:startEvent>\n" +
                             flow("f", "start", "end") + "<bpmn:endEvent id=\"end\"/>\n")),
                         "a start event with a messageEventDefinition is not supported"));
    EXPECT_TRUE(contains(
        refusedWith(flowFile(linear(userTask("a", "dept:cs:dean")) +
                             "<bpmn:boundaryEvent id=\"t\" attachedToRef=\"a\"><bpmn:timerEventDefinition>"
                             "<bpmn:timeCycle>R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n" +
                             flow("ft", "t", "end"))),
        "timeCycle is not supported"));
    EXPECT_TRUE(contains(
        refusedWith(flowFile(linear(serviceTask("a", "x.y")) +
                             "<bpmn:boundaryEvent id=\"t\" attachedToRef=\"a\"><bpmn:timerEventDefinition>"
                             "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n" +
                             flow("ft", "t", "end"))),
        "a boundaryEvent (timer) on a serviceTask is not supported"));
    auto timerCatch = [](const std::string& text, const std::string& props = "") {
        return flowFile(linear("<bpmn:intermediateCatchEvent id=\"a\">" + props +
                               "<bpmn:timerEventDefinition><bpmn:timeDuration>" + text +
                               "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n"));
    };
    EXPECT_NO_THROW(deployFlow(timerCatch("P1DT12H30M"), "t.bpmn"));
    EXPECT_NO_THROW(deployFlow(timerCatch("=\"PT15M\""), "t.bpmn"));
    EXPECT_TRUE(contains(refusedWith(timerCatch("P1M")), "years and months are not supported"));
    EXPECT_TRUE(contains(refusedWith(timerCatch("15 minutes")), "is not an ISO 8601 duration"));
    // Found by reading the parser: stod threw out of deployFlow on these.
    for (const char* malformed : {"P.D", "PT1.2.3S", "PT.5S", "PT5.S", "P........D"})
        EXPECT_TRUE(contains(refusedWith(timerCatch(malformed)), "is not an ISO 8601 duration")) << malformed;
    EXPECT_TRUE(contains(refusedWith(timerCatch("=form.wait")), "not an expression"));
    const std::string working =
        "<bpmn:extensionElements><zeebe:properties><zeebe:property name=\"calendar\" value=\"working-days\"/>"
        "</zeebe:properties></bpmn:extensionElements>";
    EXPECT_TRUE(contains(refusedWith(timerCatch("PT12H", working)), "on the working-day calendar must be whole days"));
    EXPECT_EQ(deployFlow(timerCatch("P2W", working), "t.bpmn")->process.find("a")->timer->workingDays, 14);
    EXPECT_TRUE(contains(refusedWith(flowFile(linear(
                             "<bpmn:intermediateCatchEvent id=\"a\"><bpmn:timerEventDefinition><bpmn:timeDate>"
                             "2026-10-01T09:00:00</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n"))),
                         "needs a time zone"));
    EXPECT_EQ(deployFlow(flowFile(linear("<bpmn:intermediateCatchEvent id=\"a\"><bpmn:timerEventDefinition><bpmn:timeDate>"
                                         "2026-10-01T09:00:00+08:00</bpmn:timeDate></bpmn:timerEventDefinition>"
                                         "</bpmn:intermediateCatchEvent>\n")),
                         "t.bpmn")
                  ->process.find("a")
                  ->timer->dateMs,
              1790816400000);
    EXPECT_TRUE(contains(refusedWith(flowFile(linear("<bpmn:receiveTask id=\"a\" messageRef=\"m\"/>\n"))),
                         "messageRef 'm' names no <message> with a name"));
    EXPECT_NO_THROW(deployFlow(flowFile(linear("<bpmn:receiveTask id=\"a\" messageRef=\"m\"/>\n"),
                                        "<bpmn:message id=\"m\" name=\"repair.completed\"/>\n"),
                               "m.bpmn"));
    EXPECT_EQ(refusal(flowFile(linear(userTask("a", "dept:cs:dean")) + "<bpmn:startEvent id=\"s2\"/>" + flow("f2", "s2", "a")))
                  .back()
                  .message,
              "the process has 2 start events; the hub needs exactly one");
    EXPECT_TRUE(contains(refusedWith(flowFile(linear(
                             "<bpmn:userTask id=\"a\"><bpmn:extensionElements><zeebe:assignmentDefinition "
                             "candidateGroups=\"dept:cs:dean\"/></bpmn:extensionElements>"
                             "<bpmn:multiInstanceLoopCharacteristics/></bpmn:userTask>\n"))),
                         "loops and multi-instance"));
}

TEST(DeployTest, RunsHarmlessForeignExtensionsAndRefusesTheOthers) {
    // Camunda 7's asyncBefore and Flowable's exclusive change nothing here.
    EXPECT_NO_THROW(deployFlow(flowFile(linear("<bpmn:userTask id=\"a\" camunda:asyncBefore=\"true\" "
                                               "flowable:exclusive=\"true\"><bpmn:extensionElements>"
                                               "<zeebe:assignmentDefinition candidateGroups=\"dept:cs:dean\"/>"
                                               "</bpmn:extensionElements></bpmn:userTask>\n")),
                               "ok.bpmn"));
    EXPECT_EQ(refusedWith(flowFile(linear("<bpmn:userTask id=\"a\" camunda:candidateGroups=\"clerks\"><bpmn:extensionElements>"
                                          "<zeebe:assignmentDefinition candidateGroups=\"dept:cs:dean\"/>"
                                          "</bpmn:extensionElements></bpmn:userTask>\n"))),
              "Camunda 7 (camunda:) extension attribute 'candidateGroups' is not run by the hub, which runs Camunda 8 "
              "(zeebe:) files; remove it or save the file for Camunda 8");
    EXPECT_EQ(refusedWith(flowFile(linear(serviceTask("a", "x.y", "<flowable:field name=\"to\"/>")))),
              "Flowable (flowable:) extension <field> is not run by the hub, which runs Camunda 8 (zeebe:) files; "
              "remove it or save the file for Camunda 8");
    // A whole Camunda 7 file: the service task's class is refused, and it has no zeebe:taskDefinition.
    const auto problems = refusal(flowFile(linear("<bpmn:serviceTask id=\"a\" camunda:class=\"org.Example\"/>\n")));
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_TRUE(contains(problems[0].message, "extension attribute 'class'"));
}

TEST(DeployTest, RefusesHostileFilesWithoutHarm) {
    const std::string laughs =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\n"
        "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">&lol2;</bpmn:definitions>";
    EXPECT_FALSE(refusal(laughs).empty());
    const std::string external =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
        "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">&xxe;</bpmn:definitions>";
    EXPECT_FALSE(refusal(external).empty());

    std::string big = flowFile(linear(userTask("a", "dept:cs:dean")) + "<!--" + std::string(10 * 1024 * 1024, 'x') + "-->");
    EXPECT_TRUE(contains(refusedWith(big), "more than the 4194304 a flow may have"));

    std::string many;
    for (int i = 0; i < 100000; ++i) many += "<bpmn:documentation/>";
    EXPECT_EQ(refusedWith(flowFile(linear(userTask("a", "dept:cs:dean")) + many)),
              "the file has more than 20000 XML elements");

    std::string deep;
    for (int i = 0; i < 5000; ++i) deep += "<bpmn:documentation>";
    EXPECT_FALSE(refusal(flowFile(deep)).empty());

    EXPECT_TRUE(contains(refusedWith("<definitions xmlns=\"urn:other\"/>"), "the root element is not a BPMN 2.0"));
    EXPECT_FALSE(refusal("not xml at all").empty());
    EXPECT_FALSE(refusal(std::string("<a>\xff\xfe</a>")).empty());
}

TEST(DeployTest, NeedsOneExecutableProcess) {
    const std::string two = "<?xml version=\"1.0\"?>\n<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">"
                            "<bpmn:process id=\"a\" isExecutable=\"true\"/><bpmn:process id=\"b\" isExecutable=\"true\"/>"
                            "</bpmn:definitions>";
    EXPECT_EQ(refusedWith(two),
              "the file has 2 executable processes; the hub runs one process per file (isExecutable=\"true\")");
}

}  // namespace

namespace {

// The remaining refusals, one file each: what is wrong, and the message.
TEST(DeployTest, EveryOtherRefusalHasItsMessage) {
    const std::string head = "<bpmn:startEvent id=\"start\"/>\n" + flow("f0", "start", "g");
    const std::string end = "<bpmn:endEvent id=\"end\"/>\n";
    struct Case {
        std::string file;
        std::string message;
    };
    const std::vector<Case> cases = {
        {flowFile(linear(userTask("a", "dept:cs:dean")) + userTask("a", "dept:cs:dean")), "the id is used twice"},
        {flowFile(linear("<bpmn:userTask name=\"无id\"/>\n")), "<userTask> has no id"},
        {flowFile(linear(serviceTask("a", "x.y")) +
                  "<bpmn:boundaryEvent id=\"b\" attachedToRef=\"a\"><bpmn:errorEventDefinition errorRef=\"nope\"/>"
                  "</bpmn:boundaryEvent>\n" + flow("fb", "b", "end")),
         "errorRef 'nope' names no <error>"},
        {flowFile(linear(serviceTask("a", "x.y")) +
                  "<bpmn:boundaryEvent id=\"b\" attachedToRef=\"a\" cancelActivity=\"false\"><bpmn:errorEventDefinition/>"
                  "</bpmn:boundaryEvent>\n" + flow("fb", "b", "end")),
         "an error boundary event is always interrupting"},
        {flowFile(linear(userTask("a", "dept:cs:dean")) +
                  "<bpmn:boundaryEvent id=\"b\" attachedToRef=\"ghost\"><bpmn:timerEventDefinition><bpmn:timeDuration>"
                  "PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n" + flow("fb", "b", "end")),
         "attachedToRef 'ghost' names no element of the process"},
        {flowFile(linear(userTask("a", "dept:cs:dean")) +
                  "<bpmn:boundaryEvent id=\"b\" attachedToRef=\"a\"><bpmn:signalEventDefinition/></bpmn:boundaryEvent>\n" +
                  flow("fb", "b", "end")),
         "a boundary event with a signalEventDefinition is not supported (timer on a user or receive task, error on a "
         "service task)"},
        {flowFile(linear("<bpmn:intermediateCatchEvent id=\"a\"/>\n")),
         "an intermediate catch event with no definition is not supported (message or timer)"},
        {flowFile(linear("<bpmn:intermediateCatchEvent id=\"a\"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent>\n")),
         "the timer has no timeDuration or timeDate"},
        {flowFile(linear("<bpmn:userTask id=\"a\"><bpmn:extensionElements><zeebe:assignmentDefinition "
                         "candidateGroups=\"dept:cs:dean\" candidateUsers=\"li\"/></bpmn:extensionElements></bpmn:userTask>\n")),
         "candidateUsers is not supported; use candidateGroups or assignee"},
        {flowFile(linear("<bpmn:userTask id=\"a\"><bpmn:extensionElements><zeebe:assignmentDefinition "
                         "assignee=\"=applicant.id in [1]\"/></bpmn:extensionElements></bpmn:userTask>\n")),
         "zeebe:assignmentDefinition assignee '=applicant.id in [1]': "},
        {flowFile(linear("<bpmn:userTask id=\"a\"><bpmn:extensionElements><zeebe:assignmentDefinition "
                         "candidateGroups=\"=groups[1]\"/></bpmn:extensionElements></bpmn:userTask>\n")),
         "zeebe:assignmentDefinition candidateGroups '=groups[1]': "},
        {flowFile(linear(serviceTask("a", "x.y", "<zeebe:executionListeners/>"))),
         "zeebe:executionListeners is not supported (supported: taskDefinition, ioMapping, assignmentDefinition, "
         "properties)"},
        {flowFile(linear("<bpmn:endEvent id=\"a\"><bpmn:errorEventDefinition/></bpmn:endEvent>\n")),
         "an end event with a errorEventDefinition is not supported (none or terminate)"},
        {flowFile(head + "<bpmn:parallelGateway id=\"g\"/>\n" + flow("f1", "g", "a") + flow("f2", "g", "a") +
                  userTask("a", "dept:cs:dean") + flow("f3", "a", "h") + flow("f4", "a", "h") +
                  "<bpmn:parallelGateway id=\"h\"/>\n" + flow("f5", "h", "end") + flow("f6", "h", "end") +
                  flow("f7", "start", "h") + end),
         "a parallel gateway either forks or joins; use two gateways"},
        {flowFile(head + "<bpmn:inclusiveGateway id=\"g\" default=\"f2\"/>\n" + flow("f1", "g", "g2", "=x") +
                  flow("f2", "g", "g2") + "<bpmn:inclusiveGateway id=\"g2\" default=\"f4\"/>\n" +
                  flow("f3", "g2", "end", "=y") + flow("f4", "g2", "end") + end),
         "an inclusive gateway either splits or joins; use two gateways"},
        {flowFile(linear(userTask("a", "dept:cs:dean")) + "<bpmn:sequenceFlow sourceRef=\"a\" targetRef=\"end\"/>\n"),
         "a sequence flow has no id"},
        {flowFile(linear("<bpmn:serviceTask id=\"a\"><bpmn:extensionElements><zeebe:taskDefinition type=\"a.b\"/>"
                         "</bpmn:extensionElements></bpmn:serviceTask>\n") +
                  "<bpmn:startEvent id=\"s0\"/>\n" + flow("fx", "end", "s0")),
         "a start event has no incoming flow"},
        {flowFile(linear("<bpmn:intermediateCatchEvent id=\"a\"><bpmn:extensionElements><zeebe:properties>"
                         "<zeebe:property name=\"calendar\" value=\"lunar\"/></zeebe:properties></bpmn:extensionElements>"
                         "<bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition>"
                         "</bpmn:intermediateCatchEvent>\n")),
         "zeebe:property calendar='lunar' is not known (working-days or calendar-days)"},
    };
    for (const auto& c : cases) {
        const auto problems = refusal(c.file);
        bool found = false;
        std::string all;
        for (const auto& p : problems) {
            found = found || p.message.rfind(c.message, 0) == 0;  // the message, or it begins so
            all += p.toString("t") + "\n";
            EXPECT_GT(p.line, 0) << p.message;
        }
        EXPECT_TRUE(found) << "expected: " << c.message << "\ngot:\n" << all;
    }
}

}  // namespace

// The hall's flows as shipped in config/flows deploy as they are.
TEST(DeployTest, EveryShippedFlowDeploys) {
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(HUB_TEST_SOURCE_DIR) + "/config/flows")) {
        if (entry.path().extension() != ".bpmn") continue;
        ++files;
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream xml;
        xml << in.rdbuf();
        try {
            deployFlow(xml.str(), entry.path().filename().string());
        } catch (const DeployError& e) {
            std::string all;
            for (const auto& p : e.problems()) all += p.toString(entry.path().filename().string()) + "\n";
            ADD_FAILURE() << all;
        }
    }
    EXPECT_GE(files, 8);
}
