// Prints the per-request cost of catalogue queries against the shipped sample
// catalogue, and the ratio against copying the same JSON bytes (what a static
// file server does at best), so the HTTP benchmark can be read in context.
#include "hub/catalog/Catalog.h"

#include <chrono>
#include <cstdio>
#include <string>

using namespace hub::catalog;

namespace {

template <typename F>
double nsPerOp(F&& f, int iterations) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) f();
    std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    return elapsed.count() / iterations;
}

}  // namespace

int main() {
    Catalog catalog({std::string(HUB_CONFIG_DIR) + "/catalog", ""});
    const int n = 200000;
    std::size_t sink = 0;
    struct Case { const char* name; Query query; };
    Query byCategory;
    byCategory.viewer = Audience::Student;
    byCategory.category = "undergraduate";
    Query all;
    all.viewer = AudienceSet::all();
    all.limit = Query::maxLimit;
    Query search;
    search.viewer = Audience::Student;
    search.text = "证明 certificate";
    for (const Case& c : {Case{"category=undergraduate (student)", byCategory}, Case{"all items, limit 1000", all},
                          Case{"q=证明 certificate (student)", search}}) {
        std::string reference = catalog.snapshot()->queryJson(c.query);
        std::string buffer;
        double query = nsPerOp([&] {
            auto snap = catalog.snapshot();
            buffer.clear();
            snap->appendPageJson(snap->query(c.query), buffer);
            sink += buffer.size();
        }, n / (c.query.limit > 100 ? 20 : 1));
        double copy = nsPerOp([&] {
            buffer.assign(reference);
            sink += buffer.size();
        }, n);
        std::printf("%-36s %6zu bytes  query+json %8.0f ns  copy %6.0f ns  ratio %.1fx\n", c.name, reference.size(),
                    query, copy, query / copy);
    }
    double categories = nsPerOp([&] { sink += catalog.snapshot()->categoriesJson(Audience::Student).size(); }, n);
    std::printf("%-36s %22s %8.0f ns\n", "categories (precomputed)", "", categories);
    return sink == 0 ? 1 : 0;
}
