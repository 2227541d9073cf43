#include <hub/events/Outbox.h>

#include "TestPeers.h"

#include <hub/test/StoreOptions.h>

#include <Poco/Data/Session.h>

#include <gtest/gtest.h>

using namespace hub::events;
using namespace Poco::Data::Keywords;

namespace {

struct OutboxFixture : ::testing::Test {
    test::TempDir tmp;
    hub::store::Database db{hub::test::storeOptions(tmp.dir.path())};
    OutboxFixture() {
        Outbox::migrate(db);
        Poco::Data::Session s = db.session();
        s << "CREATE TABLE app_state (id TEXT PRIMARY KEY, status TEXT NOT NULL)", now;
    }
    long count(const std::string& sql) {
        Poco::Data::Session s = db.session();
        long n = 0;
        std::string q = sql;
        s << q, into(n), now;
        return n;
    }
};

CloudEvent statusChanged(const std::string& app, const std::string& status) {
    return CloudEvent::create(EventType::ApplicationStatusChanged, "/campus-hub", app,
                              R"({"applicationId":")" + app + R"(","status":")" + status + "\"}");
}

}  // namespace

TEST_F(OutboxFixture, AppendCommitsWithTheCallersTransaction) {
    Poco::Data::Session s = db.session();
    s.begin();
    std::string id = "APP-1", status = "submitted";
    s << db.sql("INSERT INTO app_state VALUES(?, ?)"), use(id), use(status), now;
    auto seq1 = Outbox::append(s, statusChanged("APP-1", "submitted"));
    auto seq2 = Outbox::append(s, statusChanged("APP-1", "审核中"));
    // Not visible to other sessions (the relay) before commit.
    EXPECT_EQ(count("SELECT COUNT(*) FROM events_outbox"), 0);
    s.commit();
    EXPECT_LT(seq1, seq2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events_outbox"), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM app_state"), 1);
    std::string payload;
    s << db.sql("SELECT payload FROM events_outbox WHERE seq = ?"), use(seq2), into(payload), now;
    EXPECT_EQ(CloudEvent::fromJson(payload).data, R"({"applicationId":"APP-1","status":"审核中"})");
}

TEST_F(OutboxFixture, RollbackLeavesNoEvent) {
    Poco::Data::Session s = db.session();
    s.begin();
    std::string id = "APP-2", status = "submitted";
    s << db.sql("INSERT INTO app_state VALUES(?, ?)"), use(id), use(status), now;
    Outbox::append(s, statusChanged("APP-2", "submitted"));
    s.rollback();
    EXPECT_EQ(count("SELECT COUNT(*) FROM events_outbox"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM app_state"), 0);

    // A failure after the append (here: a constraint violation) rolls both back too.
    s.begin();
    try {
        Outbox::append(s, statusChanged("APP-3", "submitted"));
        std::string dup = "X";
        s << db.sql("INSERT INTO app_state VALUES(?, ?)"), use(dup), use(status), now;
        s << db.sql("INSERT INTO app_state VALUES(?, ?)"), use(dup), use(status), now;
        s.commit();
        FAIL() << "duplicate key accepted";
    } catch (const Poco::Exception&) {
        s.rollback();
    }
    EXPECT_EQ(count("SELECT COUNT(*) FROM events_outbox"), 0);
}

TEST_F(OutboxFixture, AppendOutsideATransactionIsRefused) {
    Poco::Data::Session s = db.session();
    EXPECT_THROW(Outbox::append(s, statusChanged("APP-4", "x")), Poco::InvalidAccessException);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events_outbox"), 0);
}

TEST_F(OutboxFixture, InvalidEventsAndRepeatedIdsAreRefused) {
    Poco::Data::Session s = db.session();
    s.begin();
    CloudEvent bad = statusChanged("APP-5", "x");
    bad.type = "edu.campus.hub.unknown";
    EXPECT_THROW(Outbox::append(s, bad), EventError);
    bad = statusChanged("APP-5", "x");
    bad.data = "{not json";
    EXPECT_THROW(Outbox::append(s, bad), EventError);
    CloudEvent once = statusChanged("APP-5", "x");
    Outbox::append(s, once);
    EXPECT_THROW(Outbox::append(s, once), Poco::Exception);
    s.rollback();
}

TEST_F(OutboxFixture, MigrationIsIdempotent) {
    EXPECT_NO_THROW(Outbox::migrate(db));
    EXPECT_EQ(db.schemaVersion("events"), 1);
}
