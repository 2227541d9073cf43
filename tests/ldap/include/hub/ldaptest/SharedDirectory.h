#pragma once

#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SlapdServer.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace hub::ldaptest {

/// One private slapd per test executable, loaded once (slapadd) with a generated
/// directory of `Persons` people: a graceful slapd stop costs 1.5 s, too much per
/// test. Register with ::testing::AddGlobalTestEnvironment(new SharedDirectory<N>).
template <std::size_t Persons>
class SharedDirectory : public ::testing::Environment {
public:
    static SlapdServer& server() { return *server_; }
    static const DirectoryGenerator& generator() { return *generator_; }

    void SetUp() override {
        server_ = std::make_unique<SlapdServer>();
        DirectoryShape shape;
        shape.persons = Persons;
        generator_ = std::make_unique<DirectoryGenerator>(shape);
        std::string ldif = server_->directory() + "/dir.ldif";
        generator_->writeLdifFile(ldif);
        server_->slapadd(ldif);
        server_->start();
    }
    void TearDown() override {
        server_.reset();
        generator_.reset();
    }

private:
    static inline std::unique_ptr<SlapdServer> server_;
    static inline std::unique_ptr<DirectoryGenerator> generator_;
};

}  // namespace hub::ldaptest
