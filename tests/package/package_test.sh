#!/usr/bin/env bash
# The Debian packages end to end, on this machine, as root (CI runs it so):
# build them (scripts/package.sh, lintian without errors), install them with
# dpkg -i, start the installed hubd as the campushub user with the installed
# configuration: under systemd with the unit's whole hardening (the machine's
# systemd, or one booted for this test in namespaces of its own:
# private_systemd.sh), else as the unit would (setpriv to campushub, in
# /var/lib/campushub); call it over HTTP (/healthz, authenticated calls with a
# token from the installed hubctl, the console, the shipped flows deployed), see
# it active, in the journal and
# feeding the watchdog, reload it (SIGHUP), stop it cleanly, upgrade to a
# rebuilt package (revision 2) keeping a locally edited conffile, and purge
# (state and secret gone, the user locked). Whatever it installed or made is
# removed on the way out, failed or not.
#   package_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2

skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i, a system user); CI runs it as root"
command -v dpkg >/dev/null && command -v dpkg-deb >/dev/null || skip "dpkg is missing (not a Debian system)"
command -v dpkg-shlibdeps >/dev/null || skip "dpkg-shlibdeps is missing (Debian package dpkg-dev; scripts/setup.sh)"
if dpkg-query -W -f='${Status}\n' campushub campushub-dev 2>/dev/null | grep -q ' installed$'; then
  skip "campushub is installed on this machine; this test would replace and then purge it"
fi
if getent passwd campushub >/dev/null; then
  skip "a campushub user exists already; this test makes (and removes) its own"
fi

work=$(mktemp -d /tmp/campushub-package-test.XXXXXX)
. "$src/tests/package/private_systemd.sh"
# systemd: "machine" (it runs this machine), "private" (booted for this test,
# tests/package/private_systemd.sh) or "" (neither could be had: hubd is then
# started as the unit would start it, and the test says so).
systemd=""
sd=()
if [ -d /run/systemd/system ]; then
  systemd=machine
elif private_systemd_log=$work/private-systemd.log private_systemd_start; then
  systemd=private
  sd=(in_systemd)
else
  echo "NOTE: no systemd here and none could be booted (see $work/private-systemd.log): hubd runs under setpriv"
fi
echo "== systemd: ${systemd:-none}"
dropin=/run/systemd/system/hubd.service.d
hubd_pid=""
port=""

fail() {
  echo "FAIL: $*"
  [ -f "$work/hubd.log" ] && { echo "--- hubd's log:"; tail -n 40 "$work/hubd.log"; }
  exit 1
}

# dpkg waits for no lock: another apt or dpkg run on the machine makes it fail
# at once. Retry while that is the reason, for up to two minutes.
run_dpkg() {
  local out
  for _ in $(seq 120); do
    if out=$(dpkg "$@" 2>&1); then
      echo "$out" >"$work/dpkg.log"
      return 0
    fi
    grep -q 'lock' <<<"$out" || { echo "$out"; return 1; }
    sleep 1
  done
  echo "$out"
  return 1
}

stop_hubd() {
  if [ -n "$systemd" ]; then
    "${sd[@]}" systemctl stop hubd.service || return 1
    # A clean stop: hubd exited 0 within TimeoutStopSec, nothing killed.
    local result
    result=$("${sd[@]}" systemctl show -p Result -p ExecMainStatus --value hubd.service | paste -sd' ')
    [ "$result" = "success 0" ] || { echo "hubd.service stopped with: $result"; return 1; }
  elif [ -n "$hubd_pid" ]; then
    kill -TERM "$hubd_pid" 2>/dev/null || true
    local status=0
    wait "$hubd_pid" || status=$?
    hubd_pid=""
    return $status
  fi
}

cleanup() {
  local status=$?
  trap - EXIT
  stop_hubd >/dev/null 2>&1 || true
  if [ "$systemd" = machine ]; then
    rm -rf "$dropin"
    systemctl daemon-reload >/dev/null 2>&1 || true
  fi
  private_systemd_stop
  run_dpkg --purge campushub campushub-dev >/dev/null 2>&1 || true
  getent passwd campushub >/dev/null && userdel campushub >/dev/null 2>&1
  getent group campushub >/dev/null && groupdel campushub >/dev/null 2>&1
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Starts the installed hubd as the unit would, on a free port (the installed
# configuration's 8080 may be taken on a shared machine) told through a file.
start_hubd() {
  local portfile=/var/lib/campushub/package-test.port
  rm -f "$portfile"
  if [ -n "$systemd" ]; then
    # A short watchdog period, so that the test sees hubd's WATCHDOG=1 pings.
    printf '[Service]\nExecStart=\nExecStart=/usr/sbin/hubd --config /etc/campushub/hub.xml -D http.port=0 -D http.portFile=%s\nWatchdogSec=2s\n' \
      "$portfile" | "${sd[@]}" sh -c "mkdir -p $dropin && cat >$dropin/package-test.conf"
    "${sd[@]}" systemctl daemon-reload
    # Type=notify: this returns once hubd has said READY=1.
    "${sd[@]}" systemctl restart hubd.service ||
      { "${sd[@]}" journalctl -u hubd --no-pager -n 40 >"$work/hubd.log"; fail "systemctl restart hubd"; }
  else
    (cd /var/lib/campushub && exec setpriv --reuid=campushub --regid=campushub --init-groups --no-new-privs \
      --inh-caps=-all --bounding-set=-all -- /usr/sbin/hubd --config /etc/campushub/hub.xml \
      -D http.port=0 -D "http.portFile=$portfile") >>"$work/hubd.log" 2>&1 &
    hubd_pid=$!
  fi
  for _ in $(seq 300); do
    [ -s "$portfile" ] && break
    [ -z "$hubd_pid" ] || kill -0 "$hubd_pid" 2>/dev/null || fail "hubd exited at start"
    sleep 0.1
  done
  [ -s "$portfile" ] || fail "hubd did not listen within 30 s"
  port=$(cat "$portfile")
  local pid=$hubd_pid
  [ -z "$systemd" ] || pid=$("${sd[@]}" systemctl show -p MainPID --value hubd.service)
  [ "$("${sd[@]}" ps -o user= -p "$pid" | tr -d ' ')" = campushub ] || fail "hubd (pid $pid) does not run as campushub"
}

# Under systemd: the unit is active, hubd's log lines are in the journal, and
# the watchdog is fed (WatchdogTimestamp moves on between two looks 1.5 s apart).
expect_systemd() {
  [ -n "$systemd" ] || return 0
  local state
  state=$("${sd[@]}" systemctl show -p ActiveState -p SubState --value hubd.service | paste -sd' ')
  [ "$state" = "active running" ] || fail "hubd.service is $state"
  "${sd[@]}" journalctl -u hubd --no-pager >"$work/hubd.log" 2>&1
  grep -q 'hubd\[' "$work/hubd.log" || fail "no line of hubd's in the journal"
  local first second
  first=$("${sd[@]}" systemctl show -p WatchdogTimestampMonotonic --value hubd.service)
  sleep 1.5
  second=$("${sd[@]}" systemctl show -p WatchdogTimestampMonotonic --value hubd.service)
  [ "$first" != "$second" ] && [ "$second" != 0 ] || fail "the watchdog is not fed ($first, then $second)"
}

http() {  # http PATH [TOKEN] -> "STATUS BODY"
  local auth=()
  [ -z "${2:-}" ] || auth=(-H "Authorization: Bearer $2")
  curl -sS -m 10 -o "$work/body" -w '%{http_code}' "${auth[@]}" "http://127.0.0.1:$port$1"
}

expect_calls() {
  [ "$(http /healthz)" = 200 ] || fail "/healthz"
  local token
  token=$(/usr/bin/hubctl token --config /etc/campushub/hub.xml --sub package-test) || fail "hubctl token"
  [ "$(http /api/v1/catalog/services/visa-letter "$token")" = 200 ] || fail "catalogue item: $(cat "$work/body")"
  [ "$(http /api/v1/systems "$token")" = 200 ] || fail "/api/v1/systems: $(cat "$work/body")"
  grep -q '"name":"student_affairs"' "$work/body" || fail "the reference plugin is not loaded: $(cat "$work/body")"
  [ "$(http /api/v1/catalog/services/visa-letter)" = 401 ] || fail "a call without a token was not refused"
  # The console from /usr/share/campushub/console (hubd's default beside /usr/sbin).
  [ "$(http /console)" = 200 ] || fail "/console: $(cat "$work/body")"
  grep -q '/console/assets/' "$work/body" || fail "/console is not the console's index.html: $(head -c 300 "$work/body")"
  # The shipped flows (flows.dir in the packaged hub.xml) are deployed.
  [ "$(http /admin/flows "$token")" = 200 ] || fail "/admin/flows: $(cat "$work/body")"
  grep -q '"id":"enrolment-certificate"' "$work/body" || fail "the shipped flows are not deployed: $(cat "$work/body")"
}

echo "== build the packages (revision 1) with lintian"
HUB_BUILD_DIR=$build HUB_PACKAGE_NO_BUILD=1 "$src/scripts/package.sh" "$work/r1" >"$work/package.log" 2>&1 ||
  { cat "$work/package.log"; fail "scripts/package.sh"; }
grep -E '^(E|W): ' "$work/package.log" || true

echo "== install"
run_dpkg -i "$work"/r1/campushub_*.deb "$work"/r1/campushub-dev_*.deb || fail "dpkg -i"
for f in /usr/sbin/hubd /usr/bin/hubctl /usr/lib/campushub/hub-plugin-worker \
  /usr/lib/campushub/plugins/student_affairs/plugin.xml /usr/share/campushub/catalog/catalog.xsd \
  /usr/share/campushub/calendar/calendar.xml /usr/share/campushub/flows/enrolment-certificate.bpmn \
  /usr/share/campushub/console/index.html /usr/share/doc/campushub/operator.md /usr/share/doc/campushub/console.md \
  /lib/systemd/system/hubd.service /etc/campushub/hub.xml \
  /usr/include/campushub/plugin.h /usr/share/campushub-sdk/plugin.xsd; do
  [ -e "$f" ] || fail "$f is not installed"
done
dpkg -L campushub-dev | grep -q '/CampusHubSDKConfig.cmake$' || fail "no CMake package in campushub-dev"
dpkg -L campushub-dev | grep -q '/campushub-conformance$' || fail "no conformance kit in campushub-dev"
dpkg-query -W -f='${Conffiles}\n' campushub | grep -q '^ /etc/campushub/hub.xml ' || fail "hub.xml is not a conffile"
getent passwd campushub | grep -q ':/var/lib/campushub:/usr/sbin/nologin$' || fail "no campushub system user"
[ "$(stat -c '%U %a' /var/lib/campushub)" = "campushub 750" ] || fail "/var/lib/campushub: $(stat -c '%U %a' /var/lib/campushub)"
[ "$(stat -c '%U:%G %a' /etc/campushub/jwt-secret)" = "root:campushub 640" ] || fail "jwt-secret's owner or mode"
out=$(systemd-analyze verify /lib/systemd/system/hubd.service 2>&1) && [ -z "$out" ] || fail "verify: $out"

echo "== edit the conffile, start as campushub, call"
# The operator's edits: a person allowed to call, and the reference plugin's vendor URL.
sed -i 's|</plugins>|<plugin name="student_affairs"><config><base_url>http://127.0.0.1:9</base_url></config></plugin></plugins>|;
        s|</hub>|<identity><static><person id="package-test" name="测试员" audience="student staff" roles="hub:admin"/></static></identity></hub>|' \
  /etc/campushub/hub.xml
secret=$(sha256sum /etc/campushub/jwt-secret)
start_hubd
expect_calls
expect_systemd

echo "== reload (SIGHUP) keeps serving"
if [ -n "$systemd" ]; then "${sd[@]}" systemctl reload hubd.service; else kill -HUP "$hubd_pid"; fi
for _ in $(seq 100); do
  grep -q 'reload done' "$work/hubd.log" 2>/dev/null && break
  [ -z "$systemd" ] || "${sd[@]}" journalctl -u hubd --no-pager >"$work/hubd.log" 2>/dev/null
  sleep 0.1
done
grep -q 'reload done' "$work/hubd.log" || fail "no reload after SIGHUP"
expect_calls
expect_systemd

# docs/operator.md, "First day", step 4, as written there: the operator's own
# copy of the catalogue under /etc (one restart), then edit, validate, reload.
echo "== the operator's catalogue in /etc: edit, validate, reload"
reloads() {
  [ -z "$systemd" ] || "${sd[@]}" journalctl -u hubd --no-pager >"$work/hubd.log" 2>/dev/null
  grep -c 'reload done' "$work/hubd.log" || true
}
cp -r /usr/share/campushub/catalog /etc/campushub/catalog
sed -i 's|<dir>/usr/share/campushub/catalog</dir>|<dir>/etc/campushub/catalog</dir>|' /etc/campushub/hub.xml
grep -q '<dir>/etc/campushub/catalog</dir>' /etc/campushub/hub.xml || fail "catalog.dir is not in the shipped hub.xml as operator.md says"
start_hubd
sed -i '/<item id="going-abroad-approval"/s/timeLimit="10"/timeLimit="7"/' /etc/campushub/catalog/12-international.xml
/usr/bin/hubctl catalog validate /etc/campushub/catalog >"$work/validate.log" 2>&1 || { cat "$work/validate.log"; fail "hubctl catalog validate"; }
before=$(reloads)
if [ -n "$systemd" ]; then "${sd[@]}" systemctl reload hubd.service; else kill -HUP "$hubd_pid"; fi
for _ in $(seq 100); do
  [ "$(reloads)" -gt "$before" ] && break
  sleep 0.1
done
[ "$(reloads)" -gt "$before" ] || fail "no reload after the catalogue's edit"
token=$(/usr/bin/hubctl token --config /etc/campushub/hub.xml --sub package-test)
[ "$(http /api/v1/catalog/services/going-abroad-approval "$token")" = 200 ] || fail "edited item: $(cat "$work/body")"
grep -q '"timeLimitDays":7' "$work/body" || fail "the edited catalogue is not served after the reload: $(cat "$work/body")"
expect_calls
stop_hubd || fail "hubd did not stop cleanly"

echo "== upgrade to revision 2, the edited conffile kept"
HUB_BUILD_DIR=$build HUB_PACKAGE_NO_BUILD=1 HUB_PACKAGE_NO_LINTIAN=1 HUB_PACKAGE_RELEASE=2 \
  "$src/scripts/package.sh" "$work/r2" >"$work/package.log" 2>&1 || { cat "$work/package.log"; fail "rebuild"; }
run_dpkg -i --force-confold "$work"/r2/campushub_*.deb "$work"/r2/campushub-dev_*.deb || fail "dpkg -i (upgrade)"
[ "$(dpkg-query -W -f='${Version}' campushub)" = "$(dpkg-deb -f "$work"/r2/campushub_*.deb Version)" ] || fail "not upgraded"
grep -q 'package-test' /etc/campushub/hub.xml || fail "the local edit of hub.xml was lost in the upgrade"
[ "$(sha256sum /etc/campushub/jwt-secret)" = "$secret" ] || fail "the JWT secret changed in the upgrade"
start_hubd
expect_calls
expect_systemd
stop_hubd || fail "hubd did not stop cleanly"

echo "== purge"
# The operator's own files under /etc are theirs (dpkg leaves them): gone first.
rm -rf /etc/campushub/catalog
run_dpkg --purge campushub campushub-dev || fail "dpkg --purge"
for f in /usr/sbin/hubd /var/lib/campushub /etc/campushub /lib/systemd/system/hubd.service; do
  [ ! -e "$f" ] || fail "$f is left after purge"
done
if getent passwd campushub >/dev/null; then
  passwd -S campushub | grep -q ' L ' || fail "the campushub user is left unlocked"
fi
echo "PASS"
