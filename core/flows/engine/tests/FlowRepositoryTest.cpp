// The deployed flows of a folder: versions by content, a refused file keeps
// the running version, old versions come back from the store after a restart.
#include "EngineTestSupport.h"

#include "../../tests/FlowsTestSupport.h"

#include "hub/flows/engine/FlowRepository.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace hub::flows::engine;
using namespace hub::flows::engine::test;

namespace {

constexpr std::int64_t kDeployedAt = 1790816400000;

void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

struct RepositoryFixture {
    RepositoryFixture() {
        std::filesystem::create_directories(folder());
        open();
    }
    std::filesystem::path folder() const { return f.dir.path() / "flows"; }
    void open() {
        repository.reset();
        store = std::make_unique<EngineStore>(*f.db);
        repository = std::make_unique<FlowRepository>(*f.db, *store, folder().string());
    }
    hub::flows::test::Fixture f;
    std::unique_ptr<EngineStore> store;
    std::unique_ptr<FlowRepository> repository;
};

TEST(FlowRepositoryTest, VersionsFollowTheFilesAndARefusedFileKeepsTheRunningVersion) {
    RepositoryFixture r;
    const std::string original = readData("enrolment-certificate.bpmn");
    write(r.folder() / "enrolment-certificate.bpmn", original);
    write(r.folder() / "notes.txt", "not a flow");
    auto report = r.repository->reload(kDeployedAt);
    ASSERT_EQ(report.deployed, std::vector<std::string>{"enrolment-certificate v1 (enrolment-certificate.bpmn)"});
    EXPECT_TRUE(report.refused.empty());
    EXPECT_EQ(r.repository->latest("enrolment-certificate").second, 1);

    report = r.repository->reload(kDeployedAt);
    EXPECT_EQ(report.unchanged, std::vector<std::string>{"enrolment-certificate"});

    // A broken edit is refused; the running version stays.
    std::string broken = original;
    const std::string condition = "=enrolment = \"在读\"";
    broken.replace(broken.find(condition), condition.size(), "=enrolment in [\"在读\"]");
    write(r.folder() / "enrolment-certificate.bpmn", broken);
    report = r.repository->reload(kDeployedAt);
    ASSERT_EQ(report.refused.size(), 1u);
    EXPECT_NE(report.refused[0].second.find("lists and filters"), std::string::npos) << report.refused[0].second;
    EXPECT_EQ(r.repository->latest("enrolment-certificate").second, 1);

    std::string changed = original;
    changed.replace(changed.find("查询学籍"), std::string("查询学籍").size(), "查询学籍信息");
    write(r.folder() / "enrolment-certificate.bpmn", changed);
    report = r.repository->reload(kDeployedAt);
    EXPECT_EQ(report.deployed, std::vector<std::string>{"enrolment-certificate v2 (enrolment-certificate.bpmn)"});
    EXPECT_EQ(r.repository->latest("enrolment-certificate").first->xml, changed);
    EXPECT_EQ(r.repository->version("enrolment-certificate", 1)->xml, original);

    // After a restart: the newest is the file's, the old one comes from the store.
    r.f.reopen();
    r.open();
    r.repository->reload(kDeployedAt);
    EXPECT_EQ(r.repository->latest("enrolment-certificate").second, 2);
    auto old = r.repository->version("enrolment-certificate", 1);
    ASSERT_NE(old, nullptr);
    EXPECT_EQ(old->process.find("Activity_lookup")->name, "查询学籍");
    EXPECT_EQ(r.repository->version("enrolment-certificate", 3), nullptr);
}

TEST(FlowRepositoryTest, TwoFilesWithOneProcessIdAreNotBothDeployed) {
    RepositoryFixture r;
    write(r.folder() / "a.bpmn", readData("enrolment-certificate.bpmn"));
    write(r.folder() / "b.bpmn", readData("enrolment-certificate.bpmn"));
    write(r.folder() / "c.bpmn", readData("travel-abroad.bpmn"));
    const auto report = r.repository->reload(kDeployedAt);
    EXPECT_EQ(report.deployed.size(), 2u);
    ASSERT_EQ(report.refused.size(), 1u);
    EXPECT_EQ(report.refused[0].first, "b.bpmn");
    EXPECT_EQ(report.refused[0].second, "b.bpmn: process id 'enrolment-certificate' is already defined by a.bpmn");
    EXPECT_EQ(r.repository->flowIds(), (std::vector<std::string>{"enrolment-certificate", "travel-abroad"}));
}

}  // namespace
