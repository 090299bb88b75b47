#!/usr/bin/env bash
# Flow figures do not depend on the capture's snaplen: the same capture, whole
# and cut to 128 bytes a frame by editcap, gives every flow the same
# retransmissions, out-of-order segments, zero windows, packets, bytes, packet
# sizes and handshake RTTs in every statistics record (sequence ranges come
# from the IP length, so a cut is no hole; a cut frame counts the bytes its IP
# length gives), and every flow record the same packets and bytes; the summary
# says which bytes the cut took and that flows count them (uncut_bytes).
# Cut to 64 bytes, inside TCP headers with options, the flow records are still
# the same (the statistics leave such packets out of TCP health).
#   stats_snaplen.sh FLOWTAP_REPLAY PCAP...
set -uo pipefail
replay=$1
shift
command -v editcap >/dev/null || { echo "SKIP: editcap not installed"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0 retrans=0

replay_to() { # capture prefix: statistics, flow records and summary figures
	rm -f "$tmp/out.jsonl"
	"$replay" -q --set stats.enable=true -o "$tmp/out.jsonl" "$1" ||
		{ echo "flowtap-replay failed on $1"; exit 1; }
	jq -c 'select(.type == "flow_stats") |
		[.kind, .src_ip, .src_port, .dst_ip, .dst_port, .proto, .time_ns,
		 .packets_fwd, .packets_rev, .retransmissions_fwd, .retransmissions_rev,
		 .out_of_order_fwd, .out_of_order_rev, .zero_windows_fwd, .zero_windows_rev,
		 .rtt_server_ns, .rtt_client_ns, .bytes_fwd, .bytes_rev, .size_max,
		 .size_mean]' "$tmp/out.jsonl" | sort >"$2.health"
	jq -c 'select(.type == "flow") | [.src_ip, .src_port, .dst_ip, .dst_port, .proto,
		 .start_ns, .packets_fwd, .packets_rev, .bytes_fwd, .bytes_rev]' \
		"$tmp/out.jsonl" | sort >"$2.flows"
	jq -r 'select(.type == "summary") | [.input.beyond_snaplen_bytes,
		 .input.uncut_bytes, .accounted.bytes] | @tsv' "$tmp/out.jsonl" >"$2.input"
}

same() { # what whole cut name snap -> 0 if equal
	if ! diff "$2" "$3" >"$tmp/diff"; then
		echo "FAIL $4: $1 differ once cut to $5 bytes ($(grep -c '^<' "$tmp/diff") of $(wc -l <"$2")):"
		head -6 "$tmp/diff"
		return 1
	fi
}

uncut_all() { # prefix name snap -> 0 if every byte beyond the snaplen is in flows
	if ! read -r beyond uncut acc <"$1.input" || [ "$beyond" -eq 0 ] ||
		[ "$uncut" != "$beyond" ] || [ "$acc" != true ]; then
		echo "FAIL $2: cut to $3: beyond_snaplen_bytes ${beyond:-?}, uncut_bytes ${uncut:-?}" \
			"(want equal, not 0), bytes accounted ${acc:-?}"
		return 1
	fi
}

for pcap in "$@"; do
	[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
	name=$(basename "$pcap")
	replay_to "$pcap" "$tmp/whole"
	for snap in 128 64; do
		editcap -s "$snap" "$pcap" "$tmp/cut.pcap" || { echo "editcap failed on $name"; exit 1; }
		if [ "$(stat -c %s "$tmp/cut.pcap")" -ge "$(stat -c %s "$pcap")" ]; then
			echo "FAIL $name: the copy cut to $snap is not smaller: nothing was cut"; fail=1
			continue
		fi
		replay_to "$tmp/cut.pcap" "$tmp/cut$snap"
		same "flow records" "$tmp/whole.flows" "$tmp/cut$snap.flows" "$name" "$snap" || fail=1
		uncut_all "$tmp/cut$snap" "$name" "$snap" || fail=1
	done
	same "statistics records" "$tmp/whole.health" "$tmp/cut128.health" "$name" 128 || fail=1
	[ "$fail" = 0 ] || continue
	n=$(jq -s 'map(select(.[0] == "final") | .[9] + .[10]) | add // 0' "$tmp/whole.health")
	echo "ok   $name: $(wc -l <"$tmp/whole.health") statistics records and" \
		"$(wc -l <"$tmp/whole.flows") flow records equal cut to 128 bytes, flow records" \
		"cut to 64, $n retransmissions; every byte beyond the snaplen counted in flows"
	retrans=$((retrans + n))
done
# The comparison must have had something to compare.
if [ "$fail" = 0 ] && [ "$retrans" -eq 0 ]; then
	echo "FAIL: no retransmission in any capture: nothing was compared"; fail=1
fi
exit $fail
