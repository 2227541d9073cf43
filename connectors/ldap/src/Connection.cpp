#include "hub/ldap/Connection.h"

#include "hub/ldap/LdapException.h"

#include <Poco/Exception.h>

#include <ldap.h>
#include <sys/socket.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

namespace hub::ldap {

namespace {

timeval toTimeval(std::chrono::milliseconds d) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(d.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
    return tv;
}

int toLdapScope(Scope s) {
    switch (s) {
        case Scope::Base: return LDAP_SCOPE_BASE;
        case Scope::OneLevel: return LDAP_SCOPE_ONELEVEL;
        case Scope::Subtree: return LDAP_SCOPE_SUBTREE;
    }
    return LDAP_SCOPE_SUBTREE;
}

// The diagnostic libldap keeps on the handle after a failed call (for TLS failures
// it names the verification error).
std::string diagnosticOf(LDAP* ld) {
    if (!ld) return {};
    char* msg = nullptr;
    std::string text;
    if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS && msg) {
        text = msg;
        ldap_memfree(msg);
    }
    return text;
}

// Attribute list as libldap wants it: char*[] ending in NULL. Points into `names`.
std::vector<char*> attributeArray(const std::vector<std::string>& names) {
    std::vector<char*> out;
    out.reserve(names.size() + 1);
    for (const auto& n : names) out.push_back(const_cast<char*>(n.c_str()));
    out.push_back(nullptr);
    return out;
}

struct MessageGuard {
    LDAPMessage* msg = nullptr;
    ~MessageGuard() {
        if (msg) ldap_msgfree(msg);
    }
};

// Reads the bind password from its file or environment variable. The caller wipes it.
std::string readPassword(const ConnectionOptions& o) {
    if (!o.passwordFile.empty()) {
        std::ifstream in(o.passwordFile, std::ios::binary);
        if (!in)
            throw Poco::FileNotFoundException("LDAP password file cannot be read",
                                              o.passwordFile);
        std::string pw;
        std::getline(in, pw);
        if (!pw.empty() && pw.back() == '\r') pw.pop_back();
        return pw;
    }
    if (!o.passwordEnv.empty()) {
        const char* v = std::getenv(o.passwordEnv.c_str());
        if (!v)
            throw Poco::NotFoundException("LDAP password environment variable is not set",
                                          o.passwordEnv);
        return v;
    }
    return {};
}

void wipe(std::string& s) {
    volatile char* p = s.data();
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
    s.clear();
}

// Reads the entry in `msg` into `e`, reusing the strings and lists `e` already holds:
// a paged search parses each page into the previous page's entries, so a long read
// allocates next to nothing once the first page is in.
void parseEntryInto(LDAP* ld, LDAPMessage* msg, Entry& e) {
    BerElement* ber = nullptr;
    berval dn{0, nullptr};
    int rc = ldap_get_dn_ber(ld, msg, &ber, &dn);
    struct BerGuard {
        BerElement* ber;
        ~BerGuard() {
            if (ber) ber_free(ber, 0);
        }
    } guard{ber};
    if (rc != LDAP_SUCCESS) throw LdapException("read entry", LDAP_DECODING_ERROR, "entry without a DN");
    e.dn.assign(dn.bv_val, dn.bv_len);
    // ber now reads the attribute list: SEQUENCE OF SEQUENCE { type, vals SET OF value }.
    // Walked element by element, each value copied once from the message buffer
    // into our strings; ldap_get_attribute_ber would allocate an array per attribute.
    auto malformed = [] { return LdapException("read entry", LDAP_DECODING_ERROR, "malformed attribute list"); };
    std::size_t attributes = 0;
    ber_len_t len = 0;
    while (ber_peek_tag(ber, &len) != LBER_DEFAULT) {
        berval type{0, nullptr};
        if (ber_skip_tag(ber, &len) == LBER_DEFAULT || ber_get_stringbv(ber, &type, LBER_BV_NOTERM) == LBER_DEFAULT)
            throw malformed();
        if (attributes == e.attributes.size()) e.attributes.emplace_back();
        Attribute& a = e.attributes[attributes++];
        a.name.assign(type.bv_val, type.bv_len);
        std::size_t values = 0;
        char* setEnd = nullptr;
        for (ber_tag_t tag = ber_first_element(ber, &len, &setEnd); tag != LBER_DEFAULT;
             tag = ber_next_element(ber, &len, setEnd)) {
            berval value{0, nullptr};
            if (ber_get_stringbv(ber, &value, LBER_BV_NOTERM) == LBER_DEFAULT) throw malformed();
            if (values == a.values.size()) a.values.emplace_back();
            a.values[values++].assign(value.bv_val, value.bv_len);
        }
        if (!setEnd) throw malformed();  // no SET of values at all
        a.values.resize(values);
    }
    e.attributes.resize(attributes);
}

// `expectedAttributes`: how many attributes were asked for, so the list is sized once
// instead of growing (and moving every attribute) as they arrive.
Entry parseEntry(LDAP* ld, LDAPMessage* msg, std::size_t expectedAttributes) {
    Entry e;
    e.attributes.reserve(expectedAttributes);
    parseEntryInto(ld, msg, e);
    return e;
}

// liblber's read-ahead layer for one search on a plain connection: libldap reads
// each message's length and body with separate read()s and polls in between, three
// system calls an entry; with the layer, one read fills a buffer of many entries.
// (A TLS connection reads whole records through OpenSSL already.) The layer may be
// removed only when its buffer is empty - after a search's final result -; on any
// other way out the connection is closed instead, since unread bytes would be lost.
constexpr int kCoalesceBytes = 32 * 1024;
constexpr std::chrono::microseconds kCoalescePause{50};

class ReadAhead {
public:
    explicit ReadAhead(LDAP* ld) {
        if (ldap_tls_inplace(ld)) return;
        ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sockbuf_);
        ber_len_t size = 64 * 1024;
        if (sockbuf_ &&
            ber_sockbuf_add_io(sockbuf_, &ber_sockbuf_io_readahead, LBER_SBIOD_LEVEL_PROVIDER, &size) != 0)
            sockbuf_ = nullptr;
    }
    bool active() const { return sockbuf_ != nullptr; }

    // Called before each message. A reader that drains the socket as fast as the
    // server fills it wakes for every entry or two, and so does the server: on a
    // small machine the two then spend more time switching than working (measured:
    // 100,000 entries in 0.59 s, slower than ldapsearch's 0.51 s). So when the buffer
    // is empty and the socket holds only a little, give the server a moment to send
    // more and read it in one go (0.44 s). The pause comes at most once per read, and
    // only while entries are arriving; a server that has nothing more to send costs
    // one pause (at a page's end).
    void coalesce() const {
        if (!sockbuf_ || ber_sockbuf_ctrl(sockbuf_, LBER_SB_OPT_DATA_READY, nullptr)) return;
        int fd = -1, waiting = 0;
        if (ber_sockbuf_ctrl(sockbuf_, LBER_SB_OPT_GET_FD, &fd) != 1 || fd < 0) return;
        if (::ioctl(fd, FIONREAD, &waiting) != 0 || waiting == 0 || waiting >= kCoalesceBytes) return;
        std::this_thread::sleep_for(kCoalescePause);
    }
    void remove() {
        if (sockbuf_) ber_sockbuf_remove_io(sockbuf_, &ber_sockbuf_io_readahead, LBER_SBIOD_LEVEL_PROVIDER);
        sockbuf_ = nullptr;
    }

private:
    Sockbuf* sockbuf_ = nullptr;
};

// Shuts the socket down when the deadline passes, so a libldap loop that has no
// timeout of its own (ldap_sync_init's refresh loop retries forever on a silent
// server) returns with an error. Only touches the file descriptor, never libldap.
class Watchdog {
public:
    Watchdog(int fd, std::chrono::milliseconds limit) : fd_(fd) {
        if (fd_ < 0) return;
        thread_ = std::thread([this, limit] {
            std::unique_lock lock(mutex_);
            if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
                fired_ = true;
                ::shutdown(fd_, SHUT_RDWR);
            }
        });
    }
    ~Watchdog() { stop(); }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    bool fired() {
        std::lock_guard lock(mutex_);
        return fired_;
    }

private:
    int fd_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    bool fired_ = false;
    std::thread thread_;
};

}  // namespace

std::string uuidToString(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes.size() == 16 && (i == 4 || i == 6 || i == 8 || i == 10)) out += '-';
        auto c = static_cast<unsigned char>(bytes[i]);
        out += digits[c >> 4];
        out += digits[c & 0x0F];
    }
    return out;
}

Connection::Connection(ConnectionOptions options) : options_(std::move(options)) {}

Connection::~Connection() { close(); }

void Connection::close() {
    if (ld_) {
        ldap_unbind_ext(ld_, nullptr, nullptr);
        ld_ = nullptr;
    }
}

void Connection::fail(const std::string& operation, int rc) {
    std::string diag = diagnosticOf(ld_);
    LdapException e(operation, rc, diag);
    // A broken connection is dropped so the next operation starts afresh.
    if (e.isConnectionError()) close();
    throw e;
}

void Connection::ensureConnected() {
    if (!ld_) connect();
}

void Connection::connect() {
    close();
    auto wait = options_.backoffInitial;
    for (int attempt = 1;; ++attempt) {
        try {
            connectOnce();
            return;
        } catch (const LdapException& e) {
            // A certificate that does not verify or a refused bind will not get better
            // by retrying; only connection-level failures are retried.
            if (!e.isConnectionError() || e.operation() == "StartTLS" ||
                attempt >= std::max(1, options_.connectAttempts))
                throw;
        }
        std::this_thread::sleep_for(wait);
        wait = std::min(wait * 2, options_.backoffMax);
    }
}

void Connection::connectOnce() {
    LDAP* ld = nullptr;
    int rc = ldap_initialize(&ld, options_.uri.c_str());
    if (rc != LDAP_SUCCESS || !ld)
        throw LdapException("initialize " + options_.uri, rc == LDAP_SUCCESS ? LDAP_PARAM_ERROR : rc);
    struct Holder {
        LDAP* ld;
        ~Holder() {
            if (ld) ldap_unbind_ext(ld, nullptr, nullptr);
        }
    } holder{ld};
    auto check = [&](const char* what, int r) {
        if (r != LDAP_OPT_SUCCESS) throw LdapException(std::string("set option ") + what, LDAP_PARAM_ERROR);
    };

    int version = LDAP_VERSION3;
    check("protocol version", ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version));
    check("referrals", ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF));
    timeval connectTv = toTimeval(options_.connectTimeout);
    check("network timeout", ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &connectTv));
    timeval opTv = toTimeval(options_.operationTimeout);
    check("timeout", ldap_set_option(ld, LDAP_OPT_TIMEOUT, &opTv));

    bool ldaps = options_.uri.rfind("ldaps://", 0) == 0;
    if (ldaps || options_.startTls) {
        int require = options_.verifyCertificate ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
        check("TLS require cert", ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require));
        if (!options_.caFile.empty())
            check("TLS CA file", ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, options_.caFile.c_str()));
        int minProtocol = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
        check("TLS protocol min", ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &minProtocol));
        // The TLS options above apply to this handle only once a new context is made
        // from them; without it libldap would use the process-wide defaults.
        int isServer = 0;
        check("TLS new context", ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &isServer));
    }
    if (options_.startTls && !ldaps) {
        rc = ldap_start_tls_s(ld, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) throw LdapException("StartTLS", rc, diagnosticOf(ld));
    }

    if (!options_.bindDn.empty() && options_.passwordFile.empty() && options_.passwordEnv.empty())
        // A simple bind with a DN and an empty password is an "unauthenticated bind"
        // that many servers accept as anonymous: refuse it rather than run unprivileged.
        throw Poco::InvalidArgumentException("LDAP bindDn is set but no passwordFile or passwordEnv");
    std::string password = readPassword(options_);
    berval cred{static_cast<ber_len_t>(password.size()), password.data()};
    rc = ldap_sasl_bind_s(ld, options_.bindDn.empty() ? nullptr : options_.bindDn.c_str(),
                          LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
    wipe(password);
    if (rc != LDAP_SUCCESS)
        throw LdapException("bind as '" + options_.bindDn + "' to " + options_.uri, rc, diagnosticOf(ld));

    ld_ = ld;
    holder.ld = nullptr;
}

void Connection::searchPaged(const SearchRequest& request,
                             const std::function<void(std::vector<Entry>&& page)>& onPage) {
    ensureConnected();
    std::vector<char*> attrs = attributeArray(request.attributes);
    char** attrList = request.attributes.empty() ? nullptr : attrs.data();
    timeval tv = toTimeval(options_.operationTimeout);
    bool paged = request.scope != Scope::Base && options_.pageSize > 0;

    berval cookie{0, nullptr};
    struct CookieGuard {
        berval& c;
        ~CookieGuard() {
            if (c.bv_val) ber_memfree(c.bv_val);
        }
    } cookieGuard{cookie};

    ReadAhead readAhead(ld_);
    // Sends the request for the page after `cookie` (none: the first page).
    auto requestPage = [&] {
        LDAPControl* pageControl = nullptr;
        if (paged) {
            // Critical: a server that cannot page must refuse rather than silently
            // answer with a truncated (size-limited) result.
            int rc = ldap_create_page_control(ld_, options_.pageSize, cookie.bv_val ? &cookie : nullptr,
                                              1, &pageControl);
            if (rc != LDAP_SUCCESS) fail("create page control", rc);
        }
        LDAPControl* controls[2] = {pageControl, nullptr};
        int msgid = 0;
        int rc = ldap_search_ext(ld_, request.base.c_str(), toLdapScope(request.scope),
                                 request.filter.c_str(), attrList, 0, paged ? controls : nullptr,
                                 nullptr, &tv, request.sizeLimit, &msgid);
        if (pageControl) ldap_control_free(pageControl);
        if (rc != LDAP_SUCCESS) fail("search " + request.base, rc);
        return msgid;
    };

    // Receives the entries of one page into `entries` (reusing what it holds) and
    // leaves the server's cookie for the next page (empty after the last) in `cookie`.
    auto receivePage = [&](int msgid, std::vector<Entry>& entries) {
        // One message at a time: entries are parsed while the rest of the page is
        // still arriving, and libldap never has to chain a whole page.
        entries.reserve(static_cast<std::size_t>(paged ? options_.pageSize : 64));
        std::size_t received = 0;
        bool done = false;
        while (!done) {
            MessageGuard result;
            readAhead.coalesce();
            int rc = ldap_result(ld_, msgid, LDAP_MSG_ONE, &tv, &result.msg);
            if (rc == 0) {
                ldap_abandon_ext(ld_, msgid, nullptr, nullptr);
                close();
                throw LdapException("search " + request.base, LDAP_TIMEOUT,
                                    "no answer within " + std::to_string(options_.operationTimeout.count()) +
                                        " ms");
            }
            if (rc < 0) {
                int code = LDAP_SERVER_DOWN;
                ldap_get_option(ld_, LDAP_OPT_RESULT_CODE, &code);
                fail("search " + request.base, code);
            }
            LDAPMessage* m = result.msg;
            int type = ldap_msgtype(m);
            if (type == LDAP_RES_SEARCH_ENTRY) {
                if (received == entries.size()) entries.emplace_back().attributes.reserve(request.attributes.size());
                parseEntryInto(ld_, m, entries[received++]);
            } else if (type == LDAP_RES_SEARCH_RESULT) {
                int err = LDAP_SUCCESS;
                char* diag = nullptr;
                LDAPControl** serverControls = nullptr;
                rc = ldap_parse_result(ld_, m, &err, nullptr, &diag, nullptr, &serverControls, 0);
                std::string diagText = diag ? diag : "";
                if (diag) ldap_memfree(diag);
                if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
                    if (serverControls) ldap_controls_free(serverControls);
                    throw LdapException("search " + request.base, rc != LDAP_SUCCESS ? rc : err, diagText);
                }
                if (cookie.bv_val) {
                    ber_memfree(cookie.bv_val);
                    cookie = {0, nullptr};
                }
                if (paged) {
                    LDAPControl* pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, serverControls, nullptr);
                    ber_int_t estimate = 0;
                    if (pr) ldap_parse_pageresponse_control(ld_, pr, &estimate, &cookie);
                }
                if (serverControls) ldap_controls_free(serverControls);
                done = true;
            }
            // References are not followed (referrals are off).
        }
        entries.resize(received);
    };

    // One list for all pages: unless onPage takes the entries, the next page is read
    // into the same list and entries, reusing their memory.
    std::vector<Entry> entries;
    try {
        int msgid = requestPage();
        for (;;) {
            receivePage(msgid, entries);
            bool more = cookie.bv_val && cookie.bv_len > 0;
            // The next page is asked for before this one is handed over: the server
            // prepares it while the caller works on this one.
            if (more) msgid = requestPage();
            try {
                onPage(std::move(entries));
            } catch (...) {
                if (more && ld_ && !readAhead.active()) ldap_abandon_ext(ld_, msgid, nullptr, nullptr);
                throw;
            }
            if (!more) break;
        }
    } catch (...) {
        if (readAhead.active() && ld_) close();
        throw;
    }
    readAhead.remove();
}

SearchResult Connection::search(const SearchRequest& request) {
    SearchResult result;
    searchPaged(request, [&](std::vector<Entry>&& page) {
        if (result.entries.empty()) {
            result.entries = std::move(page);
        } else {
            result.entries.insert(result.entries.end(), std::make_move_iterator(page.begin()),
                                  std::make_move_iterator(page.end()));
        }
    });
    return result;
}

bool Connection::supportsSyncRepl() {
    SearchRequest root;
    root.base = "";
    root.scope = Scope::Base;
    root.attributes = {"supportedControl"};
    SearchResult r = search(root);
    for (const auto& e : r)
        for (const auto& v : e.values("supportedControl"))
            if (v == LDAP_CONTROL_SYNC) return true;
    return false;
}

namespace {

struct SyncContext {
    SyncHandler* handler = nullptr;
    std::size_t expectedAttributes = 0;
    std::exception_ptr error;
    bool refreshDeletes = false;
    bool sawResult = false;
    int fd = -1;
};

void abortSync(SyncContext* ctx) {
    ctx->error = std::current_exception();
    // ldap_sync_init ignores callback return codes for entries; shutting the socket
    // down is the one way to stop its loop early.
    if (ctx->fd >= 0) ::shutdown(ctx->fd, SHUT_RDWR);
}

int onSyncEntry(ldap_sync_t* ls, LDAPMessage* msg, struct berval* uuid, ldap_sync_refresh_t phase) {
    auto* ctx = static_cast<SyncContext*>(ls->ls_private);
    if (ctx->error) return LDAP_OTHER;
    try {
        SyncState state = SyncState::Present;
        switch (phase) {
            case LDAP_SYNC_CAPI_ADD: state = SyncState::Add; break;
            case LDAP_SYNC_CAPI_MODIFY: state = SyncState::Modify; break;
            case LDAP_SYNC_CAPI_DELETE: state = SyncState::Delete; break;
            default: state = SyncState::Present; break;
        }
        Entry e = parseEntry(ls->ls_ld, msg, ctx->expectedAttributes);
        ctx->handler->onEntry(std::move(e), uuidToString(std::string_view(uuid->bv_val, uuid->bv_len)),
                              state);
    } catch (...) {
        abortSync(ctx);
        return LDAP_OTHER;
    }
    return LDAP_SUCCESS;
}

int onSyncIntermediate(ldap_sync_t* ls, LDAPMessage*, BerVarray uuids, ldap_sync_refresh_t phase) {
    auto* ctx = static_cast<SyncContext*>(ls->ls_private);
    if (ctx->error) return LDAP_OTHER;
    try {
        if (uuids && (phase == LDAP_SYNC_CAPI_DELETES_IDSET || phase == LDAP_SYNC_CAPI_PRESENTS_IDSET)) {
            std::vector<std::string> ids;
            for (int i = 0; uuids[i].bv_val; ++i)
                ids.push_back(uuidToString(std::string_view(uuids[i].bv_val, uuids[i].bv_len)));
            ctx->handler->onIdSet(ids, phase == LDAP_SYNC_CAPI_DELETES_IDSET);
        }
    } catch (...) {
        abortSync(ctx);
        return LDAP_OTHER;
    }
    return LDAP_SUCCESS;
}

int onSyncResult(ldap_sync_t* ls, LDAPMessage*, int refreshDeletes) {
    auto* ctx = static_cast<SyncContext*>(ls->ls_private);
    ctx->refreshDeletes = refreshDeletes == 1;
    ctx->sawResult = true;
    return LDAP_SUCCESS;
}

}  // namespace

SyncOutcome Connection::syncRefreshOnly(const SearchRequest& request, const std::string& cookie,
                                        SyncHandler& handler) {
    ensureConnected();
    std::vector<char*> attrs = attributeArray(request.attributes);

    SyncContext ctx;
    ctx.handler = &handler;
    ctx.expectedAttributes = request.attributes.size();
    ldap_get_option(ld_, LDAP_OPT_DESC, &ctx.fd);

    ldap_sync_t ls;
    ldap_sync_initialize(&ls);
    // ldap_sync_destroy would free these and unbind the handle, so it is never called:
    // the strings stay ours, the handle stays the Connection's, and only the cookie
    // (allocated by libldap) is freed below.
    ls.ls_base = const_cast<char*>(request.base.c_str());
    ls.ls_scope = toLdapScope(request.scope);
    ls.ls_filter = const_cast<char*>(request.filter.c_str());
    ls.ls_attrs = request.attributes.empty() ? nullptr : attrs.data();
    ls.ls_timelimit = static_cast<int>(std::max<long long>(1, options_.operationTimeout.count() / 1000));
    ls.ls_sizelimit = request.sizeLimit;
    ls.ls_search_entry = onSyncEntry;
    ls.ls_search_reference = nullptr;
    ls.ls_intermediate = onSyncIntermediate;
    ls.ls_search_result = onSyncResult;
    ls.ls_private = &ctx;
    ls.ls_ld = ld_;
    if (!cookie.empty()) ber_str2bv(cookie.data(), cookie.size(), 1, &ls.ls_cookie);

    int rc;
    bool timedOut;
    {
        Watchdog watchdog(ctx.fd, options_.operationTimeout);
        rc = ldap_sync_init(&ls, LDAP_SYNC_REFRESH_ONLY);
        watchdog.stop();
        timedOut = watchdog.fired();
    }
    SyncOutcome outcome;
    if (ls.ls_cookie.bv_val) {
        outcome.cookie.assign(ls.ls_cookie.bv_val, ls.ls_cookie.bv_len);
        ber_memfree(ls.ls_cookie.bv_val);
        ls.ls_cookie = {0, nullptr};
    }
    outcome.refreshDeletes = ctx.refreshDeletes;

    if (ctx.error) {
        close();
        std::rethrow_exception(ctx.error);
    }
    if (timedOut) {
        close();
        throw LdapException("sync refresh " + request.base, LDAP_TIMEOUT,
                            "not finished within " + std::to_string(options_.operationTimeout.count()) +
                                " ms");
    }
    if (rc != LDAP_SUCCESS || !ctx.sawResult) {
        int code = rc;
        if (rc == -1 || rc == LDAP_SUCCESS) {
            code = LDAP_SERVER_DOWN;
            ldap_get_option(ld_, LDAP_OPT_RESULT_CODE, &code);
            if (code == LDAP_SUCCESS) code = LDAP_SERVER_DOWN;
        }
        fail("sync refresh " + request.base, code);
    }
    return outcome;
}

}  // namespace hub::ldap
