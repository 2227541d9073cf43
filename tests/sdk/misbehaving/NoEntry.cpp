// A shared library that is no plugin: it lacks the entry point.
extern "C" __attribute__((visibility("default"))) int not_a_campushub_plugin(void) { return 42; }
