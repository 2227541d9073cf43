#pragma once

#include "hub/ldap/ConnectionOptions.h"

#include <string>
#include <sys/types.h>
#include <vector>

namespace hub::ldaptest {

/// How the private test slapd is set up.
struct SlapdOptions {
    std::string suffix = "dc=campus,dc=example";
    std::string rootPassword = "fixture-secret";
    bool tls = false;                          ///< Make a test CA + server cert and configure TLS.
    std::string certificateHost = "127.0.0.1"; ///< The server certificate's only name (SAN IP or DNS).
    bool syncprov = true;                      ///< Load the RFC 4533 provider overlay.
    int sessionLog = 1000;                     ///< syncprov-sessionlog size; 0: none (present phase).
};

/// A private slapd for tests and benchmarks: its own temporary directory (config,
/// mdb database, TLS files, log), a free loopback port, started in the foreground
/// and killed in the destructor. Nothing is left running or on disk afterwards.
///
/// Starting takes well under a second; a graceful stop takes ~1.5 s, so share one
/// server per test executable (a GoogleTest Environment) where possible.
class SlapdServer {
public:
    explicit SlapdServer(SlapdOptions options = {});
    ~SlapdServer();
    SlapdServer(const SlapdServer&) = delete;
    SlapdServer& operator=(const SlapdServer&) = delete;

    /// Starts slapd (on the same port as before, if it ran already) and waits until it
    /// accepts connections. Throws with the server's log if it does not come up.
    void start();
    /// Stops slapd: SIGKILL by default (mdb is crash-safe and it is instant), SIGTERM
    /// and wait when `graceful`.
    void stop(bool graceful = false);
    bool isRunning() const { return pid_ > 0; }
    /// The running server's process id (-1 when stopped), e.g. to read its CPU time.
    pid_t pid() const { return pid_; }

    /// Bulk-loads an LDIF file with `slapadd -q` (stopping the server for it, and
    /// restarting it if it was running).
    void slapadd(const std::string& ldifPath);
    /// Applies LDIF change records with ldapmodify as the root DN (the server must run).
    void ldapModify(const std::string& ldifText);
    /// Removes all data (the server is stopped and restarted empty if it was running).
    void wipe();

    const std::string& suffix() const { return options_.suffix; }
    std::string rootDn() const { return "cn=admin," + options_.suffix; }
    int port() const { return port_; }
    /// ldaps://HOST:PORT/ (tls only): TLS from the first byte, on a second port.
    std::string ldapsUri(const std::string& host = "127.0.0.1") const;
    /// ldap://127.0.0.1:PORT/ ; or with another host name (e.g. "localhost" for TLS).
    std::string uri(const std::string& host = "127.0.0.1") const;
    const std::string& directory() const { return dir_; }
    /// The test CA that signed the server certificate (tls only).
    std::string caFile() const { return dir_ + "/ca.pem"; }
    /// A second CA that signed nothing the server presents (tls only).
    std::string otherCaFile() const { return dir_ + "/other-ca.pem"; }
    /// A file holding the root password (no newline).
    std::string passwordFile() const { return dir_ + "/root.pw"; }
    /// Options binding as the root DN over plain ldap:// with short timeouts.
    hub::ldap::ConnectionOptions connectionOptions() const;
    /// The slapd log (stderr) so far, for failure messages.
    std::string log() const;

private:
    void writeConfig();
    void makeCertificates();

    SlapdOptions options_;
    std::string dir_;
    int port_ = 0;
    int ldapsPort_ = 0;
    pid_t pid_ = -1;
};

/// Runs a program (argv[0] is a path) with stdout+stderr to `logFile`; returns the
/// exit status, or throws if it cannot be started.
int runProgram(const std::vector<std::string>& argv, const std::string& logFile);

/// A free TCP port on 127.0.0.1 (bound to port 0, then released).
int freeLoopbackPort();

}  // namespace hub::ldaptest
