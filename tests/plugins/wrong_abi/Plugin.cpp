// A plugin built for a future ABI major: the host must refuse it before calling
// anything in the table (the function pointers are deliberately null).
#include <campushub/plugin.h>

extern "C" CH_EXPORT const ch_plugin_api* campushub_plugin_entry(void) {
    static const ch_plugin_api table = {sizeof(ch_plugin_api), CH_ABI_VERSION_MAJOR + 1, 0,
                                        nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    return &table;
}
