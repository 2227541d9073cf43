#!/bin/sh
# Builds and runs the LDAP sync benchmark: 100,000 generated persons loaded with
# slapadd -q, full sync timed beside `ldapsearch -E pr=1000/noprompt`, then an
# incremental sync after 1% changed, and the peak RSS.
#   bench/ldap/run.sh [build-dir] [persons] [runs]
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build-bench}
cmake -S "$here" -B "$build" -G Ninja -DHUB_BUILD_BENCH=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target ldap_sync_bench -j2
exec "$build/bench/ldap/ldap_sync_bench" "${2:-100000}" "${3:-3}"
