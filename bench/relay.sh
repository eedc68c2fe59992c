#!/bin/sh
# bench/relay.sh - figures for the server's WireGuard relay (BENCHMARKS.md, "Relay"):
# test/relay.test's two wireguard-go hosts that reach each other only through the relay,
# flooded with pings (64 in flight) for SECONDS; prints packets/s, Mbit/s and the server's
# CPU time per relayed packet. Needs root; takes the namespace lock.
#   srcdir=SRC builddir=BUILD sh bench/relay.sh [SECONDS [SIZE]]
srcdir=${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${builddir:-.}
RELAY_BENCH_SECONDS=${1:-10}
RELAY_BENCH_SIZE=${2:-1372}
export srcdir builddir RELAY_BENCH_SECONDS RELAY_BENCH_SIZE
exec flock /tmp/ns.lock sh "$srcdir/test/relay.test"
