#include "TestSupport.h"
#include "hub/catalog/Catalog.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <set>

using namespace hub::catalog;

namespace {

Query everything(AudienceSet viewer = AudienceSet::all()) {
    Query q;
    q.viewer = viewer;
    q.limit = Query::maxLimit;
    return q;
}

std::set<std::string> ids(const Page& page) {
    std::set<std::string> out;
    for (const auto* item : page.items) out.insert(item->id);
    return out;
}

/// Brute-force reference: what a query must return.
std::size_t countWhere(const std::function<bool(const ServiceItem&)>& pred) {
    std::size_t n = 0;
    for (const auto& item : test::shippedCatalog()->items()) n += pred(item) ? 1 : 0;
    return n;
}

Poco::JSON::Object::Ptr parseObject(const std::string& text) {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

TEST(CatalogQuery, FiltersByCategoryDepartmentAndChannel) {
    auto snap = test::shippedCatalog();
    Query q = everything();
    q.category = "undergraduate";
    auto page = snap->query(q);
    EXPECT_EQ(page.total, countWhere([](const ServiceItem& i) { return i.categoryId == "undergraduate"; }));
    EXPECT_GT(page.total, 5u);
    for (const auto* item : page.items) EXPECT_EQ(item->categoryId, "undergraduate");
    EXPECT_TRUE(ids(page).count("enrolment-certificate"));

    q = everything();
    q.department = "library";
    page = snap->query(q);
    EXPECT_EQ(page.total, countWhere([](const ServiceItem& i) { return i.departmentId == "library"; }));
    for (const auto* item : page.items) EXPECT_EQ(item->departmentId, "library");

    q = everything();
    q.channel = Channel::Kiosk;
    page = snap->query(q);
    EXPECT_EQ(page.total, countWhere([](const ServiceItem& i) { return i.channel == Channel::Kiosk; }));
    EXPECT_TRUE(ids(page).count("transcript-print"));
    for (const auto* item : page.items) EXPECT_EQ(item->channel, Channel::Kiosk);

    q = everything();
    q.category = "undergraduate";
    q.department = "student-affairs";
    q.channel = Channel::Online;
    page = snap->query(q);
    EXPECT_EQ(page.total, countWhere([](const ServiceItem& i) {
                  return i.categoryId == "undergraduate" && i.departmentId == "student-affairs" &&
                         i.channel == Channel::Online;
              }));
    EXPECT_TRUE(ids(page).count("student-leave"));

    q = everything();
    q.category = "no-such-category";
    EXPECT_EQ(snap->query(q).total, 0u);
    q = everything();
    q.department = "no-such-department";
    EXPECT_EQ(snap->query(q).total, 0u);
}

TEST(CatalogQuery, UsersSeeOnlyItemsForTheirAudience) {
    auto snap = test::shippedCatalog();
    auto student = snap->query(everything(Audience::Student));
    EXPECT_EQ(student.total, countWhere([](const ServiceItem& i) { return i.audience.has(Audience::Student); }));
    EXPECT_LT(student.total, snap->items().size());
    for (const auto* item : student.items) EXPECT_TRUE(item->audience.has(Audience::Student)) << item->id;
    EXPECT_FALSE(ids(student).count("reimbursement"));  // teachers and staff only
    EXPECT_EQ(snap->findVisible("reimbursement", Audience::Student), nullptr);
    EXPECT_NE(snap->findVisible("reimbursement", Audience::Teacher), nullptr);
    EXPECT_NE(snap->findById("reimbursement"), nullptr);

    auto visitor = snap->query(everything(Audience::Visitor));
    EXPECT_TRUE(ids(visitor).count("visitor-registration"));
    EXPECT_FALSE(ids(visitor).count("enrolment-certificate"));

    // Someone who is both a student and staff (a PhD student with a job) sees both.
    AudienceSet both = AudienceSet(Audience::Student) | AudienceSet(Audience::Staff);
    auto combined = snap->query(everything(both));
    EXPECT_TRUE(ids(combined).count("reimbursement"));
    EXPECT_TRUE(ids(combined).count("enrolment-certificate"));

    // ?audience= narrows within what the caller may see, never widens it.
    Query q = everything();
    q.audience = AudienceSet(Audience::Visitor);
    auto narrowed = snap->query(q);
    for (const auto* item : narrowed.items) EXPECT_TRUE(item->audience.has(Audience::Visitor));
    q = everything(Audience::Student);
    q.audience = AudienceSet(Audience::Teacher);
    EXPECT_EQ(snap->query(q).total, 0u);

    EXPECT_EQ(snap->query(everything(AudienceSet())).total, 0u) << "no audience sees nothing";
}

TEST(CatalogQuery, BilingualSearch) {
    auto snap = test::shippedCatalog();
    auto search = [&](const std::string& text, AudienceSet viewer = AudienceSet::all()) {
        Query q = everything(viewer);
        q.text = text;
        return snap->query(q);
    };
    EXPECT_TRUE(ids(search("在读证明")).count("enrolment-certificate"));
    EXPECT_TRUE(ids(search("在读")).count("graduate-enrolment-certificate"));
    EXPECT_TRUE(ids(search("ENROLMENT certificate")).count("enrolment-certificate"));
    EXPECT_TRUE(ids(search("enrolment")).count("enrolment-certificate"));
    EXPECT_TRUE(ids(search("vpn")).count("vpn-access"));
    EXPECT_TRUE(ids(search("VPN 开通")).count("vpn-access"));
    EXPECT_TRUE(ids(search("宿舍　报修")).count("dorm-repair"));  // ideographic space separates words
    EXPECT_EQ(search("在读 reimbursement").total, 0u);        // all words must match
    EXPECT_EQ(search("量子纠缠").total, 0u);
    // Department and category names are searchable too, in both languages.
    auto library = search("图书馆");
    EXPECT_GE(library.total, 5u);
    EXPECT_TRUE(ids(search("academic affairs")).count("transcript-print"));
    // Search respects the audience.
    EXPECT_FALSE(ids(search("报销", Audience::Student)).count("reimbursement"));
    EXPECT_TRUE(ids(search("报销", Audience::Teacher)).count("reimbursement"));
    // Every result really contains the word.
    for (const auto* item : search("证明").items) {
        std::string all = item->name.zh + item->description.zh + snap->category(item->categoryId)->name.zh +
                          snap->department(item->departmentId)->name.zh;
        EXPECT_NE(all.find("证明"), std::string::npos) << item->id;
    }
}

TEST(CatalogQuery, PaginationEdges) {
    auto snap = test::shippedCatalog();
    const std::size_t all = snap->items().size();
    // Pages of 7 cover every item exactly once, in a stable order.
    std::vector<std::string> seen;
    for (std::size_t page = 1;; ++page) {
        Query q = everything();
        q.setPage(page, 7);
        auto p = snap->query(q);
        EXPECT_EQ(p.total, all);
        if (p.items.empty()) break;
        EXPECT_LE(p.items.size(), 7u);
        for (const auto* item : p.items) seen.push_back(item->id);
    }
    EXPECT_EQ(seen.size(), all);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), all);

    Query q = everything();
    EXPECT_THROW(q.setPage(0, 10), QueryError);
    EXPECT_THROW(q.setPage(1, 0), QueryError);
    q.setPage(1, 100000000);
    EXPECT_EQ(q.limit, Query::maxLimit);
    EXPECT_EQ(snap->query(q).items.size(), all);
    q.setPage(static_cast<std::size_t>(-1), 1000);  // absurd page: beyond the end, no overflow
    auto beyond = snap->query(q);
    EXPECT_TRUE(beyond.items.empty());
    EXPECT_EQ(beyond.total, all);

    q = everything();
    q.offset = all - 1;
    q.limit = 10;
    EXPECT_EQ(snap->query(q).items.size(), 1u);
    q.offset = all;
    EXPECT_EQ(snap->query(q).items.size(), 0u);
    q.offset = 0;
    q.limit = 0;  // count only
    auto countOnly = snap->query(q);
    EXPECT_TRUE(countOnly.items.empty());
    EXPECT_EQ(countOnly.total, all);
}

TEST(CatalogQuery, FromParameters) {
    auto q = Query::fromParameters({{"category", "it-services"}, {"channel", "online"}, {"audience", "student,teacher"},
                                    {"q", "VPN"}, {"page", "2"}, {"pageSize", "5"}, {"unknown", "x"}},
                                   Audience::Student);
    EXPECT_EQ(q.category, "it-services");
    EXPECT_EQ(q.channel, Channel::Online);
    EXPECT_EQ(q.audience->bits(), (AudienceSet(Audience::Student) | AudienceSet(Audience::Teacher)).bits());
    EXPECT_EQ(q.text, "VPN");
    EXPECT_EQ(q.offset, 5u);
    EXPECT_EQ(q.limit, 5u);
    EXPECT_EQ(q.viewer, AudienceSet(Audience::Student));

    auto defaults = Query::fromParameters({}, Audience::Staff);
    EXPECT_EQ(defaults.offset, 0u);
    EXPECT_EQ(defaults.limit, Query::defaultLimit);
    auto offsets = Query::fromParameters({{"offset", "40"}, {"limit", "99999"}}, Audience::Staff);
    EXPECT_EQ(offsets.offset, 40u);
    EXPECT_EQ(offsets.limit, Query::maxLimit);

    auto rejects = [](std::vector<std::pair<std::string, std::string>> params, const std::string& parameter) {
        try {
            Query::fromParameters(params, Audience::Student);
            ADD_FAILURE() << "accepted " << params.front().first << "=" << params.front().second;
        } catch (const QueryError& e) {
            EXPECT_EQ(e.parameter(), parameter) << e.what();
        }
    };
    rejects({{"page", "0"}}, "page");
    rejects({{"page", "-1"}}, "page");
    rejects({{"page", "abc"}}, "page");
    rejects({{"pageSize", "0"}}, "pageSize");
    rejects({{"pageSize", "99999999999999999999999"}}, "pageSize");
    rejects({{"channel", "web"}}, "channel");
    rejects({{"audience", "alumni"}}, "audience");
    rejects({{"audience", ""}}, "audience");
    rejects({{"q", std::string(300, 'x')}}, "q");
    rejects({{"page", "1"}, {"offset", "0"}}, "page");
}

TEST(CatalogQuery, JsonOfPagesItemsAndCategories) {
    auto snap = test::shippedCatalog();
    Query q = everything(Audience::Student);
    q.category = "undergraduate";
    q.limit = 3;
    auto json = parseObject(snap->queryJson(q));
    EXPECT_EQ(json->getValue<std::size_t>("total"), snap->query(q).total);
    EXPECT_EQ(json->getValue<std::size_t>("limit"), 3u);
    auto items = json->getArray("items");
    ASSERT_EQ(items->size(), 3u);

    auto item = parseObject(snap->itemJson(*snap->findById("enrolment-certificate")));
    EXPECT_EQ(item->getValue<std::string>("id"), "enrolment-certificate");
    EXPECT_EQ(item->getObject("name")->getValue<std::string>("zh"), "在读证明");
    EXPECT_EQ(item->getObject("department")->getObject("name")->getValue<std::string>("zh"), "教务处");
    EXPECT_EQ(item->getValue<std::string>("channel"), "online");
    EXPECT_EQ(item->getArray("audience")->getElement<std::string>(0), "student");
    EXPECT_EQ(item->getObject("handler")->getValue<std::string>("type"), "flow");  // automatic, by its flow
    EXPECT_EQ(item->getObject("handler")->getValue<std::string>("flowId"), "enrolment-certificate");
    auto form = item->getArray("form");
    ASSERT_GE(form->size(), 2u);
    EXPECT_EQ(form->getObject(0)->getValue<std::string>("id"), "student_id");
    EXPECT_EQ(form->getObject(0)->getValue<int>("maxLength"), 20);
    EXPECT_EQ(form->getObject(1)->getArray("options")->size(), 4u);

    auto categories = Poco::JSON::Parser().parse(snap->categoriesJson(Audience::Student)).extract<Poco::JSON::Array::Ptr>();
    ASSERT_EQ(categories->size(), 12u);
    std::size_t sum = 0;
    for (std::size_t i = 0; i < categories->size(); ++i) {
        sum += categories->getObject(static_cast<unsigned>(i))->getValue<std::size_t>("itemCount");
    }
    EXPECT_EQ(sum, snap->query(everything(Audience::Student)).total);
    EXPECT_EQ(categories->getObject(0)->getValue<std::string>("id"), "general-office");
    EXPECT_EQ(categories->getObject(11)->getValue<std::string>("id"), "international");
    auto counts = snap->categories(Audience::Visitor);
    EXPECT_EQ(counts.size(), 12u);
}

TEST(CatalogQuery, JsonEscapesAwkwardText) {
    std::vector<Category> cats{{"c", {"类\"别", "Cat \\ \"quoted\""}, 1}};
    std::vector<Department> depts{{"d", {"部门\n换行", "Dept\ttab"}}};
    ServiceItem item;
    item.id = "x";
    item.name = {"名称 </script>", "Name \x01 control"};
    item.categoryId = "c";
    item.departmentId = "d";
    item.audience = Audience::Student;
    Snapshot snap(cats, depts, {item}, 7);
    auto json = parseObject(snap.itemJson(snap.items().front()));
    EXPECT_EQ(json->getObject("name")->getValue<std::string>("en"), "Name \x01 control");
    EXPECT_EQ(json->getObject("name")->getValue<std::string>("zh"), "名称 </script>");
    EXPECT_EQ(json->getObject("category")->getObject("name")->getValue<std::string>("en"), "Cat \\ \"quoted\"");
    EXPECT_EQ(json->getObject("department")->getObject("name")->getValue<std::string>("zh"), "部门\n换行");
    EXPECT_EQ(snap.version(), 7u);
}
