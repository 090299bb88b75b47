#!/usr/bin/env bash
# The live view says how many packets the capture filter refused: nd_1kxun.pcap
# at 30 times its pace with the filter 'udp'; its lines say "| filtered N",
# N growing to the summary's discards.filtered, and never more than the
# discards they also show.
#   filter_live_view.sh FLOWTAP_REPLAY PCAP
set -uo pipefail
replay=$1 pcap=$2
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$replay" --speed 30 --summary "$tmp/summary.json" -o /dev/null "$pcap" udp 2>"$tmp/err" ||
	{ echo "flowtap-replay failed"; cat "$tmp/err"; exit 1; }
total=$(jq -r '.discards.filtered.packets' "$tmp/summary.json")
seen=$(grep -o 'discards [0-9]* | ring drops [0-9]* | filtered [0-9]*' "$tmp/err" |
	awk '{print $2, $NF}')
if [ -z "$seen" ] || [ "$total" -le 0 ]; then
	echo "FAIL: no 'filtered' in the live view (summary: $total filtered):"; cat "$tmp/err"; exit 1
fi
# Each line: filtered <= discards; over the lines, filtered never goes down
# and ends at most at the summary's figure.
if ! awk -v total="$total" '$2 > $1 || $2 < last || $2 > total {bad = 1} {last = $2}
	END {exit bad}' <<<"$seen"; then
	echo "FAIL: live filtered counts (discards filtered) $(tr '\n' ';' <<<"$seen"), summary $total"
	exit 1
fi
echo "ok: live (discards, filtered): $(tr '\n' ';' <<<"$seen") summary: $total filtered"
