#!/usr/bin/env bash
# flowtap's packet rate on one worker core, next to the ceiling measured on the
# same input in the same run: dpdk-testpmd --forward-mode=rxonly. Both read the
# same pcap of 64-byte packets from memory (net_pcap infinite_rx), on hugepages,
# one core each, in alternating rounds; the figure to quote is the ratio.
#
#   tools/bench/rx.sh [--flows 1000,100000] [--packets 1000000] [--seconds 8]
#                     [--rounds 3] [--size 64] [--stats]
#
# Input: flowtap-pktgen, N UDP flows of equal size, all live at once (every flow
# spans the whole capture), so the flow table holds N flows in steady state.
# flowtap runs with [stats] off; --stats adds a run with them on (defaults:
# 10 buckets of 1 s, histograms, top 10 every second, every flow's periodic
# record every second) and reports what they cost per packet and per flow.
set -uo pipefail
cd "$(dirname "$0")/../.."
flows_list=100000 packets=1000000 seconds=8 rounds=3 size=64 stats=0
while [ $# -gt 0 ]; do
	case $1 in
	--flows) flows_list=$2; shift 2 ;;
	--packets) packets=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--stats) stats=1; shift ;;
	*) echo "usage: $0 [--flows N[,N...]] [--packets N] [--seconds S] [--rounds R] [--size B] [--stats]" >&2; exit 2 ;;
	esac
done
build=${BUILD:-build}
pktgen=$build/pktgen/flowtap-pktgen flowtap=$build/src/dataplane/flowtap
[ -x "$pktgen" ] && [ -x "$flowtap" ] || { echo "build first: meson setup build && ninja -C build" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { echo "dpdk-testpmd missing: tools/setup.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/flowtap-bench.XXXXXX)
trap 'rm -rf "$work" /var/run/dpdk/flowtap-bench-* /var/run/dpdk/bench-tp-*' EXIT

# Hugepages: both programs hold the whole capture in mbufs (~512 B each).
need_mb=$(( packets * 600 / 1048576 + 512 ))
free_mb=$(( $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) * 2 ))
if [ "$free_mb" -lt "$need_mb" ]; then
	FLOWTAP_HUGEPAGES=$(( (need_mb + 1) / 2 + $(awk '/HugePages_Total/ {print $2}' /proc/meminfo) - free_mb / 2 )) \
		tools/setup.sh >/dev/null
	free_mb=$(( $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) * 2 ))
	[ "$free_mb" -ge "$need_mb" ] || { echo "need $need_mb MiB of free hugepages, have $free_mb" >&2; exit 1; }
fi

mbuf_size=$(( size + 128 > 192 ? size + 128 : 192 ))
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

testpmd_mpps() { # pcap
	local out
	out=$(timeout -s INT "$seconds" dpdk-testpmd -l 0-1 --in-memory --no-pci \
		--file-prefix bench-tp-$$ --log-level=lib.eal:warning \
		--vdev "net_pcap0,rx_pcap=$1,infinite_rx=1" -- --forward-mode=rxonly \
		--total-num-mbufs=$((packets + 65536)) --mbuf-size=$mbuf_size --stats-period 1 \
		--auto-start 2>&1 || true)
	# Steady state: the per-second rates after the first (warm-up) second.
	local rates
	rates=$(grep -o 'Rx-pps: *[0-9]*' <<<"$out" | awk '{print $2}' | tail -n +3)
	if [ -z "$rates" ]; then
		echo "testpmd gave no rate:" >&2; tail -5 <<<"$out" >&2
		echo 0; return
	fi
	median <<<"$rates" | awk '{printf "%.2f", $1 / 1e6}'
}

flowtap_run() { # pcap capacity stats(true|false) -> "Mpps table_bytes_per_flow stats_bytes_per_flow"
	local out
	out=$(timeout -s INT "$seconds" "$flowtap" -l 0-1 --in-memory --file-prefix flowtap-bench-$$ \
		--log-level=lib.eal:warning -- -i bench-$$ \
		--set port.bench.pcap="$1" --set port.bench.pcap_loop=true \
		--set dataplane.mbuf_size=$mbuf_size --set flow.capacity="$2" \
		--set stats.enable="$3" \
		--set export.linger=0 --set export.ring_size=1024 2>&1 || true)
	local mpps bpf sbpf
	mpps=$(grep -o '[0-9.]* Mpps' <<<"$out" | awk '{print $1}')
	bpf=$(grep -o 'flow table of .* bytes per flow' <<<"$out" | grep -o '[0-9]* bytes per flow' |
		awk '{print $1}')
	sbpf=$(grep -o 'statistics each: .* bytes per flow' <<<"$out" |
		grep -o '[0-9]* bytes per flow' | awk '{print $1}')
	if [ -z "$mpps" ]; then echo "flowtap gave no rate:" >&2; tail -5 <<<"$out" >&2; fi
	echo "${mpps:-0} ${bpf:-0} ${sbpf:-0}"
}

echo "flowtap rx benchmark: $packets packets of $size bytes per capture, $rounds rounds of ${seconds} s,"
echo "one core each; ceiling = dpdk-testpmd rxonly on the same capture (net_pcap infinite_rx)."
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
if [ "$stats" = 1 ]; then
	printf '| flows | testpmd rxonly Mpps | flowtap Mpps | flowtap / ceiling | flow table bytes per flow | with [stats] Mpps | [stats] ns per packet | [stats] bytes per flow |\n'
	printf '|---:|---:|---:|---:|---:|---:|---:|---:|\n'
else
	printf '| flows | testpmd rxonly Mpps | flowtap Mpps | flowtap / ceiling | flow table bytes per flow |\n'
	printf '|---:|---:|---:|---:|---:|\n'
fi
for flows in ${flows_list//,/ }; do
	per_flow=$(( packets / flows )); [ "$per_flow" -ge 1 ] || per_flow=1
	pcap=$work/in-$flows.pcap
	# Every flow's packets spread over the whole 1 s capture: all flows live at once.
	"$pktgen" --flows "$flows" --size "$size" --packets-per-flow "$per_flow" \
		--flow-duration 1s --spread 1ms -w "$pcap" -t "$work/truth-$flows.jsonl" >/dev/null ||
		{ echo "flowtap-pktgen failed" >&2; exit 1; }
	capacity=$(( flows + flows / 4 + 1024 ))
	tp=() ft=() st=() bpf=0 sbpf=0
	for _ in $(seq "$rounds"); do
		tp+=("$(testpmd_mpps "$pcap")")
		read -r m b _ < <(flowtap_run "$pcap" "$capacity" false)
		ft+=("$m"); bpf=$b
		if [ "$stats" = 1 ]; then
			read -r m _ sb < <(flowtap_run "$pcap" "$capacity" true)
			st+=("$m"); sbpf=$sb
		fi
	done
	tpm=$(printf '%s\n' "${tp[@]}" | median)
	ftm=$(printf '%s\n' "${ft[@]}" | median)
	printf '| %s | %s (%s) | %s (%s) | %.0f%% | %s |' "$flows" "$tpm" "${tp[*]}" "$ftm" "${ft[*]}" \
		"$(awk -v a="$ftm" -v b="$tpm" 'BEGIN {print (b > 0 ? 100 * a / b : 0)}')" "$bpf"
	if [ "$stats" = 1 ]; then
		stm=$(printf '%s\n' "${st[@]}" | median)
		# ns per packet with statistics minus without, from each one's best
		# round: other work on the machine only ever slows a round down
		stb=$(printf '%s\n' "${st[@]}" | sort -g | tail -1)
		ftb=$(printf '%s\n' "${ft[@]}" | sort -g | tail -1)
		printf ' %s (%s) | %.1f | %s |' "$stm" "${st[*]}" \
			"$(awk -v a="$stb" -v b="$ftb" 'BEGIN {print (a > 0 && b > 0 ? 1e3 / a - 1e3 / b : 0)}')" \
			"$sbpf"
	fi
	echo
	rm -f "$pcap" "$work/truth-$flows.jsonl"
done
echo
echo "Median of the rounds, each round's figure in parentheses. flowtap's rate includes"
echo "its warm-up (the first pass creates every flow); testpmd's skips its first second."
[ "$stats" = 1 ] && echo "[stats] ns per packet: 1000 / Mpps with statistics - 1000 / Mpps without, best rounds."
