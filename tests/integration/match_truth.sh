#!/usr/bin/env bash
# flowtap's match events against flowtap-pktgen's ground truth (see
# match_compare.py): the rules are the scenario's patterns.
#   match_truth.sh FLOWTAP_REPLAY PKTGEN SCENARIO WORKERS [flowtap-replay options...]
# MATCH_DEPTH=N in the environment: flowtap runs with that [match] depth and the
# comparison expects what it implies.
set -uo pipefail
replay=$1 pktgen=$2 scenario=$3 workers=$4
shift 4
[ -n "${MATCH_DEPTH:-}" ] && set -- --set match.depth="$MATCH_DEPTH" "$@"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$pktgen" -s "$scenario" -w "$tmp/in.pcap" -t "$tmp/truth.json" || { echo "pktgen failed"; exit 1; }
python3 "$here/match_compare.py" rules "$tmp/truth.json" >"$tmp/truth.rules" || exit 1
"$replay" -q -w "$workers" -r "$tmp/truth.rules" --set match.cache_dir="$tmp/cache" "$@" \
	-o "$tmp/out.jsonl" "$tmp/in.pcap" || { echo "flowtap-replay failed"; exit 1; }
python3 "$here/match_compare.py" compare "$tmp/out.jsonl" "$tmp/truth.json" "$tmp/in.pcap"
