#!/usr/bin/env bash
# The HR adapter's throughput (issue 15, "Tests and benchmark"): rows per second
# of a 40,000-row GBK export read through hubd (drop folder -> claim -> SHA-256 ->
# decode + libcsv + row checks -> spool -> identity_submit batches into SQLite ->
# summary event -> processed/) against a plain decode + parse of the same file by
# the same libraries (hr_plain_parse.c: iconv + libcsv, nothing else). Run by
# hand, not by ctest.
#
#   bench/adapters/hr.sh [build-dir]          (default: build)
#
# Environment: ROWS=40000, RUNS=3 (each a fresh file content), KEEP=1 keeps the
# temp dir, SKIP_BUILD=1 uses the binaries as they are.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$repo/build}")
ROWS=${ROWS:-40000}
RUNS=${RUNS:-3}
KEEP=${KEEP:-0}

say() { printf '%s\n' "$*" >&2; }
die() { say "hr.sh: $*"; exit 1; }
command -v curl >/dev/null || die "curl is needed"

HUBD=$build/core/app/hubd
HUBCTL=$build/core/hubctl/hubctl
SIM=$build/tests/sim/hr/hub-sim-hr
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    say "building hubd, the hr plugin and the HR vendor's simulator in $build"
    cmake --build "$build" -j2 --target hubd hr hub-sim-hr >"$build.hr-bench.log" 2>&1 ||
        die "build failed (log: $build.hr-bench.log)"
fi
for f in "$HUBD" "$build/plugins-enabled/hr/libhr.so" "$SIM"; do [ -e "$f" ] || die "missing $f"; done

work=$(mktemp -d /tmp/hub-hr-bench.XXXXXX)
hub_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null
    if [ "$KEEP" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -o "$work/plain-parse" "$repo/bench/adapters/hr_plain_parse.c" -lcsv || die "cannot build the baseline"

# An export as the HR system writes it (tests/sim/hr, hub-sim-hr): GBK, Chinese
# header, names and values, quoted fields with commas and line breaks; `run`
# (the ids' prefix and the seed) makes each file's content its own.
export_file() {  # PATH RUN
    "$SIM" --out "$1" --rows "$ROWS" --seed "$2" --id-prefix "T$2" --encoding gbk >/dev/null ||
        die "hub-sim-hr could not write $1"
}

mkdir -p "$work/hub/plugins" "$work/hub/var" "$work/drop"
cp -r "$build/plugins-enabled/hr" "$work/hub/plugins/"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$work/hub/hub.xml" <<HUBXML
<hub>
  <http><address>127.0.0.1</address><port>0</port><portFile>$work/hub/hubd.port</portFile></http>
  <store><path>$work/hub/var/hub.db</path></store>
  <plugins><dir>$work/hub/plugins</dir>
    <plugin name="hr"><timeoutMs>600000</timeoutMs><config><drop_dir>$work/drop</drop_dir>
      <arrival>rename</arrival><encoding>gbk</encoding></config></plugin>
  </plugins>
  <auth><jwt><hs256Secret>$secret</hs256Secret><issuer>hub-bench</issuer><audience>campushub</audience></jwt></auth>
  <catalog><dir>$repo/config/catalog</dir></catalog>
  <calendar><file>$repo/config/calendar/calendar.xml</file></calendar>
  <identity><static><person id="admin" name="Hub operator" audience="staff" roles="hub:admin"/></static></identity>
  <logging><level>warning</level></logging>
</hub>
HUBXML
(cd "$work/hub" && exec "$HUBD" --config "$work/hub/hub.xml") >"$work/hub/hubd.log" 2>&1 &
hub_pid=$!
for _ in $(seq 100); do [ -s "$work/hub/hubd.port" ] && break; sleep 0.1; done
[ -s "$work/hub/hubd.port" ] || die "hubd did not start; see $work/hub/hubd.log"
HUB=http://127.0.0.1:$(tr -d '[:space:]' <"$work/hub/hubd.port")
if [ -x "$HUBCTL" ]; then
    token=$("$HUBCTL" token --config "$work/hub/hub.xml" --sub admin --ttl 3600 | tail -n1)
else  # the same HS256 token, minted here when hubctl is not built
    token=$(python3 - "$secret" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "admin", "iss": "hub-bench", "aud": "campushub", "exp": int(time.time()) + 3600}).encode())
sig = b64(hmac.new(sys.argv[1].encode(), head + b"." + body, hashlib.sha256).digest())
print((head + b"." + body + b"." + sig).decode())
PY
)
fi

printf '%-6s %12s %12s %14s %14s %8s\n' run "plain s" "hub s" "plain rows/s" "hub rows/s" ratio
for run in $(seq "$RUNS"); do
    export_file "$work/export-$run.csv" "$run"
    read -r plain_rows plain_s < <("$work/plain-parse" "$work/export-$run.csv")
    [ "$plain_rows" = $((ROWS + 1)) ] || die "the baseline read $plain_rows records, not $((ROWS + 1))"
    # Renamed in (the vendor's write-then-rename, the same bytes): read at once.
    "$SIM" --drop "$work/drop" --name "export-$run.csv" --copy-of "$work/export-$run.csv" \
        --staging "$work/drop/.staging" >/dev/null || die "hub-sim-hr could not drop export-$run.csv"
    start=$(date +%s%N)
    answer=$(curl -sf -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d '{}' "$HUB/api/v1/systems/hr/operations/scan") || die "the scan failed; see $work/hub/hubd.log"
    hub_s=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    echo "$answer" | grep -q "\"rows\":$ROWS," || die "the scan did not read $ROWS rows: ${answer:0:400}"
    awk -v r="$run" -v p="$plain_s" -v h="$hub_s" -v n="$ROWS" \
        'BEGIN { printf "%-6s %12.3f %12.3f %14.0f %14.0f %7.1fx\n", r, p, h, n / p, n / h, h / p }'
done
say "peak resident set of hubd: $(grep VmHWM /proc/$hub_pid/status | awk '{print $2, $3}')"
