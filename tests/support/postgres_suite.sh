#!/usr/bin/env bash
# The suite's PostgreSQL 15 for ctest's "pg:" run (hub_test(... BOTH_BACKENDS)):
#   postgres_suite.sh start DIR   a fresh cluster in DIR on a free loopback port;
#                                 DIR/port and DIR/pw (hub_admin's password) tell
#                                 the tests (PostgresServer::attach)
#   postgres_suite.sh stop DIR    fast shutdown, DIR removed
# Safe to run twice: start stops and removes what an earlier run left in DIR.
# As root (CI), the server runs as the package's postgres user.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?the folder}
bin=/usr/lib/postgresql/15/bin
as_postgres=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "no postgres user: install postgresql-15" >&2; exit 1; }
    as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi

# Immediate shutdown: the data is thrown away, so no shutdown checkpoint is
# written (after a whole run that waited up to the 30 s of a fast one). The
# folder, a few GB after a run (a database per test), is renamed at once and
# removed in the background, so the run does not wait for it either.
stop() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        "${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    if [ -e "$dir" ]; then
        local gone="$dir.removing.$$"
        mv "$dir" "$gone" && (setsid rm -rf "$gone" </dev/null >/dev/null 2>&1 &)
    fi
}

# A port nobody listens on, below the kernel's ephemeral range (as freePort() does).
free_port() {
    local low port
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % (low - 20000)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "no free port" >&2
    exit 1
}

case $action in
start)
    stop
    mkdir -p "$dir"
    chmod 755 "$dir"
    head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/pw"
    [ ${#as_postgres[@]} = 0 ] || chown -R postgres:postgres "$dir"
    "${as_postgres[@]}" "$bin/initdb" -D "$dir/data" -U hub_admin --pwfile="$dir/pw" -A scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    # fsync off: the data is the tests'. Enough connections for every hub of
    # tests running two per core, each with its pool.
    "${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=600 -c shared_buffers=64MB" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    chmod 644 "$dir/pw" "$dir/port"
    echo "PostgreSQL for the pg: run on 127.0.0.1:$port, data in $dir"
    ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
