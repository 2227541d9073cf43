// hub-catalog-import: the hall's item list (CSV, UTF-8 or GBK) to a catalogue
// file. A thin shell over hub::catalog::CatalogImport, which hubctl can call
// the same way; the format is in docs/catalog/README.md.

#include "hub/catalog/CatalogImport.h"
#include "hub/xml/Error.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

const char* kUsage =
    "usage: hub-catalog-import [--catalog DIR] [--output FILE] [--encoding auto|utf-8|gbk]\n"
    "                          [--skip-bad] [--check] ITEMS.csv\n"
    "  --catalog DIR   the catalogue the items join (taxonomy, ids taken, catalog.xsd);\n"
    "                  default config/catalog\n"
    "  --output FILE   the catalogue file to write (replaced atomically); default stdout.\n"
    "                  An existing FILE in DIR is not counted as taking ids.\n"
    "  --encoding E    auto (default): UTF-8, with or without BOM, else GBK\n"
    "  --skip-bad      write the good rows even when some are refused\n"
    "  --check         report problems only, write nothing\n"
    "Exit status: 0 written (or checked), 1 rows refused and nothing written, 2 usage or I/O error.\n";

int usage(const std::string& message) {
    std::cerr << "hub-catalog-import: " << message << "\n" << kUsage;
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using hub::catalog::CatalogImport;
    namespace fs = std::filesystem;
    std::string catalogDir = "config/catalog", output, input;
    CatalogImport::Options options;
    bool check = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&](std::string& into) {
            if (i + 1 >= argc) return false;
            into = argv[++i];
            return true;
        };
        std::string encoding;
        if (arg == "--catalog") {
            if (!value(catalogDir)) return usage("--catalog needs a directory");
        } else if (arg == "--output") {
            if (!value(output)) return usage("--output needs a file");
        } else if (arg == "--encoding") {
            if (!value(encoding)) return usage("--encoding needs a value");
            if (encoding == "auto") options.encoding = CatalogImport::Encoding::Auto;
            else if (encoding == "utf-8" || encoding == "utf8") options.encoding = CatalogImport::Encoding::Utf8;
            else if (encoding == "gbk") options.encoding = CatalogImport::Encoding::Gbk;
            else return usage("unknown encoding '" + encoding + "'");
        } else if (arg == "--skip-bad") {
            options.skipBad = true;
        } else if (arg == "--check") {
            check = true;
        } else if (arg == "-h" || arg == "--help") {
            std::cout << kUsage;
            return 0;
        } else if (!arg.empty() && arg[0] == '-') {
            return usage("unknown option " + arg);
        } else if (input.empty()) {
            input = arg;
        } else {
            return usage("one CSV file at a time");
        }
    }
    if (input.empty()) return usage("no CSV file given");

    std::ifstream in(input, std::ios::binary);
    if (!in) return usage("cannot read " + input);
    std::error_code ec;
    auto size = fs::file_size(input, ec);
    if (!ec && size > options.maxBytes) {
        std::cerr << input << ": larger than " << options.maxBytes << " bytes, refused unread\n";
        return 1;
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    options.sourceName = input;

    CatalogImport::Result result;
    try {
        CatalogImport import(CatalogImport::readKnown(catalogDir, output), (fs::path(catalogDir) / "catalog.xsd").string());
        result = import.convert(bytes.str(), options);
    } catch (const hub::xml::XmlException& e) {
        std::cerr << "hub-catalog-import: reading the catalogue in " << catalogDir << ": " << e.what() << "\n";
        for (const auto& err : e.errors()) std::cerr << "  " << err.toString() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "hub-catalog-import: " << e.what() << "\n";
        return 2;
    }

    for (const auto& p : result.problems) std::cerr << p.toString(input) << "\n";
    if (result.problemsNotListed)
        std::cerr << input << ": and " << result.problemsNotListed << " more problems not listed\n";
    if (!result.written()) {
        std::cerr << input << ": refused (" << result.problems.size() + result.problemsNotListed
                  << " problems), nothing written\n";
        return 1;
    }
    std::cerr << input << ": " << result.rows << " rows read as " << result.encoding << ", " << result.itemsWritten
              << " items" << (result.problems.empty() ? "" : " (bad rows skipped)");
    if (check) {
        std::cerr << ", checked (nothing written)\n";
        return 0;
    }
    if (output.empty() || output == "-") {
        std::cerr << "\n";
        std::cout << result.xml;
        return std::cout.good() ? 0 : 2;
    }
    // Replace the file atomically: the hub may reload the catalogue at any time.
    std::string temp = output + ".tmp";
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << result.xml;
        out.close();
        if (!out) {
            std::remove(temp.c_str());
            std::cerr << "\nhub-catalog-import: cannot write " << temp << "\n";
            return 2;
        }
    }
    fs::rename(temp, output, ec);
    if (ec) {
        std::remove(temp.c_str());
        std::cerr << "\nhub-catalog-import: cannot replace " << output << ": " << ec.message() << "\n";
        return 2;
    }
    std::cerr << ", written to " << output << "\n";
    return 0;
}
