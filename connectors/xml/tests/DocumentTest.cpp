#include "hub/xml/Document.h"
#include "hub/xml/Error.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

using hub::xml::Document;
using hub::xml::ParseOptions;
using hub::xml::XmlException;

namespace {

/// Parses and expects a refusal; returns the exception for further checks.
XmlException expectFailure(std::string_view xml, const ParseOptions& options = {}) {
    try {
        Document::parseMemory(xml, "input.xml", options);
    } catch (const XmlException& e) {
        return e;
    }
    ADD_FAILURE() << "document was accepted: " << xml.substr(0, 200);
    return XmlException("no failure", {});
}

bool anyMessageContains(const XmlException& e, std::string_view needle) {
    for (const auto& error : e.errors()) {
        if (error.message.find(needle) != std::string::npos) {
            return true;
        }
    }
    return false;
}

class TempDir {
public:
    TempDir() {
        char pattern[] = "/tmp/hub-xml-test-XXXXXX";
        path_ = mkdtemp(pattern);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace

TEST(XmlDocument, ParsesWellFormedAndNavigates) {
    auto doc = Document::parseMemory(R"(<?xml version="1.0" encoding="UTF-8"?>
<plugin name="student_affairs" version="1.2.0">
  <operation id="get_student"/>
  <operation id="enrolment_certificate" timeoutMs="5000"/>
</plugin>)",
                                     "manifest.xml");
    auto root = doc.root();
    EXPECT_EQ(root.name(), "plugin");
    EXPECT_EQ(root.attribute("name"), "student_affairs");
    EXPECT_FALSE(root.attribute("missing").has_value());
    EXPECT_EQ(root.attribute("missing", "dflt"), "dflt");
    auto ops = root.children("operation");
    ASSERT_EQ(ops.size(), 2u);
    EXPECT_EQ(ops[1].attribute("id"), "enrolment_certificate");
    EXPECT_EQ(ops[1].line(), 4);
    EXPECT_EQ(root.children().size(), 2u);
    EXPECT_FALSE(root.child("nothing").has_value());
    EXPECT_EQ(doc.name(), "manifest.xml");
}

TEST(XmlDocument, XPathHelpers) {
    auto doc = Document::parseMemory(
        R"(<m xmlns:c="urn:c"><op id="a" t="1"/><op id="b" t="2"/><c:x>hi</c:x></m>)", "x.xml");
    EXPECT_EQ(doc.selectStrings("/m/op/@id"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(doc.evaluateString("string(/m/op[2]/@id)"), "b");
    EXPECT_EQ(doc.evaluateString("sum(/m/op/@t)"), "3");
    EXPECT_EQ(doc.selectStrings("count(/m/op)"), (std::vector<std::string>{"2"}));
    auto nodes = doc.selectNodes("//op");
    ASSERT_EQ(nodes.size(), 2u);
    EXPECT_EQ(nodes[0].evaluateString("string(@id)"), "a");
    EXPECT_EQ(doc.evaluateString("string(/m/c:x)", {{"c", "urn:c"}}), "hi");
    EXPECT_FALSE(doc.selectNode("/m/none").has_value());
    EXPECT_THROW(doc.selectNodes("count(//op)"), XmlException);   // not a node set
    EXPECT_THROW(doc.selectNodes("//op[@id="), XmlException);     // bad syntax
    EXPECT_THROW(doc.evaluateString("/m/q:x"), XmlException);     // unbound prefix
}

TEST(XmlDocument, MalformedReportsFileAndLine) {
    auto e = expectFailure("<a>\n  <b>\n</a>\n");
    ASSERT_FALSE(e.errors().empty());
    EXPECT_EQ(e.errors().front().file, "input.xml");
    EXPECT_GE(e.errors().front().line, 2);
    EXPECT_NE(std::string(e.what()).find("input.xml"), std::string::npos);
    expectFailure("");
    expectFailure("just text");
    expectFailure("<a></b>");
    expectFailure("<a x='1' x='2'/>");
    expectFailure("<a/><b/>");
}

TEST(XmlDocument, NoMessagesOnStderr) {
    testing::internal::CaptureStderr();
    EXPECT_THROW(Document::parseMemory("<a><b></a>", "x.xml"), XmlException);
    EXPECT_THROW(Document::parseMemory("<a>&undefined;</a>", "x.xml"), XmlException);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(XmlDocument, RefusesExternalEntityXxe) {
    auto e = expectFailure(R"(<?xml version="1.0"?>
<!DOCTYPE r [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<r>&xxe;</r>)");
    EXPECT_TRUE(anyMessageContains(e, "DOCTYPE")) << e.what();
    // Even where DOCTYPE is allowed, the entity declaration itself is refused.
    ParseOptions allow;
    allow.allowDoctype = true;
    auto e2 = expectFailure(R"(<!DOCTYPE r [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]><r>&xxe;</r>)", allow);
    EXPECT_TRUE(anyMessageContains(e2, "entity declarations are not accepted")) << e2.what();
    EXPECT_FALSE(anyMessageContains(e2, "root:")) << "passwd content leaked";
    // Parameter entities fetching a remote DTD.
    expectFailure(R"(<!DOCTYPE r [ <!ENTITY % ext SYSTEM "http://127.0.0.1:9/evil.dtd"> %ext; ]><r/>)", allow);
}

TEST(XmlDocument, RefusesBillionLaughs) {
    std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n";
    for (int i = 1; i <= 9; ++i) {
        xml += "<!ENTITY lol" + std::to_string(i) + " \"";
        for (int j = 0; j < 10; ++j) {
            xml += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
        }
        xml += "\">\n";
    }
    xml += "]>\n<lolz>&lol9;</lolz>\n";
    ParseOptions allow;
    allow.allowDoctype = true;
    auto e = expectFailure(xml, allow);
    EXPECT_TRUE(anyMessageContains(e, "entity")) << e.what();
    expectFailure(xml);
}

TEST(XmlDocument, AllowsPlainDoctypeOnlyWhenAsked) {
    std::string xml = "<!DOCTYPE html><html><body>x</body></html>";
    expectFailure(xml);
    ParseOptions allow;
    allow.allowDoctype = true;
    EXPECT_EQ(Document::parseMemory(xml, "d.xml", allow).root().name(), "html");
}

TEST(XmlDocument, RefusesHugeInputBeforeParsing) {
    ParseOptions small;
    small.maxBytes = 1024;
    std::string xml = "<a>" + std::string(2000, 'x') + "</a>";
    auto e = expectFailure(xml, small);
    EXPECT_TRUE(anyMessageContains(e, "limit")) << e.what();
    // Default cap (16 MiB): a 17 MiB document is refused.
    std::string big = "<a>" + std::string(17u * 1024 * 1024, 'x') + "</a>";
    expectFailure(big);
    // Deep nesting beyond libxml2's depth limit fails cleanly.
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += "<d>";
    for (int i = 0; i < 100000; ++i) deep += "</d>";
    expectFailure(deep);
}

TEST(XmlDocument, HugeFileIsRefusedWithoutReadingItAll) {
    TempDir dir;
    auto path = (dir.path() / "big.xml").string();
    {
        std::ofstream out(path);
        out << "<a>" << std::string(3000, 'y') << "</a>";
    }
    ParseOptions small;
    small.maxBytes = 1000;
    EXPECT_THROW(Document::parseFile(path, small), XmlException);
    EXPECT_EQ(Document::parseFile(path).root().text().size(), 3000u);
    try {
        Document::parseFile((dir.path() / "missing.xml").string());
        FAIL();
    } catch (const XmlException& e) {
        EXPECT_NE(std::string(e.what()).find("missing.xml"), std::string::npos);
    }
}

TEST(XmlDocument, WrongEncodings) {
    const std::string chinese = "\xE4\xB8\xAD\xE6\x96\x87";  // 中文 in UTF-8
    // Declared GBK / Latin-1 while the bytes are UTF-8: refused by default.
    auto e = expectFailure("<?xml version=\"1.0\" encoding=\"GBK\"?><a>" + chinese + "</a>");
    EXPECT_TRUE(anyMessageContains(e, "GBK")) << e.what();
    expectFailure("<?xml version='1.0' encoding='ISO-8859-1'?><a>" + chinese + "</a>");
    // Invalid UTF-8 bytes (truncated sequence, overlong form, lone continuation byte).
    auto bad = expectFailure("<a>\xE4\xB8</a>");
    EXPECT_FALSE(bad.errors().empty());
    expectFailure("<a>\xC0\xAF</a>");
    expectFailure("<a t='\x80'/>");
    // UTF-16 byte order mark.
    expectFailure(std::string("\xFF\xFE<\0a\0/\0>\0", 10));
    // Declared UTF-8 in any spelling is fine.
    EXPECT_EQ(Document::parseMemory("<?xml version='1.0' encoding='utf-8'?><a>" + chinese + "</a>", "u")
                  .root()
                  .text(),
              chinese);
    // Opting in to other encodings: real GBK bytes are converted to UTF-8.
    ParseOptions lenient;
    lenient.utf8Only = false;
    auto gbk = Document::parseMemory("<?xml version=\"1.0\" encoding=\"GBK\"?><a>\xD6\xD0\xCE\xC4</a>",
                                     "gbk.xml", lenient);
    EXPECT_EQ(gbk.root().text(), chinese);
    // ...and a wrong declaration gives different text, which is why it is off by default.
    auto latin = Document::parseMemory("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>" + chinese + "</a>",
                                       "l.xml", lenient);
    EXPECT_NE(latin.root().text(), chinese);
}

TEST(XmlDocument, ChineseTextRoundTrips) {
    const std::string name = "\xE5\x9C\xA8\xE8\xAF\xBB\xE8\xAF\x81\xE6\x98\x8E";  // 在读证明
    const std::string dept = "\xE6\x95\x99\xE5\x8A\xA1\xE5\xA4\x84 & <\xE7\xA0\x94>";  // 教务处 & <研>
    std::string xml = "<item name=\"" + name + "\"><dept>\xE6\x95\x99\xE5\x8A\xA1\xE5\xA4\x84 &amp; &lt;\xE7\xA0\x94&gt;</dept></item>";
    auto doc = Document::parseMemory(xml, "zh.xml");
    EXPECT_EQ(doc.root().attribute("name"), name);
    EXPECT_EQ(doc.root().child("dept")->text(), dept);
    std::string serialized = doc.toString(true);
    EXPECT_NE(serialized.find(name), std::string::npos) << "Chinese must stay literal UTF-8, not &#...;";
    auto again = Document::parseMemory(serialized, "zh2.xml");
    EXPECT_EQ(again.root().attribute("name"), name);
    EXPECT_EQ(again.root().child("dept")->text(), dept);
    EXPECT_EQ(again.selectStrings("/item/dept"), std::vector<std::string>{dept});
}

TEST(XmlDocument, ConcurrentParsingFromManyThreads) {
    std::atomic<int> ok{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                try {
                    if ((i + t) % 2 == 0) {
                        auto d = Document::parseMemory("<a><b n='" + std::to_string(i) + "'/></a>", "t.xml");
                        if (d.evaluateString("string(/a/b/@n)") == std::to_string(i)) ++ok;
                    } else {
                        Document::parseMemory("<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>", "t.xml");
                    }
                } catch (const XmlException&) {
                    ++refused;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), 800);
    EXPECT_EQ(refused.load(), 800);
}

TEST(XmlDocument, MoveTransfersOwnership) {
    auto a = Document::parseMemory("<a/>", "a.xml");
    Document b = std::move(a);
    EXPECT_EQ(b.root().name(), "a");
    a = Document::parseMemory("<c/>", "c.xml");
    EXPECT_EQ(a.root().name(), "c");
}
