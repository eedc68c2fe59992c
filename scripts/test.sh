#!/bin/sh
# Sets everything up on a fresh Debian 12 machine (as root) and runs the whole test suite:
# warnings are errors, AddressSanitizer and UndefinedBehaviorSanitizer are on.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh --test
autoreconf -fi
mkdir -p build-test
cd build-test
../configure --enable-werror --enable-sanitizers
make -j"$(nproc)"
if ! make -j"$(nproc)" check; then
	for f in test/*.log; do
		echo "=== $f"; tail -n 60 "$f"
	done
	exit 1
fi
