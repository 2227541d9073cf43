#pragma once

#include <Poco/Formatter.h>

#include <string>

namespace hub::log {

/// The hub's log line, in hubd and in the plugin worker processes:
///
///   text (default):  2026-12-06T08:00:00.123 I [hub.api] message request_id=… trace_id=…
///   json:            {"time":"2026-12-06T08:00:00.123Z","level":"information","logger":"hub.api",
///                     "message":"…","thread":"…","tid":12,"pid":34,"request_id":"…","trace_id":"…"}
///
/// one line each (a JSON line holds no raw line break, so journald and log
/// shippers read one object per line). request_id and trace_id come from the
/// calling thread's current request (LogContext.h) and are left out when there
/// is none. Times are UTC. With maskPersonalData (the default) the message is
/// passed through hub::log::maskPersonalData first.
class LogFormatter : public Poco::Formatter {
public:
    enum class Style { Text, Json };

    struct Options {
        Style style = Style::Text;
        bool maskPersonalData = true;
    };

    explicit LogFormatter(Options options) : options_(options) {}
    /// With the options hubd exported (fromEnvironment()): what Poco's
    /// LoggingConfigurator makes for `<formatter><class>HubFormatter</class>`.
    LogFormatter() : options_(fromEnvironment()) {}

    void format(const Poco::Message& message, std::string& text) override;
    /// "format" (text|json) and "maskPersonalData" (true|false), as a
    /// configured `<formatter>` element sets them; other names go to Poco::Formatter.
    void setProperty(const std::string& name, const std::string& value) override;

    /// Registers the class as "HubFormatter" with Poco's LoggingFactory, so
    /// logging.channels.* can use it (file channels: the same line, masked).
    static void registerWithPoco();

    const Options& options() const noexcept { return options_; }

    /// "text" or "json"; throws Poco::InvalidArgumentException naming the key otherwise.
    static Style parseStyle(const std::string& name);

    /// hubd passes its logging choice to the processes it starts (the plugin
    /// workers) in the environment: HUB_LOG_FORMAT=text|json, HUB_LOG_MASK=1|0.
    void exportToEnvironment() const;
    /// The options from those variables (the defaults when absent or unknown).
    static Options fromEnvironment();

private:
    Options options_;
};

}  // namespace hub::log
