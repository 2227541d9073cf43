#pragma once

#include "hub/ldap/ConnectionOptions.h"
#include "hub/ldap/Entry.h"

#include <functional>
#include <string>
#include <vector>

struct ldap;

namespace hub::ldap {

enum class Scope { Base, OneLevel, Subtree };

/// What to search for. `attributes` empty means all user attributes; add "+" for
/// all operational ones, or name them (entryUUID, modifyTimestamp, entryCSN).
struct SearchRequest {
    std::string base;
    Scope scope = Scope::Subtree;
    std::string filter = "(objectClass=*)";
    std::vector<std::string> attributes;
    int sizeLimit = 0;  ///< 0: no client-side limit (the server's still applies).
};

/// All entries of a search.
struct SearchResult {
    std::vector<Entry> entries;
    std::size_t size() const { return entries.size(); }
    auto begin() const { return entries.begin(); }
    auto end() const { return entries.end(); }
};

/// State of an entry in an RFC 4533 sync refresh.
enum class SyncState { Present, Add, Modify, Delete };

/// Receives the content of an RFC 4533 refreshOnly sync. Called on the thread that
/// runs Connection::syncRefreshOnly; an exception thrown here aborts the sync (and
/// is rethrown to the caller after the connection is cleaned up).
struct SyncHandler {
    virtual ~SyncHandler() = default;
    /// An entry and its entryUUID (text form, lower case). For Add and Modify the
    /// entry carries the requested attributes; for Present and Delete only the DN.
    virtual void onEntry(Entry&& entry, const std::string& entryUuid, SyncState state) = 0;
    /// A syncIdSet: many entryUUIDs at once, either all deleted (`deleted` true) or
    /// all present and unchanged. OpenLDAP's syncprov sends deletes it remembers in its
    /// session log this way, without DNs.
    virtual void onIdSet(const std::vector<std::string>& entryUuids, bool deleted) = 0;
};

/// How a refresh ended.
struct SyncOutcome {
    std::string cookie;           ///< Pass to the next refresh; opaque.
    bool refreshDeletes = false;  ///< True: deletes were sent explicitly. False: the
                                  ///< server used the present phase, so every entry
                                  ///< not reported (present, added or modified) is gone.
};

/// One connection to a directory server (RAII over libldap's LDAP*).
///
/// Not thread-safe: use one Connection per thread. Construction does not connect;
/// the first operation (or connect()) does, with `connectAttempts` tries and
/// exponential backoff. An operation that fails on a broken connection closes it,
/// so the next operation reconnects. An operation is never silently retried
/// half-way: a paged search that loses the server after its first page throws, and
/// the caller decides (the identity sync treats it as an incomplete read).
class Connection {
public:
    explicit Connection(ConnectionOptions options);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// Connects, upgrades with StartTLS if asked, and binds. Retries with backoff on
    /// connection errors; a refused certificate or bad credentials fail at once.
    void connect();
    /// Unbinds and closes; the next operation reconnects.
    void close();
    bool isConnected() const { return ld_ != nullptr; }

    /// Runs a paged search (RFC 2696, page size from the options) and calls `onPage`
    /// with each page's entries as it arrives. The next page is requested before
    /// `onPage` runs, so the server prepares it meanwhile; it waits in the socket until
    /// `onPage` returns, so memory stays bounded by one page. An exception from
    /// `onPage` abandons the search and propagates.
    void searchPaged(const SearchRequest& request,
                     const std::function<void(std::vector<Entry>&& page)>& onPage);
    /// Runs a paged search and returns all entries.
    SearchResult search(const SearchRequest& request);

    /// Whether the server's root DSE lists the RFC 4533 sync request control.
    bool supportsSyncRepl();

    /// Runs one RFC 4533 refreshOnly sync (libldap's ldap_sync_* API) from `cookie`
    /// (empty: the initial full content). The operation timeout bounds the whole
    /// refresh: when it expires, the socket is shut down and LdapException thrown.
    SyncOutcome syncRefreshOnly(const SearchRequest& request, const std::string& cookie,
                                SyncHandler& handler);

    const ConnectionOptions& options() const { return options_; }
    /// The underlying handle, for operations this class does not wrap. May be null.
    struct ldap* handle() { return ld_; }

private:
    void connectOnce();
    void ensureConnected();
    [[noreturn]] void fail(const std::string& operation, int rc);

    ConnectionOptions options_;
    struct ldap* ld_ = nullptr;
};

/// Converts a 16-byte binary UUID (as in sync controls) to its text form.
std::string uuidToString(std::string_view bytes);

}  // namespace hub::ldap
