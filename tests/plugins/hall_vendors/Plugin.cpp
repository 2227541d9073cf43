// A simulated vendor system for the shipped flows (one source, four plugin
// names: labs, logistics, finance, international), written only against the
// SDK as a vendor would. Each operation answers what the flow's output
// mappings read; the same idempotency key gets the same answer (the vendor
// does the work once); every call is counted, per operation and per distinct
// key, for the tests to check that nothing ran twice.
//
// Simulated behaviour the tests rely on:
// - any string input "vendor-down": the system is unavailable (retried by the
//   flow, then an incident);
// - labs.check_safety_training: passed unless person_id starts with "untrained".
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace {

class HallVendor : public campushub::Plugin {
public:
    HallVendor(campushub::Host& host, std::string_view) : Plugin(host) {
        const std::string system = HALL_VENDOR;
        if (system == "labs") {
            add("check_safety_training", [](const campushub::json::Document& in, const std::string&) {
                std::string person = campushub::json::requireString(in, "person_id");
                bool passed = person.rfind("untrained", 0) != 0;
                return std::string(R"({"passed":)") + (passed ? "true" : "false") + R"(,"expires":"2027-06-30"})";
            });
            add("grant_access", [](const campushub::json::Document& in, const std::string& number) {
                campushub::json::requireString(in, "person_id");
                return R"({"granted":true,"card_rule":"AC-)" + number + "\"}";
            });
        } else if (system == "logistics") {
            add("create_work_order", [](const campushub::json::Document& in, const std::string& number) {
                campushub::json::requireString(in, "building");
                return R"({"work_order_id":"WO-)" + number + "\"}";
            });
            // The vendor system reports an order done: the plugin tells the
            // flows (the message the dorm-repair flow waits for).
            operation("complete_work_order", "Reports {\"work_order_id\"} done", [this](campushub::Call&,
                                                                                     std::string_view input) {
                auto in = campushub::json::parseObject(input);
                const std::string order = campushub::json::requireString(in, "work_order_id");
                campushub::json::Writer event;
                event.object()
                    .key("type").string("edu.campus.hub.flow.message")
                    .key("subject").string("work-orders/" + order)
                    .key("data").object()
                    .key("name").string("logistics.work_order_completed")
                    .key("correlationKey").string(order)
                    .key("messageId").string("work-order-done:" + order)
                    .key("variables").object().key("repair_note").string("已修复").end()
                    .end()
                    .end();
                if (!this->host().emitEvent(event.str()))
                    throw campushub::NotFound("work order " + order + " was reported before (or no flow takes it)");
                return std::string(R"({"reported":true})");
            });
        } else if (system == "finance") {
            add("create_voucher", [](const campushub::json::Document& in, const std::string& number) {
                const auto* amount = campushub::json::member(in, "amount");
                if (!amount || !amount->IsNumber()) throw campushub::InvalidArgument("amount must be a number");
                return R"({"voucher_no":"PZ-)" + number + "\"}";
            });
        } else if (system == "international") {
            add("record_travel_approval", [](const campushub::json::Document&, const std::string& number) {
                return R"({"approval_no":"CG-)" + number + "\"}";
            });
            add("issue_invitation", [](const campushub::json::Document& in, const std::string& number) {
                campushub::json::requireString(in, "name");
                return R"({"invitation_no":"YQ-)" + number + "\"}";
            });
        }
        operation("calls", "How often each operation ran", [this](campushub::Call&, std::string_view) {
            std::lock_guard lock(mutex_);
            campushub::json::Writer out;
            out.object().key("calls").object();
            for (const auto& [op, n] : calls_) out.key(op).integer(n);
            out.end().key("keys").object();
            for (const auto& [op, keys] : keys_) out.key(op).integer(static_cast<std::int64_t>(keys.size()));
            out.end().end();
            return out.str();
        });
    }

private:
    using Work = std::string (*)(const campushub::json::Document&, const std::string& number);

    void add(const std::string& name, Work work) {
        operation(name, "Simulated " + name, [this, name, work](campushub::Call& call, std::string_view input) {
            auto in = campushub::json::parseObject(input);
            const std::string key(call.idempotencyKey());
            std::string number;
            {
                std::lock_guard lock(mutex_);
                ++calls_[name];
                if (!key.empty()) keys_[name].insert(key);
                for (auto m = in.MemberBegin(); m != in.MemberEnd(); ++m)
                    if (m->value.IsString() && std::string(m->value.GetString()) == "vendor-down")
                        throw campushub::Unavailable(name + ": the vendor system is down");
                // The vendor's own numbering: the same key is the same document.
                auto done = answers_.find(key);
                if (!key.empty() && done != answers_.end()) return done->second;
                number = std::to_string(++numbered_);
            }
            std::string answer = work(in, number);
            std::lock_guard lock(mutex_);
            if (!key.empty()) answers_.emplace(key, answer);
            return answer;
        });
    }

    std::mutex mutex_;
    std::map<std::string, std::int64_t> calls_;
    std::map<std::string, std::set<std::string>> keys_;
    std::map<std::string, std::string> answers_;
    std::int64_t numbered_ = 0;
};

}  // namespace

CAMPUSHUB_PLUGIN(HallVendor, HALL_VENDOR, "1.0.0")
