# Sourced by package_test.sh. A machine without systemd (a container, as CI's
# may be) still gets the package tested under a real one: systemd 252 boots as
# PID 1 of its own PID and mount namespaces, with its own /run, /tmp and
# /var/tmp, so that what it does at boot (clean /tmp, mount /run) touches
# nothing of the machine's. It starts only journald and what the test asks
# for: every unit the machine would start at boot is masked for this boot
# (in its private /run), since its network and its files are the machine's.
#
#   private_systemd_start   boots it; sets private_systemd_pid; 1 if it can't
#                           (its own messages go to $private_systemd_log if set)
#   in_systemd CMD...       runs CMD in its namespaces (systemctl, journalctl)
#   private_systemd_stop    kills it and everything it started

private_systemd_pid=""

in_systemd() {
  nsenter -t "$private_systemd_pid" -m -p -- "$@"
}

private_systemd_start() {
  command -v unshare >/dev/null && command -v nsenter >/dev/null && [ -x /lib/systemd/systemd ] || return 1
  # The units to mask: whatever sysinit, sockets and the machine's own targets
  # would pull in, but journald and its sockets (the test reads the journal).
  local masks=() unit
  for unit in /lib/systemd/system/{sysinit,sockets,timers,basic,multi-user}.target.wants/* \
    /etc/systemd/system/*.target.wants/*; do
    [ -e "$unit" ] || [ -L "$unit" ] || continue
    unit=${unit##*/}
    case $unit in systemd-journald.service | systemd-journald*.socket) continue ;; esac
    masks+=("$unit")
  done
  local boot
  boot=$(cat <<'EOF'
set -e
mount -t proc proc /proc
for dir in /run /tmp /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "$dir"; done
chmod 755 /run
mkdir -p /run/systemd/system
cat >/run/systemd/system/campushub-test.target <<'UNIT'
[Unit]
Description=CampusHub package test: journald only
Requires=systemd-journald.service
After=systemd-journald.service
UNIT
for unit in "$@"; do ln -sf /dev/null "/run/systemd/system/$unit"; done
exec /lib/systemd/systemd --system --unit=campushub-test.target --log-target=console --show-status=no
EOF
  )
  unshare --pid --fork --mount --propagation private -- bash -c "$boot" private-systemd "${masks[@]}" \
    </dev/null >>"${private_systemd_log:-/dev/null}" 2>&1 &
  local unshare_pid=$!
  for _ in $(seq 100); do
    private_systemd_pid=$(pgrep -P "$unshare_pid" -x systemd || true)
    [ -n "$private_systemd_pid" ] && break
    kill -0 "$unshare_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  [ -n "$private_systemd_pid" ] || return 1
  local state=""
  for _ in $(seq 300); do
    state=$(in_systemd systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) return 0 ;; esac
    sleep 0.1
  done
  echo "the private systemd did not come up (state: ${state:-none})"
  private_systemd_stop
  return 1
}

private_systemd_stop() {
  [ -n "$private_systemd_pid" ] || return 0
  # SIGKILL to a PID namespace's init ends every process in it.
  kill -KILL "$private_systemd_pid" 2>/dev/null || true
  while kill -0 "$private_systemd_pid" 2>/dev/null; do sleep 0.1; done
  private_systemd_pid=""
}
