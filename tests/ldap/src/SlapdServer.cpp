#include "hub/ldaptest/SlapdServer.h"

#include <Poco/Exception.h>
#include <Poco/File.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace hub::ldaptest {

namespace {

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeFile(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw Poco::IOException("cannot write", path);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& logFile) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw Poco::SystemException("cannot start " + argv[0] + ": " + std::strerror(rc));
    return pid;
}

bool canConnect(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

int runProgram(const std::vector<std::string>& argv, const std::string& logFile) {
    pid_t pid = spawn(argv, logFile);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int freeLoopbackPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        throw Poco::IOException("cannot bind a loopback port");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

SlapdServer::SlapdServer(SlapdOptions options) : options_(std::move(options)) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/hub-slapd-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw Poco::SystemException("mkdtemp failed for " + pattern);
    dir_ = buf.data();
    Poco::File(dir_ + "/data").createDirectories();
    writeFile(passwordFile(), options_.rootPassword);
    if (options_.tls) makeCertificates();
    port_ = freeLoopbackPort();
    if (options_.tls) {
        do ldapsPort_ = freeLoopbackPort();
        while (ldapsPort_ == port_);
    }
    writeConfig();
}

SlapdServer::~SlapdServer() {
    try {
        stop(false);
        Poco::File(dir_).remove(true);
    } catch (...) {
    }
}

std::string SlapdServer::ldapsUri(const std::string& host) const {
    return "ldaps://" + host + ":" + std::to_string(ldapsPort_) + "/";
}

std::string SlapdServer::uri(const std::string& host) const {
    return "ldap://" + host + ":" + std::to_string(port_) + "/";
}

hub::ldap::ConnectionOptions SlapdServer::connectionOptions() const {
    hub::ldap::ConnectionOptions o;
    o.uri = uri();
    o.bindDn = rootDn();
    o.passwordFile = passwordFile();
    o.connectTimeout = std::chrono::milliseconds(2000);
    o.operationTimeout = std::chrono::milliseconds(20000);
    o.connectAttempts = 2;
    o.backoffInitial = std::chrono::milliseconds(50);
    return o;
}

std::string SlapdServer::log() const { return readFile(dir_ + "/slapd.log"); }

void SlapdServer::makeCertificates() {
    const std::string log = dir_ + "/openssl.log";
    auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "/usr/bin/openssl");
        if (runProgram(args, log) != 0)
            throw Poco::RuntimeException("openssl failed: " + readFile(log));
    };
    const std::string d = dir_ + "/";
        // libldap compares "localhost" as the machine's host name, so the default names
    // the loopback address instead (an IP SAN).
    bool isIp = options_.certificateHost.find_first_not_of("0123456789.") == std::string::npos;
    writeFile(d + "server.ext", std::string("subjectAltName=") + (isIp ? "IP:" : "DNS:") + options_.certificateHost +
                                    "\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                                    "extendedKeyUsage=serverAuth\n");
    for (const char* ca : {"ca", "other-ca"})
        run({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", d + ca + ".key", "-out", d + ca + ".pem", "-days", "2", "-subj",
             std::string("/CN=CampusHub Test ") + ca});
    run({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         d + "server.key", "-out", d + "server.csr", "-subj", "/CN=" + options_.certificateHost});
    run({"x509", "-req", "-in", d + "server.csr", "-CA", d + "ca.pem", "-CAkey", d + "ca.key",
         "-CAcreateserial", "-out", d + "server.pem", "-days", "2", "-extfile", d + "server.ext"});
}

void SlapdServer::writeConfig() {
    std::ostringstream c;
    for (const char* s : {"core", "cosine", "nis", "inetorgperson"})
        c << "include /etc/ldap/schema/" << s << ".schema\n";
    c << "include " << HUB_LDAPTEST_SCHEMA_DIR << "/eduperson.schema\n";
    c << "modulepath /usr/lib/ldap\nmoduleload back_mdb\n";
    if (options_.syncprov) c << "moduleload syncprov\n";
    c << "pidfile " << dir_ << "/slapd.pid\nargsfile " << dir_ << "/slapd.args\n";
    // The default 500 would also cap paged searches for non-root binds.
    c << "sizelimit unlimited\n";
    if (options_.tls) {
        c << "TLSCACertificateFile " << dir_ << "/ca.pem\n"
          << "TLSCertificateFile " << dir_ << "/server.pem\n"
          << "TLSCertificateKeyFile " << dir_ << "/server.key\n";
    }
    c << "database mdb\nmaxsize 4294967296\n"
      << "suffix \"" << options_.suffix << "\"\n"
      << "rootdn \"cn=admin," << options_.suffix << "\"\n"
      << "rootpw \"" << options_.rootPassword << "\"\n"
      << "directory " << dir_ << "/data\n"
      << "index objectClass eq\nindex entryUUID,entryCSN eq\nindex uid eq\n"
      << "access to * by * read\n";
    if (options_.syncprov) {
        c << "overlay syncprov\nsyncprov-checkpoint 100 10\n";
        if (options_.sessionLog > 0) c << "syncprov-sessionlog " << options_.sessionLog << "\n";
    }
    writeFile(dir_ + "/slapd.conf", c.str());
}

void SlapdServer::start() {
    if (isRunning()) return;
    std::string urls = options_.tls ? uri() + " " + ldapsUri() : uri();
    pid_ = spawn({"/usr/sbin/slapd", "-d", "0", "-h", urls, "-f", dir_ + "/slapd.conf"},
                 dir_ + "/slapd.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw Poco::RuntimeException("slapd exited at start: " + log());
        }
        if (canConnect(port_)) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop(false);
    throw Poco::TimeoutException("slapd did not accept connections: " + log());
}

void SlapdServer::stop(bool graceful) {
    if (!isRunning()) return;
    ::kill(pid_, graceful ? SIGTERM : SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

void SlapdServer::slapadd(const std::string& ldifPath) {
    bool wasRunning = isRunning();
    stop(false);
    const std::string log = dir_ + "/slapadd.log";
    int rc = runProgram({"/usr/sbin/slapadd", "-q", "-f", dir_ + "/slapd.conf", "-l", ldifPath}, log);
    if (rc != 0) throw Poco::RuntimeException("slapadd failed (" + std::to_string(rc) + "): " + readFile(log));
    if (wasRunning) start();
}

void SlapdServer::ldapModify(const std::string& ldifText) {
    const std::string file = dir_ + "/change.ldif";
    writeFile(file, ldifText);
    const std::string log = dir_ + "/ldapmodify.log";
    Poco::File(log).createFile();
    writeFile(log, "");
    int rc = runProgram({"/usr/bin/ldapmodify", "-x", "-H", uri(), "-D", rootDn(), "-y", passwordFile(),
                         "-f", file},
                        log);
    if (rc != 0) throw Poco::RuntimeException("ldapmodify failed (" + std::to_string(rc) + "): " + readFile(log));
}

void SlapdServer::wipe() {
    bool wasRunning = isRunning();
    stop(false);
    Poco::File(dir_ + "/data").remove(true);
    Poco::File(dir_ + "/data").createDirectories();
    if (wasRunning) start();
}

}  // namespace hub::ldaptest
