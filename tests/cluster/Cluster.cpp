#include "Cluster.h"

#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SlapdServer.h"
#include "hub/test/Eventually.h"
#include "hub/test/Hubd.h"
#include "hub/test/StoreBackend.h"
#include "hub/test/Tokens.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include <unistd.h>

#include <cctype>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;
using hub::test::ChildProcess;

namespace hub::cluster {

namespace {

const std::string kClusterSecret = "cluster-test-secret-0123456789-abcdefgh";

std::string readWhole(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// The working-day reminder becomes `duration` of calendar time (hubd has no
// test clock), as tests/integration's ShippedFlowsRunTest does.
std::string withReminder(std::string xml, const std::string& duration) {
    xml = std::regex_replace(xml, std::regex(R"(\s*<zeebe:property name="calendar" value="working-days" />)"), "");
    return std::regex_replace(xml, std::regex(R"(>P\d+[DW]</bpmn:timeDuration>)"),
                              ">" + duration + "</bpmn:timeDuration>");
}

bool accepts(int port) {
    try {
        Poco::Net::StreamSocket socket;
        socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)), Poco::Timespan(0, 200000));
        return true;
    } catch (const Poco::Exception&) {
        return false;
    }
}

// Runs a program, returns its stdout; throws with stderr when it fails.
std::string runProgram(const std::string& program, const std::vector<std::string>& args) {
    Poco::Pipe out, err;
    Poco::ProcessHandle handle = Poco::Process::launch(program, args, nullptr, &out, &err);
    Poco::PipeInputStream outStream(out), errStream(err);
    std::string output, errors;
    // stderr is small (an error message); read stdout first, then stderr.
    Poco::StreamCopier::copyToString(outStream, output);
    Poco::StreamCopier::copyToString(errStream, errors);
    if (int rc = handle.wait(); rc != 0) throw std::runtime_error(program + " failed (" + std::to_string(rc) + "): " + errors);
    return output;
}

// utime + stime of a process, and of its children when `tree` (PostgreSQL's
// backends are the postmaster's children), from /proc.
double processCpu(int pid, bool tree) {
    static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    double total = 0;
    std::vector<int> pids{pid};
    if (tree)
        for (const auto& entry : fs::directory_iterator("/proc")) {
            const std::string name = entry.path().filename();
            if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
            std::string stat = readWhole(entry.path() / "stat");
            auto close = stat.rfind(')');
            if (close == std::string::npos) continue;
            std::istringstream fields(stat.substr(close + 2));
            std::string state;
            int parent = 0;
            fields >> state >> parent;
            if (parent == pid) pids.push_back(std::stoi(name));
        }
    for (int p : pids) {
        std::string stat = readWhole("/proc/" + std::to_string(p) + "/stat");
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream fields(stat.substr(close + 2));
        std::string skip;
        for (int n = 3; n < 14; ++n) fields >> skip;  // fields 3..13
        double utime = 0, stime = 0;
        fields >> utime >> stime;                     // fields 14, 15
        total += (utime + stime) / ticks;
    }
    return total;
}

// Starts a program that gets SIGKILL when the thread that started it ends
// (setpriv --pdeathsig, as tests/support's PostgresServer does): a test that
// crashes leaves no hubd, nginx or consumer behind holding ports and CPU.
// setpriv execs, so the child's pid is the program's.
std::unique_ptr<ChildProcess> launch(const std::string& program, ChildProcess::Options options) {
    options.args.insert(options.args.begin(), {"--pdeathsig=KILL", program});
    return std::make_unique<ChildProcess>("/usr/bin/setpriv", std::move(options));
}

}  // namespace

std::string clusterToken(const std::string& subject) { return hub::test::token(kClusterSecret, subject); }

std::string reimbursementBody(int amount) {
    return R"({"item_id":"reimbursement","form":{"amount":)" + std::to_string(amount) +
           R"(,"project-code":"KY-001","expense-type":"consumables"},"materials":["invoices","expense-form"]})";
}

Cluster::Cluster(const Tree& tree, Options options) : tree_(tree), options_(std::move(options)) {
    if (!options_.postgres && options_.nodes != 1)
        throw std::invalid_argument("an SQLite store is one node's: a cluster on SQLite has one node");
    // Requests race nodes being killed: a write to a connection a dead node
    // reset must fail as an error the client retries, not end the process.
    std::signal(SIGPIPE, SIG_IGN);
    if (options_.postgres) {
        postgres_ = std::make_unique<hub::test::PostgresServer>();
        database_ = "hub";
        postgres_->psql("CREATE DATABASE " + database_);
    }
    if (options_.syncIntervalSeconds > 0) {
        slapd_ = std::make_unique<hub::ldaptest::SlapdServer>(hub::ldaptest::SlapdOptions{});
        hub::ldaptest::DirectoryShape shape;
        shape.persons = 300;
        hub::ldaptest::DirectoryGenerator generator(shape);
        const std::string ldif = slapd_->directory() + "/people.ldif";
        generator.writeLdifFile(ldif);
        slapd_->slapadd(ldif);
        slapd_->start();
    }
    // The shipped reimbursement flow and the finance vendor it calls.
    fs::create_directories(dir_.file("flows"));
    dir_.write("flows/reimbursement.bpmn",
               withReminder(readWhole(tree_.flowsDir + "/reimbursement.bpmn"), options_.reminder));
    if (options_.events) {
        consumerPort_ = hub::test::freePort();
        consumer_ = launch(
            tree_.portalConsumer,
            ChildProcess::Options{.args = {"--listen", "tcp://127.0.0.1:" + std::to_string(consumerPort_), "--plaintext"},
                                  .readyLine = "listening"});
    }
    nodes_.resize(static_cast<std::size_t>(options_.nodes));
    for (int n = 0; n < options_.nodes; ++n) {
        nodes_[n].port = hub::test::freePort();
        const std::string folder = "node" + std::to_string(n + 1);
        fs::create_directories(dir_.file(folder + "/plugins"));
        fs::copy(tree_.hallVendorPluginsDir + "/finance", dir_.file(folder + "/plugins/finance"),
                 fs::copy_options::recursive);
        dir_.write(folder + "/hub.xml", nodeXml(n));
    }
    // One after the other from this thread: each dies with it (see launch()).
    for (int n = 0; n < options_.nodes; ++n) startNode(n);
    startNginx();
}

Cluster::~Cluster() {
    if (nginx_) nginx_->stop();
    for (auto& node : nodes_)
        if (node.process) node.process->stop();
    if (consumer_) consumer_->stop();
}


std::string Cluster::nodeXml(int n) const {
    const std::string folder = dir_.file("node" + std::to_string(n + 1));
    std::string store;
    const std::string nodeId = "<nodeId>node-" + std::to_string(n + 1) + "</nodeId>";
    std::string sessions =
        options_.maxSessions > 0 ? "<maxSessions>" + std::to_string(options_.maxSessions) + "</maxSessions>" : "";
    if (options_.postgres) {
        hub::test::PostgresDatabase db;
        db.name = database_;
        db.connection = postgres_->conninfo(database_) + " user=" + postgres_->user();
        db.passwordFile = postgres_->passwordFile();
        store = hub::test::storeXml(folder + "/var", db, nodeId + sessions);
    } else {
        store = hub::test::storeXml(folder + "/var", hub::test::PostgresDatabase{}, nodeId + sessions);
    }
    std::string ldap;
    if (slapd_)
        ldap = "<ldap><uri>" + slapd_->uri() + "</uri><base>" + slapd_->suffix() + "</base><bindDn>" + slapd_->rootDn() +
               "</bindDn><passwordFile>" + slapd_->passwordFile() +
               "</passwordFile><connectAttempts>1</connectAttempts><connectTimeoutMs>2000</connectTimeoutMs></ldap>"
               "<sync><intervalSeconds>" + std::to_string(options_.syncIntervalSeconds) +
               "</intervalSeconds><leaseSeconds>2</leaseSeconds></sync>";
    std::string events;
    if (options_.events)
        events = R"(<events><curve><enabled>false</enabled></curve><consumers>
      <consumer><name>portal</name><endpoint>tcp://127.0.0.1:)" +
                 std::to_string(consumerPort_) + R"(</endpoint>
        <backoffInitialMs>100</backoffInitialMs><backoffMaxMs>500</backoffMaxMs></consumer>
    </consumers></events>)";
    return R"(<hub>
  <http><port>)" + std::to_string(nodes_[n].port) +
           "</port><portFile>" + folder + "/hubd.port</portFile><ioThreads>" + std::to_string(options_.ioThreads) +
           R"(</ioThreads></http>
  )" + store + R"(
  <catalog><dir>)" + tree_.catalogDir + R"(</dir></catalog>
  <calendar><file>)" + tree_.calendarFile + R"(</file></calendar>
  <flows><dir>)" + dir_.file("flows") + R"(</dir></flows>
  <plugins><dir>)" + folder + R"(/plugins</dir><watchIntervalMs>0</watchIntervalMs></plugins>
  <auth><jwt><hs256Secret>)" + kClusterSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static>
    <person id="t.wang" name="王老师" department="physics" audience="teacher"/>
    <person id="fin.1" name="财务处" department="finance" audience="staff" roles="dept:finance:clerk"/>
    <person id="admin" name="Operator" audience="staff" roles="hub:admin"/>
  </static>)" + ldap + R"(</identity>
  )" + events + R"(
</hub>)";
}

void Cluster::startNode(int n) {
    const std::string folder = dir_.file("node" + std::to_string(n + 1));
    const std::string name = "node " + std::to_string(n + 1);
    std::unique_ptr<ChildProcess> process;
    // A start that fails (hubd exits 70, e.g. when PostgreSQL does not answer
    // its connect within store.postgresql.connectTimeoutSeconds on a loaded
    // machine) is tried again 2 s later, as the shipped unit's
    // Restart=on-failure and RestartSec=2s do; one that is not ready in 30 s,
    // or fails kStartAttempts times, fails the test.
    constexpr int kStartAttempts = 5;
    for (int attempt = 1; !process; ++attempt) {
        std::error_code ignored;
        fs::remove(folder + "/hubd.port", ignored);
        ChildProcess::Options o{.args = {"--config", folder + "/hub.xml"}, .portFile = folder + "/hubd.port"};
        o.startTimeout = std::chrono::seconds(30);
        o.stopTimeout = std::chrono::seconds(10);
        try {
            process = launch(tree_.hubd, std::move(o));
        } catch (const Poco::TimeoutException& e) {
            // Poco's what() is its class name only; the message holds hubd's output.
            throw std::runtime_error(name + " did not start: " + e.displayText());
        } catch (const Poco::Exception& e) {
            if (attempt == kStartAttempts)
                throw std::runtime_error(name + " did not start in " + std::to_string(attempt) +
                                         " attempts; the last: " + e.displayText());
            ++failedStarts_;
            const std::string said = e.displayText();
            const auto fatal = said.rfind(" F [hub] ");
            std::cout << "[cluster] " << name << " exited before it was ready (attempt " << attempt
                      << "), started again in 2 s: "
                      << (fatal == std::string::npos ? said.substr(0, 300) : said.substr(fatal + 1, 300)) << std::endl;
            std::this_thread::sleep_for(std::chrono::seconds(2));
        }
    }
    std::lock_guard lock(mutex_);
    nodes_[n].process = std::move(process);
}

void Cluster::startNginx() {
    nginxPort_ = hub::test::freePort();
    fs::create_directories(dir_.file("nginx/temp"));
    std::string upstream;
    for (const auto& node : nodes_)
        upstream += "    server 127.0.0.1:" + std::to_string(node.port) + " max_fails=1 fail_timeout=1s;\n";
    // One process (no master dropping to `nobody`, who could not use the temp
    // dir); a failed connect goes to the next node, a request already sent
    // does not (nginx's default for POST: the client retries with its
    // Idempotency-Key, as a portal behind a load balancer must).
    const std::string prefix = dir_.file("nginx");
    dir_.write("nginx/nginx.conf", "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + prefix +
                                       "/nginx.pid;\nerror_log " + prefix + "/error.log warn;\n" + R"(
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path )" + prefix + R"(/temp/body;
  proxy_temp_path )" + prefix + R"(/temp/proxy;
  fastcgi_temp_path )" + prefix + R"(/temp/fastcgi;
  uwsgi_temp_path )" + prefix + R"(/temp/uwsgi;
  scgi_temp_path )" + prefix + R"(/temp/scgi;
  upstream hubs {
)" + upstream + R"(    keepalive 64;
  }
  server {
    listen 127.0.0.1:)" + std::to_string(nginxPort_) +
                                       R"(;
    location / {
      proxy_pass http://hubs;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_connect_timeout 1s;
      proxy_read_timeout 30s;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
    }
  }
}
)");
    nginx_ = launch(
        "/usr/sbin/nginx", ChildProcess::Options{.args = {"-e", prefix + "/error.log", "-p", prefix, "-c", prefix + "/nginx.conf"}});
    if (!hub::test::waitUntil([&] { return accepts(nginxPort_) || !nginx_->running(); }, std::chrono::seconds(10)) ||
        !nginx_->running())
        throw std::runtime_error("nginx did not start: " + nginx_->output() + nginxLog());
}

std::string Cluster::url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(nginxPort_) + path; }

hub::test::HttpResponse Cluster::request(const std::string& method, const std::string& path, const std::string& body,
                                         const std::string& subject, std::map<std::string, std::string> headers,
                                         int timeoutMs) const {
    headers["Authorization"] = "Bearer " + clusterToken(subject);
    return hub::test::httpRequest(method, url(path), body, headers, timeoutMs);
}

hub::test::HttpResponse Cluster::requestNode(int n, const std::string& method, const std::string& path,
                                             const std::string& body, const std::string& subject) const {
    return hub::test::httpRequest(method, "http://127.0.0.1:" + std::to_string(nodes_.at(n).port) + path, body,
                                  hub::test::bearer(clusterToken(subject)));
}

void Cluster::kill(int n) {
    std::unique_ptr<ChildProcess> process;
    {
        std::lock_guard lock(mutex_);
        process = std::move(nodes_.at(n).process);
    }
    if (!process) return;
    process->signal(SIGKILL);
    process->wait(std::chrono::seconds(10));
    std::lock_guard lock(mutex_);
    nodes_[n].lastOutput = process->output();
}

void Cluster::restart(int n) {
    kill(n);
    startNode(n);
}

bool Cluster::up(int n) const {
    std::lock_guard lock(mutex_);
    return nodes_.at(n).process != nullptr;
}

double Cluster::cpuSeconds(int n) const {
    std::lock_guard lock(mutex_);
    return nodes_.at(n).process ? processCpu(nodes_[n].process->pid(), false) : 0;
}

double Cluster::nginxCpuSeconds() const { return nginx_ ? processCpu(nginx_->pid(), false) : 0; }

double Cluster::postgresCpuSeconds() const {
    if (!postgres_) return 0;
    const std::string pidFile = readWhole(postgres_->directory() + "/data/postmaster.pid");
    return pidFile.empty() ? 0 : processCpu(std::stoi(pidFile), true);
}

bool Cluster::alive(int n) {
    std::lock_guard lock(mutex_);
    return nodes_.at(n).process && nodes_[n].process->running();
}

std::string Cluster::output(int n) const {
    std::lock_guard lock(mutex_);
    const auto& node = nodes_.at(n);
    return (node.lastOutput.empty() ? "" : "[before its last kill]\n" + node.lastOutput.substr(node.lastOutput.size() > 4000 ? node.lastOutput.size() - 4000 : 0) + "\n[now]\n") +
           (node.process ? node.process->output() : std::string("(down)"));
}

std::string Cluster::nginxLog() const { return readWhole(dir_.file("nginx/error.log")); }

std::vector<std::vector<std::string>> Cluster::query(const std::string& sql) const {
    std::string out;
    if (postgres_)
        out = postgres_->psql(sql, database_);
    else
        out = runProgram("/usr/bin/sqlite3", {"-batch", "-cmd", ".timeout 5000", dir_.file("node1/var/hub.db"), sql});
    std::vector<std::vector<std::string>> rows;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        std::vector<std::string> row;
        std::size_t start = 0;
        for (std::size_t bar; (bar = line.find('|', start)) != std::string::npos; start = bar + 1)
            row.push_back(line.substr(start, bar - start));
        row.push_back(line.substr(start));
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string Cluster::scalar(const std::string& sql) const {
    auto rows = query(sql);
    if (rows.size() != 1 || rows[0].size() != 1) throw std::runtime_error("not one value: " + sql);
    return rows[0][0];
}

std::string Cluster::consumerOutput() const { return consumer_ ? consumer_->output() : std::string(); }

std::vector<Cluster::Event> Cluster::events() const {
    std::vector<Event> events;
    if (!consumer_) return events;
    std::set<std::string> seen;
    std::istringstream lines(consumer_->output());
    Poco::JSON::Parser parser;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line.front() != '{') continue;
        try {
            auto event = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
            Event e{event->optValue<std::string>("id", ""), event->optValue<std::string>("type", ""),
                    event->optValue<std::string>("subject", "")};
            if (seen.insert(e.id).second) events.push_back(std::move(e));
        } catch (const Poco::Exception&) {
            // a line the consumer's stderr interleaved into: not an event
        }
        parser.reset();
    }
    return events;
}

}  // namespace hub::cluster
