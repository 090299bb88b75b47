#!/usr/bin/env bash
# flowtap against flowtap-pktgen's ground truth (see truth_compare.py).
#   truth.sh FLOWTAP_REPLAY PKTGEN SCENARIO WORKERS
# One idle timeout for every protocol and state on both sides (100 ms), so the
# truth's end reasons are the ones flowtap must give.
set -uo pipefail
replay=$1 pktgen=$2 scenario=$3 workers=$4
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$pktgen" -s "$scenario" -D idle_timeout=100ms -D "class mice:idle_timeout=100ms" \
	-w "$tmp/in.pcap" -t "$tmp/truth.json" || { echo "pktgen failed"; exit 1; }
sets=()
for k in tcp_new tcp_established tcp_closed udp icmp other; do
	sets+=(--set "flow.${k}_timeout=100ms")
done
"$replay" -q -w "$workers" "${sets[@]}" -o "$tmp/out.jsonl" "$tmp/in.pcap" ||
	{ echo "flowtap-replay failed"; exit 1; }
python3 "$(dirname "$0")/truth_compare.py" "$tmp/out.jsonl" "$tmp/truth.json"
