#include <campushub/plugin.hpp>

namespace {
class Other : public campushub::Plugin {
public:
    Other(campushub::Host& host, std::string_view) : Plugin(host) {
        operation("echo", "Echo", [](campushub::Call&, std::string_view in) { return std::string(in); });
    }
};
}  // namespace

CAMPUSHUB_PLUGIN(Other, "something_else", "9.9.9")
