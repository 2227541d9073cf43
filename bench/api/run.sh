#!/usr/bin/env bash
# HTTP front end of hubd against nginx, side by side in one run on loopback
# (issue 4, "Benchmark"). Run by hand, not by ctest; about 6 minutes.
#
#   bench/api/run.sh [build-dir]
#
# 1. GET /api/v1/catalog/services?category=undergraduate: hubd against nginx
#    serving the same JSON (fetched from hubd once) as a static file.
#    Target: hub >= 0.5x nginx req/s.
# 2. POST /api/v1/systems/student_affairs/operations/get_student: hubd -> plugin
#    -> simulated vendor system, against nginx proxy_pass (keep-alive upstream)
#    to the same simulator's GET /students/2023010001.
#    Target: hub >= 0.7x nginx req/s and hub p99 <= 1.5x nginx p99.
#    Measured twice: the plugin on its 16 worker threads (hubd, the default) and
#    on the I/O threads' event loops (hubd_loop, execution "loop").
# 3. Overload, the plugin call offered at about twice the saturating rate (wrk's
#    delay() hook paces each connection): the hub must keep answering without
#    timeouts, shed the excess with fast 503s, keep its RSS flat (VmRSS sampled
#    every 0.5 s) and keep /healthz answering.
#    3a. CPU-bound: twice the rate measured in 2, from 1024 connections.
#    3b. slow vendor system (simulator +50 ms): twice 16 workers / 50 ms.
#    3c. the same slow vendor, the plugin on the event loops: twice
#        LOOP_CONCURRENCY / 50 ms, and the thread counts of both instances.
#
# wrk: -t2 -c64 -d10s --latency, keep-alive, Authorization header on both sides.
# Environment knobs:
#   DURATION=10s      length of each measured wrk run
#   WARMUP=2s         unmeasured run before each measured one
#   ROUNDS=3          runs 1 and 2 are measured this many times, hub and nginx
#                     taking turns, and each figure is the median of its rounds
#                     (nginx's own p99 moves 2-3x between runs on a shared machine)
#   OVERLOAD_SECONDS=15, OVERLOAD_CONNECTIONS=1024   (3a)
#   SLOW_MS=50, SLOW_SECONDS=10                      (3b, 3c: simulator answers SLOW_MS late)
#   PIN=1             taskset: load generator on CPU 1, servers and the simulator
#                     on CPU 0 (default 0: let the scheduler share both cores)
#   KEEP=1            keep the temp dir (configs, logs) after the run
#   SIM_THREADS=256   simulator threads; Poco holds one per keep-alive connection
#                     and nginx's two workers may keep 2 x 64 upstream ones
#   HUB_SKIP_MODULES  passed to cmake when the build dir must be configured
#   SKIP_BUILD=1      use the binaries already in the build dir
#   QUICK=1           runs 1 and 2 only (no overload), for before/after comparisons
#   IO_THREADS=0      hubd's http.ioThreads; 0 = its default (one per core)
#   LOOP_CONCURRENCY=128  the loop instance's plugin concurrency (calls at once; with
#                     nginx's 64 and the workers' 16 kept-alive connections, within
#                     the simulator's SIM_THREADS, one thread per connection)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$repo/build-bench}")
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
OVERLOAD_SECONDS=${OVERLOAD_SECONDS:-15}
OVERLOAD_CONNECTIONS=${OVERLOAD_CONNECTIONS:-1024}
SLOW_MS=${SLOW_MS:-50}
SLOW_SECONDS=${SLOW_SECONDS:-10}
PIN=${PIN:-0}
KEEP=${KEEP:-0}
SIM_THREADS=${SIM_THREADS:-256}
IO_THREADS=${IO_THREADS:-0}
LOOP_CONCURRENCY=${LOOP_CONCURRENCY:-128}
CONNECTIONS=64

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

# --- tools -------------------------------------------------------------------
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] || ! command -v wrk >/dev/null 2>&1; then
    say "installing nginx and wrk from Debian"
    $sudo apt-get update -qq
    # policy-rc.d usually stops the package from starting a system nginx; if it
    # does start one anyway, it is stopped below: we run our own.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nginx wrk >/dev/null
    if [ -f /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
        $sudo systemctl disable --now nginx 2>/dev/null || $sudo service nginx stop || true
    fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v curl >/dev/null || die "curl is needed"

# --- build ------------------------------------------------------------------
HUBD=$build/core/app/hubd
HUBCTL=$build/core/hubctl/hubctl
SIM=$build/tests/sim/hub-sim-student-affairs
PLUGIN_DIR=$build/plugins-enabled/student_affairs
have_binaries() { [ -x "$HUBD" ] && [ -x "$HUBCTL" ] && [ -x "$SIM" ] && [ -f "$PLUGIN_DIR/plugin.xml" ]; }
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
        # No bench targets needed: only hubd, hubctl, the plugin and the simulator.
        cmake -S "$repo" -B "$build" -G Ninja -DHUB_BUILD_BENCH=OFF \
            -DHUB_SKIP_MODULES="${HUB_SKIP_MODULES:-}" >"$build.cmake.log" 2>&1 ||
            { cat "$build.cmake.log" >&2; die "cmake configure failed"; }
    fi
    say "building hubd, hubctl, the student_affairs plugin and the simulator in $build"
    if ! cmake --build "$build" -j2 --target hubd hubctl hub-sim-student-affairs student_affairs \
        >"$build.api-bench.log" 2>&1; then
        grep -m3 -E 'error|FAILED' "$build.api-bench.log" >&2 || true
        # The tree may be mid-edit; the last good binaries still measure the front end.
        have_binaries || die "build failed (log: $build.api-bench.log)"
        say "WARNING: build failed (log: $build.api-bench.log); measuring the existing hubd built $(date -r "$HUBD" '+%F %T')"
    fi
fi
have_binaries || die "missing binaries under $build"

# --- processes and cleanup ---------------------------------------------------
work=$(mktemp -d /tmp/hub-api-bench.XXXXXX)
pids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$KEEP" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pin_server=()
pin_load=()
if [ "$PIN" = 1 ]; then
    pin_server=(taskset -c 0)
    pin_load=(taskset -c 1)
fi

wait_for_file() {  # file pid what
    for _ in $(seq 100); do
        [ -s "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited; see its log in $work"
        sleep 0.1
    done
    die "$3 did not start within 10 s"
}

free_port() {  # a loopback port nobody listens on
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
}

# /proc/PID/stat utime+stime in clock ticks, summed over a process and its children.
cpu_ticks() {
    local total=0 pid
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] || continue
        total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat")))
    done
    echo "$total"
}
TICKS=$(getconf CLK_TCK)

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# --- the simulated vendor system --------------------------------------------
"${pin_server[@]}" "$SIM" --host 127.0.0.1 --port 0 --port-file "$work/sim.port" --threads "$SIM_THREADS" \
    >"$work/sim.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
wait_for_file "$work/sim.port" "$sim_pid" "the simulator"
sim_port=$(tr -d '[:space:]' <"$work/sim.port")

# --- hubd ---------------------------------------------------------------------
# Two instances, the plugin's two executions side by side: "hubd" runs the plugin
# on 16 worker threads (the default), "hubd_loop" on the I/O threads' event loops
# (execution loop), up to LOOP_CONCURRENCY calls at once.
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
declare -A HUBD_PID HUBD_URL
start_hubd() {  # NAME EXECUTION CONCURRENCY
    local name=$1 dir=$work/$1
    mkdir -p "$dir/plugins" "$dir/var"
    cp -r "$PLUGIN_DIR" "$dir/plugins/"
    cat >"$dir/hub.xml" <<EOF
<hub>
  <http><address>127.0.0.1</address><port>0</port><portFile>$dir/hubd.port</portFile>
    <ioThreads>$IO_THREADS</ioThreads></http>
  <store><path>$dir/var/hub.db</path></store>
  <plugins>
    <dir>$dir/plugins</dir>
    <plugin name="student_affairs"><timeoutMs>3000</timeoutMs><concurrency>$3</concurrency><queue>64</queue>
      <execution>$2</execution>
      <config><base_url>http://127.0.0.1:$sim_port</base_url></config></plugin>
  </plugins>
  <auth><jwt><hs256Secret>$secret</hs256Secret><issuer>hub-bench</issuer><audience>campushub</audience></jwt></auth>
  <catalog><dir>$repo/config/catalog</dir></catalog>
  <calendar><file>$repo/config/calendar/calendar.xml</file></calendar>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
  </static></identity>
  <logging><level>warning</level></logging>
</hub>
EOF
    # From its own dir, so no relative default path reaches into the checkout.
    (cd "$dir" && exec "${pin_server[@]}" "$HUBD" --config "$dir/hub.xml") >"$dir/hubd.log" 2>&1 &
    HUBD_PID[$name]=$!
    pids+=("${HUBD_PID[$name]}")
    wait_for_file "$dir/hubd.port" "${HUBD_PID[$name]}" "$name"
    HUBD_URL[$name]=http://127.0.0.1:$(tr -d '[:space:]' <"$dir/hubd.port")
}
start_hubd hubd workers 16
start_hubd hubd_loop loop "$LOOP_CONCURRENCY"
hubd_pid=${HUBD_PID[hubd]}
token=$("$HUBCTL" token --config "$work/hubd/hub.xml" --sub 2023010001 --ttl 3600 | tail -n1)
auth="Authorization: Bearer $token"

HUB=${HUBD_URL[hubd]}
HUB_LOOP=${HUBD_URL[hubd_loop]}
CATALOG_PATH="/api/v1/catalog/services?category=undergraduate"
OP_PATH="/api/v1/systems/student_affairs/operations/get_student"
OP_BODY='{"student_id":"2023010001"}'

# --- nginx: its own prefix and config on a loopback port, never the system's ---
mkdir -p "$work/nginx/logs" "$work/www"
curl -fsS -H "$auth" "$HUB$CATALOG_PATH" -o "$work/www/services.json" || die "hubd did not answer the catalogue"
nginx_port=$(free_port)
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
$( [ "$(id -u)" -eq 0 ] && echo "user $(id -un) $(id -gn);" )
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;   # hubd does not cap requests per connection either
    keepalive_timeout 60s;
    sendfile on;
    tcp_nodelay on;
    open_file_cache max=16;
    client_body_temp_path $work/nginx/client_body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    upstream sim {
        server 127.0.0.1:$sim_port;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$nginx_port backlog=4096;
        location = /api/v1/catalog/services {
            default_type application/json;
            alias $work/www/services.json;
        }
        # The plugin does GET /students/{id} on the vendor system; so does this.
        location = $OP_PATH {
            proxy_pass http://sim/students/2023010001;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Content-Type "";
            proxy_set_header Authorization "";
        }
    }
}
EOF
"${pin_server[@]}" "$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log" \
    -g 'daemon off;' >"$work/nginx/stdout.log" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
NGX=http://127.0.0.1:$nginx_port
for _ in $(seq 100); do curl -fs -o /dev/null "$NGX$CATALOG_PATH" && break; sleep 0.1; done
nginx_procs() { echo "$nginx_pid"; ps -o pid= --ppid "$nginx_pid"; }

# Same answers from both sides before measuring anything.
cmp -s <(curl -fsS -H "$auth" "$NGX$CATALOG_PATH") "$work/www/services.json" ||
    die "nginx does not serve the catalogue JSON"
hub_op=$(curl -fsS -H "$auth" -H 'Content-Type: application/json' -d "$OP_BODY" "$HUB$OP_PATH") ||
    die "hubd get_student failed: $hub_op"
loop_op=$(curl -fsS -H "$auth" -H 'Content-Type: application/json' -d "$OP_BODY" "$HUB_LOOP$OP_PATH") ||
    die "hubd_loop get_student failed: $loop_op"
[ "$hub_op" = "$loop_op" ] || die "the two hubd instances answer differently: $hub_op / $loop_op"
ngx_op=$(curl -fsS -H "$auth" -H 'Content-Type: application/json' -d "$OP_BODY" "$NGX$OP_PATH") ||
    die "nginx proxy_pass failed"
[ "$hub_op" = "$ngx_op" ] || die "hub and nginx answer differently: $hub_op / $ngx_op"

# --- wrk ---------------------------------------------------------------------
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$OP_BODY'
wrk.headers["Content-Type"] = "application/json"
EOF

# Parses wrk's --latency output into: rps p50_ms p99_ms requests non2xx errors
parse_wrk() {
    awk '
    function ms(v) {
        if (v ~ /us$/) return v * 0.001
        if (v ~ /ms$/) return v + 0
        if (v ~ /m$/) return v * 60000
        if (v ~ /s$/) return v * 1000
        return v + 0
    }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /requests in/ { n = $1 }
    /Requests\/sec/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    /Socket errors/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.3f %.3f %d %d %d\n", rps, p50, p99, n, bad, err }' "$1"
}

# run NAME URL PIDS... -- WRK-ARGS... : warm up, measure, record CPU per request.
# Each call adds one round's figures to ALL_*; settle NAME takes their medians.
declare -A RPS P50 P99 CPU NON2XX ALL_RPS ALL_P50 ALL_P99 ALL_CPU P99_RANGE
run() {
    local name=$1 url=$2; shift 2
    local procs=()
    while [ "$1" != "--" ]; do procs+=("$1"); shift; done
    shift
    "${pin_load[@]}" wrk -t2 -c"$CONNECTIONS" -d"$WARMUP" "$@" "$url" >/dev/null
    local before after cpu
    before=$(cpu_ticks "${procs[@]}")
    "${pin_load[@]}" wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >"$work/$name.wrk"
    after=$(cpu_ticks "${procs[@]}")
    read -r rps p50 p99 n bad err < <(parse_wrk "$work/$name.wrk")
    cpu=$(awk -v t=$((after - before)) -v hz="$TICKS" -v n="$n" 'BEGIN { printf "%.0f", n ? t / hz * 1e6 / n : 0 }')
    ALL_RPS[$name]+=" $rps" ALL_P50[$name]+=" $p50" ALL_P99[$name]+=" $p99" ALL_CPU[$name]+=" $cpu"
    NON2XX[$name]=$((${NON2XX[$name]:-0} + bad + err))
    say "  $name: $rps req/s, p50 $p50 ms, p99 $p99 ms, $cpu us CPU/request, $((bad + err)) non-2xx/errors"
}
median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
settle() {
    local name=$1
    RPS[$name]=$(median "${ALL_RPS[$name]}") P50[$name]=$(median "${ALL_P50[$name]}")
    P99[$name]=$(median "${ALL_P99[$name]}") CPU[$name]=$(median "${ALL_CPU[$name]}")
    P99_RANGE[$name]=$(tr ' ' '\n' <<<"${ALL_P99[$name]}" | awk 'NF' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
verdict() { awk -v r="$1" -v t="$2" -v dir="$3" 'BEGIN { ok = dir == "min" ? (r >= t) : (r <= t); print (ok ? "ok" : "MISSED") }'; }

load_at_start=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load_at_start" 'BEGIN { exit !(l > 1.0) }' &&
    say "WARNING: load average $load_at_start before the run: other work on this machine skews the numbers"
say "hubd $HUB (pid $hubd_pid), hubd_loop $HUB_LOOP (pid ${HUBD_PID[hubd_loop]}), nginx :$nginx_port, simulator :$sim_port; pinning: $([ "$PIN" = 1 ] && echo 'wrk on CPU 1, servers on CPU 0' || echo none)"
say "1. catalogue query against a static file ($ROUNDS rounds)"
for ((round = 1; round <= ROUNDS; round++)); do
    run hub_catalog "$HUB$CATALOG_PATH" "$hubd_pid" -- -H "$auth"
    run nginx_static "$NGX$CATALOG_PATH" $(nginx_procs) -- -H "$auth"
done
say "2. plugin operation against proxy_pass to the simulator (CPU per request includes the simulator; $ROUNDS rounds)"
for ((round = 1; round <= ROUNDS; round++)); do
    run hub_plugin "$HUB$OP_PATH" "$hubd_pid" "$sim_pid" -- -H "$auth" -s "$work/post.lua"
    run nginx_proxy "$NGX$OP_PATH" $(nginx_procs) "$sim_pid" -- -H "$auth" -s "$work/post.lua"
    run hub_loop "$HUB_LOOP$OP_PATH" "${HUBD_PID[hubd_loop]}" "$sim_pid" -- -H "$auth" -s "$work/post.lua"
done
for n in hub_catalog nginx_static hub_plugin nginx_proxy hub_loop; do settle "$n"; done

if [ "${QUICK:-0}" = 1 ]; then
    printf 'QUICK: catalogue %sx nginx; plugin call on the loops %sx nginx req/s, p99 %sx; on workers %sx, p99 %sx\n' \
        "$(ratio "${RPS[hub_catalog]}" "${RPS[nginx_static]}")" "$(ratio "${RPS[hub_loop]}" "${RPS[nginx_proxy]}")" \
        "$(ratio "${P99[hub_loop]}" "${P99[nginx_proxy]}")" "$(ratio "${RPS[hub_plugin]}" "${RPS[nginx_proxy]}")" \
        "$(ratio "${P99[hub_plugin]}" "${P99[nginx_proxy]}")"
    exit 0
fi

# --- 3. overload ----------------------------------------------------------------
# wrk has no rate option (wrk2 is not in Debian): each connection waits `delay`
# ms after every answer, so C connections offer about C * 1000 / delay req/s
# while answers are fast, which is the point under test. A Lua response hook
# counts statuses; done() sums them over wrk's threads.
# overload NAME SATURATING CONNECTIONS SECONDS: offers twice SATURATING req/s; sets O_*.
overload() {
    local name=$1 saturating=$2 conns=$3 secs=$4 offered delay_ms sampler statuses
    offered=$((2 * saturating))
    delay_ms=$(awk -v c="$conns" -v r="$offered" 'BEGIN { d = c * 1000 / r; printf "%d", d < 1 ? 1 : d }')
    cat >"$work/overload.lua.in" <<'LUA'
wrk.method = "POST"
wrk.body = '{"student_id":"2023010001"}'
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function delay() return @DELAY_MS@ end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
        for status, n in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + n end
    end
    local line = "statuses:"
    for status, n in pairs(total) do line = line .. " " .. status .. "=" .. n end
    io.write(line .. "\n")
    io.write(string.format("timeouts: %d\n", summary.errors.timeout))
end
LUA
    sed "s/@DELAY_MS@/$delay_ms/" "$work/overload.lua.in" >"$work/$name.lua"
    # Each connection waits delay + latency per request (Little's law): a 3 s
    # calibration run measures the latency at this load, then the delay is cut by it.
    "${pin_load[@]}" wrk -t2 -c"$conns" -d3s --timeout 5s -H "$auth" -s "$work/$name.lua" "$HUB$OP_PATH" \
        >"$work/$name.calibration"
    delay_ms=$(awk -v c="$conns" -v r="$offered" -v d="$delay_ms" '/requests in/ { n = $1; t = $4 + 0 }
        END { a = n / (t ? t : 3); l = a ? c * 1000 / a - d : 0; d2 = c * 1000 / r - l; printf "%d", d2 < 1 ? 1 : d2 }' \
        "$work/$name.calibration")
    sed "s/@DELAY_MS@/$delay_ms/" "$work/overload.lua.in" >"$work/$name.lua"
    O_RSS_BEFORE=$(rss_kib "$hubd_pid")
    (
        # RSS and a /healthz probe every half second while the load runs.
        end=$((SECONDS + secs + 1))
        while [ "$SECONDS" -lt "$end" ] && kill -0 "$hubd_pid" 2>/dev/null; do
            probe=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' "$HUB/healthz" || echo "000 5")
            echo "$(rss_kib "$hubd_pid") $probe"
            sleep 0.5
        done
    ) >"$work/$name.samples" &
    sampler=$!
    pids+=("$sampler")
    "${pin_load[@]}" wrk -t2 -c"$conns" -d"${secs}s" --timeout 5s --latency \
        -H "$auth" -s "$work/$name.lua" "$HUB$OP_PATH" >"$work/$name.wrk"
    wait "$sampler" 2>/dev/null || true
    O_RSS_AFTER=$(rss_kib "$hubd_pid")
    kill -0 "$hubd_pid" 2>/dev/null || die "hubd died under overload; see its hubd.log under $work"
    read -r O_RPS O_P50 O_P99 O_N _ _ < <(parse_wrk "$work/$name.wrk")
    statuses=$(sed -n 's/^statuses: *//p' "$work/$name.wrk")
    O_TIMEOUTS=$(sed -n 's/^timeouts: *//p' "$work/$name.wrk")
    O_OK=$(tr ' ' '\n' <<<"$statuses" | awk -F= '$1 >= 200 && $1 < 300 { s += $2 } END { print s + 0 }')
    O_SHED=$(tr ' ' '\n' <<<"$statuses" | awk -F= '$1 == 503 || $1 == 429 { s += $2 } END { print s + 0 }')
    O_OTHER=$((O_N - O_OK - O_SHED))
    read -r O_RSS_MIN O_RSS_MAX O_PROBE_MAX O_PROBE_BAD < <(awk '
        NR == 1 { min = max = $1 }
        { if ($1 < min) min = $1; if ($1 > max) max = $1; if ($3 > pm) pm = $3; if ($2 != 200) bad++ }
        END { printf "%d %d %.1f %d\n", min, max, pm * 1000, bad }' "$work/$name.samples")
    # RSS samples of the second half against the first: flat means no growth.
    read -r O_RSS_FIRST O_RSS_SECOND < <(awk '{ v[NR] = $1 } END {
        h = int(NR / 2); for (i = 1; i <= h; i++) a += v[i]; for (i = h + 1; i <= NR; i++) b += v[i]
        printf "%d %d\n", h ? a / h : 0, NR - h ? b / (NR - h) : 0 }' "$work/$name.samples")
    O_FLAT=$(awk -v a="$O_RSS_FIRST" -v b="$O_RSS_SECOND" 'BEGIN { print ((b <= a * 1.05 + 2048) ? "yes" : "NO") }')
    O_LINE=$(printf '%s req/s attempted (%sx the saturating rate; %s ms delay per connection): %s 2xx (%s/s), %s shed with 503/429, %s other, %s timeouts; p50 %s ms, p99 %s ms\n    hubd RSS KiB: before %s, during %s..%s (halves %s -> %s: flat %s), after %s; /healthz slowest %s ms, %s not 200' \
        "$O_RPS" "$(ratio "$O_RPS" "$saturating")" "$delay_ms" "$O_OK" "$((O_OK / secs))" "$O_SHED" "$O_OTHER" "${O_TIMEOUTS:-?}" "$O_P50" "$O_P99" \
        "$O_RSS_BEFORE" "$O_RSS_MIN" "$O_RSS_MAX" "$O_RSS_FIRST" "$O_RSS_SECOND" "$O_FLAT" "$O_RSS_AFTER" \
        "$O_PROBE_MAX" "$O_PROBE_BAD")
    say "  $O_LINE"
}

# 3a. CPU-bound: twice what the hub answered in 2 with 64 connections.
saturated=${RPS[hub_plugin]}
offered=$((2 * saturated))
say "3a. overload, CPU-bound: about $offered req/s offered (2x $saturated) from $OVERLOAD_CONNECTIONS connections, ${OVERLOAD_SECONDS}s"
overload overload_cpu "$saturated" "$OVERLOAD_CONNECTIONS" "$OVERLOAD_SECONDS"
line3a=$O_LINE
ok3a=$(awk -v p="$O_P99" -v t="$O_TIMEOUTS" -v f="$O_FLAT" 'BEGIN { print ((p < 1000 && t == 0 && f == "yes") ? "yes" : "NO") }')

# 3b. A slow department system: the simulator answers after SLOW_MS, so the
# plugin's 16 workers saturate at 16 / SLOW_MS; offer twice that. This is what
# the bulkhead (concurrency 16 + queue 64) is for: the excess must get a 503 at once.
curl -fsS -o /dev/null -d "{\"mode\":\"slow\",\"delay_ms\":$SLOW_MS}" "http://127.0.0.1:$sim_port/admin/fail-mode" ||
    die "cannot put the simulator in slow mode"
slow_saturated=$((16 * 1000 / SLOW_MS))
slow_offered=$((2 * slow_saturated))
say "3b. overload, vendor system +$SLOW_MS ms: saturates at $slow_saturated req/s; $slow_offered req/s offered from 512 connections, ${SLOW_SECONDS}s"
overload overload_slow "$slow_saturated" 512 "$SLOW_SECONDS"
line3b=$O_LINE
# Queued requests wait at most (16 + 64) / 16 slow answers; 4x that is generous.
ok3b=$(awk -v p="$O_P99" -v t="$O_TIMEOUTS" -v shed="$O_SHED" -v f="$O_FLAT" -v ms="$SLOW_MS" \
    'BEGIN { print ((p < 4 * 5 * ms && t == 0 && shed > 0 && f == "yes") ? "yes" : "NO") }')

# 3c. The same slow vendor system, the plugin on the event loops (hubd_loop): a
# call waiting for the vendor is a parked fiber, not a thread, so up to
# LOOP_CONCURRENCY wait at once and the hub answers LOOP_CONCURRENCY / SLOW_MS.
loop_saturated=$((LOOP_CONCURRENCY * 1000 / SLOW_MS))
loop_offered=$((2 * loop_saturated))
say "3c. overload, vendor system +$SLOW_MS ms, plugin on the event loops: saturates at $loop_saturated req/s; $loop_offered req/s offered from $OVERLOAD_CONNECTIONS connections, ${SLOW_SECONDS}s"
HUB_SAVED=$HUB
HUB=$HUB_LOOP hubd_pid=${HUBD_PID[hubd_loop]}
overload overload_loop "$loop_saturated" "$OVERLOAD_CONNECTIONS" "$SLOW_SECONDS"
HUB=$HUB_SAVED hubd_pid=${HUBD_PID[hubd]}
line3c=$O_LINE
loop_threads=$(ls "/proc/${HUBD_PID[hubd_loop]}/task" | wc -l)
workers_threads=$(ls "/proc/${HUBD_PID[hubd]}/task" | wc -l)
# Served at least half the saturating rate (the simulator's own threads cap it),
# excess shed, no timeouts, memory flat.
ok3c=$(awk -v ok="$O_OK" -v s="$SLOW_SECONDS" -v sat="$loop_saturated" -v t="$O_TIMEOUTS" -v f="$O_FLAT" \
    'BEGIN { print ((ok / s >= sat / 2 && t == 0 && f == "yes") ? "yes" : "NO") }')
curl -fsS -o /dev/null -d '{"mode":"none"}' "http://127.0.0.1:$sim_port/admin/fail-mode" || true

# --- report ------------------------------------------------------------------
r1=$(ratio "${RPS[hub_catalog]}" "${RPS[nginx_static]}")
r2=$(ratio "${RPS[hub_plugin]}" "${RPS[nginx_proxy]}")
l2=$(ratio "${P99[hub_plugin]}" "${P99[nginx_proxy]}")
r2l=$(ratio "${RPS[hub_loop]}" "${RPS[nginx_proxy]}")
l2l=$(ratio "${P99[hub_loop]}" "${P99[nginx_proxy]}")
echo
echo "CampusHub API benchmark: wrk -t2 -c$CONNECTIONS -d$DURATION, keep-alive, loopback, $(nproc) CPUs, pinning $([ "$PIN" = 1 ] && echo 'wrk on CPU 1, servers on CPU 0' || echo none), load average at start $load_at_start"
echo "Medians of $ROUNDS rounds, hub and nginx taking turns; the p99 range is the lowest and highest round."
printf '%-14s %10s %9s %9s %14s %12s %8s\n' "run" "req/s" "p50 ms" "p99 ms" "p99 range" "CPU us/req" "non-2xx"
for n in hub_catalog nginx_static hub_plugin nginx_proxy hub_loop; do
    printf '%-14s %10s %9s %9s %14s %12s %8s\n' "$n" "${RPS[$n]}" "${P50[$n]}" "${P99[$n]}" "${P99_RANGE[$n]}" "${CPU[$n]}" "${NON2XX[$n]}"
done
echo "(CPU us/req: the server's CPU time per answered request; for the plugin and proxy runs including the simulator's)"
echo
printf '1. catalogue vs static file:  req/s %sx (target >= 0.5x: %s)\n' "$r1" "$(verdict "$r1" 0.5 min)"
# Both executions of the plugin, each with its verdict. The reference plugin's only
# I/O is the host's HTTP client, and config/hub.xml runs it on the event loops;
# the workers are for plugins that block (and the default for a plugin whose
# configuration does not say).
printf '2. plugin call vs proxy_pass, on the event loops (the reference plugin as config/hub.xml ships it):\n'
printf '                               req/s %sx (target >= 0.7x: %s), p99 %sx (target <= 1.5x: %s)\n' \
    "$r2l" "$(verdict "$r2l" 0.7 min)" "$l2l" "$(verdict "$l2l" 1.5 max)"
printf '   on 16 worker threads (for plugins that block):\n'
printf '                               req/s %sx (target >= 0.7x: %s), p99 %sx (target <= 1.5x: %s)\n' \
    "$r2" "$(verdict "$r2" 0.7 min)" "$l2" "$(verdict "$l2" 1.5 max)"
printf '3a. overload, CPU-bound, ~%s req/s offered (2x %s) from %s connections: serving, no timeouts, RSS flat: %s\n    %s\n' \
    "$offered" "$saturated" "$OVERLOAD_CONNECTIONS" "$ok3a" "$line3a"
printf '3b. overload, vendor system +%s ms, ~%s req/s offered (2x %s): excess shed, no timeouts, RSS flat: %s\n    %s\n' \
    "$SLOW_MS" "$slow_offered" "$slow_saturated" "$ok3b" "$line3b"
printf '3c. the same slow vendor, plugin on the event loops (concurrency %s), ~%s req/s offered (2x %s): served, no timeouts, RSS flat: %s\n    %s\n    threads: hubd_loop %s, hubd (16 workers) %s\n' \
    "$LOOP_CONCURRENCY" "$loop_offered" "$loop_saturated" "$ok3c" "$line3c" "$loop_threads" "$workers_threads"
