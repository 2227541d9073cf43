#include "hub/sql/Sources.h"

#include "hub/common/JsonWriter.h"

#include <Poco/StringTokenizer.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace hub::sql {

namespace {

std::string readSecret(const std::string& path, const std::string& source) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument("sql.sources." + source + ".passwordFile cannot be read: " + path);
    std::ostringstream content;
    content << in.rdbuf();
    std::string text = content.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.find_first_of("\r\n") != std::string::npos || text.find('\0') != std::string::npos)
        throw std::invalid_argument("sql.sources." + source + ".passwordFile must hold one line: " + path);
    return text;
}

std::size_t readSize(const Poco::Util::AbstractConfiguration& c, const std::string& key, std::size_t fallback) {
    if (!c.hasProperty(key)) return fallback;
    try {
        int v = c.getInt(key);
        if (v < 0) throw std::invalid_argument("");
        return static_cast<std::size_t>(v);
    } catch (const std::exception&) {
        throw std::invalid_argument(key + " must be a whole number");
    }
}

}  // namespace

std::unique_ptr<Sources> Sources::fromConfig(const Poco::Util::AbstractConfiguration& c) {
    auto sources = std::make_unique<Sources>();
    Poco::Util::AbstractConfiguration::Keys names;
    c.keys("sql.sources", names);
    for (const auto& name : names) {
        const std::string at = "sql.sources." + name + ".";
        SourceOptions o;
        o.name = name;
        o.conninfo = c.getString(at + "dsn", "");
        o.user = c.getString(at + "user", "");
        if (c.hasProperty(at + "password"))
            throw std::invalid_argument(at + "password: the secret is read from a file, give passwordFile");
        if (auto file = c.getString(at + "passwordFile", ""); !file.empty()) o.password = readSecret(file, name);
        o.poolSize = readSize(c, at + "poolSize", o.poolSize);
        o.maxRows = readSize(c, at + "maxRows", o.maxRows);
        try {
            o.writable = c.getBool(at + "writable", false);
        } catch (const std::exception&) {
            throw std::invalid_argument(at + "writable must be true or false");
        }
        Poco::StringTokenizer plugins(c.getString(at + "plugins", ""), " ,",
                                      Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
        o.plugins.assign(plugins.begin(), plugins.end());
        sources->add(std::move(o));
    }
    return sources;
}

void Sources::add(SourceOptions options) {
    std::string name = options.name;
    sources_[name] = std::make_unique<DataSource>(std::move(options));
}

DataSource* Sources::find(std::string_view name) const {
    auto it = sources_.find(name);
    return it == sources_.end() ? nullptr : it->second.get();
}

bool Sources::allows(const DataSource& source, std::string_view plugin) {
    const auto& p = source.options().plugins;
    return std::find(p.begin(), p.end(), plugin) != p.end();
}

std::string Sources::toJson(std::string_view plugin) const {
    std::string out;
    for (const auto& [name, source] : sources_) {
        if (!allows(*source, plugin)) continue;
        const SourceOptions& o = source->options();
        out += out.empty() ? "[" : ",";
        out += "{\"name\":";
        json::appendString(out, o.name);
        out += ",\"dsn\":";
        json::appendString(out, o.conninfo);
        out += ",\"user\":";
        json::appendString(out, o.user);
        out += ",\"password\":";
        json::appendString(out, o.password);
        out += ",\"poolSize\":" + std::to_string(o.poolSize) + ",\"maxRows\":" + std::to_string(o.maxRows) +
               ",\"writable\":" + (o.writable ? "true" : "false") + ",\"plugins\":";
        json::appendStringArray(out, o.plugins);
        out += '}';
    }
    return out.empty() ? out : out + "]";
}

std::unique_ptr<Sources> Sources::fromJson(std::string_view json) {
    auto sources = std::make_unique<Sources>();
    if (json.empty()) return sources;
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsArray()) throw std::invalid_argument("the data sources are not a JSON array");
    auto text = [](const rapidjson::Value& v, const char* key) {
        if (!v.HasMember(key) || !v[key].IsString()) throw std::invalid_argument(std::string("a data source lacks ") + key);
        return std::string(v[key].GetString(), v[key].GetStringLength());
    };
    for (const auto& v : d.GetArray()) {
        if (!v.IsObject()) throw std::invalid_argument("a data source is not a JSON object");
        SourceOptions o;
        o.name = text(v, "name");
        o.conninfo = text(v, "dsn");
        o.user = text(v, "user");
        o.password = text(v, "password");
        if (!v.HasMember("poolSize") || !v["poolSize"].IsUint() || !v.HasMember("maxRows") || !v["maxRows"].IsUint() ||
            !v.HasMember("writable") || !v["writable"].IsBool() || !v.HasMember("plugins") || !v["plugins"].IsArray())
            throw std::invalid_argument("data source " + o.name + " is incomplete");
        o.poolSize = v["poolSize"].GetUint();
        o.maxRows = v["maxRows"].GetUint();
        o.writable = v["writable"].GetBool();
        for (const auto& p : v["plugins"].GetArray())
            if (p.IsString()) o.plugins.emplace_back(p.GetString(), p.GetStringLength());
        sources->add(std::move(o));
    }
    return sources;
}

}  // namespace hub::sql
