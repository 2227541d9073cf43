#!/usr/bin/env bash
# Installs what CampusHub needs to build, test and run, from Debian 12's
# packages. Safe to run again: it does nothing when everything is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  libpoco-dev libboost-dev libboost-filesystem-dev libboost-context-dev libssl-dev
  libldap-dev libxml2-dev libxml2-utils libzmq3-dev cppzmq-dev libsqlite3-dev rapidjson-dev
  # the HR reference adapter's CSV parser (plugins/hr)
  libcsv-dev
  libgoogle-perftools-dev
  # hubd's sd_notify (Type=notify); the .deb and its checks (scripts/package.sh, the package test);
  # the manual pages (help2man, from each program's --help)
  libsystemd-dev dpkg-dev fakeroot lintian help2man
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev
  # connectors/sql (libpq) and its tests' private server (tests/support PostgresServer);
  # odbc-postgresql only for bench/sql's side-by-side measurement of the client libraries
  libpq-dev postgresql-15 odbc-postgresql unixodbc-dev
  slapd ldap-utils openssl valgrind
  prometheus
  # tests/cluster and bench/cluster put Debian's nginx in front of several hubd
  # nodes (run as a child process with its own configuration, never the service)
  nginx
  # scripts/test.sh's fuzz stage: clang, its sanitizer and libFuzzer runtimes, llvm-symbolizer
  clang-14 libclang-rt-14-dev libfuzzer-14-dev llvm-14
  # the web console's browser test (core/console): Debian's chromium, driven by playwright-core
  chromium fonts-wqy-microhei
)
# The web console is built with node and npm (core/console/web). A machine
# that has them already (e.g. a newer Node.js packaged elsewhere) keeps its own:
# Debian's npm would conflict with such a nodejs.
command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # slapd's postinst must not start a system-wide server or ask questions.
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # prometheus is here for promtool (tests check /metrics with it), not its server.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  # Nor nginx's: the tests start their own on loopback ports.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
  elif [ -s /run/nginx.pid ] && command -v nginx >/dev/null 2>&1; then
    $sudo nginx -s quit >/dev/null 2>&1 || true
  fi
fi
