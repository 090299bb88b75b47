# Shared by the live system tests (sourced): a veth pair whose far end sits in
# a network namespace, flowtap and flowtap-collector started on the near end,
# tcpreplay sending a capture from the far end. Needs $tmp set by the caller.
#
#   live_setup            veth pair $a (here) and $b (in namespace $ns), up
# Sourcing it sets the cleanup at exit: processes started, the veth pair and
# namespace, $tmp, flowtap's segment and runtime folder.
#   live_run PPS PCAP LCORES WORKERS FLOWTAP COLLECTOR [FLOWTAP SETTINGS...]
#                         runs the capture through flowtap (instance $inst,
#                         its log in $tmp/flowtap.log, records in
#                         $tmp/out.jsonl, summary in $tmp/summary.json); sets
#                         sent, and fail=1 (with the reason) if flowtap or the
#                         collector failed or tcpreplay could not send

ns=ftsys$$ a=fta$$ b=ftb$$ inst=live-$$
pids=()
live_cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip link del "$a" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -f "/dev/shm/flowtap.$inst"
	rm -rf "$tmp" "/var/run/dpdk/flowtap-$inst"
}

trap live_cleanup EXIT

live_setup() {
	ip netns add "$ns"
	ip link add "$a" type veth peer name "$b" netns "$ns"
	# No IPv6 autoconfiguration or other chatter of the kernel's own on the link.
	sysctl -qw "net.ipv6.conf.$a.disable_ipv6=1"
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$b.disable_ipv6=1"
	ip link set "$a" up
	ip -n "$ns" link set "$b" up # MTU 1500: XDP on veth refuses large ones
}

live_run() {
	local pps=$1 pcap=$2 lcores=$3 workers=$4 flowtap=$5 collector=$6 col dp dprc colrc failed
	shift 6
	"$collector" -i "$inst" --once -q -o "$tmp/out.jsonl" --summary "$tmp/summary.json" \
		--wait-timeout 30 &
	col=$!; pids+=($col)
	"$flowtap" "$lcores" --in-memory --file-prefix "flowtap-$inst" --log-level=lib.eal:error \
		--log-level='flowtap.*:notice' -- -i "$inst" --set export.linger=30s "$@" \
		2>"$tmp/flowtap.log" &
	dp=$!; pids+=($dp)
	for _ in $(seq 100); do
		[ "$(grep -c "worker [0-9]*: lcore" "$tmp/flowtap.log")" -ge "$workers" ] && break
		sleep 0.1
	done
	sleep 0.5
	ip netns exec "$ns" tcpreplay -i "$b" --pps "$pps" "$pcap" >"$tmp/tcpreplay.log" 2>&1
	sent=$(awk '/Successful packets:/ {print $3}' "$tmp/tcpreplay.log")
	failed=$(awk '/Failed packets:/ {print $3}' "$tmp/tcpreplay.log")
	sleep 1
	kill -INT $dp
	wait $dp; dprc=$?
	wait $col; colrc=$?
	if [ $dprc -ne 0 ] || [ $colrc -ne 0 ]; then
		echo "FAIL: flowtap $dprc, collector $colrc"; cat "$tmp/flowtap.log"; fail=1
	fi
	if [ "$failed" != 0 ]; then echo "FAIL: tcpreplay could not send $failed packets"; fail=1; fi
}
