#!/usr/bin/env bash
# config/systemd/hubd.service, checked offline (no running systemd needed):
# `systemd-analyze verify` prints nothing and exits 0, and `systemd-analyze
# security --offline=true` rates its exposure at most 2.0. verify checks that
# ExecStart's program exists, and /usr/sbin/hubd does only once the package is
# installed: it checks a copy whose ExecStart names the build's hubd (the
# package test verifies the installed unit as it is).
set -euo pipefail
unit=$1
hubd=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=/usr/sbin/hubd |ExecStart=$hubd |" "$unit" >"$tmp/hubd.service"
if ! grep -q "^ExecStart=$hubd " "$tmp/hubd.service"; then
  echo "FAIL: no 'ExecStart=/usr/sbin/hubd ' line in $unit"
  exit 1
fi
if ! out=$(systemd-analyze verify "$tmp/hubd.service" 2>&1) || [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify:"
  echo "$out"
  exit 1
fi
security=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || true
level=$(sed -n 's/.*Overall exposure level for hubd\.service: \([0-9][0-9.]*\).*/\1/p' <<<"$security")
if [ -z "$level" ]; then
  echo "FAIL: no exposure level in:"
  echo "$security"
  exit 1
fi
if ! awk -v level="$level" 'BEGIN { exit !(level <= 2.0) }'; then
  echo "$security"
  echo "FAIL: exposure $level, more than 2.0"
  exit 1
fi
echo "verify: clean; exposure: $level"
