// The hub's log line (text and JSON), the request tag on it, and the masking of
// personal data in both formats.
#include "hub/common/LogContext.h"
#include "hub/common/LogFormatter.h"
#include "hub/common/PersonalDataMask.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/LoggingFactory.h>
#include <Poco/Message.h>

#include <gtest/gtest.h>

#include <thread>

using hub::log::LogFormatter;

namespace {

const std::string kLine = "申请人 张三 身份证 11010519491231002X 手机 13812345678 邮箱 zhangsan@campus.edu.cn";

std::string format(LogFormatter::Options options, const std::string& text,
                   Poco::Message::Priority priority = Poco::Message::PRIO_WARNING) {
    LogFormatter formatter(options);
    Poco::Message message("hub.test", text, priority);
    std::string line;
    formatter.format(message, line);
    return line;
}

Poco::JSON::Object::Ptr parse(const std::string& line) {
    Poco::JSON::Parser parser;
    return parser.parse(line).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

TEST(PersonalDataMask, IdNumbersPhonesAndEmails) {
    using hub::log::maskedPersonalData;
    EXPECT_EQ(maskedPersonalData("id 110105194912310021 ok"), "id 110105********0021 ok");
    EXPECT_EQ(maskedPersonalData("id=11010519491231002X."), "id=110105********002X.");
    EXPECT_EQ(maskedPersonalData("tel:13812345678"), "tel:138****5678");
    EXPECT_EQ(maskedPersonalData("+8613812345678"), "+86138****5678");
    EXPECT_EQ(maskedPersonalData("mail zhangsan@campus.edu.cn now"), "mail z***@campus.edu.cn now");
    // Not personal data: longer or shorter digit runs, a number that is no mobile,
    // an '@' that is no address.
    for (const char* same : {"request 1234567890123456789 done", "12345678901", "took 1733472000123 ms",
                             "user@localhost", "@", "", "2026-12-06T08:00:00.123"})
        EXPECT_EQ(maskedPersonalData(same), same);
}

TEST(LogFormatter, TextMasksByDefault) {
    std::string line = format({}, kLine);
    EXPECT_NE(line.find(" W [hub.test] 申请人"), std::string::npos) << line;
    EXPECT_NE(line.find("110105********002X"), std::string::npos) << line;
    EXPECT_NE(line.find("138****5678"), std::string::npos) << line;
    EXPECT_NE(line.find("z***@campus.edu.cn"), std::string::npos) << line;
    EXPECT_EQ(line.find("11010519491231002X"), std::string::npos) << line;
    EXPECT_EQ(line.find("13812345678"), std::string::npos) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogFormatter, JsonMasksByDefault) {
    auto object = parse(format({LogFormatter::Style::Json, true}, kLine));
    std::string message = object->getValue<std::string>("message");
    EXPECT_NE(message.find("110105********002X"), std::string::npos) << message;
    EXPECT_NE(message.find("138****5678"), std::string::npos) << message;
    EXPECT_EQ(message.find("13812345678"), std::string::npos) << message;
    EXPECT_EQ(object->getValue<std::string>("level"), "warning");
    EXPECT_EQ(object->getValue<std::string>("logger"), "hub.test");
    EXPECT_EQ(object->getValue<std::string>("time").back(), 'Z');
    EXPECT_FALSE(object->has("request_id")) << "no request on this thread";
}

TEST(LogFormatter, UnmaskedWhenSwitchedOff) {
    EXPECT_NE(format({LogFormatter::Style::Text, false}, kLine).find(kLine), std::string::npos);
    EXPECT_EQ(parse(format({LogFormatter::Style::Json, false}, kLine))->getValue<std::string>("message"), kLine);
}

TEST(LogFormatter, OneLineEachWhateverTheMessage) {
    std::string text = format({}, "first\nsecond\r\nthird");
    EXPECT_EQ(text.find_first_of("\r\n"), std::string::npos) << text;
    std::string json = format({LogFormatter::Style::Json, true}, "first\nsecond \"quoted\" \x01");
    EXPECT_EQ(json.find('\n'), std::string::npos) << json;
    EXPECT_EQ(parse(json)->getValue<std::string>("message"), "first\nsecond \"quoted\" \x01");
}

TEST(LogFormatter, RequestAndTraceIdsOfTheCurrentRequest) {
    std::string requestId = "r-0001", traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    auto tag = std::make_shared<hub::log::RequestTag>(hub::log::RequestTag{requestId, traceId});
    {
        hub::log::RequestScope scope(tag);
        auto object = parse(format({LogFormatter::Style::Json, true}, "calling"));
        EXPECT_EQ(object->getValue<std::string>("request_id"), requestId);
        EXPECT_EQ(object->getValue<std::string>("trace_id"), traceId);
        std::string text = format({}, "calling");
        EXPECT_NE(text.find("calling request_id=r-0001 trace_id=" + traceId), std::string::npos) << text;
        // Another thread has its own (none).
        std::thread([] { EXPECT_EQ(format({}, "x").find("request_id"), std::string::npos); }).join();
    }
    EXPECT_EQ(format({}, "after").find("request_id"), std::string::npos) << "the scope restored the previous tag";
}

TEST(LogContext, TraceparentIsChecked) {
    using hub::log::traceIdFromTraceparent;
    EXPECT_EQ(traceIdFromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
              "4bf92f3577b34da6a3ce929d0e0e4736");
    for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"})
        EXPECT_EQ(traceIdFromTraceparent(bad), "") << bad;
}

TEST(LogFormatter, StyleNamesAndEnvironment) {
    EXPECT_EQ(LogFormatter::parseStyle("json"), LogFormatter::Style::Json);
    EXPECT_EQ(LogFormatter::parseStyle("text"), LogFormatter::Style::Text);
    EXPECT_THROW(LogFormatter::parseStyle("xml"), Poco::InvalidArgumentException);
    LogFormatter({LogFormatter::Style::Json, false}).exportToEnvironment();
    auto options = LogFormatter::fromEnvironment();
    EXPECT_EQ(options.style, LogFormatter::Style::Json);
    EXPECT_FALSE(options.maskPersonalData);
}

TEST(LogFormatter, ConfiguredThroughPocosLoggingFactory) {
    LogFormatter::registerWithPoco();
    Poco::AutoPtr<Poco::Formatter> formatter(Poco::LoggingFactory::defaultFactory().createFormatter("HubFormatter"));
    formatter->setProperty("format", "json");
    formatter->setProperty("maskPersonalData", "true");
    std::string line;
    formatter->format(Poco::Message("hub.test", kLine, Poco::Message::PRIO_ERROR), line);
    auto object = parse(line);
    EXPECT_EQ(object->getValue<std::string>("level"), "error");
    EXPECT_EQ(object->getValue<std::string>("message").find("13812345678"), std::string::npos) << line;
    EXPECT_THROW(formatter->setProperty("format", "yaml"), Poco::InvalidArgumentException);
}
