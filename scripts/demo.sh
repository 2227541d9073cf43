#!/usr/bin/env bash
# Builds CampusHub and runs the demo in the foreground: hubd with config/hub.xml
# (SQLite under var/), the reference student affairs plugin, and the simulated
# student affairs system it wraps. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build=${HUB_BUILD_DIR:-build}
mkdir -p var

# The demo's token signing secret, made once and kept private.
if [ ! -s var/jwt-secret ]; then
  (umask 077 && openssl rand -base64 48 | tr -d '\n' > var/jwt-secret)
fi

port=${HUB_DEMO_PORT:-8080}
sim_port=${HUB_DEMO_SIM_PORT:-8091}

"$build/tests/sim/hub-sim-student-affairs" --host 127.0.0.1 --port "$sim_port" &
pids=($!)
# The reference event peers: the portal prints every event it receives, the
# approval engine approves what it is asked to (amount rule, see its config).
# CURVE throughout: each peer makes its key pair under var/keys/ at first run
# (config/hub.xml lists those public keys) and admits only the hub's public key,
# which hubd makes at its first start (var/hub-curve.pub; the peers wait for it).
"$build/core/events/hub-portal-consumer" --listen tcp://127.0.0.1:5601 \
  --public-key var/keys/portal.pub --secret-key var/keys/portal.key --hub-public-key var/hub-curve.pub \
  | sed -u 's/^/[portal] /' &
pids+=($!)
"$build/core/events/hub-approval-engine" --listen tcp://127.0.0.1:5602 --hub tcp://127.0.0.1:5600 \
  --public-key var/keys/approval-engine.pub --secret-key var/keys/approval-engine.key \
  --hub-public-key var/hub-curve.pub \
  | sed -u 's/^/[approval-engine] /' &
pids+=($!)
trap 'kill "${pids[@]}" 2>/dev/null || true; pkill -P $$ 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM

# hubd reads the peers' public keys when it starts.
for _ in $(seq 100); do
  [ -s var/keys/portal.pub ] && [ -s var/keys/approval-engine.pub ] && break
  sleep 0.1
done

for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$sim_port/health" >/dev/null 2>&1 && break
  sleep 0.1
done

student_token=$("$build/core/hubctl/hubctl" token --config config/hub.xml --sub 2023010001 --ttl 86400)
clerk_token=$("$build/core/hubctl/hubctl" token --config config/hub.xml --sub clerk.jwc --ttl 86400)
admin_token=$("$build/core/hubctl/hubctl" token --config config/hub.xml --sub admin --ttl 28800)

cat <<MSG

CampusHub demo
  hub:    http://127.0.0.1:$port/   (GET /healthz, GET /api/v1/systems)
  vendor: http://127.0.0.1:$sim_port/ (simulated student affairs system)

  console: http://127.0.0.1:$port/console   (log in with the admin token below; docs/console.md)

Demo tokens (valid 24 h; the admin's 8 h):
  admin (hub:admin, the console):  ADMIN=$admin_token
  student 张三 (2023010001):       STUDENT=$student_token
  clerk 李文, academic affairs:   CLERK=$clerk_token

Try, in another terminal (fetches 张三's record through the plugin from the vendor system):
  curl -s -X POST http://127.0.0.1:$port/api/v1/systems/student_affairs/operations/get_student -H 'Content-Type: application/json' -d '{"student_id":"2023010001"}' -H "Authorization: Bearer $student_token"
Another student's record is not 张三's to read (403, before the plugin runs):
  curl -s -X POST http://127.0.0.1:$port/api/v1/systems/student_affairs/operations/get_student -H 'Content-Type: application/json' -d '{"student_id":"2024020002"}' -H "Authorization: Bearer $student_token"

More, after pasting the two token lines above:
  curl -s "http://127.0.0.1:$port/api/v1/catalog/services?category=undergraduate&pageSize=3" \\
       -H "Authorization: Bearer \$STUDENT"
  curl -s http://127.0.0.1:$port/api/v1/catalog/categories -H "Authorization: Bearer \$CLERK"
  # apply for leave: reviewed by the approval engine, watch the [portal] lines
  curl -s -X POST http://127.0.0.1:$port/api/v1/applications -H "Authorization: Bearer \$STUDENT" \\
       -H 'Idempotency-Key: demo-1' -d '{"item_id":"student-leave","form":{"leave-type":"sick",
       "from":"2026-12-01","to":"2026-12-02","reason":"发烧","phone":"13800000000"}}'
  curl -s http://127.0.0.1:$port/api/v1/applications -H "Authorization: Bearer \$STUDENT"

MSG

HUB_DEMO_SIM_URL="http://127.0.0.1:$sim_port" \
  "$build/core/app/hubd" --config config/hub.xml \
  --define http.port="$port" \
  --define plugins.dir="$build/plugins-enabled" || true
