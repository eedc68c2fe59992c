#!/bin/sh
# bench/pg.sh - the figures of BENCHMARKS.md's "PostgreSQL (issue 15)": a PostgreSQL 15 of
# its own in a temporary directory (test/pg_lib.sh: fsync on, synchronous_commit on), then
#   fsync     the disk's flush rate beside it (PostgreSQL's pg_test_fsync, 2 s a method)
#   pginsert  the raw libpq reference: bench/pginsert, one-row and group-commit loops
#   update    one wiresyncd on the database: acknowledged Updates/s (wiresync-bench update)
#   fanout1   one wiresyncd: the change and its 10,000 watchers on it
#   fanout2   wiresyncd a and b on one database, the watchers spread over both, the change
#             made on a: ack on a to receipt on b is s1_p99_ms
#   fanout3   the same with a third server c: what one more server adds
# A fresh PKI (certs/wiresync-ca) as bench/run.sh's and a fresh database per step.
#
#   sh bench/pg.sh BUILDDIR [STEP...]            (root: PostgreSQL runs as user postgres)
#
# Sizes from the environment: UPDATE_C=32 UPDATE_S=100 UPDATE_N=300000 FANOUT_W=10000
# FANOUT_R=20; PGINSERT_RUNS (';'-separated pginsert argument lists, default below).
# SERVER_ARGS adds wiresyncd options to every server; BENCH_KEEP=1 keeps the temporary
# directory. Use a release build (no sanitizers). Whole commands are timed by GNU time.
set -u

usage() { echo "usage: sh bench/pg.sh BUILDDIR [fsync|pginsert|update|fanout1|fanout2|fanout3]..." >&2; exit 2; }
[ $# -ge 1 ] || usage
B=$(cd "$1" && pwd) || usage
shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${*:-fsync pginsert update fanout1 fanout2 fanout3}
for f in "$B/wiresyncd" "$B/wiresync-bench" "$B/bench/pginsert" /usr/bin/time; do
    [ -x "$f" ] || { echo "bench/pg.sh: $f not built (or GNU time missing: apt-get install time)" >&2; exit 1; }
done
. "$SRC/test/pg_lib.sh"
pg_find || { echo "bench/pg.sh: $PG_WHY" >&2; exit 1; }
set -f    # the database URI holds a '?'

T=$(mktemp -d "${TMPDIR:-/tmp}/wiresync-pg.XXXXXX") || exit 1
SERVERS=
cleanup() {
    stop_servers
    pg_stop fast
    if [ -n "${BENCH_KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

CA=$T/ca
sh "$SRC/certs/wiresync-ca" -d "$CA" init bench >"$T/pki.log" 2>&1 &&
    sh "$SRC/certs/wiresync-ca" -d "$CA" server server --ip 127.0.0.1 >>"$T/pki.log" 2>&1 || {
    cat "$T/pki.log" >&2; exit 1; }
pg_start "$T/pg" || { echo "bench/pg.sh: PostgreSQL did not start:" >&2; cat "$T/pg/postgres.log" "$T/pg/pg_ctl.log" >&2; exit 1; }
PG_PID=$(head -n 1 "$T/pg/data/postmaster.pid")
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
TLS="--ca-cert $CA/ca.crt --ca-key $CA/ca.key --trust $CA/ca.crt"

say() { echo "$*" | sed "s|$T|\$T|g"; }
load() { say "# $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"; }
timed() { /usr/bin/time -f "# whole command: %e s wall, %U s user, %S s sys, %M KiB max RSS" "$@"; }

# The cluster's CPU in ms: the postmaster with its reaped children and the processes under it.
pg_cpu_ms() {
    set +f
    for d in /proc/[0-9]*; do cat "$d/stat" 2>/dev/null; echo; done | awk -v pm="$PG_PID" \
        -v hz="$(getconf CLK_TCK)" '
        NF > 0 { pid = $1; sub(/^.*\) /, "")
            if (pid == pm) t += $12 + $13 + $14 + $15; else if ($2 == pm) t += $12 + $13 }
        END { printf "%.0f", t * 1000 / hz }'
    set -f
}

# An empty database wiresync for the next step.
fresh_db() {
    for sql in "DROP DATABASE IF EXISTS wiresync" "CREATE DATABASE wiresync"; do
        runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$PG_DIR/run" -p "$PG_PORT" -U wiresync \
            -d postgres -c "$sql" >>"$T/psql.log" 2>&1 || { cat "$T/psql.log" >&2; exit 1; }
    done
}

# start_server NAME: wiresyncd server_name NAME on a free port, on the database; sets
# PORT_<NAME> and PID_<NAME>
start_server() {
    port=$(free_port)
    # shellcheck disable=SC2086
    "$B/wiresyncd" --listen="127.0.0.1:$port" --certificate="$CA/server.crt" \
        --private_key="$CA/server.key" --ca="$CA/ca.crt" --database="$PG_URI" \
        --server_name="$1" --max_connections=11000 --log_level=warn ${SERVER_ARGS:-} \
        >"$T/$1.log" 2>&1 </dev/null &
    pid=$!
    SERVERS="$SERVERS $pid"
    eval "PORT_$1=$port PID_$1=$pid"
    i=0
    until ss -Hltn "sport = :$port" | grep -q LISTEN; do
        i=$((i + 1))
        if [ $i -gt 400 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "bench/pg.sh: wiresyncd $1 did not start:" >&2; cat "$T/$1.log" >&2; exit 1
        fi
        sleep 0.05
    done
}

stop_servers() {
    for pid in $SERVERS; do kill -TERM "$pid" 2>/dev/null; done
    for pid in $SERVERS; do wait "$pid" 2>/dev/null; done
    SERVERS=
}

# bench ARGS...: wiresync-bench timed, its PostgreSQL's CPU beside it
bench() {
    say "\$ wiresync-bench $*"
    c0=$(pg_cpu_ms)
    # shellcheck disable=SC2086
    timed "$B/wiresync-bench" "$@" $TLS
    rc=$?
    c1=$(pg_cpu_ms)
    PG_CPU=$((c1 - c0))
    echo "# postgres_cpu_ms=$PG_CPU (the whole command)"
    [ $rc -eq 0 ] || echo "# wiresync-bench exited $rc"
}

# fanout N: N servers a b c..., the updater on a, the watchers spread over all of them
fanout() {
    fresh_db
    names=$(echo a b c d e f g h | cut -d' ' -f1-"$1")
    ws= pids=
    for s in $names; do
        start_server "$s"
        eval "ws=\"\$ws --watch-server 127.0.0.1:\$PORT_$s\" pids=\"\$pids --pid \$PID_$s\""
    done
    load
    echo "# servers: $names; the change on a; s0 = a, s1 = b, s2 = c"
    # shellcheck disable=SC2086
    bench fanout -w "${FANOUT_W:-10000}" -r "${FANOUT_R:-20}" --server "127.0.0.1:$PORT_a" \
        $ws $pids
    stop_servers
}

PGINSERT_RUNS=${PGINSERT_RUNS:-"-c 32 -g 1 -n 100000;-c 32 -g 1 -n 20000 --server-statements;-c 1 -g 500 -n 100000;-c 1 -g 500 -n 100000 --server-statements;-c 1 -g 500 -n 100000 --server-statements --prepared;-c 1 -g 500 -n 100000 --server-statements --arrays;-c 1 -g 500 -n 100000 --server-statements --prepared --arrays"}

say "# bench/pg.sh: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null) $($PG_BIN/postgres --version)"
say "# PostgreSQL: $PG_URI, fsync=$(pg_psql 'SHOW fsync'), synchronous_commit=$(pg_psql 'SHOW synchronous_commit'), wal_sync_method=$(pg_psql 'SHOW wal_sync_method')"
for st in $STEPS; do
    case $st in
    fsync)
        load
        say "\$ pg_test_fsync -s 2 -f \$T/pg/fsync.test      (the WAL's disk, one 8 kB write a flush)"
        "$PG_BIN/pg_test_fsync" -s 2 -f "$T/pg/fsync.test" 2>&1 | sed -n '/one 8kB write/,/^$/p' ;;
    pginsert)
        echo "$PGINSERT_RUNS" | tr ';' '\n' | while read -r args; do
            load
            say "\$ bench/pginsert --database \$PG_URI $args --pg-pid PID"
            # shellcheck disable=SC2086
            timed "$B/bench/pginsert" --database "$PG_URI" $args --pg-pid "$PG_PID"
        done ;;
    update)
        fresh_db
        start_server a
        load
        bench update -c "${UPDATE_C:-32}" -s "${UPDATE_S:-100}" -n "${UPDATE_N:-300000}" \
            --server "127.0.0.1:$PORT_a" --pid "$PID_a"
        awk -v c="$PG_CPU" -v n="${UPDATE_N:-300000}" -v w="${UPDATE_C:-32}" 'BEGIN {
            printf "# postgres_cpu_us_per_update=%.1f (warm-up Updates included: %d)\n", c * 1000 / n, w }'
        stop_servers ;;
    fanout1) fanout 1 ;;
    fanout2) fanout 2 ;;
    fanout3) fanout 3 ;;
    *) usage ;;
    esac
done
