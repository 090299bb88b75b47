#!/usr/bin/env bash
# Flow figures do not depend on the capture's snaplen: the same capture, whole
# and cut to 128 bytes a frame by editcap, gives every flow the same
# retransmissions, out-of-order segments, zero windows, packets, bytes, packet
# sizes and handshake RTTs in every statistics record (sequence ranges come
# from the IP length, so a cut is no hole; a cut frame counts the bytes its IP
# length gives), and every flow record the same packets and bytes; the summary
# says which bytes the cut took and that flows count them (uncut_bytes).
#   stats_snaplen.sh FLOWTAP_REPLAY PCAP...
set -uo pipefail
replay=$1
shift
command -v editcap >/dev/null || { echo "SKIP: editcap not installed"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0 retrans=0
for pcap in "$@"; do
	[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
	name=$(basename "$pcap")
	editcap -s 128 "$pcap" "$tmp/cut.pcap" || { echo "editcap failed on $name"; exit 1; }
	if [ "$(stat -c %s "$tmp/cut.pcap")" -ge "$(stat -c %s "$pcap")" ]; then
		echo "FAIL $name: the cut copy is not smaller: nothing was cut"; fail=1; continue
	fi
	for which in whole cut; do
		f=$pcap
		[ "$which" = cut ] && f=$tmp/cut.pcap
		rm -f "$tmp/out.jsonl"
		"$replay" -q --set stats.enable=true -o "$tmp/out.jsonl" "$f" ||
			{ echo "flowtap-replay failed on $f"; exit 1; }
		jq -c 'select(.type == "flow_stats") |
			[.kind, .src_ip, .src_port, .dst_ip, .dst_port, .proto, .time_ns,
			 .packets_fwd, .packets_rev, .retransmissions_fwd, .retransmissions_rev,
			 .out_of_order_fwd, .out_of_order_rev, .zero_windows_fwd, .zero_windows_rev,
			 .rtt_server_ns, .rtt_client_ns, .bytes_fwd, .bytes_rev, .size_max,
			 .size_mean]' "$tmp/out.jsonl" | sort >"$tmp/$which.health"
		jq -c 'select(.type == "flow") | [.src_ip, .src_port, .dst_ip, .dst_port, .proto,
			 .start_ns, .packets_fwd, .packets_rev, .bytes_fwd, .bytes_rev]' \
			"$tmp/out.jsonl" | sort >"$tmp/$which.flows"
		jq -r 'select(.type == "summary") | [.input.beyond_snaplen_bytes,
			 .input.uncut_bytes, .accounted.bytes] | @tsv' "$tmp/out.jsonl" >"$tmp/$which.input"
	done
	records=$(wc -l <"$tmp/whole.health")
	if ! diff "$tmp/whole.health" "$tmp/cut.health" >"$tmp/diff"; then
		echo "FAIL $name: TCP health differs once cut to 128 bytes ($(grep -c '^<' "$tmp/diff") of $records records):"
		head -6 "$tmp/diff"; fail=1
	elif ! diff "$tmp/whole.flows" "$tmp/cut.flows" >"$tmp/diff"; then
		echo "FAIL $name: flow records differ once cut to 128 bytes ($(grep -c '^<' "$tmp/diff") of $(wc -l <"$tmp/whole.flows")):"
		head -6 "$tmp/diff"; fail=1
	elif ! read -r beyond uncut acc <"$tmp/cut.input" || [ "$beyond" -eq 0 ] ||
		[ "$uncut" != "$beyond" ] || [ "$acc" != true ]; then
		echo "FAIL $name: cut copy: beyond_snaplen_bytes ${beyond:-?}, uncut_bytes ${uncut:-?}" \
			"(want equal, not 0), bytes accounted ${acc:-?}"; fail=1
	else
		n=$(jq -s 'map(select(.[0] == "final") | .[9] + .[10]) | add // 0' "$tmp/whole.health")
		echo "ok   $name: $records statistics records and $(wc -l <"$tmp/whole.flows") flow records equal, $n retransmissions, $beyond bytes beyond the snaplen all counted in flows"
		retrans=$((retrans + n))
	fi
done
# The comparison must have had something to compare.
if [ "$fail" = 0 ] && [ "$retrans" -eq 0 ]; then
	echo "FAIL: no retransmission in any capture: nothing was compared"; fail=1
fi
exit $fail
