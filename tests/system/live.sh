#!/usr/bin/env bash
# Live capture paths, end to end: flowtap reads a veth through AF_PACKET or
# AF_XDP while tcpreplay sends a generated scenario into the other end (from a
# network namespace). Every packet tcpreplay sent must be in a flow or a named
# discard, and the flows must match flowtap-pktgen's ground truth (packets,
# bytes, flags per direction; times and end reasons are the live ones).
# af_packet_2q reads two AF_PACKET queues with two workers: the queues are a
# kernel fanout that rolls packets over to the other queue when one is full,
# so flowtap must spread them over the workers in software (no flow split).
#
# With FILTER, the port has that capture filter: what tcpdump keeps of the
# scenario is in flows (or a parser's discard), the rest in discards.filtered.
#
#   live.sh af_packet|af_packet_2q|af_xdp FLOWTAP COLLECTOR PKTGEN SCENARIO [FILTER]
set -uo pipefail
mode=$1 flowtap=$2 collector=$3 pktgen=$4 scenario=$5 filter=${6:-}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (veth, netns)"; exit 77; }
command -v tcpreplay >/dev/null || { echo "SKIP: tcpreplay not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
. "$here/live_lib.sh"

"$pktgen" -s "$scenario" -w "$tmp/in.pcap" -t "$tmp/truth.json" >/dev/null || exit 1
live_setup

lcores=-l0-1 workers=1
case $mode in
af_packet) dev="net_af_packet0,iface=$a" ;;
af_packet_2q) dev="net_af_packet0,iface=$a,qpairs=2"
	# Two workers on whatever cores there are (the main lcore floats).
	last=$(( $(nproc) - 1 ))
	lcores="--lcores=0@(0-$last),1@0,2@$last" workers=2 ;;
af_xdp) dev="net_af_xdp0,iface=$a,start_queue=0,queue_count=1" ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac

fail=0
if [ -n "$filter" ]; then
	command -v tcpdump >/dev/null || { echo "SKIP: tcpdump not installed"; exit 77; }
	live_run 5000 "$tmp/in.pcap" "$lcores" "$workers" "$flowtap" "$collector" \
		--set port.veth.device="$dev" --set port.veth.filter="$filter"
	kept=$(tcpdump -r "$tmp/in.pcap" "$filter" 2>/dev/null | wc -l)
	read -r rx flowp disc filtered acc < <(jq -r '[.rx.packets, .flows.packets,
		([.discards[].packets] | add) - .discards.filtered.packets,
		.discards.filtered.packets, .accounted.packets] | @tsv' "$tmp/summary.json")
	if [ "$rx" != "$sent" ] || [ "$filtered" != $((sent - kept)) ] ||
		[ $((flowp + disc)) != "$kept" ] || [ "$kept" = 0 ] || [ "$kept" = "$sent" ] ||
		[ "$acc" != true ]; then
		echo "FAIL: sent $sent, tcpdump keeps $kept of them with '$filter'; flowtap received" \
			"$rx, filtered $filtered, flows $flowp + other discards $disc, accounted $acc"
		exit 1
	fi
	echo "ok   $mode with filter '$filter': tcpreplay sent $sent, tcpdump keeps $kept;" \
		"flowtap: $filtered filtered, $flowp in flows + $disc discarded"
	exit 0
fi
live_run 5000 "$tmp/in.pcap" "$lcores" "$workers" "$flowtap" "$collector" \
	--set port.veth.device="$dev"
read -r rx flowp disc acc < <(jq -r '[.rx.packets, .flows.packets, ([.discards[].packets] | add),
	.accounted.packets] | @tsv' "$tmp/summary.json")
if [ "$rx" != "$sent" ] || [ $((flowp + disc)) != "$sent" ] || [ "$acc" != true ]; then
	echo "FAIL: sent $sent, flowtap received $rx, flows $flowp + discards $disc, accounted $acc"
	fail=1
else
	echo "ok   $mode: tcpreplay sent $sent, flowtap: $flowp in flows + $disc discarded"
fi
if [ "$mode" = af_packet_2q ] &&
	! grep -q "port veth: 2 queues for 2 workers, spread over them in software" "$tmp/flowtap.log"; then
	echo "FAIL: two AF_PACKET queues for two workers are not spread in software:"
	cat "$tmp/flowtap.log"; fail=1
fi
python3 "$here/../integration/truth_compare.py" --live "$tmp/out.jsonl" "$tmp/truth.json" || fail=1
# The XDP program must be gone from the interface once flowtap exits.
if ip link show "$a" | grep -q xdp; then echo "FAIL: XDP program left on $a"; fail=1; fi
exit $fail
