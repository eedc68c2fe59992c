#!/bin/sh
# bench/batches.sh - server CPU per Update at small and large group commits, with the
# default change log and with change_log_max_entries=500, for one build or two builds in
# turn (A B A B ..., so a machine whose speed drifts affects both alike); prints every
# run's line, then the median, minimum and maximum of each figure per case.
#
#   sh bench/batches.sh ROUNDS BUILDDIR [BUILDDIR2]
#
# Cases: -c 4 -s 32 (4 connections x 32 Updates in flight: small commits) and -c 32 -s 100
# (large ones), UPDATE_N Updates each (300000). Every run is `sh bench/run.sh BUILD update`
# with a fresh server and database. Use release builds (no sanitizers).
set -u

usage() { echo "usage: sh bench/batches.sh ROUNDS BUILDDIR [BUILDDIR2]" >&2; exit 2; }
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
case $1 in ''|*[!0-9]*) usage ;; esac
ROUNDS=$1
shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${UPDATE_N:-300000}
OUT=$(mktemp "${TMPDIR:-/tmp}/wiresync-batches.XXXXXX") || exit 1
trap 'rm -f "$OUT"' EXIT

BUILDS="$*"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for cs in 4:32 32:100; do
        c=${cs%:*}
        s=${cs#*:}
        for log in default 500; do
            sa=
            [ $log = default ] || sa=--change_log_max_entries=$log
            for b in $BUILDS; do
                line=$(UPDATE_C=$c UPDATE_S=$s UPDATE_N=$N SERVER_ARGS=$sa \
                    sh "$SRC/bench/run.sh" "$b" update 2>&1 | tail -n 1)
                load=$(cut -d ' ' -f 1 /proc/loadavg)
                echo "build=$b c=$c s=$s log=$log load=$load $line" | tee -a "$OUT"
            done
        done
    done
    r=$((r + 1))
done

echo "# median (min-max) per case; load = 1-minute load average after each run"
awk '
function val(k,    i, kv) {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] }
    return ""
}
{
    key = val("build") " -c " val("c") " -s " val("s") " log=" val("log")
    if (!(key in n)) order[++keys] = key
    i = ++n[key]
    cpu[key, i] = val("server_cpu_us_per_update") + 0
    ups[key, i] = val("updates_per_s") + 0
    ld[key, i] = val("load") + 0
}
function stats(arr, key, cnt,    i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = arr[key, i]
    for (i = 2; i <= cnt; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return sprintf("%g (%g-%g)", cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2, v[1], v[cnt])
}
END {
    for (k = 1; k <= keys; k++) {
        key = order[k]
        printf "%s: server_cpu_us_per_update %s updates_per_s %s load %s runs %d\n", key,
            stats(cpu, key, n[key]), stats(ups, key, n[key]), stats(ld, key, n[key]), n[key]
    }
}' "$OUT"
