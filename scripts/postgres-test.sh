#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the storage tests and prints the line to export, e.g.
#   eval "$(scripts/postgres-test.sh start)"   ->   ZKATTR_TEST_POSTGRES_URL=postgres://…
#   scripts/postgres-test.sh stop
# Uses Debian's postgresql package (CI installs it: .ci/run). The server lives in a scratch folder, listens on
# loopback only, trusts local connections (test data only) and is stopped by `stop` or at reboot.
set -euo pipefail
state=${ZKATTR_PG_DIR:-/tmp/zkattr-pg}
port=${ZKATTR_PG_PORT:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
as_pg() {
    # PostgreSQL refuses to run as root: use the package's `postgres` account then.
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}
case "${1:-start}" in
start)
    if [ -z "$bin" ]; then
        echo "postgres-test.sh: no PostgreSQL server found (apt-get install postgresql)" >&2
        exit 1
    fi
    if ! as_pg "$bin/pg_ctl -D $state/data status" >/dev/null 2>&1; then
        rm -rf "$state"
        mkdir -p "$state"
        [ "$(id -u)" = 0 ] && chown postgres "$state"
        as_pg "$bin/initdb -D $state/data -A trust -U zkattr --no-sync" >"$state/initdb.log" 2>&1 ||
            { cat "$state/initdb.log" >&2; exit 1; }
        as_pg "$bin/pg_ctl -D $state/data -l $state/server.log -w -o \"-k $state -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >/dev/null ||
            { cat "$state/server.log" >&2; exit 1; }
    fi
    echo "export ZKATTR_TEST_POSTGRES_URL=postgres://zkattr@127.0.0.1:$port/postgres"
    ;;
stop)
    [ -n "$bin" ] && as_pg "$bin/pg_ctl -D $state/data -m fast stop" >/dev/null 2>&1 || true
    rm -rf "$state"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
