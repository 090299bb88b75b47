#!/usr/bin/env bash
# flowtap's matches on a public capture against a plain scan of the streams
# tshark reassembles (see match_tshark.py).
#   match_tshark.sh FLOWTAP_REPLAY PCAP WORKERS
set -uo pipefail
replay=$1 pcap=$2 workers=$3
here=$(cd "$(dirname "$0")" && pwd)
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 "$here/match_tshark.py" rules >"$tmp/literals.rules" || exit 1
"$replay" -q -w "$workers" -r "$tmp/literals.rules" --set match.depth=0 \
	--set match.cache_dir="$tmp/cache" -o "$tmp/out.jsonl" "$pcap" ||
	{ echo "flowtap-replay failed"; exit 1; }
python3 "$here/match_tshark.py" compare "$tmp/out.jsonl" "$pcap"
