#!/bin/sh
# bench/run.sh - reproduces the figures of BENCHMARKS.md: a fresh PKI (certs/wiresync-ca),
# a fresh wiresyncd per scenario (own database, max_connections=11000), one wiresync-bench
# run per scenario, its summary line printed.
#
#   sh bench/run.sh BUILDDIR [SCENARIO...]
#
# SCENARIO: issue update fanout idle reconnect reconnect-snapshot (default: all).
# Sizes from the environment: ISSUE_N=10000 UPDATE_C=32 UPDATE_S=100 UPDATE_N=300000
# FANOUT_W=10000 FANOUT_R=20 IDLE_W=10000 RECONNECT_W=10000 RECONNECT_PEERS=20. BENCH_JSON=1 for --json.
# BENCH_KEEP=1 keeps the temporary directory. SERVER_ARGS adds wiresyncd options to every
# server (e.g. SERVER_ARGS=--change_log_max_entries=500). Use a release build (no sanitizers).
set -u

usage() { echo "usage: sh bench/run.sh BUILDDIR [issue|update|fanout|idle|reconnect|reconnect-snapshot]..." >&2; exit 2; }
[ $# -ge 1 ] || usage
B=$(cd "$1" && pwd) || usage
shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
SCENARIOS=${*:-issue update fanout idle reconnect reconnect-snapshot}
for f in "$B/wiresyncd" "$B/wiresync-bench"; do
    [ -x "$f" ] || { echo "bench/run.sh: $f not built" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/wiresync-bench.XXXXXX") || exit 1
SRV_PID=
cleanup() {
    [ -z "$SRV_PID" ] || stop_server
    if [ -f "$T/server.pid" ]; then kill -TERM "$(cat "$T/server.pid")" 2>/dev/null; fi
    if [ -n "${BENCH_KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

CA=$T/ca
sh "$SRC/certs/wiresync-ca" -d "$CA" init bench >"$T/pki.log" 2>&1 &&
    sh "$SRC/certs/wiresync-ca" -d "$CA" server server --ip 127.0.0.1 >>"$T/pki.log" 2>&1 || {
    cat "$T/pki.log" >&2; exit 1; }
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
JSON=
[ -z "${BENCH_JSON:-}" ] || JSON=--json
COMMON="--server 127.0.0.1:$PORT --ca-cert $CA/ca.crt --ca-key $CA/ca.key --trust $CA/ca.crt $JSON"

# start_server NAME: a fresh database; the pid also goes to $T/server.pid
start_server() {
    SRV_ARGS="--listen=127.0.0.1:$PORT --certificate=$CA/server.crt --private_key=$CA/server.key
        --ca=$CA/ca.crt --database=$T/$1.db --max_connections=11000 --log_level=warn ${SERVER_ARGS:-}"
    # shellcheck disable=SC2086
    "$B/wiresyncd" $SRV_ARGS >"$T/$1.log" 2>&1 </dev/null &
    SRV_PID=$!
    echo "$SRV_PID" >"$T/server.pid"
    i=0
    until ss -Hltn "sport = :$PORT" | grep -q LISTEN; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$SRV_PID" 2>/dev/null; then
            echo "bench/run.sh: wiresyncd did not start:" >&2; cat "$T/$1.log" >&2; exit 1
        fi
        sleep 0.05
    done
}

stop_server() {
    pid=$(cat "$T/server.pid")
    kill -TERM "$pid" 2>/dev/null
    while [ -r "/proc/$pid/stat" ] && ! grep -q ') Z' "/proc/$pid/stat" 2>/dev/null; do sleep 0.05; done
    wait "$pid" 2>/dev/null
    SRV_PID=
    rm -f "$T/server.pid"
}

# The restart command of the reconnect scenario: same port, same database, new process.
cat >"$T/restart.sh" <<EOF
#!/bin/sh
pid=\$(cat "$T/server.pid")
kill -TERM "\$pid"
while [ -r "/proc/\$pid/stat" ] && ! grep -q ') Z' "/proc/\$pid/stat" 2>/dev/null; do sleep 0.02; done
"$B/wiresyncd" \$(cat "$T/srv.args") >>"$T/restarted.log" 2>&1 </dev/null &
echo \$! >"$T/server.pid"
until ss -Hltn "sport = :$PORT" | grep -q LISTEN; do sleep 0.02; done
EOF

show() { echo "\$ wiresync-bench $*" | sed "s|$T|\$T|g"; }

for sc in $SCENARIOS; do
    case $sc in
    issue)
        show issue -n "${ISSUE_N:-10000}"
        "$B/wiresync-bench" issue -n "${ISSUE_N:-10000}" $COMMON ;;
    update)
        start_server update
        a="-c ${UPDATE_C:-32} -s ${UPDATE_S:-100} -n ${UPDATE_N:-300000}"
        show update $a --pid PID
        # shellcheck disable=SC2086
        "$B/wiresync-bench" update $a --pid "$SRV_PID" $COMMON
        stop_server ;;
    fanout)
        start_server fanout
        a="-w ${FANOUT_W:-10000} -r ${FANOUT_R:-20}"
        show fanout $a --pid PID
        # shellcheck disable=SC2086
        "$B/wiresync-bench" fanout $a --pid "$SRV_PID" $COMMON
        stop_server ;;
    idle)
        start_server idle
        sleep 1
        show idle -w "${IDLE_W:-10000}" --pid PID
        "$B/wiresync-bench" idle -w "${IDLE_W:-10000}" --pid "$SRV_PID" --settle 5 $COMMON
        stop_server ;;
    reconnect|reconnect-snapshot)
        start_server "$sc"
        echo "$SRV_ARGS" >"$T/srv.args"
        snap=
        [ "$sc" = reconnect ] || snap=--snapshot
        show reconnect -w "${RECONNECT_W:-10000}" --peers "${RECONNECT_PEERS:-20}" $snap --restart "sh \$T/restart.sh" --pid-file \$T/server.pid
        # shellcheck disable=SC2086
        "$B/wiresync-bench" reconnect -w "${RECONNECT_W:-10000}" --peers "${RECONNECT_PEERS:-20}" $snap \
            --restart "sh $T/restart.sh" --pid-file "$T/server.pid" $COMMON
        SRV_PID=$(cat "$T/server.pid")
        stop_server ;;
    *) usage ;;
    esac
done
