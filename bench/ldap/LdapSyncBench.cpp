// Full identity sync of a generated directory, timed beside ldapsearch dumping the
// same entries with paged results; then an incremental sync after 1% changed.
//
//   ldap_sync_bench [persons=100000] [runs=3]
//
// Prints both times and their ratio (target: sync <= 1.5x ldapsearch), the CPU
// seconds the hub and slapd spent in each sync, the incremental times for both
// methods and the peak RSS. HUB_BENCH_FULL_ONLY=1 stops after the first full sync
// (to profile it alone). HUB_TEST_STORE=postgresql stores into PostgreSQL instead
// of SQLite: a private postgresql-15 (tests/support's PostgresServer, fsync off),
// a fresh database per run; the incremental part then measures syncrepl only.

#include "hub/identity/IdentityDirectory.h"
#include "hub/identity/Syncer.h"
#include "hub/ldap/Connection.h"
#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SlapdServer.h"
#include "hub/store/Database.h"
#include "hub/test/StoreOptions.h"

#include <Poco/File.h>
#include <Poco/TemporaryFile.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;
using namespace hub;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// CPU seconds (user + system) of this process, and of another one from /proc.
double selfCpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double processCpuSeconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    double ticks = 0;
    for (int i = 3; fields >> f; ++i)
        if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// PostgreSQL's CPU seconds: the postmaster with its children, the live ones
// (the sync's backends) and those it has reaped (cutime, cstime).
double postgresCpuSeconds() {
    std::ifstream pidFile(test::sharedPostgres().directory() + "/data/postmaster.pid");
    long postmaster = 0;
    if (!(pidFile >> postmaster)) return 0;
    auto fields = [](long pid) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::vector<std::string> out;
        auto close = stat.rfind(')');
        if (close == std::string::npos) return out;
        std::istringstream rest(stat.substr(close + 2));
        for (std::string f; rest >> f;) out.push_back(f);
        return out;  // out[0] is field 3 (state)
    };
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    double ticks = 0;
    auto own = fields(postmaster);
    if (own.size() > 14) ticks += std::stod(own[11]) + std::stod(own[12]) + std::stod(own[13]) + std::stod(own[14]);
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string name = e.path().filename();
        if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
        auto f = fields(std::stol(name));
        if (f.size() > 12 && std::stol(f[1]) == postmaster) ticks += std::stod(f[11]) + std::stod(f[12]);
    }
    return ticks / tick;
}

long peakRssKiB() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t persons = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
    int runs = argc > 2 ? std::atoi(argv[2]) : 3;
    try {
        ldaptest::SlapdServer server;
        ldaptest::DirectoryShape shape;
        shape.persons = persons;
        shape.schools = 10;
        shape.departmentsPerSchool = 8;
        ldaptest::DirectoryGenerator gen(shape);
        std::string ldif = server.directory() + "/bench.ldif";
        auto t0 = Clock::now();
        gen.writeLdifFile(ldif);
        auto t1 = Clock::now();
        server.slapadd(ldif);
        auto t2 = Clock::now();
        server.start();
        std::printf("directory: %zu persons, %zu entries; LDIF %.2f s, slapadd -q %.2f s\n", persons,
                    gen.entryCount(), seconds(t0, t1), seconds(t1, t2));

        identity::SyncOptions options;
        options.ldap = server.connectionOptions();
        options.ldap.operationTimeout = std::chrono::milliseconds(120000);
        options.base = server.suffix();

        // The same search the sync's bulk read does: persons, the mapped attributes.
        std::vector<std::string> attrs = options.mapping.personAttributes();
        attrs.push_back("entryUUID");
        attrs.push_back("modifyTimestamp");
        std::vector<std::string> ldapsearch = {"/usr/bin/ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H",
                                               server.uri(), "-D", server.rootDn(), "-y", server.passwordFile(),
                                               "-b", server.suffix(), "-E", "pr=1000/noprompt",
                                               "(objectClass=inetOrgPerson)"};
        ldapsearch.insert(ldapsearch.end(), attrs.begin(), attrs.end());

        const bool onPostgres = test::storeOnPostgres();
        if (onPostgres) test::sharedPostgres();  // started here, on the main thread
        store::Database::Options keepOptions;
        std::vector<double> dumpTimes, syncTimes, syncCpu, slapdCpu;
        double resyncTime = 0;
        std::string keepDb;
        Poco::TemporaryFile work;
        Poco::File(work.path()).createDirectories();
        for (int i = 0; i < runs; ++i) {
            auto a = Clock::now();
            int rc = ldaptest::runProgram(ldapsearch, "/dev/null");
            auto b = Clock::now();
            if (rc != 0) throw std::runtime_error("ldapsearch failed: " + std::to_string(rc));
            dumpTimes.push_back(seconds(a, b));

            std::string path = work.path() + "/run" + std::to_string(i) + ".db";
            store::Database::Options storeOptions{path};
            if (onPostgres) {
                storeOptions = test::storeOptions(work.path(), test::freshPostgresDatabase());
                if (i == runs - 1) keepOptions = storeOptions;
            }
            store::Database db(storeOptions);
            identity::Syncer syncer(db, options);
            double cpu0 = selfCpuSeconds(), slapd0 = processCpuSeconds(server.pid());
            const double pg0 = onPostgres ? postgresCpuSeconds() : 0;
            auto c = Clock::now();
            auto report = syncer.runFull();
            auto d = Clock::now();
            syncCpu.push_back(selfCpuSeconds() - cpu0);
            slapdCpu.push_back(processCpuSeconds(server.pid()) - slapd0);
            const double pgCpu = onPostgres ? postgresCpuSeconds() - pg0 : 0;
            if (!report.success) throw std::runtime_error("sync failed: " + report.error);
            if (report.created < persons) throw std::runtime_error("sync stored too few persons");
            syncTimes.push_back(seconds(c, d));
            // For profiling the full sync alone: perf record -D <ms> ... with this set.
            if (std::getenv("HUB_BENCH_FULL_ONLY")) return 0;
            std::printf("  run %d: ldapsearch %.3f s, sync %.3f s (CPU: hub %.3f s, slapd %.3f s", i + 1,
                        dumpTimes.back(), syncTimes.back(), syncCpu.back(), slapdCpu.back());
            if (onPostgres) std::printf(", postgres %.3f s", pgCpu);
            std::printf(")\n");
            std::fflush(stdout);
            if (i == runs - 1) {
                auto e = Clock::now();
                auto again = syncer.runFull();
                resyncTime = seconds(e, Clock::now());
                if (!again.success || again.created + again.updated != 0)
                    throw std::runtime_error("re-sync found changes");
                keepDb = path;
            }
        }
        // The connector alone: the same paged search through hub::ldap, entries parsed
        // into hub::ldap::Entry and dropped.
        std::vector<double> rawTimes, rawCpu;
        for (int i = 0; i < runs; ++i) {
            ldap::Connection conn(options.ldap);
            ldap::SearchRequest r;
            r.base = server.suffix();
            r.filter = "(objectClass=inetOrgPerson)";
            r.attributes = attrs;
            std::size_t n = 0;
            double cpu0 = selfCpuSeconds();
            auto a = Clock::now();
            conn.searchPaged(r, [&](std::vector<ldap::Entry>&& page) { n += page.size(); });
            rawTimes.push_back(seconds(a, Clock::now()));
            rawCpu.push_back(selfCpuSeconds() - cpu0);
            if (n != persons) throw std::runtime_error("raw read saw " + std::to_string(n));
        }
        std::printf("hub::ldap paged read alone (no mapping, no store):   %.3f s (CPU: hub %.3f s)\n",
                    median(rawTimes), median(rawCpu));
        double dump = median(dumpTimes), sync = median(syncTimes);
        std::printf("ldapsearch -E pr=1000 dump of %zu persons to /dev/null: %.3f s (median of %d)\n", persons,
                    dump, runs);
        std::printf("full sync, stored in %s (empty store):      %.3f s (median of %d)\n",
                    onPostgres ? "PostgreSQL" : "SQLite    ", sync, runs);
        std::printf("ratio sync / ldapsearch: %.2fx (target <= 1.5x)\n", sync / dump);
        std::printf("full re-sync, nothing changed:                      %.3f s\n", resyncTime);

        // 1% changed: new mail on every 100th person.
        std::ostringstream mods;
        for (std::size_t i = 0; i < persons; i += 100)
            mods << ldaptest::ldifLine("dn", gen.person(i).dn) << "changetype: modify\nreplace: mail\nmail: changed"
                 << i << "@campus.example\n\n";
        server.ldapModify(mods.str());
        std::size_t changed = (persons + 99) / 100;
        for (auto method : {identity::SyncOptions::Method::SyncRepl, identity::SyncOptions::Method::Timestamp}) {
            // Each method starts from a copy of the synced store, so both see the same 1%
            // (PostgreSQL: syncrepl only, on the last run's database).
            if (onPostgres && method != identity::SyncOptions::Method::SyncRepl) continue;
            std::string copy = keepDb + (method == identity::SyncOptions::Method::SyncRepl ? ".repl" : ".ts");
            if (!onPostgres) Poco::File(keepDb).copyTo(copy);
            store::Database db(onPostgres ? keepOptions : store::Database::Options{copy});
            auto o = options;
            o.method = method;
            identity::Syncer syncer(db, o);
            auto a = Clock::now();
            auto report = syncer.runIncremental();
            auto b = Clock::now();
            if (!report.success) throw std::runtime_error("incremental failed: " + report.error);
            std::printf("incremental (%s) after %zu changed: %.3f s, %zu updated (target < 5 s)\n",
                        report.method.c_str(), changed, seconds(a, b), report.updated);
        }
        std::printf("peak RSS: %.1f MiB (target < 500 MiB)\n", static_cast<double>(peakRssKiB()) / 1024.0);
        return sync / dump <= 1.5 ? 0 : 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench failed: %s\n", e.what());
        return 1;
    }
}
