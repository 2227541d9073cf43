#!/usr/bin/env bash
# Builds everything and runs every test (ctest), then the same tests under the
# sanitizers and the fuzz targets for a bounded time (docs/testing.md). Exits
# non-zero on any failure. Stages, each in its own build tree:
#   normal  build/       every test                                  (first: a plain failure shows fast)
#   asan    build-asan/  every test but those labelled valgrind, glibc-heap, no-descriptors, stress, postgresql, cluster; ASan + UBSan (gcc)
#   tsan    build-tsan/  the tests labelled tsan but not stress or postgresql, TSan (gcc)
# The normal stage runs the store-using suites twice: on SQLite, and as "pg:"
# tests (label postgresql) on one PostgreSQL the postgres_suite fixture starts.
# The sanitizer stages run the store's own tests on both backends (store_test)
# and the others on SQLite: the code above the store is the same on both.
#   fuzz    build-fuzz/  each libFuzzer target for HUB_FUZZ_SECONDS (10) on its corpus (clang)
# HUB_TEST_SANITIZERS=0 runs only the normal stage (a quick local run); CI runs all.
# HUB_TEST_STAGES="asan fuzz" picks the extra stages to run. A failing normal
# stage stops the run; a failing extra stage does not stop the next ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

jobs=$(nproc)
# Tests run two per core: most of a test's time is waiting (for slapd, hubd's
# start, sockets, timers, child processes). Measured on 57 hubd tests: 47 s at
# -j2, 26 s at -j4 on two cores. The fuzz targets, which only compute, run one per core.
test_jobs=$((2 * jobs))
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
stages=${HUB_TEST_STAGES:-asan tsan fuzz}
[ "${HUB_TEST_SANITIZERS:-1}" != 0 ] || stages=""
has_stage() { [[ " $stages " == *" $1 "* ]]; }

# The extra stages' trees build in the background, at the lowest priority,
# while the stage before runs its tests: a test spends much of its time
# waiting (slapd, sockets, timers, child processes), and that CPU builds the
# next tree instead. A build's output is shown only when it fails.
declare -A build_pid=()
logs=$(mktemp -d /tmp/campushub-test-logs.XXXXXX)
trap 'for pid in "${build_pid[@]}"; do kill -- "-$pid" 2>/dev/null || true; done; rm -rf "$logs"' EXIT
# build_in_background <stage>
build_in_background() {
    has_stage "$1" || return 0
    local tree=build-$1 options=() target=all env=()
    case $1 in
    asan) options=(-DHUB_SANITIZE=address,undefined) ;;
    tsan) options=(-DHUB_SANITIZE=thread) target=tests-tsan ;;
    fuzz) options=(-DHUB_SANITIZE=fuzzer -DHUB_BUILD_TESTS=OFF) target=fuzz env=(CC=clang-14 CXX=clang++-14) ;;
    esac
    # setsid: its own process group, so that an early exit stops the whole build.
    env "${env[@]}" setsid bash -c 'set -e; tree=$1 target=$2; shift 2
        [ -f "$tree/build.ninja" ] || cmake -S . -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
        exec nice -n 19 cmake --build "$tree" -j "$(nproc)" --target "$target"' \
        build "$tree" "$target" "${options[@]}" >"$logs/$1.log" 2>&1 &
    build_pid[$1]=$!
}
# built <stage>: waits for its tree; 1 (with the build's last lines) if it failed.
built() {
    local status=0 started=$SECONDS
    wait "${build_pid[$1]}" || status=$?
    unset "build_pid[$1]"
    printf '=== test.sh: build-%s: waited %d s for the background build\n' "$1" $((SECONDS - started))
    ((status == 0)) || { tail -n 60 "$logs/$1.log"; printf '=== test.sh: building build-%s FAILED\n' "$1"; }
    return $status
}

begin normal
scripts/build.sh
build=${HUB_BUILD_DIR:-build}
build_in_background asan
(cd "$build" && ctest --output-on-failure -j "$test_jobs" --timeout 600)
end normal 0

[ -n "$stages" ] || exit 0
supp=$PWD/tests/sanitizers
# Each stage starts the next one's build before running its own tests.
has_stage asan || build_in_background tsan
has_stage asan || has_stage tsan || build_in_background fuzz

# Sanitizer reports fail the test that caused them: UBSan stops at the first
# (-fno-sanitize-recover), ASan always does, TSan makes the process exit 66.
# Child processes (hubd, workers, simulators) inherit these settings.
if has_stage asan; then
    begin asan
    status=0
    built asan || status=$?
    build_in_background tsan
    has_stage tsan || build_in_background fuzz
    # Left out (docs/testing.md): valgrind runs, which cannot run sanitizer code;
    # glibc-heap, the kit's leak finder, which reads glibc's heap statistics;
    # no-descriptors, a test with no descriptor left, which UBSan's vptr check needs;
    # stress, a thousand worker crashes (the plain stage runs it; the single-crash
    # tests take the same path here); postgresql, the suites' second run (above);
    # cluster, three hubd nodes behind nginx killed every 3 s (time: each node
    # would be an ASan process; the paths it takes are the store's, the relay's
    # and the flows' own, which their tests run here).
    [ "$status" != 0 ] || (cd build-asan &&
        ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1" \
        LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        ctest --output-on-failure -j "$test_jobs" --timeout 1800 -LE 'valgrind|glibc-heap|no-descriptors|stress|postgresql|cluster') || status=$?
    end asan "$status"
fi

if has_stage tsan; then
    begin tsan
    status=0
    built tsan || status=$?
    build_in_background fuzz
    [ "$status" != 0 ] || (cd build-tsan &&
        TSAN_OPTIONS="suppressions=$supp/tsan.supp:second_deadlock_stack=1:history_size=4" \
        ctest --output-on-failure -j "$test_jobs" --timeout 1800 -L tsan -LE 'stress|postgresql') || status=$?
    end tsan "$status"
fi

if has_stage fuzz; then
    begin fuzz
    status=0
    built fuzz || status=$?
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
