#!/usr/bin/env bash
# Flows of a tunnelled capture against tshark's dissection (tunnel_compare.py).
#   tunnel.sh FLOWTAP_REPLAY PCAP WORKERS {inner|outer}
# inner: flowtap's default [flow] tunnels; outer: tunnels = none.
set -uo pipefail
replay=$1 pcap=$2 workers=$3 mode=$4
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
set_tunnels=()
[ "$mode" = outer ] && set_tunnels=(--set flow.tunnels=none)
"$replay" -q -w "$workers" "${set_tunnels[@]}" -o "$tmp/out.jsonl" "$pcap" ||
	{ echo "flowtap-replay failed"; exit 1; }
python3 "$(dirname "$0")/tunnel_compare.py" "$tmp/out.jsonl" "$pcap" "$mode"
