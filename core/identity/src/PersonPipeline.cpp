#include "PersonPipeline.h"

#include "Diff.h"
#include "HandOffQueue.h"
#include "SyncQueries.h"

#include <Poco/Exception.h>

#include <exception>
#include <mutex>
#include <thread>

namespace hub::identity {

namespace {

// A page of persons: mapped by the reader, then what the comparer found changed.
struct PersonBatch {
    std::vector<Person> mapped;
    IdentityStore::Batch changed;  ///< The created and updated persons, to store.
};

// Stored batches on their way back to the reading thread, which allocated their
// persons, to be freed there: freeing on another thread contends for the reader's
// malloc arena, which the reader needs all the time.
class SpentBatches {
public:
    void giveBack(PersonBatch&& batch) {
        std::lock_guard lock(m_);
        spent_.push_back(std::move(batch));
    }
    // Called by the reading thread.
    void free() {
        std::vector<PersonBatch> spent;
        {
            std::lock_guard lock(m_);
            spent.swap(spent_);
        }
    }

private:
    std::mutex m_;
    std::vector<PersonBatch> spent_;
};

// The three stages and what joins them. The writer spends much of its time
// waiting for the disk, and the other two have the cores meanwhile. Each commit
// is an fsync of the WAL (synchronous FULL stays on, so every commit is durable),
// so a transaction spans pages: what has queued up, at most transactionPersons.
// The writer keeps pace with few commits, and after the last page only what is
// left waits for it.
class PersonPipeline {
public:
    PersonPipeline(const SyncOptions& options, IdentityStore& store, const ChangeSink& sink, SyncRun& run)
        : options_(options),
          store_(store),
          sink_(sink),
          run_(run),
          pagesPerTransaction_(std::max<std::size_t>(
              1, options.transactionPersons / static_cast<std::size_t>(std::max(1, options.ldap.pageSize)))),
          mapped_(std::max(options.queueDepth, pagesPerTransaction_)),
          changed_(std::max(options.queueDepth, pagesPerTransaction_)) {}

    void run(ldap::Connection& connection, const ldap::SearchRequest& request) {
        std::thread comparer([this] { guard(comparerError_, [this] { compare(); }); });
        std::thread writer([this] { guard(writerError_, [this] { write(); }); });
        std::exception_ptr readerError;
        try {
            read(connection, request);
        } catch (...) {
            readerError = std::current_exception();
        }
        // What was read before a failure is stored all the same: it is true.
        try {
            handOver();
        } catch (...) {
            if (!readerError) readerError = std::current_exception();
        }
        mapped_.close();
        comparer.join();
        writer.join();
        run_.report.created += counts_.created;
        run_.report.updated += counts_.updated;
        run_.report.unchanged += counts_.unchanged;
        if (writerError_) std::rethrow_exception(writerError_);
        if (comparerError_) std::rethrow_exception(comparerError_);
        if (readerError) std::rethrow_exception(readerError);
    }

private:
    // The paged reader (this thread): maps each entry of a page while the server
    // prepares the next, and hands the page on. An entry without an id is skipped
    // but seen: it is not a departure.
    void read(ldap::Connection& connection, const ldap::SearchRequest& request) {
        std::size_t personsRead = 0;
        connection.searchPaged(request, [&](std::vector<ldap::Entry>&& page) {
            run_.checkLease();  // between pages: a node that lost the lease stops reading
            pending_.mapped.reserve(page.size());
            for (auto& e : page) {
                ++run_.report.read;
                noteTimestamp(run_.maxTimestamp, e);
                std::string uuid = uuidOf(e);
                Person p = options_.mapping.mapPerson(std::move(e), uuid, run_.index);
                if (p.id.empty()) {
                    ++run_.report.skipped;
                    run_.seen.insert(uuid);
                    continue;
                }
                pending_.mapped.push_back(std::move(p));
            }
            handOver();
            personsRead += page.size();
            if (options_.onProgress) options_.onProgress(personsRead);
        });
    }

    // The reader's page to the comparer; then frees what the writer gave back.
    void handOver() {
        if (pending_.mapped.empty()) return;
        if (!mapped_.push(std::move(pending_)))
            throw Poco::RuntimeException("identity sync: comparing or storing stopped");
        pending_ = {};
        spent_.free();
    }

    // The comparer: the only stage that touches run.persons while the pipeline
    // runs; prepares the rows too, off the writer, the slowest stage.
    void compare() {
        while (auto b = mapped_.pop()) {
            b->changed.persons.reserve(b->mapped.size());
            b->changed.personHashes.reserve(b->mapped.size());
            for (auto& p : b->mapped)
                diffPerson(std::move(p), run_.persons, counts_, b->changed, static_cast<bool>(sink_));
            IdentityStore::prepare(b->changed);
            if (!changed_.push(std::move(*b))) break;
        }
        changed_.close();
    }

    // The store writer: whatever has queued up, at most a transaction's worth,
    // in one transaction with its change records.
    void write() {
        for (;;) {
            std::vector<PersonBatch> batches = changed_.popUpTo(pagesPerTransaction_);
            if (batches.empty()) break;
            std::vector<IdentityStore::Batch*> parts;
            for (auto& b : batches) parts.push_back(&b.changed);
            run_.write(store_, parts, sink_);  // stores nothing more once the lease is lost
            for (auto& b : batches) spent_.giveBack(std::move(b));
        }
    }

    // A stage's failure stops the others at once.
    template <typename Stage>
    void guard(std::exception_ptr& error, Stage stage) {
        try {
            stage();
        } catch (...) {
            error = std::current_exception();
            mapped_.abort();
            changed_.abort();
        }
    }

    const SyncOptions& options_;
    IdentityStore& store_;
    const ChangeSink& sink_;
    SyncRun& run_;
    const std::size_t pagesPerTransaction_;
    HandOffQueue<PersonBatch> mapped_;   // reader -> comparer, a page each
    HandOffQueue<PersonBatch> changed_;  // comparer -> writer
    SpentBatches spent_;                 // writer -> reader, to free
    PersonBatch pending_;                // the reader's page being mapped
    SyncReport counts_;                  // the comparer's: created, updated, unchanged
    std::exception_ptr comparerError_, writerError_;
};

}  // namespace

void syncPersons(ldap::Connection& connection, const ldap::SearchRequest& request, const SyncOptions& options,
                 IdentityStore& store, const ChangeSink& sink, SyncRun& run) {
    PersonPipeline(options, store, sink, run).run(connection, request);
}

}  // namespace hub::identity
