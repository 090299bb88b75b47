#!/usr/bin/env bash
# How flowtap stops on signals (README "Running"): one SIGINT or SIGTERM stops it
# in order (every flow exported, the summary printed, exit 0); a second signal
# exits at once. One while starting stops the start, cleans up and exits
# 128 + signal. The same signal delivered twice within a moment is one request:
# timeout(1) signals its child and then its own process group, and a scripted
# `kill -INT $pid; kill -INT $pid` does the same.
#
#   signals.sh FLOWTAP PCAP
set -uo pipefail
flowtap=$1 pcap=$2
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
[ -d /dev/hugepages ] || { echo "SKIP: no hugepages"; exit 77; }
tmp=$(mktemp -d)
inst=sig-$$ dp=
# flowtap replaying the capture in a loop, no collector (options may follow).
run=("$flowtap" -l 0-1 --in-memory --file-prefix "flowtap-$inst" --log-level=lib.eal:error
	-- -i "$inst" --set port.p.pcap="$pcap" --set port.p.pcap_loop=true
	--set export.ring_size=1024)
cleanup() {
	[ -n "$dp" ] && kill -9 "$dp" 2>/dev/null && wait "$dp" 2>/dev/null
	rm -f "/dev/shm/flowtap.$inst"
	rm -rf "$tmp" "/var/run/dpdk/flowtap-$inst"
}
trap cleanup EXIT
fail=0

# start LOG [extra options]: "${run[@]}" in the background; returns once its
# worker runs.
start() {
	local log=$1; shift
	"${run[@]}" "$@" 2>"$log" &
	dp=$!
	for _ in $(seq 100); do
		grep -q "worker 0: lcore" "$log" && break
		kill -0 "$dp" 2>/dev/null || break
		sleep 0.1
	done
	sleep 0.3
}

# finish NAME LOG WANT_RC: wait for flowtap; its exit status must be WANT_RC
# and, for an orderly stop (0), its log must hold the summary.
finish() {
	local name=$1 log=$2 want=$3 rc
	wait "$dp"; rc=$?; dp=
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL $name: exit $rc, want $want"; sed 's/^/    /' "$log"; fail=1; return
	fi
	if [ "$want" -eq 0 ] && ! grep -q "M packets per worker CPU second" "$log"; then
		echo "FAIL $name: no summary"; sed 's/^/    /' "$log"; fail=1; return
	fi
	echo "ok   $name: exit $rc"
}

# Two SIGINTs back to back: one orderly stop. Several rounds, since the
# second one must come after the handler ran for the first to matter.
for round in 1 2 3; do
	start "$tmp/twice.log" --set export.linger=0
	kill -INT "$dp"; kill -INT "$dp"
	finish "two SIGINTs back to back ($round)" "$tmp/twice.log" 0
done

# A SIGINT while starting (here during the 10M-flow table's allocation, just
# after the export segment exists): exit 130 soon, having said so, with the
# segment and EAL's runtime folder gone. Before, a script's background flowtap
# ignored it (SIG_IGN inherited until the handler came) and ran on for good.
"${run[@]}" --set flow.capacity=10000000 2>"$tmp/starting.log" &
dp=$!
for _ in $(seq 300); do
	grep -q "export: segment" "$tmp/starting.log" && break
	sleep 0.01
done
kill -INT "$dp"
for _ in $(seq 200); do
	kill -0 "$dp" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$dp" 2>/dev/null; then
	echo "FAIL a SIGINT while starting: still running 20 s later"; sed 's/^/    /' "$tmp/starting.log"
	fail=1
	kill -9 "$dp"
fi
finish "a SIGINT while starting" "$tmp/starting.log" 130
if ! grep -q "signal 2 while starting: stopped before" "$tmp/starting.log"; then
	echo "FAIL a SIGINT while starting: no message saying so"; fail=1
fi
for left in "/dev/shm/flowtap.$inst" "/var/run/dpdk/flowtap-$inst"; do
	if [ -e "$left" ]; then echo "FAIL a SIGINT while starting: $left left behind"; fail=1; fi
done

# timeout(1), as scripts (and tools/bench/match.sh) stop it, once flowtap runs:
# it starts in 0.2-0.4 s, in over 1 s on a loaded machine (a signal while
# starting is the case above).
for round in 1 2 3; do
	timeout -s INT 4 "${run[@]}" --set export.linger=0 2>"$tmp/timeout.log"
	rc=$?
	if [ "$rc" -ne 124 ] || ! grep -q "M packets per worker CPU second" "$tmp/timeout.log"; then
		echo "FAIL timeout -s INT ($round): exit $rc (124 wanted), summary:" \
			"$(grep -c 'M packets per worker CPU second' "$tmp/timeout.log")"
		sed 's/^/    /' "$tmp/timeout.log"; fail=1
	else
		echo "ok   timeout -s INT ($round): summary printed"
	fi
done

# A second SIGINT a second later means it: flowtap, lingering for a collector
# that never comes (records it could not hand over), exits at once with 130.
start "$tmp/again.log" --set export.linger=60s
kill -INT "$dp"
sleep 1
t0=$(date +%s%N)
kill -INT "$dp"
finish "a second SIGINT 1 s later" "$tmp/again.log" 130
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$ms" -gt 5000 ]; then echo "FAIL: it took $ms ms to exit after the second SIGINT"; fail=1; fi
exit $fail
