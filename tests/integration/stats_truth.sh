#!/usr/bin/env bash
# flowtap's sliding statistics against the capture and flowtap-pktgen's truth,
# with 1 and 2 workers (see stats_compare.py).
#   stats_truth.sh FLOWTAP_REPLAY PKTGEN SCENARIO TIMEOUT [ELEPHANT_CLASSES [K]]
# TIMEOUT is every idle timeout, on both sides (as truth.sh does). With
# ELEPHANT_CLASSES (comma-separated), the top-K (K, default 10) of every interval
# inside the elephants' lives must name them first, fastest first.
set -uo pipefail
replay=$1 pktgen=$2 scenario=$3 timeout=$4 elephants=${5:-} k=${6:-10}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$pktgen" -s "$scenario" -D "idle_timeout=$timeout" -w "$tmp/in.pcap" -t "$tmp/truth.json" ||
	{ echo "pktgen failed"; exit 1; }
# An active timeout shorter than the long flows: their flow records come in
# segments, their statistics must not (one final record per flow).
sets=(--set stats.enable=true --set stats.bucket=500ms --set stats.buckets=6 --set stats.interval=1s
	--set "stats.topk=$k" --set flow.active_timeout=1500ms)
for s in tcp_new tcp_established tcp_closed udp icmp other; do
	sets+=(--set "flow.${s}_timeout=$timeout")
done
for w in 1 2; do
	"$replay" -q -w "$w" "${sets[@]}" -o "$tmp/out-w$w.jsonl" "$tmp/in.pcap" ||
		{ echo "flowtap-replay -w $w failed"; exit 1; }
done
ns=$(python3 -c "
import sys; v = sys.argv[1]
print(int(float(v[:-2]) * 10**6) if v.endswith('ms') else int(float(v.rstrip('s')) * 10**9))" "$timeout")
python3 "$(dirname "$0")/stats_compare.py" ${elephants:+--elephants "$elephants"} \
	"$tmp/in.pcap" "$tmp/truth.json" "$ns" "$tmp/out-w1.jsonl" "$tmp/out-w2.jsonl"
