#pragma once

#include <memory>
#include <string>
#include <vector>

namespace hub::test {

/// A private PostgreSQL 15 (Debian's postgresql-15) for a test: its own data
/// folder in a temp dir, a free loopback port, its own superuser and password,
/// its unix socket in the temp dir; stopped and removed on destruction.
///
/// postgres refuses to run as root: when the test runs as uid 0 (CI), initdb and
/// postgres run as the `postgres` system user the package creates (setpriv), and
/// the temp dir is handed to it. initdb runs once per test process into a
/// template that each server copies, so a server is up in well under a second.
/// The server gets SIGINT when the thread that started it ends (setpriv
/// --pdeathsig): call the constructor and start() from the test's main thread.
///
///     hub::test::PostgresServer pg;
///     pg.psql("CREATE TABLE t (x int)");
///     std::string dsn = pg.conninfo("postgres");   // no password in it
///     pg.stop(); pg.start();                        // the vendor down and back
class PostgresServer {
public:
    /// Creates the cluster and starts it. Throws std::runtime_error with the
    /// server's output when it cannot.
    PostgresServer();
    /// A server someone else started and keeps (the suite's, which
    /// tests/support/postgres_suite.sh runs for ctest): its folder holds `port`
    /// and `pw` (hub_admin's password). start() and stop() refuse: the server
    /// is not the test's to stop. Throws std::runtime_error when the folder
    /// does not describe a server.
    static std::unique_ptr<PostgresServer> attach(const std::string& directory);
    /// stop(), and the data removed; never throws.
    ~PostgresServer();
    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;

    /// Starts the server again on the same port and data (no-op when running).
    void start();
    /// Fast shutdown (SIGINT: clients are disconnected, nothing waits for them).
    /// Idempotent.
    void stop();
    bool running() const;

    int port() const { return port_; }
    /// The superuser's name and password (also in passwordFile()).
    const std::string& user() const { return user_; }
    const std::string& password() const { return password_; }
    /// A file holding password() and a newline, as an operator would keep it.
    std::string passwordFile() const;
    /// The temp dir (data in data/, the socket beside it).
    const std::string& directory() const { return directory_; }

    /// A libpq keyword/value conninfo for database over TCP, without user or
    /// password: "host=127.0.0.1 port=N dbname=DB".
    std::string conninfo(const std::string& database = "postgres") const;

    /// Runs sql through psql as the superuser (ON_ERROR_STOP, unaligned, tuples
    /// only); returns what it printed. Throws std::runtime_error with psql's
    /// output when it fails.
    std::string psql(const std::string& sql, const std::string& database = "postgres") const;

    /// Creates a login role with a password (LOGIN, no other rights).
    void createRole(const std::string& role, const std::string& password) const;

    /// The server's output so far (its log goes to stderr).
    std::string log() const;

private:
    struct Attached {};
    PostgresServer(Attached, const std::string& directory);
    struct Process;
    bool attached_ = false;
    std::string directory_;
    std::string user_ = "hub_admin";
    std::string password_;
    int port_ = 0;
    std::unique_ptr<Process> process_;
};

}  // namespace hub::test
