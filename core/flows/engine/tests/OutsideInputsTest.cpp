// What reaches an instance from outside the flow: messages by correlation key
// (Engine.h, EngineStore::messageWaiters), a decision made by hand (a Cancel
// with an outcome), and the task forms a completion is checked against
// (TaskForm.h, zeebe:userTaskForm / zeebe:formDefinition).
#include "EngineTestSupport.h"

#include "../../tests/FlowsTestSupport.h"

#include "hub/flows/engine/EngineStore.h"
#include "hub/flows/engine/TaskForm.h"

#include <Poco/Data/Transaction.h>

using namespace hub::flows::engine;
using namespace hub::flows::engine::test;

namespace {

// A receive task whose message carries zeebe:subscription correlationKey.
std::string correlatedWait() {
    return flowFile(linear("<bpmn:receiveTask id=\"a\" name=\"等待完工\" messageRef=\"m\"/>"),
                    "<bpmn:message id=\"m\" name=\"logistics.work_order_completed\"><bpmn:extensionElements>"
                    "<zeebe:subscription correlationKey=\"= work_order_id\"/></bpmn:extensionElements></bpmn:message>");
}

Result messageWithKey(Driver& d, const std::string& name, const std::string& key, const std::string& payload = "{}") {
    Input in;
    in.kind = Input::Kind::MessageReceived;
    in.messageName = name;
    in.correlationKey = key;
    in.variables = Value::fromJson(payload);
    return d.apply(in);
}

// A user task with an embedded Camunda Forms schema, as the modeler saves it.
const std::string kForm = R"({"components":[
  {"type":"text","text":"## 请填写"},
  {"type":"textfield","key":"opinion","label":"意见","validate":{"required":true,"minLength":2,"maxLength":10}},
  {"type":"number","key":"days","label":"天数","validate":{"min":1,"max":30}},
  {"type":"select","key":"level","label":"级别","values":[{"label":"一般","value":"normal"},{"label":"紧急","value":"urgent"}],"validate":{"required":true}},
  {"type":"checkbox","key":"checked","label":"已核对"}
],"type":"default","id":"Form_review","schemaVersion":10})";

std::string formFlow(const std::string& form, const std::string& formKey = "camunda-forms:bpmn:UserTaskForm_1") {
    std::string escaped;
    for (char c : form) escaped += c == '<' ? std::string("&lt;") : c == '&' ? std::string("&amp;") : std::string(1, c);
    return flowFile("<bpmn:extensionElements><zeebe:userTaskForm id=\"UserTaskForm_1\">" + escaped +
                    "</zeebe:userTaskForm></bpmn:extensionElements>\n" +
                    linear(userTask("a", "dept:finance:clerk", "<zeebe:formDefinition formKey=\"" + formKey + "\"/>")));
}

std::vector<std::string> fieldsOf(const std::vector<FormProblem>& problems) {
    std::vector<std::string> out;
    for (const auto& p : problems) out.push_back(p.field + ":" + p.code);
    return out;
}

}  // namespace

TEST(OutsideInputsTest, AMessageReachesOnlyTheWaitWithItsCorrelationKey) {
    Driver d(correlatedWait());
    d.start(R"({"work_order_id":"WO-2026-0042"})");
    ASSERT_EQ(d.kinds(), "wait_message");
    EXPECT_EQ(d.of(Kind::WaitMessage).front().id, "WO-2026-0042");
    EXPECT_EQ(d.state.tokens.front().correlation, "WO-2026-0042");

    // Another order's completion, or the right key for another message: nothing moves.
    auto other = messageWithKey(d, "logistics.work_order_completed", "WO-2026-0043");
    EXPECT_FALSE(other.applied);
    EXPECT_EQ(other.reason, "nothing waits for message 'logistics.work_order_completed' with correlation key "
                            "'WO-2026-0043'");
    EXPECT_FALSE(messageWithKey(d, "approval.decided", "WO-2026-0042").applied);

    EXPECT_TRUE(messageWithKey(d, "logistics.work_order_completed", "WO-2026-0042", R"({"result":"已修复"})").applied);
    EXPECT_EQ(d.kinds(), "end_instance");
    EXPECT_EQ(d.state.variables.member("result").asString(), "已修复");
    // Delivered twice: the second finds nothing waiting.
    EXPECT_FALSE(messageWithKey(d, "logistics.work_order_completed", "WO-2026-0042").applied);
}

TEST(OutsideInputsTest, ANumericCorrelationKeyIsMatchedAsItsText) {
    Driver d(correlatedWait());
    d.start(R"({"work_order_id":42})");
    EXPECT_EQ(d.state.tokens.front().correlation, "42");
    EXPECT_TRUE(messageWithKey(d, "logistics.work_order_completed", "42").applied);
}

TEST(OutsideInputsTest, MessageWaitsAreFoundInTheStoreByNameAndKey) {
    hub::flows::test::Fixture f;
    EngineStore store(*f.db);
    auto def = deployFlow(correlatedWait(), "wait.bpmn");
    Engine engine;
    for (const char* order : {"WO-1", "WO-2"}) {
        auto session = f.db->session();
        Poco::Data::Transaction tx(session, true);
        InstanceState state;
        state.id = std::string("i-") + order;
        state.version = 1;
        Input in;
        in.kind = Input::Kind::Start;
        in.now = kStart;
        in.variables = Value::fromJson(std::string(R"({"work_order_id":")") + order + "\"}");
        auto result = engine.apply(*def, state, in);
        store.save(session, state, result.effects, std::string("app-") + order, kStart);
        tx.commit();
    }
    auto session = f.db->session();
    EXPECT_EQ(store.messageWaiters(session, "logistics.work_order_completed", "WO-2"),
              std::vector<std::string>{"i-WO-2"});
    EXPECT_TRUE(store.messageWaiters(session, "logistics.work_order_completed", "WO-3").empty());
    EXPECT_TRUE(store.messageWaiters(session, "approval.decided", "WO-1").empty());
    // The key survives the state's round trip (what load() reads after a restart).
    EXPECT_EQ(store.load(session, "i-WO-1")->tokens.front().correlation, "WO-1");
}

TEST(OutsideInputsTest, ACancelWithADecisionEndsTheInstanceWithThatOutcome) {
    Driver d(flowFile(linear(userTask("a", "dept:finance:clerk"))));
    d.start();
    Input in;
    in.kind = Input::Kind::Cancel;
    in.actor = "admin";
    in.decision = "rejected";
    d.apply(in);
    EXPECT_EQ(d.kinds(), "cancel_task end_instance");
    EXPECT_EQ(d.state.status, InstanceStatus::Terminated);
    EXPECT_EQ(d.state.outcome, "rejected");
    EXPECT_TRUE(d.state.tasks.empty());
}

TEST(OutsideInputsTest, AnEmbeddedFormIsReadWhenTheFileIsDeployed) {
    auto def = deployFlow(formFlow(kForm), "form.bpmn");
    const Element* task = def->process.find("a");
    ASSERT_TRUE(task);
    EXPECT_EQ(task->formKey, "UserTaskForm_1");
    ASSERT_EQ(task->formFields.size(), 4u);  // the text component shows only
    EXPECT_EQ(task->formFields[0].key, "opinion");
    EXPECT_TRUE(task->formFields[0].required);
    ASSERT_TRUE(task->formFields[0].maxLength);
    EXPECT_EQ(*task->formFields[0].maxLength, 10u);
    EXPECT_EQ(task->formFields[2].options, (std::vector<std::string>{"normal", "urgent"}));
}

TEST(OutsideInputsTest, AFormThatCannotBeCheckedIsRefusedWithTheElementAndLine) {
    auto refusal = [](const std::string& xml) {
        try {
            deployFlow(xml, "form.bpmn");
        } catch (const DeployError& e) {
            return std::string(e.what());
        }
        return std::string("deployed");
    };
    EXPECT_NE(refusal(formFlow(kForm, "camunda-forms:bpmn:UserTaskForm_9")).find("names form 'UserTaskForm_9', which no "
                                                                                "zeebe:userTaskForm holds"),
              std::string::npos);
    EXPECT_NE(refusal(formFlow(R"({"components":[{"type":"filepicker","key":"scan"}]})"))
                  .find("form component type 'filepicker' is not supported"),
              std::string::npos);
    EXPECT_NE(refusal(formFlow("{not json")).find("the form is not JSON"), std::string::npos);
    EXPECT_NE(refusal(formFlow(R"({"components":[{"type":"textfield","key":"a"},{"type":"number","key":"a"}]})"))
                  .find("form field 'a' is declared twice"),
              std::string::npos);
}

TEST(OutsideInputsTest, ACompletionsFieldsAreCheckedAgainstTheForm) {
    const auto form = parseTaskForm(kForm);
    EXPECT_TRUE(checkTaskForm(form, Value::fromJson(R"({"opinion":"同意办理","level":"urgent","days":3})")).empty());
    // Everything wrong at once, each naming its field.
    auto problems = checkTaskForm(
        form, Value::fromJson(R"({"opinion":"好","days":"3","level":"whenever","checked":"yes","extra":1})"));
    EXPECT_EQ(fieldsOf(problems), (std::vector<std::string>{"opinion:min_length", "days:type", "level:enum",
                                                            "checked:type", "extra:unknown"}));
    EXPECT_EQ(problems[0].message, "意见 (opinion): must be at least 2 characters");
    // Missing required fields, and numbers out of range; lengths count characters, not bytes.
    problems = checkTaskForm(form, Value::fromJson(R"({"opinion":"一二三四五六七八九十","days":31})"));
    EXPECT_EQ(fieldsOf(problems), (std::vector<std::string>{"days:max", "level:required"}));
    problems = checkTaskForm(form, Value::fromJson(R"({"opinion":"一二三四五六七八九十一","days":0,"level":""})"));
    EXPECT_EQ(fieldsOf(problems), (std::vector<std::string>{"opinion:max_length", "days:min", "level:required"}));
}
