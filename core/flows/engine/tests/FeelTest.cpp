// The FEEL subset (Feel.h): what it computes, and what it refuses with which message.
#include "hub/flows/engine/Feel.h"

#include <gtest/gtest.h>

using hub::flows::engine::Expression;
using hub::flows::engine::FeelError;
using hub::flows::engine::Value;

namespace {

Value variables() {
    return Value::fromJson(R"({"form":{"days":45,"amount":1200.5,"reason":"学术会议","urgent":true,"note":null},
        "applicant":{"department":"计算机学院","id":"s2026001"},"decision":"approve","count":3,"zero":0})");
}

std::string eval(const std::string& text) {
    return Expression::compile(text).evaluate(variables()).toJson();
}

struct Case {
    const char* expression;
    const char* result;
};

TEST(FeelTest, EvaluatesTheSubset) {
    const Case cases[] = {
        {"=form.days", "45"},
        {"= form.days > 30", "true"},
        {"=form.days >= 45", "true"},
        {"=form.days < 45", "false"},
        {"=form.days <= 45", "true"},
        {"=form.days != 45", "false"},
        {"=form.days = 45", "true"},
        {"=applicant.department = \"计算机学院\"", "true"},
        {"=applicant.department != \"外国语学院\"", "true"},
        {"=decision = \"approve\" and form.days > 30", "true"},
        {"=decision = \"reject\" or form.urgent", "true"},
        {"=not(form.urgent)", "false"},
        {"=not(decision = \"reject\")", "true"},
        {"=form.amount * 2", "2401"},
        {"=form.amount + 0.5", "1201"},
        {"=count - 5", "-2"},
        {"=-count", "-3"},
        {"=count / 2", "1.5"},
        {"=(1 + 2) * 3", "9"},
        {"=1 + 2 * 3", "7"},
        {"=10 - 2 - 3", "5"},
        {"=\"在读\" + \"证明\"", "\"在读证明\""},
        {"=\"a\\\"b\\n\\u4e2d\"", "\"a\\\"b\\n中\""},
        {"=null", "null"},
        {"=true", "true"},
        {"=false", "false"},
        {"=3.25", "3.25"},
        {"=form.note = null", "true"},
        {"=form.missing = null", "true"},
        {"=form.missing.deeper", "null"},
        {"=form.days != null", "true"},
        {"=missing", "null"},
        {"=form", R"({"amount":1200.5,"days":45,"note":null,"reason":"学术会议","urgent":true})"},
        {"=\"b\" > \"a\"", "true"},
    };
    for (const auto& c : cases) EXPECT_EQ(eval(c.expression), c.result) << c.expression;
}

TEST(FeelTest, MismatchedTypesAreNullAsInFeel) {
    const Case cases[] = {
        {"=form.days > \"30\"", "null"},
        {"=form.days = \"45\"", "null"},
        {"=form.reason + 1", "null"},
        {"=count / zero", "null"},
        {"=not(count)", "null"},
        {"=-form.reason", "null"},
        {"=form.missing > 3", "null"},
        // Ternary logic: false wins in and, true wins in or.
        {"=form.missing and false", "false"},
        {"=form.missing and true", "null"},
        {"=form.missing or true", "true"},
        {"=form.missing or false", "null"},
    };
    for (const auto& c : cases) EXPECT_EQ(eval(c.expression), c.result) << c.expression;
}

TEST(FeelTest, WithoutEqualsSignATextIsALiteralWhereAllowed) {
    EXPECT_EQ(Expression::compile("dept:cs", true).evaluate(variables()).toJson(), "\"dept:cs\"");
    EXPECT_THROW(Expression::compile("form.days > 30"), FeelError);
}

TEST(FeelTest, RefusesWhatIsOutsideTheSubsetWithWhereAndWhat) {
    struct Refusal {
        const char* expression;
        const char* message;
    };
    const Refusal refusals[] = {
        {"=", "empty expression"},
        {"=form.days >", "unexpected end of expression"},
        {"=sum(form.items)", "function calls ('sum(') are not supported, only not()"},
        {"=[1, 2]", "lists and filters ('[') are not supported"},
        {"=form.items[1]", "lists and filters ('[') are not supported"},
        {"={a: 1}", "contexts ('{') are not supported"},
        {"=if form.urgent then 1 else 2", "'if' expressions are not supported"},
        {"=some x in form.items satisfies x > 1", "'some' expressions are not supported"},
        {"=for x in form.items return x", "'for' expressions are not supported"},
        {"=form.days in x", "'in' expressions are not supported"},
        {"=1..3", "ranges ('..') are not supported"},
        {"=form.days between 1 and 3", "'between' expressions are not supported"},
        {"=form.days instance of number", "'instance' expressions are not supported"},
        {"=1 < 2 < 3", "chained comparisons are not supported; use 'and'"},
        {"=\"open", "unterminated string"},
        {"='single'", "strings are written in double quotes"},
        {"=2 ** 3", "exponentiation ('**') is not supported"},
        {"=(1 + 2", "expected ')'"},
        {"=not form.urgent", "not is written not(...)"},
        {"=form.", "expected a name after '.'"},
        {"=and", "'and' needs a left operand"},
        {"=a ? b", "'?' is not supported"},
        {"=\"\\x\"", "unknown escape '\\x'"},
        {"=\"\\ud800\"", "surrogate \\u escapes are not supported"},
        {"=first name", "unexpected name 'name' (names with spaces are not supported)"},
        {"${form.days > 30}", "an expression starts with '='"},
    };
    for (const auto& r : refusals) {
        try {
            Expression::compile(r.expression);
            ADD_FAILURE() << "accepted " << r.expression;
        } catch (const FeelError& e) {
            EXPECT_EQ(e.problem(), r.message) << r.expression;
            EXPECT_NE(std::string(e.what()).find("supported: a leading '='"), std::string::npos);
        }
    }
}

TEST(FeelTest, ReportsTheOffsetOfTheProblem) {
    try {
        Expression::compile("=form.days > 30 and sum(x)");
        FAIL();
    } catch (const FeelError& e) {
        EXPECT_EQ(e.position(), 23u);  // the '(' after sum
    }
}

TEST(FeelTest, HostileExpressionsAreRefusedNotRecursedInto) {
    EXPECT_THROW(Expression::compile("=" + std::string(200, '(') + "1" + std::string(200, ')')), FeelError);
    EXPECT_THROW(Expression::compile("=" + std::string(5000, '1')), FeelError);
    std::string longSum = "=1";
    for (int i = 0; i < 1000; ++i) longSum += "+1";
    EXPECT_EQ(Expression::compile(longSum).evaluate(Value()).toJson(), "1001");
}

TEST(FeelTest, ValuesRoundTripThroughJsonWithSortedKeys) {
    const Value value = Value::fromJson(R"({"b":[1,2.5,"三"],"a":{"y":null,"x":true}})");
    EXPECT_EQ(value.toJson(), R"({"a":{"x":true,"y":null},"b":[1,2.5,"三"]})");
    EXPECT_EQ(Value::fromJson(value.toJson()), value);
    EXPECT_EQ(Value::fromJson("7").toJson(), "7");
    EXPECT_THROW(Value::fromJson("{"), std::invalid_argument);
}

}  // namespace

namespace {

TEST(FeelTest, SettingAMemberNeverChangesACopy) {
    Value original = Value::fromJson(R"({"a":1})");
    const Value copy = original;
    original.set("a", 2);
    original.set("b", "二");
    EXPECT_EQ(copy.toJson(), R"({"a":1})");
    EXPECT_EQ(original.toJson(), R"({"a":2,"b":"二"})");
}

}  // namespace
