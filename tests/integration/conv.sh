#!/usr/bin/env bash
# tshark conversation acceptance for one capture (see conv_compare.py).
#   conv.sh FLOWTAP_REPLAY PCAP [WORKERS [flowtap-replay options...]]
set -uo pipefail
replay=$1 pcap=$2 workers=${3:-1}
shift $(( $# < 3 ? $# : 3 ))
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$replay" -q -w "$workers" "$@" -o "$tmp/out.jsonl" "$pcap" || { echo "flowtap-replay failed"; exit 1; }
python3 "$(dirname "$0")/conv_compare.py" "$tmp/out.jsonl" "$pcap"
