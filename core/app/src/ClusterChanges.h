#pragma once

// Changes made on one hub that every hub on the same database must apply
// (issue 17): a plugin reload, a catalogue change, a flow deployment, a
// SIGHUP. Through the database alone, no other service:
//
// - table hub_changes (generation, kind, subject, node, created_at_ms): the
//   acting node appends a row once the change took effect on it; every node
//   reads the rows after the last generation it applied (one indexed range
//   read of the primary key every poll, 1 s by default) and applies those of
//   the other nodes. Appends are serialised (an advisory lock on PostgreSQL,
//   the one writer on SQLite), so generations become visible in order and a
//   reader never skips one still being committed.
// - table hub_files (kind, subject, content, deleted, generation): what a
//   department admin uploaded through the API (a catalogue file, a BPMN file)
//   is kept here as well as in the acting node's folder, so every node writes
//   the same file into its own folder, and a node that was down or is new
//   catches up at its start (every stored file whose local copy differs).
//
// Applying never records again, so a change goes round once.

#include "hub/store/Database.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace hub::app {

class ClusterChanges {
public:
    /// One change as read from hub_changes; `content` is the stored file's
    /// text for the kinds that carry one (empty optional: the file was deleted).
    struct Change {
        std::int64_t generation = 0;
        std::string kind;     ///< kCatalogDepartment, kPluginReload, ...
        std::string subject;  ///< A department, a plugin, "<department>/<file>", or "".
        std::string node;     ///< The node that made it.
        bool hasFile = false;
        std::optional<std::string> content;
    };

    // The kinds (subject in brackets).
    static constexpr const char* kCatalogDepartment = "catalog.department";  ///< (department) file put or deleted
    static constexpr const char* kCatalogDepartmentReload = "catalog.department.reload";  ///< (department)
    static constexpr const char* kCatalogReload = "catalog.reload";
    static constexpr const char* kFlowDepartment = "flows.department";  ///< (department/file) file put or deleted
    static constexpr const char* kFlowDepartmentReload = "flows.department.reload";  ///< (department)
    static constexpr const char* kFlowReload = "flows.reload";
    static constexpr const char* kPluginReload = "plugin.reload";  ///< (plugin)
    static constexpr const char* kPluginUnload = "plugin.unload";  ///< (plugin)
    static constexpr const char* kPluginRescan = "plugin.rescan";
    static constexpr const char* kReload = "reload";  ///< SIGHUP: each node reads its own files again

    /// Applies another node's change here; returns a line for the log, throws
    /// to report a failure (logged; the change is not tried again).
    using Applier = std::function<std::string(const Change&)>;

    /// Migrates the tables ("cluster"); nothing runs before start().
    explicit ClusterChanges(store::Database& db);
    ~ClusterChanges();  ///< stop()

    ClusterChanges(const ClusterChanges&) = delete;
    ClusterChanges& operator=(const ClusterChanges&) = delete;

    /// Records a change that took effect on this node. For a kind with a file,
    /// `content` is its new text (nullopt: deleted) and is stored in hub_files
    /// in the same transaction. Throws when the store fails (the change stays
    /// this node's alone: the caller reports it).
    std::int64_t record(const std::string& kind, const std::string& subject);
    std::int64_t recordFile(const std::string& kind, const std::string& subject,
                            const std::optional<std::string>& content);

    /// The stored files of `kind` (subject, content; nullopt: deleted).
    std::vector<std::pair<std::string, std::optional<std::string>>> files(const std::string& kind);

    /// Starts polling every `interval` from the newest generation now in the
    /// table (what came before is in this node's files already, or in
    /// hub_files: see catchUp in HubRun).
    void start(Applier applier, std::chrono::milliseconds interval = std::chrono::seconds(1));
    void stop();

    /// Polls once now (for tests and start()); returns the changes applied.
    std::size_t pollOnce();

    /// The last generation this node has seen (its own or applied).
    std::int64_t generation() const { return seen_.load(); }
    /// Changes of other nodes applied here, and those that failed.
    std::uint64_t applied() const { return applied_.load(); }
    std::uint64_t failed() const { return failed_.load(); }

private:
    std::optional<std::string> fileContent(Poco::Data::Session& session, const std::string& kind,
                                           const std::string& subject, bool& found);
    void run(std::chrono::milliseconds interval);
    void prune();

    store::Database& db_;
    Applier applier_;
    std::atomic<std::int64_t> seen_{0};
    std::atomic<std::uint64_t> applied_{0};
    std::atomic<std::uint64_t> failed_{0};
    std::mutex mutex_;  // guards stopping_; pollOnce() runs under pollMutex_
    std::mutex pollMutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point nextPrune_{};
    std::thread thread_;
};

}  // namespace hub::app
