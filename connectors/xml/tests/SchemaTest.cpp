#include "hub/xml/Document.h"
#include "hub/xml/Error.h"
#include "hub/xml/Schema.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using hub::xml::Document;
using hub::xml::Schema;
using hub::xml::XmlException;

namespace {

const char* kXsd = R"(<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
  <xs:simpleType name="channel">
    <xs:restriction base="xs:string">
      <xs:enumeration value="online"/><xs:enumeration value="counter"/><xs:enumeration value="kiosk"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:element name="catalog">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="item" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence><xs:element name="name" type="xs:string"/></xs:sequence>
            <xs:attribute name="id" type="xs:NCName" use="required"/>
            <xs:attribute name="channel" type="channel" use="required"/>
            <xs:attribute name="timeLimit" type="xs:nonNegativeInteger"/>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>)";

/// A loopback listener that records whether anything ever connected to it.
class Tripwire {
public:
    Tripwire() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(fd_, 4), 0);
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        ::fcntl(fd_, F_SETFL, O_NONBLOCK);
    }
    ~Tripwire() { ::close(fd_); }
    std::string url(const std::string& file) const {
        return "http://127.0.0.1:" + std::to_string(port_) + "/" + file;
    }
    bool touched() const {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c >= 0) {
            ::close(c);
            return true;
        }
        return false;
    }

private:
    int fd_ = -1;
    int port_ = 0;
};

}  // namespace

TEST(XmlSchema, ValidDocumentHasNoErrors) {
    auto schema = Schema::fromMemory(kXsd, "catalog.xsd");
    auto doc = Document::parseMemory(
        "<catalog><item id='a' channel='online' timeLimit='3'><name>\xE5\x9C\xA8\xE8\xAF\xBB</name></item></catalog>",
        "ok.xml");
    EXPECT_TRUE(schema.validate(doc).empty());
    EXPECT_NO_THROW(schema.check(doc));
}

TEST(XmlSchema, ErrorsNameFileLineAndField) {
    auto schema = Schema::fromMemory(kXsd, "catalog.xsd");
    auto doc = Document::parseMemory(R"(<catalog>
  <item id="a" channel="online"><name>x</name></item>
  <item id="b" channel="web"><name>y</name></item>
  <item id="c" channel="kiosk" timeLimit="-1"><name>z</name></item>
  <item channel="counter"><nam>w</nam></item>
</catalog>)",
                                     "items.xml");
    testing::internal::CaptureStderr();
    auto errors = schema.validate(doc);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    ASSERT_GE(errors.size(), 4u);
    for (const auto& e : errors) {
        EXPECT_EQ(e.file, "items.xml");
    }
    EXPECT_EQ(errors[0].line, 3);
    EXPECT_NE(errors[0].message.find("channel"), std::string::npos) << errors[0].message;
    EXPECT_NE(errors[0].message.find("web"), std::string::npos) << errors[0].message;
    EXPECT_EQ(errors[1].line, 4);
    EXPECT_NE(errors[1].message.find("timeLimit"), std::string::npos) << errors[1].message;
    bool missingId = false;
    bool wrongElement = false;
    for (const auto& e : errors) {
        if (e.line == 5 && e.message.find("'id'") != std::string::npos) missingId = true;
        if (e.line == 5 && e.message.find("nam") != std::string::npos) wrongElement = true;
    }
    EXPECT_TRUE(missingId);
    EXPECT_TRUE(wrongElement);
    EXPECT_NE(errors[0].toString().find("items.xml:3"), std::string::npos) << errors[0].toString();
    try {
        schema.check(doc);
        FAIL();
    } catch (const XmlException& e) {
        EXPECT_EQ(e.errors().size(), errors.size());
    }
}

TEST(XmlSchema, BrokenSchemaIsReported) {
    try {
        Schema::fromMemory(R"(<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="a" type="noSuchType"/>
</xs:schema>)",
                           "broken.xsd");
        FAIL();
    } catch (const XmlException& e) {
        ASSERT_FALSE(e.errors().empty());
        EXPECT_EQ(e.errors().front().file, "broken.xsd");
        EXPECT_EQ(e.errors().front().line, 2);
    }
    EXPECT_THROW(Schema::fromMemory("<not-a-schema/>", "x.xsd"), XmlException);
    EXPECT_THROW(Schema::fromMemory("<xs:schema", "x.xsd"), XmlException);
    EXPECT_THROW(Schema::fromFile("/nonexistent/catalog.xsd"), XmlException);
}

TEST(XmlSchema, RemoteImportIsNotFetched) {
    // The import's schemaLocation is a network URL: it must not be fetched.
    // libxml2 only warns about a failed import, so the schema compiles but
    // the imported namespace's types stay unknown.
    Tripwire tripwire;
    std::string xsd = R"(<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:r="urn:r">
  <xs:import namespace="urn:r" schemaLocation=")" + tripwire.url("remote.xsd") + R"("/>
  <xs:include schemaLocation=")" + tripwire.url("include.xsd") + R"("/>
  <xs:element name="a" type="r:T"/>
</xs:schema>)";
    EXPECT_THROW(Schema::fromMemory(xsd, "import.xsd"), XmlException);
    EXPECT_FALSE(tripwire.touched()) << "the schema compiler connected to the network";
}

TEST(XmlSchema, DocumentEntitiesNeverFetchRemoteResources) {
    Tripwire tripwire;
    hub::xml::ParseOptions allow;
    allow.allowDoctype = true;
    EXPECT_THROW(Document::parseMemory("<!DOCTYPE r SYSTEM \"" + tripwire.url("r.dtd") + "\"><r/>", "r.xml"),
                 XmlException);
    // An external DTD reference alone is allowed with allowDoctype, but never loaded.
    EXPECT_NO_THROW(Document::parseMemory("<!DOCTYPE r SYSTEM \"" + tripwire.url("r.dtd") + "\"><r/>", "r.xml", allow));
    EXPECT_THROW(Document::parseMemory("<!DOCTYPE r [<!ENTITY % p SYSTEM \"" + tripwire.url("p.dtd") + "\"> %p;]><r/>",
                                       "r.xml", allow),
                 XmlException);
    EXPECT_FALSE(tripwire.touched()) << "the parser connected to the network";
}

TEST(XmlSchema, ValidatesConcurrently) {
    auto schema = Schema::fromMemory(kXsd, "catalog.xsd");
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    std::atomic<int> bad{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i) {
                auto ok = Document::parseMemory("<catalog><item id='a' channel='online'><name/></item></catalog>", "a");
                auto ko = Document::parseMemory("<catalog><item id='a' channel='x'><name/></item></catalog>", "b");
                if (schema.validate(ok).empty()) ++good;
                if (schema.validate(ko).size() == 1) ++bad;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(good.load(), 400);
    EXPECT_EQ(bad.load(), 400);
}
