// hub-sim-hr: a stand-in for the HR system's (人事系统) nightly export. It writes
// one export into a drop folder the way the vendor does and exits; it serves
// nothing (the vendor only writes files).
//
//   hub-sim-hr --drop DIR --name FILE [content options] [--mode M] [mode options]
//   hub-sim-hr --out FILE [content options]     (the bytes only, no drop folder)
//
// Content: --rows 100, --seed 1, --id-prefix T, --encoding gbk|utf8-bom|utf8,
//   --header zh|en, --lf (line ends \n, not \r\n), --copy-of FILE (an earlier
//   export's bytes instead: a duplicate); bad rows on purpose: --wrong-columns N
//   (every Nth record a field short), --bad-bytes K (record K gets bytes that are
//   neither UTF-8 nor GBK), --truncate (the file ends inside the last record).
// Modes: rename (default; written as FILE.part, or --staging PATH, then renamed
//   in), in-place (--chunk 4096 bytes every --pause-ms 200, open throughout),
//   half (in place, closed after --fraction 0.5: a crashed vendor), stage (only
//   FILE.part, never renamed).
// Prints one JSON line: the path, its bytes and records, and where the bad rows are.
#include "HrExport.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>

namespace {

int usage(const std::string& why) {
    std::cerr << "hub-sim-hr: " << why
              << "\nusage: hub-sim-hr (--drop DIR --name FILE | --out FILE) [--rows N] [--seed S] [--id-prefix P]"
                 " [--encoding gbk|utf8-bom|utf8] [--header zh|en] [--lf] [--copy-of FILE] [--wrong-columns N]"
                 " [--bad-bytes K] [--truncate] [--mode rename|in-place|half|stage] [--staging PATH]"
                 " [--chunk BYTES] [--pause-ms MS] [--fraction F]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    namespace hr = hub::sim::hr;
    const std::set<std::string> flags = {"--lf", "--truncate"};
    std::map<std::string, std::string> opt;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (flags.count(a)) {
            opt[a] = "1";
        } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
            opt[a] = argv[++i];
        } else {
            return usage("unexpected argument '" + a + "'");
        }
    }
    auto get = [&](const std::string& k, const std::string& dflt) { return opt.count(k) ? opt[k] : dflt; };
    static const std::set<std::string> known = {"--drop", "--name", "--out", "--rows", "--seed", "--id-prefix",
                                                "--encoding", "--header", "--lf", "--copy-of", "--wrong-columns",
                                                "--bad-bytes", "--truncate", "--mode", "--staging", "--chunk",
                                                "--pause-ms", "--fraction"};
    for (const auto& [k, v] : opt)
        if (!known.count(k)) return usage("unknown option " + k);
    try {
        hr::ExportSpec spec;
        spec.rows = std::stoul(get("--rows", "100"));
        spec.seed = static_cast<std::uint32_t>(std::stoul(get("--seed", "1")));
        spec.idPrefix = get("--id-prefix", "T");
        spec.encoding = hr::encodingNamed(get("--encoding", "gbk"));
        const std::string header = get("--header", "zh");
        if (header != "zh" && header != "en") return usage("--header is zh or en");
        spec.chineseHeader = header == "zh";
        if (opt.count("--lf")) spec.lineEnd = "\n";
        spec.wrongColumnsEvery = std::stoul(get("--wrong-columns", "0"));
        spec.badBytesRecord = std::stoul(get("--bad-bytes", "0"));
        spec.truncateLastRecord = opt.count("--truncate") > 0;

        hr::Export e;
        if (opt.count("--copy-of")) {
            std::ifstream in(opt["--copy-of"], std::ios::binary);
            if (!in) return usage("cannot read " + opt["--copy-of"]);
            e.bytes.assign(std::istreambuf_iterator<char>(in), {});
        } else {
            e = hr::generate(spec);
        }

        std::string path;
        if (opt.count("--out")) {
            path = opt["--out"];
            std::ofstream out(path, std::ios::binary | std::ios::trunc);
            out << e.bytes;
            out.close();
            if (!out) throw std::runtime_error("cannot write " + path);
        } else {
            if (!opt.count("--drop") || !opt.count("--name")) return usage("--drop and --name, or --out, are needed");
            const std::string drop = opt["--drop"], name = opt["--name"];
            std::filesystem::create_directories(drop);
            const std::string mode = get("--mode", "rename");
            if (mode == "rename") {
                path = hr::renameIn(drop, name, e.bytes, get("--staging", ""));
            } else if (mode == "in-place") {
                path = hr::writeInPlaceSlowly(drop, name, e.bytes, std::stoul(get("--chunk", "4096")),
                                              std::chrono::milliseconds(std::stol(get("--pause-ms", "200"))));
            } else if (mode == "half") {
                path = hr::halfWritten(drop, name, e.bytes, std::stod(get("--fraction", "0.5")));
            } else if (mode == "stage") {
                path = hr::stage(drop, name, e.bytes);
            } else {
                return usage("unknown mode '" + mode + "'");
            }
        }
        std::string lines;
        for (std::size_t l : e.wrongColumnLines) lines += (lines.empty() ? "" : ",") + std::to_string(l);
        std::cout << "{\"path\":\"" << path << "\",\"bytes\":" << std::filesystem::file_size(path)
                  << ",\"records\":" << e.records << ",\"wrong_column_lines\":[" << lines
                  << "],\"bad_bytes_line\":" << e.badBytesLine << ",\"truncated_line\":" << e.truncatedLine << "}"
                  << std::endl;
        return 0;
    } catch (const std::exception& ex) {
        std::cerr << "hub-sim-hr: " << ex.what() << "\n";
        return 1;
    }
}
