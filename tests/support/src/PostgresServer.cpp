#include "hub/test/PostgresServer.h"

#include "hub/test/ChildProcess.h"
#include "hub/test/TempDir.h"

#include <Poco/UUIDGenerator.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <pwd.h>
#include <stdexcept>
#include <unistd.h>

namespace hub::test {

namespace {

const std::string kBin = "/usr/lib/postgresql/15/bin/";
const std::string kPsql = "/usr/bin/psql";
// The template's superuser password; each server sets its own after the copy.
const std::string kTemplatePassword = "template-password";

struct Account {
    bool dropPrivileges = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

// postgres refuses to run as root: as root, run it as the package's system user.
Account account() {
    Account a;
    if (::geteuid() != 0) return a;
    passwd* pw = ::getpwnam("postgres");
    if (!pw)
        throw std::runtime_error(
            "running as root, and there is no 'postgres' user to run PostgreSQL as (install postgresql-15)");
    a.dropPrivileges = true;
    a.uid = pw->pw_uid;
    a.gid = pw->pw_gid;
    return a;
}

void handOver(const std::string& path, const Account& a) {
    if (!a.dropPrivileges) return;
    namespace fs = std::filesystem;
    auto own = [&](const fs::path& p) {
        if (::lchown(p.c_str(), a.uid, a.gid) != 0)
            throw std::runtime_error("cannot hand " + p.string() + " to the postgres user");
    };
    own(path);
    for (const auto& entry : fs::recursive_directory_iterator(path)) own(entry.path());
}

/// executable and args, run as the account through setpriv, which execs (the pid
/// is the program's own) and asks for SIGINT (postgres' fast shutdown) when the
/// thread that started it ends: a test that crashes leaves no server behind.
ChildProcess::Options asAccount(const Account& a, const std::string& executable, std::vector<std::string> args,
                                std::vector<std::string>& commandOut) {
    std::vector<std::string> command{"--pdeathsig=INT"};
    if (a.dropPrivileges)
        command.insert(command.end(),
                       {"--reuid=" + std::to_string(a.uid), "--regid=" + std::to_string(a.gid), "--init-groups"});
    command.push_back(executable);
    commandOut = {"/usr/bin/setpriv"};
    command.insert(command.end(), args.begin(), args.end());
    ChildProcess::Options o;
    o.args = std::move(command);
    return o;
}

int runToEnd(const std::string& executable, ChildProcess::Options options, std::string& output,
             std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    options.stopTimeout = std::chrono::seconds(2);
    ChildProcess child(executable, options);
    auto status = child.wait(timeout);
    output = child.output();
    if (!status) throw std::runtime_error(executable + " did not finish in time:\n" + output);
    return *status;
}

/// One initdb per test process, copied by every server.
class Template {
public:
    static const Template& get() {
        static Template t;
        return t;
    }
    const std::string& data() const { return data_; }

private:
    Template() : dir_("campushub-pg-template") {
        const Account a = account();
        dir_.write("pw", kTemplatePassword + "\n");
        handOver(dir_.path(), a);
        data_ = dir_.file("data");
        std::vector<std::string> exe;
        auto options = asAccount(a, kBin + "initdb",
                                 {"-D", data_, "-U", "hub_admin", "--pwfile=" + dir_.file("pw"), "-A", "scram-sha-256",
                                  "-E", "UTF8", "--locale=C.UTF-8", "-N"},
                                 exe);
        std::string output;
        if (runToEnd(exe[0], options, output) != 0) throw std::runtime_error("initdb failed:\n" + output);
    }
    TempDir dir_;
    std::string data_;
};

}  // namespace

struct PostgresServer::Process {
    TempDir dir{"campushub-pg"};
    Account account;
    std::unique_ptr<ChildProcess> server;
};

PostgresServer::PostgresServer() : process_(std::make_unique<Process>()) {
    process_->account = account();
    directory_ = process_->dir.path();
    password_ = "pw-" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 18);
    const std::string& templateData = Template::get().data();
    std::string output;
    ChildProcess::Options copy;
    copy.args = {"-a", templateData, directory_ + "/data"};
    if (runToEnd("/bin/cp", copy, output) != 0) throw std::runtime_error("cannot copy the template cluster:\n" + output);
    process_->dir.write("pw", password_ + "\n");
    handOver(directory_, process_->account);
    port_ = freePort();
    start();
    // The template's password is known to every test: this server gets its own.
    const std::string known = password_;
    password_ = kTemplatePassword;
    psql("ALTER ROLE hub_admin PASSWORD '" + known + "'");
    password_ = known;
}

std::unique_ptr<PostgresServer> PostgresServer::attach(const std::string& directory) {
    return std::unique_ptr<PostgresServer>(new PostgresServer(Attached{}, directory));
}

PostgresServer::PostgresServer(Attached, const std::string& directory)
    : process_(std::make_unique<Process>()), attached_(true) {
    directory_ = directory;
    auto firstLine = [&](const std::string& name) {
        std::ifstream in(directory + "/" + name);
        std::string line;
        if (!in || !std::getline(in, line) || line.empty())
            throw std::runtime_error("no PostgreSQL described in " + directory + " (its " + name +
                                     " is missing or empty): is the postgres_suite fixture running?");
        return line;
    };
    port_ = std::stoi(firstLine("port"));
    password_ = firstLine("pw");
}

PostgresServer::~PostgresServer() {
    if (attached_) return;
    try {
        stop();
    } catch (...) {
    }
}

void PostgresServer::start() {
    if (attached_) throw std::logic_error("the suite's shared PostgreSQL is not a test's to start: use a PostgresServer of its own");
    if (running()) return;
    std::vector<std::string> exe;
    // fsync off: the data is a test's; the settings keep it quick and make every
    // statement visible in pg_stat_activity.
    auto options = asAccount(process_->account, kBin + "postgres",
                             {"-D", directory_ + "/data", "-p", std::to_string(port_), "-k", directory_, "-h",
                              "127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                              "full_page_writes=off", "-c", "max_connections=200", "-c", "logging_collector=off"},
                             exe);
    options.readyLine = "database system is ready to accept connections";
    options.startTimeout = std::chrono::seconds(30);
    options.stopTimeout = std::chrono::seconds(10);
    process_->server = std::make_unique<ChildProcess>(exe[0], options);
}

void PostgresServer::stop() {
    if (attached_) throw std::logic_error("the suite's shared PostgreSQL is not a test's to stop: use a PostgresServer of its own");
    if (!process_->server) return;
    process_->server->signal(SIGINT);  // fast shutdown: connected clients are cut off
    if (!process_->server->wait(std::chrono::seconds(10))) process_->server->stop();
    process_->server.reset();
}

bool PostgresServer::running() const {
    if (attached_) return true;
    return process_->server && process_->server->running();
}

std::string PostgresServer::passwordFile() const {
    return directory_ + "/pw";
}

std::string PostgresServer::conninfo(const std::string& database) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database;
}

std::string PostgresServer::psql(const std::string& sql, const std::string& database) const {
    static std::atomic<int> counter{0};
    const std::string file = process_->dir.write("q" + std::to_string(counter++) + ".sql", sql);
    ChildProcess::Options o;
    o.args = {"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", std::to_string(port_),
              "-U", user_, "-d", database, "-f", file};
    o.env = {{"PGPASSWORD", password_}, {"PGCONNECT_TIMEOUT", "10"}, {"PGCLIENTENCODING", "UTF8"}};
    std::string output;
    int status = runToEnd(kPsql, o, output);
    std::error_code ignored;
    std::filesystem::remove(file, ignored);
    if (status != 0) throw std::runtime_error("psql failed (" + std::to_string(status) + "):\n" + output);
    return output;
}

void PostgresServer::createRole(const std::string& role, const std::string& password) const {
    psql("CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'");
}

std::string PostgresServer::log() const {
    return process_->server ? process_->server->output() : std::string();
}

}  // namespace hub::test
