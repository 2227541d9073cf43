#include "hub/store/WriteTransaction.h"

namespace hub::store {

using Poco::Data::Keywords::now;

WriteTransaction::WriteTransaction(Poco::Data::Session& session) : session_(session) {
    session_.begin();
    try {
        // schema_version is in every store (Database creates it when it opens).
        session_ << "DELETE FROM schema_version WHERE 1 = 0", now;
    } catch (...) {
        try {
            session_.rollback();
        } catch (...) {
        }
        throw;
    }
}

WriteTransaction::~WriteTransaction() {
    if (!session_.isTransaction()) return;
    try {
        session_.rollback();
    } catch (...) {
        // The connection failed or SQLite already rolled back (it does on some
        // errors): nothing is left to undo.
    }
}

void WriteTransaction::commit() { session_.commit(); }

}  // namespace hub::store
