#!/usr/bin/env bash
# The README's first command, tools/demo.sh, on this build (no setup, no build
# step): it must exit 0, show live statistics and top flows while the replay
# runs, and end with a summary in which every packet and byte is accounted for.
#   demo.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
command -v jq >/dev/null || { echo "jq missing"; exit 77; }
out=$(mktemp -d -t flowtap-test-demo.XXXXXX)
trap 'rm -rf "$out"' EXIT
log=$out/demo.log
BUILD=$build FLOWTAP_DEMO_PREBUILT=1 OUT=$out/run "$src/tools/demo.sh" >"$log" 2>&1
rc=$?
fail() { echo "FAIL: $*"; tail -30 "$log"; exit 1; }
[ "$rc" = 0 ] || fail "tools/demo.sh exited $rc"
grep -q 'accounted: packets true, bytes true' "$log" || fail "summary does not account for every packet"
live=$(grep -c '^\[ *[0-9.]*s\] rx ' "$log")
[ "$live" -ge 5 ] || fail "$live lines of live statistics, expected one a second"
grep -q '^  top 5 by bytes' "$log" || fail "no live top-K"
# The summary's counts are the flow records' own.
recs=$(jq -s '[.[] | select(.type == "flow")] | length' "$out/run/flows.jsonl")
grep -q "^flows: *$recs records," "$log" || fail "summary's record count is not the $recs flow records"
[ "$(grep -c '^ *[0-9]* bytes *[0-9]* packets ' "$log")" = 5 ] || fail "not five top flows in the summary"
echo "demo: exit 0, $live live reports, $recs flow records, all accounted"
