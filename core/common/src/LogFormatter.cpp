#include "hub/common/LogFormatter.h"

#include "hub/common/JsonWriter.h"
#include "hub/common/LogContext.h"
#include "hub/common/PersonalDataMask.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Instantiator.h>
#include <Poco/LoggingFactory.h>
#include <Poco/Message.h>
#include <Poco/NumberParser.h>

namespace hub::log {

namespace {

const char* levelName(Poco::Message::Priority p) {
    switch (p) {
        case Poco::Message::PRIO_FATAL: return "fatal";
        case Poco::Message::PRIO_CRITICAL: return "critical";
        case Poco::Message::PRIO_ERROR: return "error";
        case Poco::Message::PRIO_WARNING: return "warning";
        case Poco::Message::PRIO_NOTICE: return "notice";
        case Poco::Message::PRIO_INFORMATION: return "information";
        case Poco::Message::PRIO_DEBUG: return "debug";
        default: return "trace";
    }
}

const char levelLetter[] = {'?', 'F', 'C', 'E', 'W', 'N', 'I', 'D', 'T'};

// A message must stay on its line: a plugin or a vendor's error text may hold
// line breaks (text format; JSON escapes them anyway).
void appendOneLine(std::string& out, std::string_view text) {
    for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
}

}  // namespace

void LogFormatter::format(const Poco::Message& message, std::string& text) {
    std::string maskedText;
    std::string_view body = message.getText();
    if (options_.maskPersonalData && maskPersonalData(body, maskedText)) body = maskedText;
    const RequestTagPtr& request = currentRequest();
    const std::string time = Poco::DateTimeFormatter::format(message.getTime(), "%Y-%m-%dT%H:%M:%S.%i");

    if (options_.style == Style::Text) {
        text += time;
        text += ' ';
        const auto p = static_cast<std::size_t>(message.getPriority());
        text += p < sizeof levelLetter ? levelLetter[p] : '?';
        text += " [";
        text += message.getSource();
        text += "] ";
        appendOneLine(text, body);
        if (request) {
            text += " request_id=";
            text += request->requestId;
            if (!request->traceId.empty()) {
                text += " trace_id=";
                text += request->traceId;
            }
        }
        return;
    }
    text += "{\"time\":\"";
    text += time;
    text += "Z\",\"level\":\"";
    text += levelName(message.getPriority());
    text += "\",\"logger\":";
    json::appendString(text, message.getSource());
    text += ",\"message\":";
    json::appendString(text, body);
    if (!message.getThread().empty()) {
        text += ",\"thread\":";
        json::appendString(text, message.getThread());
    }
    text += ",\"tid\":" + std::to_string(message.getTid()) + ",\"pid\":" + std::to_string(message.getPid());
    if (request) {
        text += ",\"request_id\":";
        json::appendString(text, request->requestId);
        if (!request->traceId.empty()) {
            text += ",\"trace_id\":";
            json::appendString(text, request->traceId);
        }
    }
    if (message.getSourceFile()) {
        text += ",\"file\":";
        json::appendString(text, message.getSourceFile());
        text += ",\"line\":" + std::to_string(message.getSourceLine());
    }
    text += '}';
}

void LogFormatter::setProperty(const std::string& name, const std::string& value) {
    if (name == "format")
        options_.style = parseStyle(value);
    else if (name == "maskPersonalData")
        options_.maskPersonalData = Poco::NumberParser::parseBool(value);
    else
        Poco::Formatter::setProperty(name, value);
}

void LogFormatter::registerWithPoco() {
    Poco::LoggingFactory::defaultFactory().registerFormatterClass(
        "HubFormatter", new Poco::Instantiator<LogFormatter, Poco::Formatter>);
}

LogFormatter::Style LogFormatter::parseStyle(const std::string& name) {
    if (name == "text") return Style::Text;
    if (name == "json") return Style::Json;
    throw Poco::InvalidArgumentException("logging.format must be text or json, not '" + name + "'");
}

void LogFormatter::exportToEnvironment() const {
    Poco::Environment::set("HUB_LOG_FORMAT", options_.style == Style::Json ? "json" : "text");
    Poco::Environment::set("HUB_LOG_MASK", options_.maskPersonalData ? "1" : "0");
}

LogFormatter::Options LogFormatter::fromEnvironment() {
    Options options;
    if (Poco::Environment::get("HUB_LOG_FORMAT", "text") == "json") options.style = Style::Json;
    options.maskPersonalData = Poco::Environment::get("HUB_LOG_MASK", "1") != "0";
    return options;
}

}  // namespace hub::log
