#!/usr/bin/env bash
# TCP health does not depend on the capture's snaplen: the same capture, whole
# and cut to 128 bytes a frame by editcap, gives every flow the same
# retransmissions, out-of-order segments, zero windows, packets and handshake
# RTTs in every statistics record (sequence ranges come from the IP length, so
# a cut is no hole). Bytes differ: a cut capture holds fewer of them.
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
			 .rtt_server_ns, .rtt_client_ns]' "$tmp/out.jsonl" | sort >"$tmp/$which.health"
	done
	records=$(wc -l <"$tmp/whole.health")
	if ! diff "$tmp/whole.health" "$tmp/cut.health" >"$tmp/diff"; then
		echo "FAIL $name: TCP health differs once cut to 128 bytes ($(grep -c '^<' "$tmp/diff") of $records records):"
		head -6 "$tmp/diff"; fail=1
	else
		n=$(jq -s 'map(select(.[0] == "final") | .[9] + .[10]) | add // 0' "$tmp/whole.health")
		echo "ok   $name: $records statistics records equal, $n retransmissions"
		retrans=$((retrans + n))
	fi
done
# The comparison must have had something to compare.
if [ "$fail" = 0 ] && [ "$retrans" -eq 0 ]; then
	echo "FAIL: no retransmission in any capture: nothing was compared"; fail=1
fi
exit $fail
