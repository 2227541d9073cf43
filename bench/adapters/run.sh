#!/usr/bin/env bash
# The hub's added latency per reference adapter (issue 15, "Tests and benchmark"):
# for each adapter, the same vendor request sent straight to its simulator and
# sent through hubd (API -> plugin -> host service -> simulator), side by side in
# one run, at a load that does not saturate either (wrk -t1 -c4). Prints p50 and
# p99 of both and the difference: what the hub adds. Run by hand, not by ctest.
#
#   bench/adapters/run.sh [build-dir]          (default: build)
#
#   academic_affairs  SOAP GetTranscript (PasswordText, so a fixed envelope can be
#                     replayed; the digest's nonce is single-use) vs get_transcript
#   queue_ticket      POST /api/v1/tickets vs book_ticket (the plugin also stores
#                     the ticket in the key-value store: a SQLite commit)
#   kiosk             POST /v2/print-jobs vs print_certificate (no key; the plugin
#                     stores the job)
#   finance           the claim's SELECT on the vendor's view sent straight to a
#                     private PostgreSQL 15 (pgbench, extended protocol, the same
#                     bound parameters, 4 clients) vs reimbursement_status (the host
#                     wraps it in a READ ONLY transaction with a statement_timeout)
#   hr                one small GBK export (HR_ROWS rows) at a time: decoded and
#                     parsed by hr_plain_parse.c (iconv + libcsv, the plugin's own
#                     libraries, nothing else) vs renamed into the drop folder and
#                     read by one scan call (claim, hash, checks, identity_submit,
#                     summary event, moved to processed/); HR_FILES files, each
#                     its own content, one after the other (no wrk: one scan at a time)
#
# Environment: DURATION=5s per measured run, WARMUP=1s, CONNECTIONS=4, HR_FILES=200,
# HR_ROWS=200, KEEP=1 keeps the temp dir, SKIP_BUILD=1 uses the binaries as they are.
# bench/adapters/hr.sh measures the HR adapter's throughput on one large export.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$repo/build}")
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-4}
KEEP=${KEEP:-0}
HR_FILES=${HR_FILES:-200}
HR_ROWS=${HR_ROWS:-200}

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }
command -v wrk >/dev/null || die "wrk is needed (Debian package wrk)"
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed (to write the HR exports)"
PGBIN=/usr/lib/postgresql/15/bin
[ -x $PGBIN/postgres ] && command -v pgbench >/dev/null && command -v psql >/dev/null ||
    die "postgresql-15 (postgres, pgbench, psql) is needed"

HUBD=$build/core/app/hubd
HUBCTL=$build/core/hubctl/hubctl
SIMS=$build/tests/sim
PLUGINS=$build/plugins-enabled
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    say "building hubd, hubctl, the five adapters and their simulators in $build"
    cmake --build "$build" -j2 --target hubd hubctl academic_affairs queue_ticket kiosk finance hr \
        hub-sim-academic-affairs hub-sim-queue-ticket hub-sim-kiosk >"$build.adapters-bench.log" 2>&1 ||
        die "build failed (log: $build.adapters-bench.log)"
fi
for f in "$HUBD" "$HUBCTL" "$SIMS/academic_affairs/hub-sim-academic-affairs" "$SIMS/queue_ticket/hub-sim-queue-ticket" \
         "$SIMS/kiosk/hub-sim-kiosk"; do
    [ -x "$f" ] || die "missing $f"
done

work=$(mktemp -d /tmp/hub-adapters-bench.XXXXXX)
pids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -n "${PG_PID:-}" ] && kill -INT "$PG_PID" 2>/dev/null  # fast shutdown: clients are cut off
    for pid in "${pids[@]}" ${PG_PID:-}; do wait "$pid" 2>/dev/null || true; done
    if [ "$KEEP" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_file() {  # file pid what
    for _ in $(seq 100); do
        [ -s "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited; see its log in $work"
        sleep 0.1
    done
    die "$3 did not start within 10 s"
}
start() {  # NAME EXECUTABLE ARGS... : starts a simulator, sets PORT_<NAME>
    local name=$1 exe=$2; shift 2
    "$exe" --port 0 --port-file "$work/$name.port" --threads 32 "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    wait_for_file "$work/$name.port" "$!" "$name"
    printf -v "PORT_$name" '%s' "$(tr -d '[:space:]' <"$work/$name.port")"
}

start academic "$SIMS/academic_affairs/hub-sim-academic-affairs" --username bench --password bench-pass \
    --password-type text
start queue "$SIMS/queue_ticket/hub-sim-queue-ticket" --api-key bench-key --slots 100000000
start kiosk "$SIMS/kiosk/hub-sim-kiosk" --api-token bench-token

# The finance vendor: a private PostgreSQL with the vendor's schema (as tests/sim/finance).
# postgres will not run as root: then as the postgres user the package made.
pgdir=$work/pg
mkdir -p "$pgdir"
echo bench-pg >"$pgdir/pw"
as_pg() {
    if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then
    chmod o+x "$work"  # the postgres user passes through (mktemp -d made it 0700)
    chown -R postgres:postgres "$pgdir"
fi
as_pg $PGBIN/initdb -D "$pgdir/data" -U hub_admin --pwfile="$pgdir/pw" -A scram-sha-256 -E UTF8 \
    --locale=C.UTF-8 -N >"$work/initdb.log" 2>&1 || die "initdb failed: $work/initdb.log"
PORT_pg=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Started directly (not through as_pg, a function: its subshell would get the pid), with
# SIGINT, postgres' fast shutdown, if this script dies.
pg_user=()
[ "$(id -u)" = 0 ] && pg_user=(--reuid=postgres --regid=postgres --init-groups)
setpriv --pdeathsig=INT "${pg_user[@]}" $PGBIN/postgres -D "$pgdir/data" -p "$PORT_pg" -k "$pgdir" -h 127.0.0.1 \
    -c fsync=off -c max_connections=100 >"$work/postgres.log" 2>&1 &
PG_PID=$!
for _ in $(seq 100); do $PGBIN/pg_isready -q -h 127.0.0.1 -p "$PORT_pg" && break; sleep 0.1; done
pg() { PGPASSWORD=bench-pg psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT_pg" -U hub_admin "$@" >/dev/null; }
pg -d postgres -c "CREATE ROLE hub_reader LOGIN PASSWORD 'bench-reader'; CREATE ROLE hub_writer LOGIN PASSWORD 'bench-writer';" \
    -c "CREATE DATABASE cw_finance ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" ||
    die "cannot set up PostgreSQL (log: $work/postgres.log)"
pg -d cw_finance -f "$repo/tests/sim/finance/vendor_schema.sql" || die "cannot load the vendor schema"

mkdir -p "$work/hub/plugins" "$work/hub/var" "$work/drop"
cp -r "$PLUGINS/academic_affairs" "$PLUGINS/queue_ticket" "$PLUGINS/kiosk" "$PLUGINS/finance" "$PLUGINS/hr" \
    "$work/hub/plugins/"
cc -O2 -o "$work/plain-parse" "$repo/bench/adapters/hr_plain_parse.c" -lcsv || die "cannot build hr_plain_parse.c"
echo bench-reader >"$work/hub/finance.pw"
echo bench-pass >"$work/hub/academic.password"
echo bench-key >"$work/hub/queue.key"
echo bench-token >"$work/hub/kiosk.token"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$work/hub/hub.xml" <<HUBXML
<hub>
  <http><address>127.0.0.1</address><port>0</port><portFile>$work/hub/hubd.port</portFile></http>
  <store><path>$work/hub/var/hub.db</path></store>
  <plugins>
    <dir>$work/hub/plugins</dir>
    <plugin name="academic_affairs"><execution>loop</execution><concurrency>16</concurrency><config>
      <endpoint>http://127.0.0.1:$PORT_academic/services/AcademicService</endpoint><username>bench</username>
      <password_file>$work/hub/academic.password</password_file><password_type>text</password_type></config></plugin>
    <plugin name="queue_ticket"><concurrency>16</concurrency><config><base_url>http://127.0.0.1:$PORT_queue</base_url>
      <api_key_file>$work/hub/queue.key</api_key_file></config></plugin>
    <plugin name="kiosk"><concurrency>16</concurrency><config><base_url>http://127.0.0.1:$PORT_kiosk</base_url>
      <api_token_file>$work/hub/kiosk.token</api_token_file></config></plugin>
    <plugin name="finance"><concurrency>16</concurrency></plugin>
    <plugin name="hr"><timeoutMs>60000</timeoutMs><config><drop_dir>$work/drop</drop_dir>
      <arrival>rename</arrival><encoding>gbk</encoding></config></plugin>
  </plugins>
  <sql><sources><finance><dsn>host=127.0.0.1 port=$PORT_pg dbname=cw_finance</dsn><user>hub_reader</user>
    <passwordFile>$work/hub/finance.pw</passwordFile><poolSize>8</poolSize><plugins>finance</plugins></finance></sources></sql>
  <auth><jwt><hs256Secret>$secret</hs256Secret><issuer>hub-bench</issuer><audience>campushub</audience></jwt></auth>
  <catalog><dir>$repo/config/catalog</dir></catalog>
  <calendar><file>$repo/config/calendar/calendar.xml</file></calendar>
  <identity><static>
    <person id="2023010001" name="张三" audience="student"/>
    <person id="admin" name="Hub operator" audience="staff" roles="hub:admin"/>
  </static></identity>
  <logging><level>warning</level></logging>
</hub>
HUBXML
(cd "$work/hub" && exec "$HUBD" --config "$work/hub/hub.xml") >"$work/hub/hubd.log" 2>&1 &
pids+=($!)
wait_for_file "$work/hub/hubd.port" "$!" hubd
HUB=http://127.0.0.1:$(tr -d '[:space:]' <"$work/hub/hubd.port")
token=$("$HUBCTL" token --config "$work/hub/hub.xml" --sub 2023010001 --ttl 3600 | tail -n1)
admin_token=$("$HUBCTL" token --config "$work/hub/hub.xml" --sub admin --ttl 3600 | tail -n1)

# One wrk script per request: method, body, headers.
script() {  # FILE BODY HEADER...
    local file=$1 body=$2; shift 2
    {
        echo 'wrk.method = "POST"'
        printf 'wrk.body = [==[%s]==]\n' "$body"
        for h in "$@"; do printf 'wrk.headers["%s"] = [==[%s]==]\n' "${h%%: *}" "${h#*: }"; done
    } >"$work/$file.lua"
}
SOAP='<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="urn:jwxt:academic:v1"><s:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>bench</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">bench-pass</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body><a:GetTranscript><a:StudentId>2023010001</a:StudentId></a:GetTranscript></s:Body></s:Envelope>'
script academic_direct "$SOAP" "Content-Type: text/xml; charset=utf-8" 'SOAPAction: "urn:jwxt:academic:v1/GetTranscript"'
script academic_hub '{"student_id":"2023010001"}' "Content-Type: application/json" "Authorization: Bearer $token"
script queue_direct '{"item_code":"JW-02","applicant_id":"2023010001"}' "Content-Type: application/json" "X-Api-Key: bench-key"
script queue_hub '{"applicant_id":"2023010001","item_code":"JW-02"}' "Content-Type: application/json" "Authorization: Bearer $token"
script kiosk_direct '{"kiosk_id":"K-LIB-01","document_type":"transcript","holder_id":"2023010001"}' \
    "Content-Type: application/json" "Authorization: Bearer bench-token"
script finance_hub '{"applicant_id":"2023010001","claim_no":"BX202609003"}' "Content-Type: application/json" \
    "Authorization: Bearer $token"
# What the plugin sends, as pgbench sends it: :claim and :who become bound parameters ($1, $2).
cat >"$work/finance_direct.sql" <<'SQL'
SELECT claim_no, applicant_name, amount, status_code, status_name, submitted_at, approved_at, remark FROM cw.v_hub_reimbursement WHERE claim_no = :claim AND applicant_id = :who;
SQL
script kiosk_hub '{"holder_id":"2023010001","kiosk_id":"K-LIB-01","document_type":"transcript"}' \
    "Content-Type: application/json" "Authorization: Bearer $token"

# Each request answered as it should before anything is measured.
check() {  # NAME URL EXPECTED-STATUS
    local args=() line
    while IFS= read -r line; do
        case $line in
            wrk.body*) args+=(--data-binary "$(sed -E 's/^wrk.body = \[==\[(.*)\]==\]$/\1/' <<<"$line")") ;;
            wrk.headers*) args+=(-H "$(sed -E 's/^wrk.headers\["([^"]+)"\] = \[==\[(.*)\]==\]$/\1: \2/' <<<"$line")") ;;
        esac
    done <"$work/$1.lua"
    local got
    got=$(curl -s -o "$work/$1.check" -w '%{http_code}' -X POST "${args[@]}" "$2")
    [ "$got" = "$3" ] || die "$1: $2 answered $got, not $3: $(head -c 300 "$work/$1.check")"
}
A_DIRECT=http://127.0.0.1:$PORT_academic/services/AcademicService
Q_DIRECT=http://127.0.0.1:$PORT_queue/api/v1/tickets
K_DIRECT=http://127.0.0.1:$PORT_kiosk/v2/print-jobs
A_HUB=$HUB/api/v1/systems/academic_affairs/operations/get_transcript
Q_HUB=$HUB/api/v1/systems/queue_ticket/operations/book_ticket
K_HUB=$HUB/api/v1/systems/kiosk/operations/print_certificate
check academic_direct "$A_DIRECT" 200
check academic_hub "$A_HUB" 200
check queue_direct "$Q_DIRECT" 201
check queue_hub "$Q_HUB" 200
check kiosk_direct "$K_DIRECT" 202
check kiosk_hub "$K_HUB" 200
F_HUB=$HUB/api/v1/systems/finance/operations/reimbursement_status
check finance_hub "$F_HUB" 200

# pgbench --log (one line per query, latency in us in column 3) -> "p50_ms p99_ms q/s failures"
measure_pg() {  # NAME
    local args=(-n -M extended -c "$CONNECTIONS" -j 1 -f "$work/$1.sql" -D claim=BX202609003 -D who=2023010001
                -h 127.0.0.1 -p "$PORT_pg" -U hub_reader cw_finance)
    PGPASSWORD=bench-reader pgbench -T "${WARMUP%s}" "${args[@]}" >/dev/null 2>&1
    rm -f "$work/$1".log*
    PGPASSWORD=bench-reader pgbench -T "${DURATION%s}" --log --log-prefix="$work/$1.log" "${args[@]}" \
        >"$work/$1.out" 2>&1 || die "pgbench failed: $(tail -3 "$work/$1.out")"
    cat "$work/$1".log* | awk '{ print $3 }' | sort -n | awk -v out="$work/$1.out" '
        { v[NR] = $1 } END {
            while ((getline line < out) > 0) if (line ~ /^tps = /) { split(line, a, " "); tps = a[3] }
            printf "%.3f %.3f %.0f 0\n", v[int(NR * 0.5)] / 1000, v[int(NR * 0.99)] / 1000, tps }'
}

# wrk --latency output -> "p50_ms p99_ms req/s non2xx+errors"
parse_wrk() {
    awk '
    function ms(v) {
        if (v ~ /us$/) return v * 0.001
        if (v ~ /ms$/) return v + 0
        if (v ~ /s$/) return v * 1000
        return v + 0
    }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Requests\/sec/ { rps = $2 }
    /Non-2xx/ { bad += $NF }
    /Socket errors/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
    END { printf "%.3f %.3f %.0f %d\n", p50, p99, rps, bad }' "$1"
}
measure() {  # NAME URL
    wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -s "$work/$1.lua" "$2" >/dev/null
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/$1.lua" "$2" >"$work/$1.wrk"
    parse_wrk "$work/$1.wrk"
}

# HR_FILES exports of HR_ROWS rows as the HR system writes them (GBK, Chinese header
# and values, quoted fields with commas and line breaks), each its own content
# (the plugin skips content it has read before).
mkdir -p "$work/hrfiles"
python3 - "$work/hrfiles" "$HR_FILES" "$HR_ROWS" <<'PY'
import sys
folder, files, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
statuses = ["在职", "休假", "退休", "离职"]
for n in range(files):
    with open(f"{folder}/staff-{n:05d}.csv", "w", encoding="gbk", newline="") as f:
        f.write("工号,姓名,在职状态,职称,入职日期,人员类别\r\n")
        for i in range(rows):
            f.write(f'T{n:05d}{i:04d},张三{i % 100},{statuses[i % 4]},"讲师, 第{i % 7}级",20{i % 20:02d}-0{1 + i % 9}-1{i % 10},"合同制\r\n（长期）"\r\n')
PY

# Each export parsed plainly, then renamed into the drop folder and read by one
# scan through hubd -> "p50_ms p99_ms p50_ms p99_ms failures" (plain, then hub).
measure_hr() {
    local f n=0 bad=0 rows secs start end answer
    : >"$work/hr_direct.ms"
    : >"$work/hr_hub.ms"
    for f in "$work"/hrfiles/*.csv; do
        read -r rows secs < <("$work/plain-parse" "$f")
        [ "$rows" = $((HR_ROWS + 1)) ] || die "hr_plain_parse read $rows records of $f, not $((HR_ROWS + 1))"
        awk -v s="$secs" 'BEGIN { printf "%.3f\n", s * 1000 }' >>"$work/hr_direct.ms"
        cp "$f" "$work/drop/.staging"
        mv "$work/drop/.staging" "$work/drop/$(basename "$f")"  # renamed in: read at once
        start=$(date +%s%N)
        answer=$(curl -s -X POST -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' \
            -d '{}' "$HUB/api/v1/systems/hr/operations/scan") || answer=
        end=$(date +%s%N)
        awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", (b - a) / 1e6 }' >>"$work/hr_hub.ms"
        grep -q "\"status\":\"processed\",.*\"rows\":$HR_ROWS," <<<"$answer" || bad=$((bad + 1))
        n=$((n + 1))
    done
    pct() { sort -n "$1" | awk -v q="$2" '{ v[NR] = $1 } END { i = int(NR * q); if (i < 1) i = 1; printf "%.3f", v[i] }'; }
    echo "$(pct "$work/hr_direct.ms" 0.5) $(pct "$work/hr_direct.ms" 0.99) $(pct "$work/hr_hub.ms" 0.5) $(pct "$work/hr_hub.ms" 0.99) $bad"
}

say "hubd $HUB; simulators :$PORT_academic :$PORT_queue :$PORT_kiosk, PostgreSQL :$PORT_pg; wrk -t1 -c$CONNECTIONS, $DURATION per run; HR $HR_FILES files of $HR_ROWS rows; load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
printf '%-18s %10s %10s %10s %10s %12s %12s %8s\n' adapter "direct p50" "hub p50" "direct p99" "hub p99" "added p50" "added p99" "errors"
for adapter in academic finance hr queue kiosk; do
    case $adapter in
        academic) d=$A_DIRECT h=$A_HUB name=academic_affairs ;;
        queue) d=$Q_DIRECT h=$Q_HUB name=queue_ticket ;;
        kiosk) d=$K_DIRECT h=$K_HUB name=kiosk ;;
        finance) d=postgres h=$F_HUB name=finance ;;
        hr) name="hr ($HR_ROWS rows)" ;;
    esac
    if [ "$adapter" = hr ]; then
        read -r dp50 dp99 hp50 hp99 hbad < <(measure_hr)
        dbad=0
    elif [ "$adapter" = finance ]; then
        read -r dp50 dp99 _ dbad < <(measure_pg finance_direct)
    else
        read -r dp50 dp99 _ dbad < <(measure "${adapter}_direct" "$d")
    fi
    [ "$adapter" = hr ] || read -r hp50 hp99 _ hbad < <(measure "${adapter}_hub" "$h")
    awk -v n="$name" -v dp50="$dp50" -v hp50="$hp50" -v dp99="$dp99" -v hp99="$hp99" -v bad=$((dbad + hbad)) \
        'BEGIN { printf "%-18s %8.2fms %8.2fms %8.2fms %8.2fms %10.2fms %10.2fms %8d\n", n, dp50, hp50, dp99, hp99, hp50 - dp50, hp99 - dp99, bad }'
done
say "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
