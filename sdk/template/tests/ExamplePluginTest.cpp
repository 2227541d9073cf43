// Unit tests of the example plugin against the SDK's fake host: no hubd, no
// network. The fake host answers the plugin's HTTP requests from a function.
#include <campushub/testing/fake_host.hpp>

#include <gtest/gtest.h>

#include <string>

using campushub::testing::FakeHost;
using campushub::testing::HttpReply;
using campushub::testing::HttpRequest;

namespace {

FakeHost& configured(FakeHost& host) {
    host.setConfig("base_url", "http://library.test/api/");
    host.setCaller("2023010001", {"student"});
    return host;
}

}  // namespace

TEST(ExamplePlugin, DescribesItselfAsInPluginXml) {
    FakeHost host;
    auto plugin = configured(host).load(campushub_plugin_entry);
    auto r = plugin.describe();
    ASSERT_TRUE(r.ok()) << r.body;
    EXPECT_NE(r.body.find(R"("name":"example")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("name":"greet")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("name":"lookup_book")"), std::string::npos) << r.body;
}

TEST(ExamplePlugin, GreetsInUtf8WithTheConfiguredWord) {
    FakeHost host;
    configured(host).setConfig("greeting", "你好");
    auto plugin = host.load(campushub_plugin_entry);
    auto r = plugin.invoke("greet", R"({"name":"张三"})");
    ASSERT_TRUE(r.ok()) << r.body;
    EXPECT_NE(r.body.find("你好, 张三!"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("2023010001"), std::string::npos) << "the caller is passed through: " << r.body;
}

TEST(ExamplePlugin, RefusesMalformedInput) {
    FakeHost host;
    auto plugin = configured(host).load(campushub_plugin_entry);
    for (const char* input : {"", "not json", "[]", "{\"name\":42}", "{\"name\":\"\"}", "{\"name\":\"\xc3\x28\"}"}) {
        auto r = plugin.invoke("greet", input);
        EXPECT_EQ(r.status, CH_ERR_INVALID_ARGUMENT) << "input: " << input << " answer: " << r.body;
        EXPECT_EQ(r.answers, 1);
    }
    EXPECT_EQ(plugin.invoke("no_such_operation", "{}").status, CH_ERR_UNKNOWN_OPERATION);
}

TEST(ExamplePlugin, LooksBooksUpThroughTheHostsHttpService) {
    FakeHost host;
    configured(host).onHttp([](const HttpRequest& request) {
        if (request.url == "http://library.test/api/books/9787536692930")
            return HttpReply{200, R"({"isbn":"9787536692930","title":"三体"})"};
        return HttpReply{404, R"({"error":"no such book"})"};
    });
    auto plugin = host.load(campushub_plugin_entry);

    auto found = plugin.invoke("lookup_book", R"({"isbn":"9787536692930"})");
    ASSERT_TRUE(found.ok()) << found.body;
    EXPECT_NE(found.body.find("三体"), std::string::npos);
    ASSERT_EQ(host.httpRequests().size(), 1u);
    EXPECT_EQ(host.httpRequests()[0].method, "GET");

    EXPECT_EQ(plugin.invoke("lookup_book", R"({"isbn":"0000000000"})").status, CH_ERR_NOT_FOUND);
    EXPECT_EQ(plugin.invoke("lookup_book", R"({"isbn":"../../etc"})").status, CH_ERR_INVALID_ARGUMENT);
}

TEST(ExamplePlugin, ReportsTheLibrarySystemDown) {
    FakeHost host;
    configured(host).onHttp([](const HttpRequest&) {
        return HttpReply::failure(CH_ERR_UNAVAILABLE, "connection refused");
    });
    auto plugin = host.load(campushub_plugin_entry);
    EXPECT_EQ(plugin.invoke("lookup_book", R"({"isbn":"9787536692930"})").status, CH_ERR_UNAVAILABLE);
    auto health = plugin.health();
    ASSERT_TRUE(health.ok());
    EXPECT_NE(health.body.find(R"("status":"down")"), std::string::npos) << health.body;
}

TEST(ExamplePlugin, RefusesToStartWithoutItsBaseUrl) {
    FakeHost host;  // no config at all
    try {
        host.load(campushub_plugin_entry);
        FAIL() << "create succeeded without base_url";
    } catch (const campushub::testing::CreateError& e) {
        EXPECT_EQ(e.status(), CH_ERR_INVALID_ARGUMENT);
        EXPECT_NE(e.detail().find("base_url"), std::string::npos) << e.detail();
    }
}

TEST(ExamplePlugin, TheBuiltLibraryLoadsWithDlopen) {
    campushub::testing::PluginLibrary library(EXAMPLE_LIBRARY);
    FakeHost host;
    auto plugin = configured(host).load(library);
    auto r = plugin.invoke("greet", R"({"name":"李四"})");
    ASSERT_TRUE(r.ok()) << r.body;
    EXPECT_NE(r.body.find("Hello, 李四!"), std::string::npos) << r.body;
    EXPECT_TRUE(host.logged("example plugin ready"));
}
