#!/usr/bin/env bash
# Print the README's accounting table: every capture in a folder through
# flowtap-replay, against capinfos.
#   accounting_table.sh FLOWTAP_REPLAY PCAP_DIR
set -uo pipefail
replay=$1 dir=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for f in "$dir"/*.pcap "$dir"/*.pcapng; do
	[ -e "$f" ] || continue
	n=$(basename "$f")
	read -r cp cb < <(capinfos -T -r -c -d -M "$f" | cut -f2,3)
	rm -f "$tmp/o.jsonl" # the collector appends
	if ! "$replay" -q -o "$tmp/o.jsonl" "$f" 2>"$tmp/err"; then
		echo "| $n | $cp | $cb | refused: $(head -1 "$tmp/err") | | |"
		continue
	fi
	grep '"type":"summary"' "$tmp/o.jsonl" | jq -r --arg n "$n" --arg cp "$cp" --arg cb "$cb" '
		"| \($n) | \($cp) | \($cb) | \(.flows.packets) in \(.flows.created) flows | " +
		([.discards | to_entries[] | select(.value.packets > 0) | "\(.value.packets) (\(.key))"]
			| join(", ") | if . == "" then "0" else . end) +
		" | \(.input.beyond_snaplen_bytes) (\(.input.uncut_bytes)) |"'
done
