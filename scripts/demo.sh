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

port=${HUB_DEMO_PORT:-8080}
sim_port=${HUB_DEMO_SIM_PORT:-8091}

"$build/tests/sim/hub-sim-student-affairs" --host 127.0.0.1 --port "$sim_port" &
sim=$!
trap 'kill $sim 2>/dev/null || true; wait $sim 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$sim_port/health" >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<MSG

CampusHub demo
  hub:    http://127.0.0.1:$port/   (GET /healthz, GET /api/v1/systems)
  vendor: http://127.0.0.1:$sim_port/ (simulated student affairs system)

Try, in another terminal:
  curl -s -X POST http://127.0.0.1:$port/api/v1/systems/student_affairs/operations/get_student \\
       -H 'Content-Type: application/json' -d '{"student_id":"2023010001"}'

MSG

HUB_DEMO_SIM_URL="http://127.0.0.1:$sim_port" \
  "$build/core/app/hubd" --config config/hub.xml \
  --define http.port="$port" \
  --define plugins.dir="$build/plugins-enabled" || true
