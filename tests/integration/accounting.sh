#!/usr/bin/env bash
# Accounting acceptance for one capture: flowtap-replay must either account for
# every packet and byte exactly, against capinfos' own totals, or refuse a link
# type it does not decode with a clear message (exit 2).
#
#   accounting.sh FLOWTAP_REPLAY PCAP
set -uo pipefail
replay=$1 pcap=$2
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
command -v capinfos >/dev/null || { echo "SKIP: capinfos not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$replay" -q -o "$tmp/out.jsonl" "$pcap" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "does not decode" "$tmp/err"; then
	echo "refused (unsupported link type): $(cat "$tmp/err")"
	exit 0
fi
if [ $rc -ne 0 ]; then
	echo "flowtap-replay exited $rc"; cat "$tmp/err"; exit 1
fi

# capinfos: packets and data size (sum of original lengths), table form.
read -r cap_packets cap_bytes < <(capinfos -T -r -c -d -M "$pcap" | cut -f2,3)
summary=$(grep '"type":"summary"' "$tmp/out.jsonl" | tail -1)
[ -n "$summary" ] || { echo "no summary line"; exit 1; }

# Recompute the identity from the summary's parts, independently of the
# collector's own "accounted" verdict.
read -r in_p in_b flow_p flow_b drop_p drop_b disc_p disc_b snap uncut loss_p loss_b < <(
	jq -r '[.input.packets, .input.bytes, .flows.packets, .flows.bytes,
		.ring_drops.packets, .ring_drops.bytes,
		([.discards[].packets] | add), ([.discards[].bytes] | add),
		.input.beyond_snaplen_bytes, .input.uncut_bytes,
		([.ports[] | (.file_packets - .ipackets)] | add),
		([.ports[] | (.file_bytes - .ibytes)] | add)] | @tsv' <<<"$summary")
fail=0
check() { # what got want
	if [ "$2" != "$3" ]; then echo "MISMATCH $1: flowtap $2, capinfos $3"; fail=1; fi
}
check "packets in the file" "$in_p" "$cap_packets"
check "bytes in the file" "$in_b" "$cap_bytes"
check "packets accounted (flows + ring drops + discards + not delivered)" \
	$((flow_p + drop_p + disc_p + loss_p)) "$cap_packets"
# Bytes the capture never held (snaplen) are named too; flows count those of
# cut frames their IP lengths give (uncut), so they are not named twice.
if [ "$loss_p" -eq 0 ]; then
	check "bytes accounted (flows + ring drops + discards + beyond snaplen - counted in flows)" \
		$((flow_b + drop_b + disc_b + snap - uncut)) "$cap_bytes"
fi
echo "$(basename "$pcap"): $cap_packets packets, $cap_bytes bytes; flows $flow_p/$flow_b," \
	"discards $disc_p/$disc_b, ring drops $drop_p, beyond snaplen $snap B ($uncut in flows)," \
	"$(jq -c '[.discards | to_entries[] | select(.value.packets > 0) | "\(.key)=\(.value.packets)"]' <<<"$summary")"
exit $fail
