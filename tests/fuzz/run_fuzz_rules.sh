#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Run the rules-file fuzzer for a bounded time from a seed corpus: the shipped
# rules files (config/rules) and the integration tests' rule texts.
#
# Usage: run_fuzz_rules.sh FUZZER SOURCE_ROOT WORK_DIR SECONDS
set -eu
fuzzer=$1 root=$2 work=$3 seconds=$4
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
rm -rf "$work/corpus" "$work/artifacts" "$work/new"
mkdir -p "$work/corpus" "$work/artifacts" "$work/new"
for f in "$root"/config/rules/*.rules; do
	[ -r "$f" ] && cp "$f" "$work/corpus/"
done
# One seed per rule line of the shipped files, so mutations stay small.
n=0
for f in "$root"/config/rules/*.rules; do
	[ -r "$f" ] || continue
	grep -v '^#' "$f" | grep . | while IFS= read -r line; do
		n=$((n + 1))
		printf '%s\n' "$line" >"$work/corpus/line-$(basename "$f")-$n"
	done
done
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-artifact_prefix="$work/artifacts/" -print_final_stats=1 \
	"$work/new" "$work/corpus" || status=$?
if [ "$status" -ne 0 ]; then
	echo "fuzzer failed (status $status); reproducer(s) in $work/artifacts/:"
	ls -l "$work/artifacts/"
	[ "$status" -eq 77 ] && status=1
fi
exit "$status"
