#!/bin/sh
# Sets everything up on a fresh Debian 12 machine (as root) and runs the whole test suite:
# warnings are errors, AddressSanitizer and UndefinedBehaviorSanitizer are on.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh --test
autoreconf -fi
# a tree configured in place (./configure) refuses any build out of tree: undo it
if [ -f config.status ]; then
	echo "test.sh: the source tree was configured in place; make distclean there first"
	make distclean >/dev/null
fi
mkdir -p build-test
cd build-test
../configure --enable-werror --enable-sanitizers
make -j"$(nproc)"
if ! make -j"$(nproc)" check; then
	# the failing tests' logs first and longer: CI shows only the start of what follows
	failed=$(grep -l -E '^:test-result: (FAIL|ERROR)' test/*.trs 2>/dev/null || true)
	for f in $failed; do
		echo "=== FAILED ${f%.trs}.log"; grep -E '^not ok' "${f%.trs}.log"; tail -n 150 "${f%.trs}.log"
	done
	for f in test/*.log; do
		echo "=== $f"; tail -n 40 "$f"
	done
	exit 1
fi
# Every libFuzzer target (clang) for 30 s on its corpus: a crash, leak or UBSan report fails.
# A fixed seed makes a CI failure reproduce with this very command; exploring is the job of
# the long runs (scripts/fuzz.sh run 600), which use a fresh seed each time.
FUZZ_ARGS=-seed=1 FUZZ_RUN_JOBS="$(nproc)" make fuzz-run FUZZ_SECONDS=30 || exit 1
# The release tarball must build, test and install from itself too. Every file git tracks is
# in it (what the tests below do not touch as well), and the tests that reach furthest into
# the tree run from it: the units, the CA scripts, a new user's first steps, the console's
# pages and scripts, genconf. The whole suite ran above; twice would cost CI 12 minutes.
DIST_TESTS="test/check_units test/ca.test test/newuser.test test/genconf.test test/web.test test/webqr.test"
if ! make distcheck TESTS="$DIST_TESTS" >distcheck.log 2>&1; then
	tail -n 80 distcheck.log
	# the failing tests' own logs, from the tarball's build tree
	for f in $(grep -l -E '^:test-result: (FAIL|ERROR)' wiresync-*/_build/sub/test/*.trs 2>/dev/null); do
		echo "=== distcheck: ${f%.trs}.log"; grep -E '^not ok|^# ' "${f%.trs}.log" | tail -n 40
		tail -n 30 "${f%.trs}.log"
	done
	exit 1
fi
tarball=$(ls wiresync-*.tar.gz | head -n 1)
tar tzf "$tarball" | sed 's|^[^/]*/||' | sort >dist.list
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	missing=$(git -C "$top" ls-files | grep -v -x -e .gitignore -e m4/.gitkeep | sort |
		comm -23 - dist.list)
	if [ -n "$missing" ]; then
		echo "make distcheck: $tarball lacks these files of the tree (add them to EXTRA_DIST):"
		echo "$missing"
		exit 1
	fi
fi
echo "make distcheck: OK ($DIST_TESTS)"
# The Debian packages (test/deb.test): built from a copy of the tree, lintian clean, installed
# and purged. Not in make check: it builds the whole tree twice.
rc=0
srcdir=.. builddir=. sh ../test/deb.test >deb.log 2>&1 || rc=$?
if [ $rc -eq 77 ]; then
	echo "test/deb.test: $(tail -n 1 deb.log)"
elif [ $rc -ne 0 ]; then
	echo "=== test/deb.test failed"; grep -E '^not ok' deb.log; tail -n 80 deb.log
	exit 1
fi
grep -E '^[0-9]+ passed, [0-9]+ failed' deb.log | sed 's/^/test\/deb.test: /' || true
# One closing line over every test log: Check's counts and our scripts' "N passed, M failed".
passed=0 failed=0
for log in test/*.log; do
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+),.*/\1/')
		f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+),.*/\1/')
		e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
		f=$((f + e))
		passed=$((passed + n - f)) failed=$((failed + f))
		continue
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	[ -n "$line" ] || continue
	passed=$((passed + $(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')))
	failed=$((failed + $(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')))
done
echo "$passed passed, $failed failed"
