// A library that forgot to export the entry point.
#include <campushub/plugin.h>

extern "C" CH_EXPORT int some_other_symbol(void) { return 42; }
