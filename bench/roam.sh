#!/bin/sh
# bench/roam.sh - re-convergence after a host moves between NATed LANs (issue 11 item 4):
# how long after host m has its new address and route a host x behind a third NAT, pinging
# m's tunnel address every 0.1 s, gets an answer again. Runs test/roam.test (real
# wireguard-go in network namespaces, nft NAT routers; root) with ROUNDS moves, each to a
# fresh NATed LAN, and up to 60 s allowed per move, then prints every move and
# median/min/max.
#   sh bench/roam.sh BUILDDIR [ROUNDS]       (ROUNDS 9; BUILDDIR holds wiresyncd and
#                                             wiresync-agent: another build measures "before")
# Shares /var/run/wireguard names with the tests: run it under flock /tmp/ns.lock.
set -u
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: sh bench/roam.sh BUILDDIR [ROUNDS]" >&2; exit 2; }
B=$(cd "$1" && pwd) || exit 2
N=${2:-9}
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp "${TMPDIR:-/tmp}/wiresync-roam-bench.XXXXXX") || exit 1
trap 'rm -f "$OUT"' EXIT

echo "# roam: $N moves, agents of $B, $(date -u +%H:%M) UTC, load $(cut -d' ' -f1 /proc/loadavg)"
WS_ROAM_ROUNDS=$N WS_ROAM_REACH=60 srcdir=$SRC builddir=$B sh "$SRC/test/roam.test" >"$OUT" 2>&1
rc=$?
sed -n 's/^# move \([0-9]*\): reachable again after \([0-9.]*\) s$/move \1: \2 s/p' "$OUT"
if ! grep -q '^# move [0-9]*: reachable again' "$OUT"; then
    echo "roam: no move measured (test/roam.test exit $rc):" >&2
    tail -n 20 "$OUT" >&2
    exit 1
fi
grep 'not ok - move' "$OUT" | sed 's/^/unreached: /'
sed -n 's/^# move [0-9]*: reachable again after \([0-9.]*\) s$/\1/p' "$OUT" | sort -n | awk '
    { v[NR] = $1 }
    END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "roam: %d moves reachable again: median %.2f s, min %.2f s, max %.2f s\n", NR, m, v[1], v[NR]
    }'
