# test/pg_lib.sh - a PostgreSQL 15 of the test's own, in a temporary directory (sourced).
# Debian's postgresql-15 binaries, run as the user postgres (initdb and postgres refuse root),
# listening only on a Unix socket in the directory; trust authentication for the database
# user wiresync. Nothing of the system's own clusters is touched.
#
#   pg_find                 sets PG_BIN; false (with PG_WHY) when PostgreSQL 15 is missing
#   pg_start DIR [PORT]     initdb (first time) and start; sets PG_DIR, PG_PORT, PG_URI
#                           (postgresql:///wiresync?host=DIR/run&port=PORT&user=wiresync)
#   pg_stop [MODE]          pg_ctl stop (-m fast by default; immediate = a crash)
#   pg_restart              stop -m fast, start again on the same port
#   pg_psql SQL             runs SQL on the wiresync database (psql -X -q -A -t)
# Log: DIR/postgres.log.

PG_BIN=
PG_WHY=
PG_DIR=
PG_PORT=
PG_URI=

pg_find() {
    for _d in /usr/lib/postgresql/15/bin; do
        if [ -x "$_d/initdb" ] && [ -x "$_d/pg_ctl" ] && [ -x "$_d/postgres" ]; then
            PG_BIN=$_d
        fi
    done
    if [ -z "$PG_BIN" ]; then
        PG_WHY="PostgreSQL 15 not found (apt-get install postgresql-15)"
        return 1
    fi
    if ! id postgres >/dev/null 2>&1; then
        PG_WHY="no user postgres (Debian's postgresql-common makes it)"
        return 1
    fi
    command -v runuser >/dev/null 2>&1 || { PG_WHY="runuser not found (util-linux)"; return 1; }
    return 0
}

_pg() { runuser -u postgres -- "$@"; }

_pg_ctl_start() {
    _pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 30 \
        -o "-k $PG_DIR/run -p $PG_PORT -c listen_addresses= -c fsync=on -c max_connections=200" \
        start >>"$PG_DIR/pg_ctl.log" 2>&1
}

pg_start() {
    PG_DIR=$1
    PG_PORT=${2:-$((40000 + $$ % 20000))}
    mkdir -p "$PG_DIR/run" || return 1
    # the test's temporary directory is root's, mode 0700: postgres must reach into it
    _up=$(dirname "$PG_DIR")
    chmod a+x "$_up" "$PG_DIR" 2>/dev/null
    chown postgres: "$PG_DIR" "$PG_DIR/run" || return 1
    if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
        _pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U wiresync -A trust -E UTF8 --no-sync \
            >"$PG_DIR/initdb.log" 2>&1 || return 1
    fi
    _pg_ctl_start || return 1
    PG_URI="postgresql:///wiresync?host=$PG_DIR/run&port=$PG_PORT&user=wiresync"
    if ! _pg "$PG_BIN/psql" -X -q -h "$PG_DIR/run" -p "$PG_PORT" -U wiresync -d postgres \
        -tAc "SELECT 1 FROM pg_database WHERE datname = 'wiresync'" | grep -q 1; then
        _pg "$PG_BIN/createdb" -h "$PG_DIR/run" -p "$PG_PORT" -U wiresync wiresync \
            >>"$PG_DIR/pg_ctl.log" 2>&1 || return 1
    fi
}

pg_stop() {
    [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
    _pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w -t 30 stop >>"$PG_DIR/pg_ctl.log" 2>&1
}

pg_restart() {
    pg_stop fast && _pg_ctl_start
}

pg_psql() {
    _pg "$PG_BIN/psql" -X -q -A -t -h "$PG_DIR/run" -p "$PG_PORT" -U wiresync -d wiresync -c "$1"
}
