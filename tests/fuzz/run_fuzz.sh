#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Run a libFuzzer harness for a bounded time from a seed corpus made, at test
# time, from the public captures (into the build folder, never into git).
#
# Usage: run_fuzz.sh FUZZER SEED_TOOL PCAP_DIR WORK_DIR SECONDS
#        run_fuzz.sh FUZZER - SEED_DIR WORK_DIR SECONDS   (seeds: SEED_DIR's files,
#                                                     not its folders)
#        run_fuzz.sh FUZZER - - WORK_DIR SECONDS          (no seeds)
# Exit: the fuzzer's status (0 clean, non-zero on a crash, a sanitizer report or
# a broken invariant; the reproducer is left in WORK_DIR).
set -eu
fuzzer=$1 seed_tool=$2 pcaps=$3 work=$4 seconds=$5

# -fsanitize=undefined only prints by default; a report must fail the run.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

rm -rf "$work/corpus" "$work/artifacts"
mkdir -p "$work/corpus" "$work/artifacts"
if [ "$seed_tool" = "-" ] && [ "$pcaps" = "-" ]; then
	: # no seeds: the harness makes its own input format
elif [ "$seed_tool" = "-" ]; then
	find "$pcaps/" -maxdepth 1 -type f -exec cp {} "$work/corpus/" \;
elif [ -d "$pcaps" ]; then
	# shellcheck disable=SC2046
	"$seed_tool" "$work/corpus" --per-file 64 --max-len 2048 \
		$(find "$pcaps/" -maxdepth 1 \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
else
	echo "no capture folder $pcaps: fuzzing from an empty corpus"
fi
# New inputs go to a scratch folder so the seed set stays what the captures give.
# libFuzzer's own exit code for a crash is 77, which meson reads as "skipped":
# ask for 1 (and 1 for a timeout), and never let 77 out.
mkdir -p "$work/new"
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-artifact_prefix="$work/artifacts/" -print_final_stats=1 \
	"$work/new" "$work/corpus" || status=$?
if [ "$status" -ne 0 ]; then
	echo "fuzzer failed (status $status); reproducer(s) in $work/artifacts/:"
	ls -l "$work/artifacts/"
	[ "$status" -eq 77 ] && status=1
fi
exit "$status"
