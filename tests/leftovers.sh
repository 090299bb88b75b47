#!/usr/bin/env bash
# meson test --wrapper: run one test, then fail it if it left anything behind.
#
#   leftovers.sh TEST_COMMAND [ARGS...]
#
# - Files: the test gets a TMPDIR of its own (mktemp, Python's tempfile and
#   every script here use it); whatever is still in it when the test exits is
#   named and the test fails. The directory is removed either way (kept with
#   KEEP_TMP=1 in the environment).
# - Processes: the test runs with a token in its environment, which everything
#   it starts inherits; a process still carrying it shortly after the test
#   exited is named, killed (it is the test's own) and the test fails.
#
# The test's own result stands otherwise: 77 (skip) and failures pass through.
set -u
[ $# -ge 1 ] || { echo "usage: $0 TEST_COMMAND [ARGS...]" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/flowtap-test.XXXXXX") || exit 1
token=flowtap-test-$$-$RANDOM$RANDOM

# meson's timeout signals the whole process group with SIGTERM (SIGKILL half a
# second later): the test's folder goes too.
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$dir"; exit 143' TERM

TMPDIR=$dir FLOWTAP_TEST_TOKEN=$token "$@"
rc=$?
trap - TERM

# A test that passed or skipped fails for what it left; a failure stays one.
fail_clean() { if [ "$rc" = 0 ] || [ "$rc" = 77 ]; then rc=1; fi; }

# Processes that still carry the token (the test's exit may race its last
# children's: give them a second).
stray() {
	grep -lsxF "FLOWTAP_TEST_TOKEN=$token" --null-data /proc/[0-9]*/environ 2>/dev/null |
		cut -d/ -f3
}
left=$(stray)
for _ in $(seq 10); do
	[ -z "$left" ] && break
	sleep 0.1
	left=$(stray)
done
if [ -n "$left" ]; then
	for p in $left; do
		echo "LEFTOVER: process $p still running after the test: $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)"
		kill -9 "$p" 2>/dev/null
	done
	fail_clean
fi

files=$(cd "$dir" && find . -mindepth 1 -maxdepth 2 | head -20)
if [ -n "$files" ]; then
	echo "LEFTOVER: files the test left in its TMPDIR ($dir):"
	sed 's/^/  /' <<<"$files"
	fail_clean
fi
[ -n "${KEEP_TMP:-}" ] || rm -rf "$dir"
exit "$rc"
