#!/usr/bin/env bash
# flowtap's main job on a bundled sample, from nothing: install what is missing,
# build, make the sample traffic (config/samples/demo.ini, about 11 s of web,
# video, DNS and ping flows with a few malformed packets), replay it at its own
# pace through flowtap and flowtap-collector with live statistics every second,
# then summarise what came out.
#
#   tools/demo.sh              the bundled sample
#   tools/demo.sh FILE.pcap    your own capture (as fast as possible; SPEED=1 for
#                              its own pace)
# Output: $OUT (default /tmp/flowtap-demo): flows.jsonl, summary.json.
# BUILD=DIR uses that build directory (default build); FLOWTAP_DEMO_PREBUILT=1
# skips the setup and the build (the test suite runs the demo so).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
if [ -z "${FLOWTAP_DEMO_PREBUILT:-}" ]; then
	tools/setup.sh
	[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
	echo "demo: building"
	ninja -C "$build" >/dev/null
fi

out=${OUT:-/tmp/flowtap-demo}
mkdir -p "$out"
rm -f "$out/flows.jsonl" "$out/summary.json"
if [ $# -ge 1 ]; then
	pcap=$1 speed=${SPEED:-0}
else
	echo "demo: making the sample traffic from config/samples/demo.ini"
	"$build"/pktgen/flowtap-pktgen -s config/samples/demo.ini -w "$out/sample.pcap" \
		-t "$out/sample-truth.json"
	pcap=$out/sample.pcap speed=${SPEED:-1}
fi
echo "demo: replaying $pcap (speed $speed) through flowtap and flowtap-collector"
echo
# Short closing and idle timeouts so flows end, and show up, while the replay runs.
set +e
"$build"/src/replay/flowtap-replay --speed "$speed" --stats-interval 1 --top 5 \
	--set stats.enable=true \
	--set flow.tcp_closed_timeout=1s --set flow.udp_timeout=2s --set flow.icmp_timeout=2s \
	-o "$out/flows.jsonl" --summary "$out/summary.json" "$pcap"
rc=$?
set -e
[ -s "$out/summary.json" ] || { echo "demo: no summary (flowtap-replay exited $rc)"; exit 1; }

s=$out/summary.json f=$out/flows.jsonl
echo
echo "== summary ==================================================================="
jq -r '"input:     \(.input.packets) packets, \(.input.bytes) bytes",
	"flows:     \(.flows.records) records, \(.flows.packets) packets, \(.flows.bytes) bytes",
	"discarded: \([.discards | to_entries[] | select(.value.packets > 0) |
		"\(.key) \(.value.packets)"] | join(", ") | if . == "" then "none" else . end)",
	"ring drops: \(.ring_drops.records)",
	"accounted: packets \(.accounted.packets), bytes \(.accounted.bytes)"' "$s"
echo
echo "flows by protocol and end reason:"
jq -r 'select(.type == "flow") | "\(if .proto == 6 then "tcp" elif .proto == 17 then "udp"
	elif .proto == 1 then "icmp" elif .proto == 58 then "icmpv6" else .proto end) \(.end_reason)"' \
	"$f" | sort | uniq -c | sort -rn | sed 's/^/  /'
echo
echo "top 5 flows by bytes:"
jq -r 'select(.type == "flow") | [.bytes_fwd + .bytes_rev, .packets_fwd + .packets_rev,
	"\(.src_ip):\(.src_port) -> \(.dst_ip):\(.dst_port) proto \(.proto)"] | @tsv' "$f" |
	sort -rn | awk -F'\t' 'NR <= 5 {printf "  %10d bytes %7d packets  %s\n", $1, $2, $3}'
echo
echo "demo: flow records in $f, summary in $s (flowtap-replay exit status $rc)"
exit $rc
