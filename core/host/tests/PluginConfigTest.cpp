// A plugin sees the same config whether it runs in process or in a worker
// process (one conversion, PluginConfig): the same value for every key through
// config_get, nested keys and Chinese values included, and the same JSON at
// create. Real hosts, the real worker, the crashy test plugin in both.
#include "hub/host/PluginConfig.h"
#include "hub/host/PluginHost.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <sstream>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace hub::host;

namespace {

const std::string kConfig = R"(
      <config>
        <greeting>欢迎, "friend" &amp; 你好</greeting>
        <base_url>https://教务处.example.edu.cn/api</base_url>
        <auth>
          <user>张三</user>
          <password>密码 ${base_url}</password>
        </auth>
        <server>甲</server>
        <server>乙</server>
        <empty/>
        <brace>{</brace>
        <once>$${brace}greeting}</once>
      </config>)";

/// A plugin host with the crashy test plugin alone, in the given isolation.
class Host {
public:
    explicit Host(const std::string& isolation) {
        root_.createDirectories();
        fs::copy(HUB_CRASHY_DIR, root_.path() + "/crashy", fs::copy_options::recursive);
        std::istringstream xml("<plugins><plugin name=\"crashy\"><isolation>" + isolation + "</isolation>" + kConfig +
                               "</plugin></plugins>");
        PluginHost::Options o;
        o.pluginsDir = root_.path();
        o.config = new Poco::Util::XMLConfiguration(xml);
        o.process.workerExecutable = HUB_PLUGIN_WORKER;
        o.process.logLevel = "warning";
        host_ = std::make_unique<PluginHost>(o);
        host_->loadAll();
    }

    PluginHost& operator*() { return *host_; }

    CallResult call(const std::string& op, const std::string& input) {
        std::promise<CallResult> answer;
        auto s = host_->submit("crashy", op, input, Caller{"2023010001", {"student"}, ""}, Clock::now() + 10s,
                               [&answer](CallResult r) { answer.set_value(std::move(r)); });
        if (s != PluginHost::Submit::Accepted) return {-1, "not accepted"};
        return answer.get_future().get();
    }

    /// What config_get answers for key: its status, and the value when found.
    std::string configGet(const std::string& key) {
        Poco::JSON::Object o;
        o.set("key", key);
        std::ostringstream s;
        o.stringify(s);
        CallResult r = call("config", s.str());
        if (r.status != CH_OK) return "status " + std::to_string(r.status);
        Poco::JSON::Parser parser;
        return parser.parse(r.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("value");
    }

private:
    Poco::TemporaryFile root_;
    std::unique_ptr<PluginHost> host_;
};

TEST(HostConfig, APluginSeesTheSameConfigInProcessAndInAWorker) {
    Host inproc("inproc");
    Host process("process");
    ASSERT_EQ((*inproc).list().size(), 1u);
    ASSERT_EQ((*process).list().size(), 1u);
    ASSERT_EQ((*inproc).list()[0].isolation, "inproc");
    ASSERT_EQ((*process).list()[0].isolation, "process");

    for (std::string key : {"greeting", "base_url", "auth.user", "auth.password", "auth", "server", "server[1]",
                            "empty", "brace", "once", "missing", "auth.missing", "server[2]", ""})
        EXPECT_EQ(inproc.configGet(key), process.configGet(key)) << "key '" << key << "'";

    EXPECT_EQ(inproc.configGet("greeting"), "欢迎, \"friend\" & 你好");
    EXPECT_EQ(inproc.configGet("auth.user"), "张三");
    EXPECT_EQ(inproc.configGet("auth.password"), "密码 https://教务处.example.edu.cn/api");
    EXPECT_EQ(inproc.configGet("server[1]"), "乙");
    EXPECT_EQ(inproc.configGet("empty"), "");
    // Expanded once, by the hub: what the expansion yields is not expanded again.
    EXPECT_EQ(inproc.configGet("once"), "${greeting}");
    EXPECT_EQ(inproc.configGet("missing"), "status " + std::to_string(CH_ERR_NOT_FOUND));

    // create() got the same JSON, byte for byte, with every key config_get answers.
    CallResult created = inproc.call("create_config", "{}");
    ASSERT_EQ(created.status, CH_OK) << created.body;
    CallResult createdInWorker = process.call("create_config", "{}");
    ASSERT_EQ(createdInWorker.status, CH_OK) << createdInWorker.body;
    EXPECT_EQ(created.body, createdInWorker.body);
    Poco::JSON::Parser parser;
    auto json = parser.parse(created.body).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(json->getValue<std::string>("auth.user"), "张三");
    EXPECT_EQ(json->getValue<std::string>("server[1]"), "乙");
    for (const auto& [key, value] : *json) EXPECT_EQ(inproc.configGet(key), value.toString()) << key;
}

TEST(HostConfig, TheJsonReadsBackToTheSameConfig) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> section(new Poco::Util::MapConfiguration);
    section->setString("base_url", "https://教务处.example.edu.cn");
    section->setString("auth.user", "张三 \"quoted\" \\ \t");
    section->setString("a.b.c", "");
    PluginConfig config = PluginConfig::fromSection(section.get());
    EXPECT_EQ(config.size(), 3u);
    ASSERT_NE(config.find("auth.user"), nullptr);
    EXPECT_EQ(*config.find("auth.user"), "张三 \"quoted\" \\ \t");
    EXPECT_EQ(config.find("auth"), nullptr);  // has no value of its own
    PluginConfig again = PluginConfig::fromJson(config.json());
    EXPECT_EQ(again.json(), config.json());
    EXPECT_EQ(*again.find("base_url"), "https://教务处.example.edu.cn");
    EXPECT_EQ(PluginConfig().json(), "{}");
    EXPECT_EQ(PluginConfig::fromSection(nullptr).json(), "{}");
}

TEST(HostConfig, WhatIsNotAnObjectOfStringsIsRefused) {
    EXPECT_THROW(PluginConfig::fromJson(""), std::runtime_error);
    EXPECT_THROW(PluginConfig::fromJson("{not json"), std::runtime_error);
    EXPECT_THROW(PluginConfig::fromJson("[\"a\"]"), std::runtime_error);
    EXPECT_THROW(PluginConfig::fromJson(R"({"n":1})"), std::runtime_error);
    EXPECT_THROW(PluginConfig::fromJson(R"({"o":{"a":"b"}})"), std::runtime_error);
}

TEST(HostConfig, AValueThatIsNotUtf8IsRefusedNamingItsKey) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> section(new Poco::Util::MapConfiguration);
    section->setString("password", "gbk \xd5\xc5\xc8\xfd and a lone \xff");
    try {
        PluginConfig::fromSection(section.get());
        ADD_FAILURE() << "accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("'password' is not valid UTF-8"), std::string::npos) << e.what();
    }
}

}  // namespace
