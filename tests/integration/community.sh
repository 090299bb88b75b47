#!/usr/bin/env bash
# flowtap's community_id against Wireshark's (community_compare.py).
#   community.sh FLOWTAP_REPLAY PCAP SEED [rules]
# With "rules", match_tshark.py's literals too: match lines carry their flow's.
set -uo pipefail
replay=$1 pcap=$2 seed=$3 rules=()
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if [ "${4:-}" = rules ]; then
	python3 "$(dirname "$0")/match_tshark.py" rules >"$tmp/r.rules" || exit 1
	rules=(-r "$tmp/r.rules" --set match.cache_dir="$tmp/cache")
fi
"$replay" -q --community-id="$seed" "${rules[@]}" -o "$tmp/out.jsonl" "$pcap" ||
	{ echo "flowtap-replay failed"; exit 1; }
python3 "$(dirname "$0")/community_compare.py" "$tmp/out.jsonl" "$pcap" "$seed"
