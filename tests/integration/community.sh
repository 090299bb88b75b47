#!/usr/bin/env bash
# flowtap's community_id against Wireshark's (community_compare.py).
#   community.sh FLOWTAP_REPLAY PCAP SEED
set -uo pipefail
replay=$1 pcap=$2 seed=$3
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$replay" -q --community-id="$seed" -o "$tmp/out.jsonl" "$pcap" ||
	{ echo "flowtap-replay failed"; exit 1; }
python3 "$(dirname "$0")/community_compare.py" "$tmp/out.jsonl" "$pcap" "$seed"
