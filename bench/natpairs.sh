#!/bin/sh
# bench/natpairs.sh - time from the agents' start to the first ping answered, per kind of
# NAT pair (issue 12; BENCHMARKS.md, "NAT pairs"). Runs test/natpairs.test (wiresyncd with
# its hub and relay, seven agents on wireguard-go in namespaces behind nft routers of three
# NAT kinds; root) RUNS times and reads its "# pair A-B KIND: PATH, first ping S s" lines;
# prints every run's figures, then per kind of pair (9 kinds, 1 to 4 pairs each) the path
# and the median, min and max over all pairs of that kind in all runs.
#   sh bench/natpairs.sh BUILDDIR [RUNS]      (RUNS 5; BUILDDIR holds wiresyncd and
#                                              wiresync-agent)
# Takes /tmp/ns.lock for each run (the tests' wireguard-go interface names are shared).
set -u
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: sh bench/natpairs.sh BUILDDIR [RUNS]" >&2; exit 2; }
B=$(cd "$1" && pwd) || exit 2
N=${2:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/wiresync-natpairs-bench.XXXXXX") || exit 1
trap 'rm -rf "$OUT"' EXIT

echo "# natpairs: $N runs, build $B, $(date -u +%H:%M) UTC, load $(cut -d' ' -f1 /proc/loadavg)"
_i=1
while [ "$_i" -le "$N" ]; do
    flock /tmp/ns.lock env srcdir="$SRC" builddir="$B" sh "$SRC/test/natpairs.test" \
        >"$OUT/run-$_i.out" 2>&1
    rc=$?
    _f=$(grep -c '^not ok' "$OUT/run-$_i.out")
    echo "# run $_i: exit $rc, $_f failed, $(sed -n 's/^# total time: //p' "$OUT/run-$_i.out")"
    if [ "$rc" = 77 ]; then
        tail -n 1 "$OUT/run-$_i.out" >&2
        exit 1
    fi
    grep '^not ok' "$OUT/run-$_i.out" | sed 's/^/#   /'
    sed -n 's/^# pair \([^ ]*\) \([^:]*\): \(.*\), first ping \([0-9.]*\|none\) s, on it after \([0-9.]*\|never\) s$/\2 \1 \3|\4 \5/p' \
        "$OUT/run-$_i.out" >>"$OUT/pairs"
    _i=$((_i + 1))
done
[ -s "$OUT/pairs" ] || { echo "natpairs: no pair measured" >&2; exit 1; }
# per kind: every pair's times in every run; "first" the first ping answered both ways,
# "on path" both ends first seen on the expected path
printf '%-8s %-12s %4s   %-26s %s\n' KIND PATH N "FIRST PING median (min-max)" "ON PATH median (min-max)"
for _k in pub-pp pub-pt pub-sym pp-pp pp-pt pt-pt pp-sym pt-sym sym-sym; do
    grep "^$_k " "$OUT/pairs" >"$OUT/k" || continue
    # the paths seen ("direct", "relay", "not direct" ...), with counts when they differ
    _path=$(awk -F'|' '{ sub(/^[^ ]* [^ ]* /, "", $1); c[$1]++ }
        END { for (p in c) printf "%s%s", (n++ ? "," : ""), (c[p] == NR ? p : p "(" c[p] ")") }' "$OUT/k")
    _n=$(wc -l <"$OUT/k" | tr -d ' ')
    stat() {   # stat FIELD: median (min-max) of the numbers in that field after the "|"
        awk -F'|' -v f="$1" '{ split($2, v, " "); if (v[f] ~ /^[0-9.]+$/) print v[f] }' "$OUT/k" |
            sort -n | awk -v all="$_n" '{ v[NR] = $1 }
            END { if (NR == 0) { print "-"; exit }
                  m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                  printf "%.2f s (%.2f-%.2f)%s\n", m, v[1], v[NR], NR < all ? " " all - NR " never" : "" }'
    }
    printf '%-8s %-12s %4s   %-26s %s\n' "$_k" "$_path" "$_n" "$(stat 1)" "$(stat 2)"
done
