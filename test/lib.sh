# test/lib.sh - helpers for the shell test harnesses (POSIX sh; sourced, not run).
#
# Expects: srcdir (source root), builddir (build root).  Provides:
#   WS_PYTHON            python3 with grpcio (PYTHON3 if it imports grpc, else /usr/bin/python3)
#   ws_python_has_grpc   status 0 when WS_PYTHON can import grpc and google.protobuf
#   ws_tmpdir            create $WS_TMP and install the cleanup trap
#   ws_track_pid PID     kill PID (SIGTERM, then SIGKILL) at exit unless it was reaped
#   ws_free_port         print an unused loopback TCP port
#   ws_make_pki DIR      the test PKI (see below)
#   ws_start_server ARGS start $builddir/wiresyncd ARGS in the background
#   ws_stop_server       SIGTERM it, wait, require exit status 0
#   ws_wait_pid PID SECS wait for a child to exit (status in $WS_RC); 1 on timeout
#   ws_backend_pg        status 0 when WS_BACKEND=postgresql (see "backend" below)

srcdir=${srcdir:-.}
builddir=${builddir:-.}

WS_TMP=
WS_PIDS=
WS_SERVER_PID=
WS_SERVER_LOG=
WS_SERVER_N=0
WS_RC=
WS_CA_SCRIPT=$srcdir/certs/wiresync-ca
WS_BACKEND=${WS_BACKEND:-sqlite}
WS_PG_STARTED=
WS_PG_N=0

# --------------------------------------------------------------------------- python
WS_PYTHON=${PYTHON3:-/usr/bin/python3}
ws_python_has_grpc() {
    "$WS_PYTHON" -c 'import grpc, google.protobuf' >/dev/null 2>&1
}
# The python3 on PATH may be a build without grpc; Debian's has it.
if ! ws_python_has_grpc && [ "$WS_PYTHON" != /usr/bin/python3 ]; then
    WS_PYTHON=/usr/bin/python3
fi

# --------------------------------------------------------------------------- processes
ws_track_pid() {
    WS_PIDS="$WS_PIDS $1"
}

ws_untrack_pid() {
    _l=
    for _p in $WS_PIDS; do [ "$_p" = "$1" ] || _l="$_l $_p"; done
    WS_PIDS=$_l
}

# True while PID is a live (non-zombie) process.
ws_alive() {
    [ -r "/proc/$1/stat" ] || return 1
    _st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$_st" ] && [ "$_st" != Z ]
}

# ws_wait_pid PID SECONDS: reaps a child of this shell; exit status in WS_RC.
# Returns 1 (and leaves the process alone) if it is still running after SECONDS.
ws_wait_pid() {
    _i=0
    while ws_alive "$1"; do
        if [ $_i -ge $(($2 * 10)) ]; then
            return 1
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
    wait "$1"
    WS_RC=$?
    ws_untrack_pid "$1"
    return 0
}

ws_cleanup() {
    for _p in $WS_PIDS; do
        kill -TERM "$_p" 2>/dev/null
    done
    for _p in $WS_PIDS; do
        if ! ws_wait_pid "$_p" 5; then
            kill -KILL "$_p" 2>/dev/null
            wait "$_p" 2>/dev/null
        fi
    done
    WS_PIDS=
    # the servers are gone: their PostgreSQL goes too, before its directory
    if [ -n "$WS_PG_STARTED" ]; then
        pg_stop fast || pg_stop immediate
        WS_PG_STARTED=
    fi
    if [ -n "$WS_TMP" ] && [ -d "$WS_TMP" ]; then
        if [ -n "${WS_KEEP_TMP:-}" ]; then
            echo "# kept $WS_TMP"
        else
            rm -rf "$WS_TMP"
        fi
    fi
}

ws_tmpdir() {
    WS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/wiresync-test.XXXXXX") || {
        echo "ws_tmpdir: mktemp failed" >&2
        exit 1
    }
    trap 'ws_cleanup' EXIT
    trap 'exit 1' HUP INT TERM
}

ws_free_port() {
    "$WS_PYTHON" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# --------------------------------------------------------------------------- PKI
_ws_ca() {
    if ! sh "$WS_CA_SCRIPT" "$@" >>"$_ws_pki_log" 2>&1; then
        echo "ws_make_pki: wiresync-ca $* failed:" >&2
        sed 's/^/#   /' "$_ws_pki_log" >&2
        return 1
    fi
}

_ws_wgkey() {
    head -c 32 /dev/urandom | base64
}

# _ws_agent NETDIR NAME IP... [--not-before T --not-after T]
_ws_agent() {
    _d=$1; _n=$2; shift 2
    _k=$(_ws_wgkey)
    printf '%s\n' "$_k" >"$_d/$_n.pub"
    _ws_ca -d "$_d" agent "$_n" --key "$_k" "$@"
}

# ws_make_pki DIR
#   DIR/a  CA "neta": server "server" (IP 127.0.0.1), agents alice (10.9.0.2, fd00::2),
#          bob (10.9.0.3), dave (10.9.0.4), admin "op", expired agent "old" (10.9.0.5)
#   DIR/b  CA "netb": agent carol (10.8.0.2)
#   DIR/x  an untrusted CA that calls its network "neta" too: agent mallory (10.9.0.66)
#   DIR/bundle.crt = a/ca.crt + b/ca.crt
#   DIR/<net>/<agent>.pub  the agent's WireGuard key, base64
ws_make_pki() {
    _p=$1
    mkdir -p "$_p" || return 1
    _ws_pki_log=$_p/pki.log
    : >"$_ws_pki_log"
    if [ ! -f "$WS_CA_SCRIPT" ]; then
        echo "ws_make_pki: $WS_CA_SCRIPT not found" >&2
        return 1
    fi
    _ws_ca -d "$_p/a" init neta || return 1
    _ws_ca -d "$_p/a" server server --ip 127.0.0.1 || return 1
    _ws_agent "$_p/a" alice --ip 10.9.0.2 --ip fd00::2 || return 1
    _ws_agent "$_p/a" bob --ip 10.9.0.3 || return 1
    _ws_agent "$_p/a" dave --ip 10.9.0.4 || return 1
    _ws_ca -d "$_p/a" admin op || return 1
    _ws_agent "$_p/a" old --ip 10.9.0.5 \
        --not-before 20200101000000Z --not-after 20210101000000Z || return 1

    _ws_ca -d "$_p/b" init netb || return 1
    _ws_agent "$_p/b" carol --ip 10.8.0.2 || return 1

    _ws_ca -d "$_p/x" init neta || return 1
    _ws_agent "$_p/x" mallory --ip 10.9.0.66 || return 1

    cat "$_p/a/ca.crt" "$_p/b/ca.crt" >"$_p/bundle.crt" || return 1
    for _f in a/ca.crt a/server.crt a/server.key a/alice.crt a/alice.key a/bob.crt \
              a/dave.crt a/op.crt a/old.crt b/carol.crt x/mallory.crt a/alice.pub; do
        [ -s "$_p/$_f" ] || { echo "ws_make_pki: $_p/$_f missing" >&2; return 1; }
    done
}

# --------------------------------------------------------------------------- backend
# WS_BACKEND=postgresql (test/*-pg.test runs a test so): ws_start_server gives wiresyncd,
# for each database file it names (--database=PATH, or database = PATH in its -c FILE), the
# URI of a PostgreSQL database of that path's own in one PostgreSQL 15 of the test's
# (test/pg_lib.sh in $WS_TMP/pg, started with the first server, stopped at exit). The same
# path is the same database: a server restarted on it finds what the last one left.
# Without root or PostgreSQL 15 the test is skipped (77) here, before it starts.
ws_backend_pg() {
    [ "$WS_BACKEND" = postgresql ]
}
case $WS_BACKEND in
sqlite) ;;
postgresql)
    . "$srcdir/test/pg_lib.sh"
    if [ "$(id -u)" != 0 ]; then
        echo "skip: WS_BACKEND=postgresql needs root (PostgreSQL runs as the user postgres)"
        exit 77
    fi
    pg_find || { echo "skip: WS_BACKEND=postgresql: $PG_WHY"; exit 77; }
    ;;
*)
    echo "test/lib.sh: WS_BACKEND=$WS_BACKEND: give sqlite or postgresql" >&2
    exit 1
    ;;
esac

# _ws_pg_uri PATH: WS_PG_URI = the URI of PATH's database (made at its first use; the
# PostgreSQL started at the first call). Status 1, the logs shown, when PostgreSQL fails.
_ws_pg_uri() {
    if [ -z "$WS_PG_STARTED" ]; then
        if ! pg_start "$WS_TMP/pg"; then
            echo "# WS_BACKEND=postgresql: PostgreSQL 15 does not start in $WS_TMP/pg; logs:"
            cat "$WS_TMP/pg/initdb.log" "$WS_TMP/pg/pg_ctl.log" "$WS_TMP/pg/postgres.log" \
                2>/dev/null | sed 's/^/#   /'
            pg_stop immediate
            return 1
        fi
        WS_PG_STARTED=1
        : >"$WS_TMP/pg-databases"
    fi
    # one line per path: NAME<tab>PATH
    _ws_db=$(awk -F '\t' -v p="$1" '$2 == p { print $1; exit }' "$WS_TMP/pg-databases")
    if [ -z "$_ws_db" ]; then
        WS_PG_N=$((WS_PG_N + 1))
        _ws_db=ws${WS_PG_N}_$(basename "$1" | tr -c 'a-zA-Z0-9\n' _ | tr 'A-Z' 'a-z' | cut -c1-40)
        if ! pg_psql "CREATE DATABASE $_ws_db" >"$WS_TMP/pg-create.out" 2>&1; then
            echo "# WS_BACKEND=postgresql: CREATE DATABASE $_ws_db (for $1) failed:"
            sed 's/^/#   /' "$WS_TMP/pg-create.out"
            return 1
        fi
        printf '%s\t%s\n' "$_ws_db" "$1" >>"$WS_TMP/pg-databases"
    fi
    WS_PG_URI=$(printf '%s\n' "$PG_URI" | sed "s|/wiresync?|/$_ws_db?|")
}

# ws_pg_sql PATH SQL: SQL's rows (psql -A -t) in the database of PATH (WS_BACKEND=postgresql)
ws_pg_sql() {
    _ws_pg_uri "$1" || return 1
    _pg "$PG_BIN/psql" -X -q -A -t "$WS_PG_URI" -c "$2"
}

# _ws_conf_database FILE: the value of its (last) database key, "" when it has none
_ws_conf_database() {
    sed -n 's/^[[:space:]]*database[[:space:]]*=[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p' \
        "$1" 2>/dev/null | tail -n 1
}

# --------------------------------------------------------------------------- server
# ws_start_server ARGS...: runs $builddir/wiresyncd ARGS with stderr (and stdout) in
# $WS_SERVER_LOG; waits up to 10 s for "listening on". Sets WS_SERVER_PID. Under
# WS_BACKEND=postgresql each database path is a PostgreSQL URI instead (see "backend").
ws_start_server() {
    if ws_backend_pg; then
        _ws_n=$# _ws_next= _ws_dbarg= _ws_conf=
        for _ws_a in "$@"; do
            if [ "$_ws_next" = conf ]; then
                _ws_conf=$_ws_a
            fi
            _ws_next=
            case $_ws_a in
            --database=postgres*) _ws_dbarg=1 ;;
            --database=*)
                _ws_pg_uri "${_ws_a#--database=}" || return 1
                _ws_a=--database=$WS_PG_URI
                _ws_dbarg=1
                ;;
            -c|--config) _ws_next=conf ;;
            --config=*) _ws_conf=${_ws_a#--config=} ;;
            -c*) _ws_conf=${_ws_a#-c} ;;
            esac
            set -- "$@" "$_ws_a"
        done
        shift "$_ws_n"
        # a path in the file: the command line's --database=URI overrides it
        if [ -z "$_ws_dbarg" ] && [ -n "$_ws_conf" ]; then
            _ws_p=$(_ws_conf_database "$_ws_conf")
            case $_ws_p in
            ''|postgres*) ;;
            *)
                _ws_pg_uri "$_ws_p" || return 1
                set -- "$@" "--database=$WS_PG_URI"
                ;;
            esac
        fi
    fi
    WS_SERVER_N=$((WS_SERVER_N + 1))
    WS_SERVER_LOG=$WS_TMP/server-$WS_SERVER_N.log
    : >"$WS_SERVER_LOG"
    "${WS_SERVER_BIN:-$builddir/wiresyncd}" "$@" >>"$WS_SERVER_LOG" 2>&1 </dev/null &
    WS_SERVER_PID=$!
    ws_track_pid "$WS_SERVER_PID"
    _i=0
    while ! grep -q 'listening on' "$WS_SERVER_LOG"; do
        if ! ws_alive "$WS_SERVER_PID"; then
            wait "$WS_SERVER_PID"
            WS_RC=$?
            ws_untrack_pid "$WS_SERVER_PID"
            echo "# wiresyncd $* exited with status $WS_RC before listening; log:"
            sed 's/^/#   /' "$WS_SERVER_LOG"
            WS_SERVER_PID=
            return 1
        fi
        if [ $_i -ge 100 ]; then
            echo "# wiresyncd $* did not log 'listening on' within 10 s; log:"
            sed 's/^/#   /' "$WS_SERVER_LOG"
            kill -KILL "$WS_SERVER_PID" 2>/dev/null
            wait "$WS_SERVER_PID" 2>/dev/null
            ws_untrack_pid "$WS_SERVER_PID"
            WS_SERVER_PID=
            return 1
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
    return 0
}

# ws_stop_server: SIGTERM, wait up to 10 s; status 0 only when the server exited 0.
ws_stop_server() {
    if [ -z "$WS_SERVER_PID" ]; then
        echo "# ws_stop_server: no server running"
        return 1
    fi
    kill -TERM "$WS_SERVER_PID" 2>/dev/null
    if ! ws_wait_pid "$WS_SERVER_PID" 10; then
        echo "# wiresyncd (pid $WS_SERVER_PID) still running 10 s after SIGTERM; killing it; log:"
        sed 's/^/#   /' "$WS_SERVER_LOG"
        kill -KILL "$WS_SERVER_PID" 2>/dev/null
        wait "$WS_SERVER_PID" 2>/dev/null
        ws_untrack_pid "$WS_SERVER_PID"
        WS_SERVER_PID=
        return 1
    fi
    WS_SERVER_PID=
    if [ "$WS_RC" -ne 0 ]; then
        echo "# wiresyncd exited with status $WS_RC after SIGTERM (expected 0); log:"
        sed 's/^/#   /' "$WS_SERVER_LOG"
        return 1
    fi
    return 0
}
