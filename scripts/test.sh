#!/usr/bin/env bash
# Builds everything and runs every test (ctest), then the same tests under the
# sanitizers and the fuzz targets for a bounded time (docs/testing.md). Exits
# non-zero on any failure. Stages, each in its own build tree:
#   normal  build/       every test                                  (first: a plain failure shows fast)
#   asan    build-asan/  every test but those labelled valgrind, glibc-heap, no-descriptors, stress; ASan + UBSan (gcc)
#   tsan    build-tsan/  the tests labelled tsan but not stress, TSan (gcc)
#   fuzz    build-fuzz/  each libFuzzer target for HUB_FUZZ_SECONDS (20) on its corpus (clang)
# HUB_TEST_SANITIZERS=0 runs only the normal stage (a quick local run); CI runs all.
# HUB_TEST_STAGES="asan fuzz" picks the extra stages to run. A failing normal
# stage stops the run; a failing extra stage does not stop the next ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

jobs=$(nproc)
timings=()
failed=()
stage_started=0
begin() {
    stage_started=$SECONDS
    printf '\n=== test.sh: stage %s\n' "$1"
}
# end <stage> <status>
end() {
    local verdict=passed
    [ "$2" = 0 ] || { verdict=FAILED; failed+=("$1"); }
    timings+=("$1 $verdict in $((SECONDS - stage_started)) s")
    printf '=== test.sh: stage %s %s in %d s\n' "$1" "$verdict" $((SECONDS - stage_started))
}
# configure <tree> <cmake options>...: once; later runs build what changed.
configure() {
    local tree=$1
    shift
    [ -f "$tree/build.ninja" ] || cmake -S . -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
}

begin normal
scripts/build.sh
build=${HUB_BUILD_DIR:-build}
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 600)
end normal 0

if [ "${HUB_TEST_SANITIZERS:-1}" = 0 ]; then
    exit 0
fi
stages=${HUB_TEST_STAGES:-asan tsan fuzz}
supp=$PWD/tests/sanitizers

# Sanitizer reports fail the test that caused them: UBSan stops at the first
# (-fno-sanitize-recover), ASan always does, TSan makes the process exit 66.
# Child processes (hubd, workers, simulators) inherit these settings.
if [[ " $stages " == *" asan "* ]]; then
    begin asan
    status=0
    configure build-asan -DHUB_SANITIZE=address,undefined
    cmake --build build-asan -j "$jobs" || status=$?
    # Left out (docs/testing.md): valgrind runs, which cannot run sanitizer code;
    # glibc-heap, the kit's leak finder, which reads glibc's heap statistics;
    # no-descriptors, a test with no descriptor left, which UBSan's vptr check needs;
    # stress, a thousand worker crashes (the plain stage runs it; the single-crash
    # tests take the same path here).
    [ "$status" != 0 ] || (cd build-asan &&
        ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1" \
        LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        ctest --output-on-failure -j "$jobs" --timeout 1800 -LE 'valgrind|glibc-heap|no-descriptors|stress') || status=$?
    end asan "$status"
fi

if [[ " $stages " == *" tsan "* ]]; then
    begin tsan
    status=0
    configure build-tsan -DHUB_SANITIZE=thread
    cmake --build build-tsan -j "$jobs" --target tests-tsan || status=$?
    [ "$status" != 0 ] || (cd build-tsan &&
        TSAN_OPTIONS="suppressions=$supp/tsan.supp:second_deadlock_stack=1:history_size=4" \
        ctest --output-on-failure -j "$jobs" --timeout 1800 -L tsan -LE stress) || status=$?
    end tsan "$status"
fi

if [[ " $stages " == *" fuzz "* ]]; then
    begin fuzz
    status=0
    CC=clang-14 CXX=clang++-14 configure build-fuzz -DHUB_SANITIZE=fuzzer -DHUB_BUILD_TESTS=OFF
    cmake --build build-fuzz -j "$jobs" --target fuzz || status=$?
    [ "$status" != 0 ] || (cd build-fuzz &&
        ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        ctest --output-on-failure -j "$jobs" -L fuzz) || status=$?
    end fuzz "$status"
fi

printf '\n=== test.sh: %s\n' "$(IFS=';'; echo "${timings[*]}")"
if ((${#failed[@]})); then
    printf '=== test.sh: FAILED: %s\n' "${failed[*]}"
    exit 1
fi
