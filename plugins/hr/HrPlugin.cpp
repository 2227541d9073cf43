// Reference adapter for the HR system's nightly CSV export (人事系统): the model for
// a vendor system that only drops files. Each scan (hub.xml <schedules>, or a
// hub:admin calling the operation) takes the files that are complete from the
// drop folder (DropFolder), skips one whose content was read before (SHA-256 in
// the hub's key-value store), parses it (CsvExport: GBK or UTF-8, RFC 4180),
// quarantines the rows that are bad with their line and reason, hands the good
// ones to the hub's identity store (identity_submit, ABI 1.2) where only the
// fields this plugin owns are written, emits one summary event per file and
// moves the file to processed/.
#include "CsvExport.h"
#include "DropFolder.h"
#include "HrRows.h"

#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <unordered_map>
#include <mutex>
#include <set>
#include <string>

namespace {

using campushub::json::Writer;

constexpr std::size_t kSamples = 20;  // quarantined rows and conflicts named in a summary

std::size_t configNumber(campushub::Host& host, const std::string& key, std::size_t fallback, std::size_t max) {
    auto text = host.config(key);
    if (!text || text->empty()) return fallback;
    std::size_t n = 0;
    try {
        n = std::stoul(*text);
    } catch (const std::exception&) {
        throw campushub::InvalidArgument("config " + key + " must be a number");
    }
    if (n < 1 || n > max) throw campushub::InvalidArgument("config " + key + " must be 1 to " + std::to_string(max));
    return n;
}

// One file's outcome: the summary event's data and the scan's answer.
struct FileSummary {
    std::string file, sha256, status = "processed", reason, encoding, movedTo, quarantineFile;
    std::size_t rows = 0, good = 0, quarantined = 0, applied = 0, unchanged = 0, unknownPersons = 0, conflicts = 0;
    std::size_t conflictSampleCount = 0;
    std::vector<std::string> ignoredColumns;
    std::string quarantineSamples, conflictSamples;  // JSON array elements

    std::string json() const {
        Writer w;
        w.object().key("file").string(file).key("sha256").string(sha256).key("status").string(status);
        if (!reason.empty()) w.key("reason").string(reason);
        if (!encoding.empty()) w.key("encoding").string(encoding);
        w.key("rows").integer(static_cast<std::int64_t>(rows)).key("good").integer(static_cast<std::int64_t>(good));
        w.key("quarantined").integer(static_cast<std::int64_t>(quarantined));
        w.key("applied").integer(static_cast<std::int64_t>(applied));
        w.key("unchanged").integer(static_cast<std::int64_t>(unchanged));
        w.key("unknown_persons").integer(static_cast<std::int64_t>(unknownPersons));
        w.key("conflicts").integer(static_cast<std::int64_t>(conflicts));
        w.key("ignored_columns").array();
        for (const auto& c : ignoredColumns) w.string(c);
        w.end();
        w.key("quarantined_rows").raw("[" + quarantineSamples + "]");
        w.key("conflict_samples").raw("[" + conflictSamples + "]");
        if (!quarantineFile.empty()) w.key("quarantine_file").string(quarantineFile);
        if (!movedTo.empty()) w.key("moved_to").string(movedTo);
        w.end();
        return w.str();
    }
};

// The quarantine file of one export: UTF-8 with a BOM (spreadsheets open it
// right), one row per bad record: line, reason, the record's fields as read.
class Quarantine {
public:
    Quarantine(hr::DropFolder& folder, std::string claimed) : folder_(folder), claimed_(std::move(claimed)) {}
    void add(std::size_t line, const std::string& reason, const std::vector<std::string>& fields) {
        if (!out_) {
            path_ = folder_.quarantinePath(claimed_, ".quarantine.csv");
            out_ = std::make_unique<std::ofstream>(path_, std::ios::binary);
            *out_ << "\xEF\xBB\xBF" << "line,reason,record\r\n";
        }
        std::string record;
        for (std::size_t i = 0; i < fields.size() && record.size() < 8192; ++i) {
            if (i) record += ',';
            record += quoted(fields[i].substr(0, 4096), true);
        }
        *out_ << line << ',' << quoted(reason, false) << ',' << quoted(record, false) << "\r\n";
        if (!*out_) throw campushub::Unavailable("cannot write the quarantine file " + path_);
    }
    const std::string& path() const { return path_; }

private:
    static std::string quoted(const std::string& s, bool dropNul) {
        std::string out = "\"";
        for (char c : s) {
            if (c == '\0' && dropNul) continue;
            if (c == '"') out += '"';
            out += c == '\0' ? ' ' : c;
        }
        return out + '"';
    }
    hr::DropFolder& folder_;
    std::string claimed_, path_;
    std::unique_ptr<std::ofstream> out_;
};

class HrPlugin : public campushub::Plugin {
public:
    HrPlugin(campushub::Host& host, std::string_view /*config*/) : Plugin(host) {
        hr::DropConfig drop;
        drop.dropDir = host.config("drop_dir").value_or("");
        if (drop.dropDir.empty()) throw campushub::InvalidArgument("config drop_dir is required");
        drop.processedDir = host.config("processed_dir").value_or("");
        drop.quarantineDir = host.config("quarantine_dir").value_or("");
        const std::string arrival = host.config("arrival").value_or("in_place");
        if (arrival != "in_place" && arrival != "rename")
            throw campushub::InvalidArgument("config arrival must be in_place or rename");
        drop.renamedIn = arrival == "rename";
        drop.settle = std::chrono::seconds(configNumber(host, "settle_seconds", 30, 86400));
        encoding_ = host.config("encoding").value_or("auto");
        if (encoding_ != "auto" && encoding_ != "utf-8" && encoding_ != "gbk" && encoding_ != "gb18030")
            throw campushub::InvalidArgument("config encoding must be auto, utf-8 or gbk");
        batch_ = configNumber(host, "batch_records", 500, 1000);
        maxFileBytes_ = configNumber(host, "max_file_mb", 512, 65536) * 1024 * 1024;
        try {
            folder_ = std::make_unique<hr::DropFolder>(drop);
        } catch (const std::exception& e) {
            throw campushub::InvalidArgument(e.what());
        }
        operation("scan", "Reads the complete exports in the drop folder into the identity store",
                  [this](campushub::Call& call, std::string_view input) { return scan(call, input); });
    }

    std::string health() override {
        // The HR system's "down": the folder it drops into is gone or unreadable to hubd.
        const std::string& dir = folder_->config().dropDir;
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec))
            return R"({"status":"down","detail":"the drop folder is gone"})";
        if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0)
            return R"({"status":"down","detail":"the drop folder is not readable and writable by hubd"})";
        return R"({"status":"up"})";
    }

private:
    std::string scan(campushub::Call& call, std::string_view input) {
        // No options yet: anything but {} is refused, so a caller's option is never ignored silently.
        if (!campushub::json::parseObject(input).ObjectEmpty())
            throw campushub::InvalidArgument("scan takes no input: send {}");
        // One scan at a time: a second (a retry, the schedule meeting a manual run)
        // is told so at once rather than waiting out its deadline.
        std::unique_lock lock(scanMutex_, std::try_to_lock);
        if (!lock.owns_lock()) throw campushub::Conflict("a scan of the drop folder is running; try again later");
        hr::DropFolder::Look look;
        try {
            look = folder_->look();
        } catch (const std::exception& e) {
            // Removed, replaced, or unreadable (a mount gone, its mode changed): the
            // caller is told at once, and the next scan tries again.
            throw campushub::Unavailable("the drop folder " + folder_->config().dropDir + " cannot be read: " + e.what());
        }
        Writer w;
        w.object().key("files").array();
        std::vector<std::string> deferred;
        std::size_t read = look.leftovers.size();
        for (const auto& claimed : look.leftovers) w.raw(process(call, claimed));
        for (const auto& name : look.ready) {
            if (call.remaining() < std::chrono::seconds(2)) {
                deferred.push_back(name);  // the next scan takes it
                continue;
            }
            std::optional<std::string> claimed;
            try {
                claimed = folder_->claim(name);
            } catch (const std::exception& e) {
                // Files read before stay reported; with none, the caller hears why.
                if (read == 0)
                    throw campushub::Unavailable("the drop folder " + folder_->config().dropDir +
                                                 " cannot be written: " + e.what());
                host().warning(std::string("scan stopped: ") + e.what());
                deferred.push_back(name);
                continue;
            }
            if (claimed) {
                w.raw(process(call, *claimed));
                ++read;
            }
        }
        w.end().key("waiting").array();
        for (const auto& waiting : look.waiting) w.object().key("file").string(waiting.name).key("why").string(waiting.why).end();
        w.end().key("deferred").array();
        for (const auto& name : deferred) w.string(name);
        w.end().key("writers_detected").boolean(folder_->leasesWork()).end();
        return w.str();
    }

    // Reads one claimed file to its end; the summary as JSON. Leaves the file
    // claimed (for the next scan) only when the hub could not take its result.
    std::string process(campushub::Call& call, const std::string& claimed) {
        FileSummary s;
        s.file = std::filesystem::path(claimed).filename().string();
        const std::string spoolPath = claimed + ".spool";
        bool rejected = false;
        try {
            const hr::FileFacts facts = hr::examine(claimed);
            s.sha256 = facts.sha256;
            if (facts.size > maxFileBytes_)
                throw hr::ExportError(std::to_string(facts.size) + " bytes, more than max_file_mb allows");
            if (auto seen = host().kvGet("sha256:" + facts.sha256)) {
                s.status = "duplicate";
                s.reason = "the same content was read before: " + *seen;
            } else {
                const hr::Encoding encoding = hr::chooseEncoding(encoding_, facts);
                s.encoding = hr::toString(encoding);
                read(claimed, encoding, spoolPath, s);
                submit(call, spoolPath, s);
            }
        } catch (const hr::ExportError& e) {
            s.status = "rejected";
            s.reason = e.what();
            rejected = true;
        } catch (const campushub::Error& e) {
            // The hub did not take the records or the store failed: nothing is
            // recorded as done, the file stays claimed, the next scan reads it again
            // (the identity store takes the same records again as unchanged).
            std::error_code ignored;
            std::filesystem::remove(spoolPath, ignored);
            host().warning("export " + s.file + " left for the next scan: " + e.what());
            s.status = "retry";
            s.reason = e.what();
            return s.json();
        }
        std::error_code ignored;
        std::filesystem::remove(spoolPath, ignored);
        s.movedTo = folder_->config().processedDir;  // named in the event; the file follows it
        if (rejected) s.movedTo = folder_->config().quarantineDir;
        Writer event;
        event.object()
            .key("type").string("edu.campus.hub.hr.file_processed")
            .key("subject").string("hr/exports/" + s.file)
            .key("data").raw(s.json())
            .end();
        if (!host().emitEvent(event.str())) {
            host().warning("export " + s.file + " left for the next scan: the hub did not take its summary event: " +
                           host().lastError());
            s.status = "retry";
            s.reason = "the summary event was not taken";
            return s.json();
        }
        if (!rejected && s.status == "processed")
            host().kvPut("sha256:" + s.sha256, Writer().object().key("file").string(s.file).key("rows")
                                                   .integer(static_cast<std::int64_t>(s.rows)).end().str());
        s.movedTo = folder_->finish(claimed, rejected);
        return s.json();
    }

    // Pass one: every record checked; good ones to the spool (one JSON record a
    // line, on disk: memory stays bounded), bad ones to the quarantine file.
    void read(const std::string& claimed, hr::Encoding encoding, const std::string& spoolPath, FileSummary& s) {
        std::ofstream spool(spoolPath, std::ios::binary | std::ios::trunc);
        if (!spool) throw campushub::Unavailable("cannot write " + spoolPath);
        Quarantine quarantine(*folder_, claimed);
        std::optional<hr::Columns> columns;
        std::unordered_map<std::string, std::size_t> lineOfId;
        hr::readCsv(claimed, encoding, {}, [&](hr::CsvRecord& r) {
            if (!columns) {
                try {
                    if (!r.error.empty()) throw std::invalid_argument(r.error);
                    columns.emplace(r.fields);
                } catch (const std::invalid_argument& e) {
                    throw hr::ExportError("line " + std::to_string(r.line) + ", the header: " + e.what());
                }
                s.ignoredColumns = columns->ignored();
                return;
            }
            ++s.rows;
            std::string reason = r.error, json, id;
            if (reason.empty()) {
                try {
                    json = columns->record(r.fields, id);
                } catch (const std::exception& e) {
                    reason = e.what();
                }
            }
            if (reason.empty()) {
                auto [it, fresh] = lineOfId.emplace(id, r.line);
                if (!fresh) reason = "employee_id " + id + " is already on line " + std::to_string(it->second);
            }
            if (!reason.empty()) {
                quarantine.add(r.line, reason, r.fields);
                if (s.quarantined++ < kSamples) {
                    if (!s.quarantineSamples.empty()) s.quarantineSamples += ',';
                    s.quarantineSamples +=
                        Writer().object().key("line").integer(static_cast<std::int64_t>(r.line)).key("reason")
                            .string(reason).end().str();
                }
                return;
            }
            spool << json << '\n';
            ++s.good;
        });
        if (!columns) throw hr::ExportError("the file holds no header row");
        spool.close();
        if (!spool) throw campushub::Unavailable("cannot write " + spoolPath);
        s.quarantineFile = quarantine.path();
    }

    // Pass two: the spool's records to the identity store, batch_ at a time.
    void submit(campushub::Call& call, const std::string& spoolPath, FileSummary& s) {
        std::ifstream spool(spoolPath, std::ios::binary);
        std::string line, batch;
        std::size_t inBatch = 0;
        auto flush = [&] {
            if (inBatch == 0) return;
            const std::string answer = host().identitySubmit(&call, "{\"records\":[" + batch + "]}");
            const auto o = campushub::json::parseObject(answer);
            s.applied += static_cast<std::size_t>(campushub::json::optionalInt(o, "applied"));
            s.unchanged += static_cast<std::size_t>(campushub::json::optionalInt(o, "unchanged"));
            s.unknownPersons += static_cast<std::size_t>(campushub::json::optionalInt(o, "unknown_persons"));
            s.conflicts += static_cast<std::size_t>(campushub::json::optionalInt(o, "conflict_count"));
            if (const auto* list = campushub::json::member(o, "conflicts"); list && list->IsArray())
                for (const auto& c : list->GetArray()) {
                    if (s.conflictSampleCount++ >= kSamples) break;
                    Writer sample;
                    sample.object();
                    for (const char* key : {"id", "field", "owner", "value", "owner_value"}) {
                        const auto* v = campushub::json::member(c, key);
                        if (v && v->IsString()) sample.key(key).string(std::string(v->GetString(), v->GetStringLength()).substr(0, 200));
                    }
                    sample.end();
                    if (!s.conflictSamples.empty()) s.conflictSamples += ',';
                    s.conflictSamples += sample.str();
                }
            batch.clear();
            inBatch = 0;
        };
        while (std::getline(spool, line)) {
            if (!batch.empty()) batch += ',';
            batch += line;
            if (++inBatch == batch_) flush();
        }
        flush();
    }

    std::unique_ptr<hr::DropFolder> folder_;
    std::string encoding_;
    std::size_t batch_ = 500;
    std::size_t maxFileBytes_ = 0;
    std::mutex scanMutex_;
};

}  // namespace

// What it cannot work without: a hub lacking one (an older hub, or a worker
// process, which has no store) refuses it, naming the service.
CAMPUSHUB_PLUGIN_REQUIRES(HrPlugin, "hr", "1.2.0", "kv_lookup", "kv_put", "emit_event", "identity_submit")
