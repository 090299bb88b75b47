#!/usr/bin/env bash
# Flow tracking at scale, against flowtap-pktgen's ground truth:
#   million   1M concurrent UDP flows of 64-byte packets: every flow reported
#             exactly once, at its end, with exact packets and bytes
#   evict     20k concurrent flows in a 5000-flow table: nothing refused, the
#             evictions exported and counted, each flow's records summing to its
#             truth, and the totals adding up to the capture's
#
#   scale.sh million|evict FLOWTAP_REPLAY PKTGEN
set -uo pipefail
mode=$1 replay=$2 pktgen=$3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
case $mode in
million) flows=1000000 per=2 cap=1310720 ;;
evict) flows=20000 per=10 cap=5000 ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
# Every flow spans the whole (1 s) capture: all of them live at once.
"$pktgen" --flows $flows --size 64 --packets-per-flow $per --flow-duration 1s --spread 1ms \
	-w "$tmp/in.pcap" -t "$tmp/truth.jsonl" || { echo "pktgen failed"; exit 1; }
# Flow tracking alone: [stats] would add three records per flow (tests stats-*).
"$replay" -q --set flow.capacity=$cap  -o "$tmp/out.jsonl" \
	--summary "$tmp/summary.json" "$tmp/in.pcap"
rc=$?
[ $rc -eq 0 ] || { echo "flowtap-replay exited $rc (3: totals do not add up)"; exit 1; }
read -r created evicted refused < <(jq -r '[.flows.created, .flows.evicted,
	.discards.flow_table_full.packets] | @tsv' "$tmp/summary.json")
echo "$mode: $flows flows in a table of $cap: created $created, evicted $evicted, refused $refused"
fail=0
if [ "$refused" != 0 ]; then echo "FAIL: packets refused"; fail=1; fi
if [ $mode = million ]; then
	[ "$evicted" = 0 ] || { echo "FAIL: evictions with room for every flow"; fail=1; }
	python3 "$here/truth_sum.py" "$tmp/out.jsonl" "$tmp/truth.jsonl" --once || fail=1
else
	[ "$evicted" -gt 0 ] || { echo "FAIL: no evictions"; fail=1; }
	python3 "$here/truth_sum.py" "$tmp/out.jsonl" "$tmp/truth.jsonl" || fail=1
fi
exit $fail
