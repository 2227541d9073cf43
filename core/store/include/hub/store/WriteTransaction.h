#pragma once

#include <Poco/Data/Session.h>

namespace hub::store {

/// A transaction that holds the store's write lock from its start, for work
/// that reads before it writes. Poco's Session::begin() (and Transaction) begin
/// a deferred transaction, which takes the lock only at its first write.
///
/// Why: a deferred transaction that has read cannot become the writer once
/// another connection has committed since its read began; SQLite answers
/// SQLITE_BUSY ("DB locked") at once, without waiting out the busy timeout. In
/// the hub another connection commits all the time (the audit trail writes for
/// every request), so such work failed now and then under load. Here the first
/// statement is a write that changes nothing, so the lock is taken (waiting for
/// it like any writer) before anything is read: BEGIN IMMEDIATE, with Poco's
/// own begin() so that Session::isTransaction() stays true (Outbox::append
/// checks it).
///
/// Rolled back when destroyed uncommitted (an exception on the way).
class WriteTransaction {
public:
    explicit WriteTransaction(Poco::Data::Session& session);
    ~WriteTransaction();
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;

    void commit();

private:
    Poco::Data::Session& session_;
};

}  // namespace hub::store
