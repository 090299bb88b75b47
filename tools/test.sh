#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite twice:
#   - build/       the release build (gcc, -O2)
#   - build-asan/  clang with AddressSanitizer + UBSan (leaks included), which
#                  also builds and runs the libFuzzer harnesses (bounded runs
#                  over a seed corpus made from the public captures)
# Prints "tests: N passed, N failed[, N skipped]" last, counted from meson's own
# test logs, and exits non-zero if any test failed.
#
#   tools/test.sh                  everything
#   tools/test.sh --suite unit     only some suites (passed to meson test)
set -uo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh || exit 1

build() { # dir, meson options...
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
	fi
	ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { tail -50 "$dir.ninja.log"; return 1; }
}

build build || exit 1
CC=clang build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true \
	-Dbuildtype=debug || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0

# Every suite in both builds: the sanitizer build runs the real flowtap,
# collector and pktgen processes too, plus the fuzzers. Each test runs under
# tests/leftovers.sh: it fails if it leaves files in its TMPDIR or processes
# running.
# meson names its log after the wrapper; an old one must not be counted.
wrap=$PWD/tests/leftovers.sh log=meson-logs/testlog-leftovers.sh.json
rm -f "build/$log" "build-asan/$log"
meson test -C build --print-errorlogs --wrapper "$wrap" "$@"
rc1=$?
meson test -C build-asan --print-errorlogs --wrapper "$wrap" "$@"
rc2=$?

count() { # testlog.json -> "pass fail skip"
	[ -f "$1" ] || { echo "0 0 0"; return; }
	jq -rs '[ (map(select(.result=="OK" or .result=="EXPECTEDFAIL")) | length),
		  (map(select(.result=="FAIL" or .result=="TIMEOUT" or .result=="ERROR"
			or .result=="UNEXPECTEDPASS")) | length),
		  (map(select(.result=="SKIP")) | length) ] | @tsv' "$1"
}
read -r p1 f1 s1 < <(count "build/$log")
read -r p2 f2 s2 < <(count "build-asan/$log")
pass=$((p1 + p2)) fail=$((f1 + f2)) skip=$((s1 + s2))
line="tests: $pass passed, $fail failed"
[ "$skip" -gt 0 ] && line="$line, $skip skipped"
echo "$line"
[ "$fail" -eq 0 ] && [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]
