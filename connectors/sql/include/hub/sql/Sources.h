#pragma once

#include "hub/sql/DataSource.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::sql {

/// The data sources of one hub, by name: what hub.xml's sql/sources holds.
///
///     <sql><sources><finance>
///       <dsn>host=10.0.0.5 port=5432 dbname=fin</dsn>
///       <user>hub_reader</user><passwordFile>/etc/campushub/finance.pw</passwordFile>
///       <poolSize>4</poolSize><writable>false</writable><plugins>finance</plugins>
///     </finance></sources></sql>
class Sources {
public:
    Sources() = default;

    /// Reads config's "sql.sources" (absent: no sources). Throws
    /// std::invalid_argument naming the key that is wrong or the password file
    /// that cannot be read.
    static std::unique_ptr<Sources> fromConfig(const Poco::Util::AbstractConfiguration& config);

    /// Reads toJson() back (in a plugin's worker process). Throws std::invalid_argument.
    static std::unique_ptr<Sources> fromJson(std::string_view json);

    void add(SourceOptions options);

    /// The source, or null when there is none of that name.
    DataSource* find(std::string_view name) const;

    /// Whether plugin may use the source (it is named in the source's plugins).
    static bool allows(const DataSource& source, std::string_view plugin);

    /// The sources plugin may use, with their secrets, as JSON: what a plugin's
    /// worker process gets over its control socket ("" when none).
    std::string toJson(std::string_view plugin) const;

    bool empty() const { return sources_.empty(); }

private:
    std::map<std::string, std::unique_ptr<DataSource>, std::less<>> sources_;
};

}  // namespace hub::sql
