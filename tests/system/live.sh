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
#   live.sh af_packet|af_packet_2q|af_xdp FLOWTAP COLLECTOR PKTGEN SCENARIO
set -uo pipefail
mode=$1 flowtap=$2 collector=$3 pktgen=$4 scenario=$5
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (veth, netns)"; exit 77; }
command -v tcpreplay >/dev/null || { echo "SKIP: tcpreplay not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
ns=ftsys$$ a=fta$$ b=ftb$$ inst=live-$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip link del "$a" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -f "/dev/shm/flowtap.$inst"
	rm -rf "$tmp" "/var/run/dpdk/flowtap-$inst"
}
trap cleanup EXIT

"$pktgen" -s "$scenario" -w "$tmp/in.pcap" -t "$tmp/truth.json" >/dev/null || exit 1
ip netns add "$ns"
ip link add "$a" type veth peer name "$b" netns "$ns"
# No IPv6 autoconfiguration or other chatter of the kernel's own on the link.
sysctl -qw "net.ipv6.conf.$a.disable_ipv6=1"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$b.disable_ipv6=1"
ip link set "$a" up
ip -n "$ns" link set "$b" up  # MTU 1500: XDP on veth refuses large ones

lcores=(-l 0-1) workers=1
case $mode in
af_packet) dev="net_af_packet0,iface=$a" ;;
af_packet_2q) dev="net_af_packet0,iface=$a,qpairs=2"
	# Two workers on whatever cores there are (the main lcore floats).
	last=$(( $(nproc) - 1 ))
	lcores=("--lcores=0@(0-$last),1@0,2@$last") workers=2 ;;
af_xdp) dev="net_af_xdp0,iface=$a,start_queue=0,queue_count=1" ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac

"$collector" -i "$inst" --once -q -o "$tmp/out.jsonl" --summary "$tmp/summary.json" \
	--wait-timeout 30 &
col=$!; pids+=($col)
"$flowtap" "${lcores[@]}" --in-memory --file-prefix "flowtap-$inst" --log-level=lib.eal:error \
	--log-level='flowtap.*:notice' -- -i "$inst" --set port.veth.device="$dev" \
	--set export.linger=30s 2>"$tmp/flowtap.log" &
dp=$!; pids+=($dp)
for _ in $(seq 100); do
	[ "$(grep -c "worker [0-9]*: lcore" "$tmp/flowtap.log")" -ge "$workers" ] && break
	sleep 0.1
done
sleep 0.5
ip netns exec "$ns" tcpreplay -i "$b" --pps 5000 "$tmp/in.pcap" >"$tmp/tcpreplay.log" 2>&1
sent=$(awk '/Successful packets:/ {print $3}' "$tmp/tcpreplay.log")
failed=$(awk '/Failed packets:/ {print $3}' "$tmp/tcpreplay.log")
sleep 1
kill -INT $dp
wait $dp; dprc=$?
wait $col; colrc=$?
fail=0
if [ $dprc -ne 0 ] || [ $colrc -ne 0 ]; then
	echo "FAIL: flowtap $dprc, collector $colrc"; cat "$tmp/flowtap.log"; fail=1
fi
if [ "$failed" != 0 ]; then echo "FAIL: tcpreplay could not send $failed packets"; fail=1; fi
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
