#include "hub/zmq/Curve.h"
#include "hub/zmq/Frames.h"
#include "hub/zmq/ZapAuthenticator.h"
#include "hub/test/Eventually.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <vector>
#include <thread>

using hub::test::waitUntil;

using namespace hub::zmq;
using namespace std::chrono_literals;

namespace {

struct TempDir {
    Poco::TemporaryFile dir;
    TempDir() { Poco::File(dir.path()).createDirectories(); }
    std::string file(const std::string& name) const {
        return Poco::Path(dir.path(), name).toString();
    }
};

void writeText(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}


}  // namespace

TEST(Frames, RoundTripMultipartOverTcp) {
    ::zmq::context_t ctx;
    ::zmq::socket_t pull(ctx, ::zmq::socket_type::pull);
    applyDefaultOptions(pull);
    pull.bind("tcp://127.0.0.1:*");
    std::string ep = boundEndpoint(pull);
    EXPECT_NE(ep.find("tcp://127.0.0.1:"), std::string::npos);
    EXPECT_EQ(ep.find('*'), std::string::npos);
    ::zmq::socket_t push(ctx, ::zmq::socket_type::push);
    applyDefaultOptions(push);
    push.connect(ep);
    std::string chinese = "张三 申请 居住证";
    std::string binary("\0\x01\xff", 3);
    ASSERT_TRUE(sendFrames(push, {"id-1", chinese, binary, ""}, false));
    auto frames = receiveFrames(pull, false);
    ASSERT_TRUE(frames);
    ASSERT_EQ(frames->size(), 4u);
    EXPECT_EQ((*frames)[0], "id-1");
    EXPECT_EQ((*frames)[1], chinese);
    EXPECT_EQ((*frames)[2], binary);
    EXPECT_EQ((*frames)[3], "");
    EXPECT_FALSE(receiveFrames(pull, true));
}

TEST(Frames, DontWaitWithoutPeerReturnsFalse) {
    ::zmq::context_t ctx;
    ::zmq::socket_t dealer(ctx, ::zmq::socket_type::dealer);
    applyDefaultOptions(dealer);
    dealer.set(::zmq::sockopt::immediate, 1);
    dealer.connect("tcp://127.0.0.1:1");  // nothing listens on port 1
    EXPECT_FALSE(sendFrames(dealer, {"x"}, true));
}

TEST(Curve, KeyFilesAreReadAndChecked) {
    TempDir tmp;
    CurveKeyPair keys = generateKeyPair();
    EXPECT_TRUE(isValidKey(keys.publicKey));
    EXPECT_EQ(publicKeyOf(keys.secretKey), keys.publicKey);
    writeKeyFile(tmp.file("k.pub"), keys.publicKey);
    writeKeyFile(tmp.file("k.key"), keys.secretKey);
    CurveKeyPair loaded = loadKeyPair(tmp.file("k.pub"), tmp.file("k.key"));
    EXPECT_EQ(loaded.publicKey, keys.publicKey);
    EXPECT_EQ(loaded.secretKey, keys.secretKey);

    // ZeroMQ certificate format.
    writeText(tmp.file("cert"), "#   ZeroMQ CURVE Public Certificate\nmetadata\ncurve\n    public-key = \"" +
                                    keys.publicKey + "\"\n");
    EXPECT_EQ(readKeyFile(tmp.file("cert")), keys.publicKey);

    // Mismatched pair, missing file, garbage, wrong length, non-Z85 characters.
    CurveKeyPair other = generateKeyPair();
    writeKeyFile(tmp.file("o.key"), other.secretKey);
    EXPECT_THROW(loadKeyPair(tmp.file("k.pub"), tmp.file("o.key")), Poco::DataFormatException);
    EXPECT_THROW(readKeyFile(tmp.file("missing")), Poco::FileNotFoundException);
    writeText(tmp.file("empty"), "# nothing here\n\n");
    EXPECT_THROW(readKeyFile(tmp.file("empty")), Poco::DataFormatException);
    writeText(tmp.file("short"), "abc\n");
    EXPECT_THROW(readKeyFile(tmp.file("short")), Poco::DataFormatException);
    writeText(tmp.file("badchars"), std::string(39, 'a') + "~\n");
    EXPECT_THROW(readKeyFile(tmp.file("badchars")), Poco::DataFormatException);
    writeText(tmp.file("utf8"), "密钥密钥密钥密钥密钥密钥密钥密钥密钥密钥密钥密钥密钥\n");
    EXPECT_THROW(readKeyFile(tmp.file("utf8")), Poco::DataFormatException);

    writeText(tmp.file("list"), "# portal\n" + keys.publicKey + "\n\n" + other.publicKey + "\n");
    auto list = readKeyList(tmp.file("list"));
    ASSERT_EQ(list.size(), 2u);
    writeText(tmp.file("badlist"), keys.publicKey + "\nnot-a-key\n");
    try {
        readKeyList(tmp.file("badlist"));
        FAIL() << "bad key list accepted";
    } catch (const Poco::DataFormatException& e) {
        EXPECT_NE(e.displayText().find(":2:"), std::string::npos) << e.displayText();
    }
}

namespace {

// A CURVE server (PULL) guarded by a ZAP handler, and a client with `clientKeys`.
struct CurvePair {
    ::zmq::context_t serverCtx;
    ::zmq::context_t clientCtx;
    CurveKeyPair serverKeys = generateKeyPair();
    std::unique_ptr<ZapAuthenticator> zap;
    ::zmq::socket_t server{serverCtx, ::zmq::socket_type::pull};
    ::zmq::socket_t client{clientCtx, ::zmq::socket_type::push};

    CurvePair(const std::set<std::string>& allowed, const CurveKeyPair& clientKeys,
              const std::string& trustedServerKey) {
        zap = std::make_unique<ZapAuthenticator>(serverCtx, allowed, false);
        applyDefaultOptions(server);
        makeCurveServer(server, serverKeys);
        server.bind("tcp://127.0.0.1:*");
        applyDefaultOptions(client);
        makeCurveClient(client, clientKeys,
                        trustedServerKey.empty() ? serverKeys.publicKey : trustedServerKey);
        client.connect(boundEndpoint(server));
    }
};

}  // namespace

TEST(Curve, KnownClientIsAdmitted) {
    CurveKeyPair clientKeys = generateKeyPair();
    CurvePair pair({clientKeys.publicKey}, clientKeys, "");
    ASSERT_TRUE(sendFrames(pair.client, {"hello", "世界"}, false));
    pair.server.set(::zmq::sockopt::rcvtimeo, 10000);
    auto frames = receiveFrames(pair.server, false);
    ASSERT_TRUE(frames);
    EXPECT_EQ((*frames)[1], "世界");
    EXPECT_GE(pair.zap->accepted(), 1u);
    EXPECT_EQ(pair.zap->refused(), 0u);
}

TEST(Curve, UnknownClientKeyIsRefused) {
    CurveKeyPair allowedKeys = generateKeyPair();
    CurveKeyPair intruder = generateKeyPair();
    CurvePair pair({allowedKeys.publicKey}, intruder, "");
    (void)sendFrames(pair.client, {"let me in"}, true);
    ASSERT_TRUE(waitUntil([&] { return pair.zap->refused() >= 1; }));
    EXPECT_FALSE(receiveFrames(pair.server, true));
    EXPECT_EQ(pair.zap->accepted(), 0u);

    // The server is unharmed: a client holding an allowed key still gets in.
    ::zmq::socket_t good(pair.clientCtx, ::zmq::socket_type::push);
    applyDefaultOptions(good);
    makeCurveClient(good, allowedKeys, pair.serverKeys.publicKey);
    good.connect(boundEndpoint(pair.server));
    ASSERT_TRUE(sendFrames(good, {"hello"}, false));
    pair.server.set(::zmq::sockopt::rcvtimeo, 10000);
    auto frames = receiveFrames(pair.server, false);
    ASSERT_TRUE(frames);
    EXPECT_EQ((*frames)[0], "hello");
}

TEST(Curve, ClientTrustingAnotherServerKeyNeverConnects) {
    CurveKeyPair clientKeys = generateKeyPair();
    CurveKeyPair impostor = generateKeyPair();
    CurvePair pair({clientKeys.publicKey}, clientKeys, impostor.publicKey);
    (void)sendFrames(pair.client, {"secret"}, true);
    pair.server.set(::zmq::sockopt::rcvtimeo, 500);
    EXPECT_FALSE(receiveFrames(pair.server, false));
    EXPECT_EQ(pair.zap->accepted(), 0u);
}

// The ZAP handler names the connection: a server learns which listed peer sent a
// message from the handshake, never from the message.
TEST(Curve, AdmittedPeerIsNamedAndKeptToItsDomains) {
    ::zmq::context_t serverCtx;
    ::zmq::context_t clientCtx;
    CurveKeyPair serverKeys = generateKeyPair();
    CurveKeyPair engine = generateKeyPair();
    CurveKeyPair dashboard = generateKeyPair();
    ZapAuthenticator zap(serverCtx,
                         std::vector<ZapPeer>{{engine.publicKey, "approval-engine", {"inbound"}},
                                              {dashboard.publicKey, "dashboard", {"publish"}}});
    ::zmq::socket_t inbound(serverCtx, ::zmq::socket_type::router);
    applyDefaultOptions(inbound);
    makeCurveServer(inbound, serverKeys, "inbound");
    inbound.bind("tcp://127.0.0.1:*");
    inbound.set(::zmq::sockopt::rcvtimeo, 10000);
    auto client = [&](const CurveKeyPair& keys) {
        auto dealer = std::make_unique<::zmq::socket_t>(clientCtx, ::zmq::socket_type::dealer);
        applyDefaultOptions(*dealer);
        makeCurveClient(*dealer, keys, serverKeys.publicKey);
        dealer->connect(boundEndpoint(inbound));
        return dealer;
    };
    auto good = client(engine);
    ASSERT_TRUE(sendFrames(*good, {"decision", "审批通过"}, false));
    std::string userId = "stale";
    auto frames = receiveFrames(inbound, false, &userId);
    ASSERT_TRUE(frames);
    EXPECT_EQ(frames->size(), 3u);  // routing id + the two frames
    EXPECT_EQ(userId, "approval-engine");

    // Listed, but not for this socket: refused like a stranger.
    auto wrongSocket = client(dashboard);
    (void)sendFrames(*wrongSocket, {"decision", "forged"}, true);
    ASSERT_TRUE(waitUntil([&] { return zap.refused() >= 1; }));
    inbound.set(::zmq::sockopt::rcvtimeo, 300);
    EXPECT_FALSE(receiveFrames(inbound, false));

    // Revoked: the next handshake is refused.
    zap.revoke(engine.publicKey);
    auto again = client(engine);
    (void)sendFrames(*again, {"decision", "again"}, true);
    ASSERT_TRUE(waitUntil([&] { return zap.refused() >= 2; }));
    EXPECT_FALSE(receiveFrames(inbound, false));
}

TEST(Curve, KeyPairIsMadeOnceWithAPrivateSecretFile) {
    TempDir tmp;
    std::string pub = tmp.file("keys/hub.pub"), key = tmp.file("keys/hub.key");
    bool created = false;
    CurveKeyPair made = loadOrCreateKeyPair(pub, key, &created);
    EXPECT_TRUE(created);
    EXPECT_FALSE(isReadableByOthers(key));
    EXPECT_EQ(publicKeyOf(made.secretKey), made.publicKey);
    CurveKeyPair again = loadOrCreateKeyPair(pub, key, &created);
    EXPECT_FALSE(created);
    EXPECT_EQ(again.secretKey, made.secretKey);
    // The public file is made again from the secret key; never the other way round.
    Poco::File(pub).remove();
    EXPECT_EQ(loadOrCreateKeyPair(pub, key, &created).publicKey, made.publicKey);
    EXPECT_FALSE(created);
    Poco::File(key).remove();
    EXPECT_THROW(loadOrCreateKeyPair(pub, key), Poco::FileNotFoundException);
    EXPECT_FALSE(Poco::File(key).exists());
}
