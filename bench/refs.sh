#!/bin/sh
# bench/refs.sh - the physical references beside the figures of BENCHMARKS.md:
#   1. openssl speed -seconds 3 ecdsap256 ecdhp256
#   2. TLS 1.3 handshakes with a client certificate against openssl s_server: the server's
#      CPU time per full and per resumed handshake (openssl s_time -new / -reuse, 10 s each)
#   3. raw SQLite commits, synchronous=FULL, WAL: single-row transactions per second and
#      rows per second in transactions of 512 rows (the sqlite3 CLI)
#   sh bench/refs.sh BUILDDIR      (BUILDDIR holds wiresync-bench, to issue the agent identity)
set -u
[ $# -eq 1 ] || { echo "usage: sh bench/refs.sh BUILDDIR" >&2; exit 2; }
B=$(cd "$1" && pwd) || exit 2
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/wiresync-refs.XXXXXX") || exit 1
SS=
trap '[ -z "$SS" ] || kill "$SS" 2>/dev/null; rm -rf "$T"' EXIT

echo "# openssl speed -seconds 3 ecdsap256 ecdhp256"
openssl speed -seconds 3 ecdsap256 ecdhp256 2>/dev/null | grep -E 'nistp256|sign/s|op/s'

echo "# TLS 1.3 handshakes, client certificate, openssl s_server CPU per handshake"
sh "$SRC/certs/wiresync-ca" -d "$T/ca" init refs >/dev/null 2>&1 &&
    sh "$SRC/certs/wiresync-ca" -d "$T/ca" server server --ip 127.0.0.1 >/dev/null 2>&1 &&
    mkdir "$T/id" && "$B/wiresync-bench" issue -n 1 --out "$T/id" --ca-cert "$T/ca/ca.crt" \
        --ca-key "$T/ca/ca.key" >/dev/null || { echo "refs: PKI failed" >&2; exit 1; }
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo hi >"$T/x.txt"
(cd "$T" && exec openssl s_server -accept "127.0.0.1:$PORT" -cert ca/server.crt -key ca/server.key \
    -CAfile ca/ca.crt -Verify 1 -WWW -quiet -num_tickets 1) >"$T/s_server.log" 2>&1 &
SS=$!
sleep 1
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
for mode in -new -reuse; do
    c0=$(cpu_ticks "$SS")
    openssl s_time -connect "127.0.0.1:$PORT" $mode -www /x.txt -time 10 -cert "$T/id/bench-0.crt" \
        -key "$T/id/bench-0.key" -CAfile "$T/ca/ca.crt" >"$T/s_time.out" 2>&1
    c1=$(cpu_ticks "$SS")
    n=$(sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' "$T/s_time.out" | head -n 1)
    awk -v m="$mode" -v n="$n" -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {
        printf "s_server %s: %d handshakes, server CPU %.3f ms per handshake\n", m, n, t * 1000 / hz / n }'
done

echo "# raw SQLite, journal_mode=WAL, synchronous=FULL (sqlite3 $(sqlite3 --version | cut -d' ' -f1))"
db=$T/raw.db
N=2000
{
    echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    echo "CREATE TABLE t(k BLOB PRIMARY KEY, port INTEGER, rev INTEGER);"
    i=0
    while [ $i -lt $N ]; do
        echo "BEGIN IMMEDIATE; INSERT OR REPLACE INTO t VALUES(randomblob(32), $i, $i); COMMIT;"
        i=$((i + 1))
    done
} >"$T/one.sql"
s=$(date +%s.%N); sqlite3 "$db" <"$T/one.sql" >/dev/null; e=$(date +%s.%N)
awk -v n=$N -v s="$s" -v e="$e" 'BEGIN { printf "sqlite: %d single-row commits in %.2f s = %.0f commits/s (%.2f ms each)\n", n, e - s, n / (e - s), (e - s) * 1000 / n }'
rm -f "$db" "$db-wal" "$db-shm"
{
    echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    echo "CREATE TABLE t(k BLOB PRIMARY KEY, port INTEGER, rev INTEGER);"
    j=0
    while [ $j -lt 40 ]; do
        echo "BEGIN IMMEDIATE; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 512)"
        echo "  INSERT OR REPLACE INTO t SELECT randomblob(32), x, x FROM c; COMMIT;"
        j=$((j + 1))
    done
} >"$T/batch.sql"
s=$(date +%s.%N); sqlite3 "$db" <"$T/batch.sql" >/dev/null; e=$(date +%s.%N)
awk -v s="$s" -v e="$e" 'BEGIN { printf "sqlite: 40 commits of 512 rows in %.2f s = %.1f ms per commit, %.0f rows/s\n", e - s, (e - s) * 1000 / 40, 40 * 512 / (e - s) }'
