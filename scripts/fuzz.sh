#!/bin/sh
# Builds and runs the libFuzzer targets of test/fuzz/ with clang (Debian's clang-14 and
# libclang-rt-14-dev). The normal build uses gcc, so the sources each target needs are
# compiled here a second time, with -fsanitize=fuzzer-no-link,address,undefined, into
# $builddir/fuzz/.
#
#   fuzz.sh build                 build every target
#   fuzz.sh run [SECONDS] [NAME]  run each target (or NAME) that long on a copy of its
#                                 seed corpus; any crash, leak or UBSan report fails
#
# Environment: srcdir (the source tree, default: this script's parent), builddir (the
# configured build tree that holds config.h and proto/*.pb-c.[ch], default: .), CC (default
# clang, else clang-14), FUZZ_JOBS (compiles at once, default 2), FUZZ_RUN_JOBS (targets
# run at once, default 1: each takes one core).
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
srcdir=$(cd "$srcdir" && pwd)
builddir=$(cd "${builddir:-.}" && pwd)
out=$builddir/fuzz

TARGETS=${FUZZ_TARGETS:-"grpc request cert crl uapi conf wgnl netmon watch relay policy web"}

# Every library source of the project is compiled (daemon mains aside) and archived, so a
# target links what it reaches however the modules grow; generated protobuf-c code too.
lib_sources() {
	for d in rpc common wg server agent; do
		for f in "$srcdir/$d"/*.c; do
			[ "$(basename "$f")" = main.c ] || echo "$d/$(basename "$f")"
		done
	done
	for f in "$builddir"/proto/*.pb-c.c; do
		echo "proto/$(basename "$f")"
	done
}
# The libraries configure.ac requires (add one here when it gains one).
PC_MODULES="libprotobuf-c libnghttp2 openssl sqlite3 libpq libnl-3.0 libnl-route-3.0 libnl-genl-3.0
  inih jansson libqrencode"

pick_cc() {
	if [ -n "${CC:-}" ] && "$CC" --version 2>/dev/null | grep -q clang; then
		echo "$CC"
	elif command -v clang >/dev/null 2>&1; then
		echo clang
	elif command -v clang-14 >/dev/null 2>&1; then
		echo clang-14
	else
		echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2
		exit 1
	fi
}

build() {
	cc=$(pick_cc)
	[ -f "$builddir/config.h" ] || { echo "fuzz.sh: no config.h in $builddir (run configure)" >&2; exit 1; }
	[ -f "$builddir/proto/wiresync.pb-c.c" ] ||
		{ echo "fuzz.sh: $builddir/proto/wiresync.pb-c.c missing (make it first)" >&2; exit 1; }
	mkdir -p "$out/obj"
	# shellcheck disable=SC2086
	pc_cflags=$(pkg-config --cflags $PC_MODULES)
	# shellcheck disable=SC2086
	libs=$(pkg-config --libs $PC_MODULES)
	san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
	cflags="-std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter $san
	    -I$srcdir -I$builddir -DSYSCONFDIR=\"/etc\" -DLOCALSTATEDIR=\"/var\" $pc_cflags"
	objs=""
	pids=""
	n=0
	for s in $(lib_sources); do
		if [ -f "$srcdir/$s" ]; then src=$srcdir/$s; else src=$builddir/$s; fi
		o=$out/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')
		objs="$objs $o"
		if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ "$0" -nt "$o" ] ||
		    find "$srcdir/rpc" "$srcdir/common" "$srcdir/server" "$srcdir/agent" "$srcdir/wg" \
		        "$builddir/proto" -name '*.h' -newer "$o" | grep -q .; then
			# shellcheck disable=SC2086
			$cc $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$o" &
			pids="$pids $!"
			n=$((n + 1))
			if [ "$n" -ge "${FUZZ_JOBS:-2}" ]; then
				for p in $pids; do wait "$p"; done
				pids="" n=0
			fi
		fi
	done
	for p in $pids; do wait "$p"; done
	rm -f "$out/libws-fuzz.a"
	# shellcheck disable=SC2086
	ar cr "$out/libws-fuzz.a" $objs
	for t in $TARGETS; do
		echo "  FUZZ     fuzz/fuzz_$t"
		# shellcheck disable=SC2086
		$cc $cflags -fsanitize=fuzzer "$srcdir/test/fuzz/fuzz_$t.c" "$out/libws-fuzz.a" \
		    $libs -o "$out/fuzz_$t"
	done
}

# Runs target $1 for $2 seconds on a scratch copy of its seeds (new inputs stay out of the
# source tree). Any crash, leak, timeout or sanitizer report makes libFuzzer exit non-zero.
run_one() {
	t=$1 secs=$2
	bin=$out/fuzz_$t
	[ -x "$bin" ] || { echo "fuzz.sh: $bin not built (make fuzz)" >&2; return 1; }
	work=$out/work/$t
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$srcdir/test/fuzz/corpus/$t" ]; then
		cp "$srcdir/test/fuzz/corpus/$t"/* "$work/corpus/" 2>/dev/null || true
	fi
	dict=""
	[ -f "$srcdir/test/fuzz/$t.dict" ] && dict="-dict=$srcdir/test/fuzz/$t.dict"
	if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
		ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
		export ASAN_SYMBOLIZER_PATH
	fi
	# shellcheck disable=SC2086
	if ! (cd "$work" && "$bin" -max_total_time="$secs" -timeout=60 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$work/artifacts/" $dict ${FUZZ_ARGS:-} \
	    "$work/corpus" >"$work/log" 2>&1); then
		echo "FAIL: fuzz_$t (log $work/log)"
		grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$work/log" | head -n 20
		return 1
	fi
	stats=$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
	    "$work/log" | sed 's/^stat:://' | tr '\n' ' ')
	cov=$(grep -E '^#[0-9]+.*cov:' "$work/log" | tail -n 1 | sed -E 's/.*(cov: [0-9]+ ft: [0-9]+).*/\1/')
	echo "ok: fuzz_$t ${secs}s $cov $stats"
}

cmd=${1:-build}
case $cmd in
build)
	build
	;;
run)
	secs=${2:-30}
	only=${3:-}
	failed=0
	jobs=${FUZZ_RUN_JOBS:-1}
	mkdir -p "$out/work"
	set -- ${only:-$TARGETS}
	while [ $# -gt 0 ]; do
		# a batch of $jobs targets at once; each one's lines printed when the batch ends
		batch="" pids=""
		i=0
		while [ $# -gt 0 ] && [ $i -lt "$jobs" ]; do
			(run_one "$1" "$secs" >"$out/work/$1.status" 2>&1) &
			pids="$pids $!" batch="$batch $1"
			shift
			i=$((i + 1))
		done
		for p in $pids; do wait "$p" || failed=1; done
		for t in $batch; do cat "$out/work/$t.status"; done
	done
	exit $failed
	;;
-h|--help)
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	;;
*)
	echo "usage: fuzz.sh build | run [SECONDS] [NAME]" >&2
	exit 2
	;;
esac
