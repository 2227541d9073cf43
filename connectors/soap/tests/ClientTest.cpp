// The SOAP client against a simulated vendor service on loopback (a real
// Poco HTTPServer): both versions, faults, and hostile answers.
#include <gtest/gtest.h>

#include "SoapTestServer.h"
#include "hub/http/Client.h"
#include "hub/soap/Client.h"

using namespace std::chrono_literals;
using hub::soap::CallError;
using hub::soap::Client;
using hub::soap::Failure;
using hub::soap::Version;
using hub::soap::testing::SoapTestServer;

namespace {

const std::string kRequest11 =
    SoapTestServer::envelope(SoapTestServer::kNs11, "<r:Echo><r:id>2023010001</r:id></r:Echo>");
const std::string kRequest12 =
    SoapTestServer::envelope(SoapTestServer::kNs12, "<r:Echo><r:id>2023010001</r:id></r:Echo>");

class SoapClientTest : public ::testing::Test {
protected:
    SoapTestServer server_;
    hub::http::Client http_;
    Client soap_{http_};

    CallError failing(const std::string& path, const std::string& envelope = kRequest11,
                      std::chrono::milliseconds timeout = 5s) {
        try {
            soap_.call(server_.url(path), "urn:test:Echo", envelope, timeout);
        } catch (const CallError& e) {
            return e;
        }
        ADD_FAILURE() << path << " did not fail";
        return CallError(Failure::Unavailable, "none");
    }
};

}  // namespace

TEST_F(SoapClientTest, Soap11SendsTextXmlAndSoapAction) {
    auto r = soap_.call(server_.url("/echo"), "urn:test:Echo", kRequest11, 5s);
    EXPECT_EQ(r.version, Version::Soap11);
    EXPECT_EQ(r.httpStatus, 200);
    EXPECT_NE(r.envelope.find("<r:name>张三</r:name>"), std::string::npos) << r.envelope;
    auto seen = server_.seen();
    EXPECT_EQ(seen.contentType, "text/xml; charset=utf-8");
    EXPECT_EQ(seen.soapAction, "\"urn:test:Echo\"");
    EXPECT_EQ(seen.body, kRequest11);
}

TEST_F(SoapClientTest, Soap12SendsActionInContentType) {
    auto r = soap_.call(server_.url("/echo"), "urn:test:Echo", kRequest12, 5s);
    EXPECT_EQ(r.version, Version::Soap12);
    EXPECT_NE(r.envelope.find("<r:action>urn:test:Echo</r:action>"), std::string::npos) << r.envelope;
    auto seen = server_.seen();
    EXPECT_EQ(seen.contentType, "application/soap+xml; charset=utf-8; action=\"urn:test:Echo\"");
    EXPECT_EQ(seen.soapAction, "");
}

TEST_F(SoapClientTest, Soap11FaultBecomesAClearError) {
    CallError e = failing("/fault");
    EXPECT_EQ(e.failure(), Failure::Fault);
    EXPECT_EQ(e.httpStatus(), 500);
    EXPECT_EQ(e.fault().code, "soap:Client");
    EXPECT_EQ(e.fault().reason, "学号不存在: 2023999999");
    EXPECT_EQ(e.fault().detail, "E404");
    EXPECT_TRUE(e.fault().sender);
    EXPECT_NE(std::string(e.what()).find("SOAP fault soap:Client: 学号不存在"), std::string::npos) << e.what();
}

TEST_F(SoapClientTest, Soap12FaultReadsCodeSubcodeAndReason) {
    CallError e = failing("/fault", kRequest12);
    EXPECT_EQ(e.failure(), Failure::Fault);
    EXPECT_EQ(e.httpStatus(), 400);
    EXPECT_EQ(e.fault().code, "soap:Sender/r:NoSuchStudent");
    EXPECT_EQ(e.fault().reason, "学号不存在");
    EXPECT_TRUE(e.fault().sender);
}

TEST_F(SoapClientTest, FaultWithHttp200IsStillAFault) {
    CallError e = failing("/fault200");
    EXPECT_EQ(e.failure(), Failure::Fault);
    EXPECT_EQ(e.fault().reason, "database offline");
    EXPECT_FALSE(e.fault().sender);
}

TEST_F(SoapClientTest, MalformedResponseRefused) {
    CallError e = failing("/malformed");
    EXPECT_EQ(e.failure(), Failure::InvalidResponse);
    EXPECT_NE(std::string(e.what()).find("not acceptable XML"), std::string::npos) << e.what();
}

TEST_F(SoapClientTest, ExternalEntityRefusedNotResolved) {
    CallError e = failing("/xxe");
    EXPECT_EQ(e.failure(), Failure::InvalidResponse);
    EXPECT_EQ(std::string(e.what()).find("root:"), std::string::npos) << "leaked /etc/passwd: " << e.what();
}

TEST_F(SoapClientTest, EntityExpansionRefused) {
    EXPECT_EQ(failing("/bomb").failure(), Failure::InvalidResponse);
}

TEST_F(SoapClientTest, HugeResponseRefused) {
    Client::Options o;
    o.maxResponseBytes = 64 * 1024;
    Client small(http_, o);
    try {
        small.call(server_.url("/huge"), "", kRequest11, 5s);
        FAIL() << "a 2 MiB response passed a 64 KiB limit";
    } catch (const CallError& e) {
        EXPECT_EQ(e.failure(), Failure::InvalidResponse);
        EXPECT_NE(std::string(e.what()).find("exceeds the limit"), std::string::npos) << e.what();
    }
    // Within the default limit the same answer is fine.
    EXPECT_GT(soap_.call(server_.url("/huge"), "", kRequest11, 5s).envelope.size(), 2u * 1024 * 1024);
}

TEST_F(SoapClientTest, HttpErrorWithoutEnvelopeIsUnavailable) {
    CallError e = failing("/html");
    EXPECT_EQ(e.failure(), Failure::Unavailable);
    EXPECT_EQ(e.httpStatus(), 503);
    EXPECT_EQ(failing("/nowhere").failure(), Failure::Unavailable);
}

TEST_F(SoapClientTest, GbkResponseComesBackAsUtf8) {
    auto r = soap_.call(server_.url("/gbk"), "", kRequest11, 5s);
    EXPECT_NE(r.envelope.find("<name>张三</name>"), std::string::npos) << r.envelope;
}

TEST_F(SoapClientTest, VersionMismatchAndMissingBodyRefused) {
    EXPECT_EQ(failing("/v12").failure(), Failure::InvalidResponse);
    EXPECT_EQ(failing("/nobody").failure(), Failure::InvalidResponse);
}

TEST_F(SoapClientTest, TimeoutReported) {
    EXPECT_EQ(failing("/slow", kRequest11, 300ms).failure(), Failure::Timeout);
}

TEST_F(SoapClientTest, BadRequestsAreRefusedBeforeSending) {
    auto refused = [&](const std::string& endpoint, const std::string& action, const std::string& envelope) {
        try {
            soap_.call(endpoint, action, envelope, 5s);
        } catch (const CallError& e) {
            return e.failure() == Failure::InvalidRequest;
        }
        return false;
    };
    int before = server_.seen().requests;
    EXPECT_TRUE(refused(server_.url("/echo"), "", "<notsoap/>"));
    EXPECT_TRUE(
        refused(server_.url("/echo"), "", "<soap:Envelope xmlns:soap=\"" + std::string(SoapTestServer::kNs11) + "\">"));
    EXPECT_TRUE(refused(
        server_.url("/echo"), "",
        "<soap:Envelope xmlns:soap=\"" + std::string(SoapTestServer::kNs11) + "\"><soap:Header/></soap:Envelope>"));
    EXPECT_TRUE(refused(server_.url("/echo"), "urn:x\r\nX-Injected: 1", kRequest11));
    EXPECT_TRUE(refused(
        server_.url("/echo"), "",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>" + kRequest11.substr(38)));
    EXPECT_TRUE(refused("ftp://127.0.0.1/echo", "", kRequest11));
    EXPECT_TRUE(refused("not a url at all", "", kRequest11));
    EXPECT_EQ(server_.seen().requests, before);
}

TEST_F(SoapClientTest, UnreachableEndpointIsUnavailable) {
    std::string url;
    {
        Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
        url = "http://127.0.0.1:" + std::to_string(s.address().port()) + "/echo";
    }
    try {
        soap_.call(url, "", kRequest11, 2s);
        FAIL();
    } catch (const CallError& e) {
        EXPECT_EQ(e.failure(), Failure::Unavailable);
    }
}
