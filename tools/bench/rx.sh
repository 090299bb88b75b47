#!/usr/bin/env bash
# flowtap's packet rate on one worker core, next to the ceiling measured on the
# same input in the same run: dpdk-testpmd --forward-mode=rxonly. Both read the
# same pcap of 64-byte packets from memory (net_pcap infinite_rx), on hugepages,
# one core each, in alternating rounds; the figure to quote is the ratio.
#
#   tools/bench/rx.sh [--flows 1000,100000,1000000,10000000] [--packets 1000000]
#                     [--seconds 8] [--rounds 3] [--size 64] [--against BUILD_DIR]
#                     [--stats] [--set S.K=V]... [--against-set S.K=V]...
#
# flowtap runs with [stats] off; --stats adds a run with them on (defaults:
# 10 buckets of 1 s, histograms, top 10 every second, every flow's periodic
# record every second) and reports what they cost per packet and per flow.
#
# --against runs a second flowtap build (e.g. of the main branch) in the same
# rounds, alternating with this one, and adds its figure and the ratio: on a
# shared machine only runs side by side compare. --set adds a flowtap setting
# (as flowtap's --set) to this build's runs, --against-set to the other's; with
# --against-set alone the other is this build, so two settings compare in the
# same rounds (e.g. --against-set dataplane.burst_size=64).
#
# Input: flowtap-pktgen, N UDP flows of equal size, all live at once (every flow
# spans the whole capture), so the flow table holds N flows in steady state. A
# capture holds max(--packets, N) packets (at least one per flow).
#
# Memory: both programs hold the whole capture in mbufs, and flowtap its flow
# table too: about 8.6 GiB of hugepages at 10M flows (10M packets). The script
# says what it needs, checks the free 2 MiB pages first and, when short, asks
# tools/setup.sh to reserve more (FLOWTAP_HUGEPAGES), which it gives back at exit.
#
# Timing: each program runs --seconds after it has started (loading the capture
# into mbufs is not timed), plus one second per 2M flows for flowtap, whose first
# pass over the capture creates the flows. Rates are steady-state per-second
# rates (see the notes printed under the table).
set -uo pipefail
cd "$(dirname "$0")/../.."
flows_list=1000,100000,1000000,10000000 packets=1000000 seconds=8 rounds=3 size=64 against="" stats=0
sets=() against_sets=()
while [ $# -gt 0 ]; do
	case $1 in
	--flows) flows_list=$2; shift 2 ;;
	--packets) packets=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--against) against=$2; shift 2 ;;
	--stats) stats=1; shift ;;
	--set) sets+=(--set "$2"); shift 2 ;;
	--against-set) against_sets+=(--set "$2"); shift 2 ;;
	*) echo "usage: $0 [--flows N[,N...]] [--packets N] [--seconds S] [--rounds R] [--size B] [--against BUILD_DIR] [--stats] [--set S.K=V]... [--against-set S.K=V]..." >&2; exit 2 ;;
	esac
done
build=${BUILD:-build}
[ -z "$against" ] && [ ${#against_sets[@]} -gt 0 ] && against=$build
pktgen=$build/pktgen/flowtap-pktgen flowtap=$build/src/dataplane/flowtap
[ -x "$pktgen" ] && [ -x "$flowtap" ] && [ -x "$build/src/collector/flowtap-collector" ] || { echo "build first: meson setup build && ninja -C build" >&2; exit 1; }
if [ -n "$against" ]; then
	[ -x "$against/src/dataplane/flowtap" ] && [ -x "$against/src/collector/flowtap-collector" ] ||
		{ echo "--against $against: no flowtap and flowtap-collector built there" >&2; exit 1; }
fi
command -v dpdk-testpmd >/dev/null || { echo "dpdk-testpmd missing: tools/setup.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/flowtap-bench.XXXXXX)
running="" collector="" # what is running, to stop on exit
cleanup() {
	[ -n "$collector" ] && kill -INT "$collector" 2>/dev/null && wait "$collector"
	[ -n "$running" ] && kill -INT "$running" 2>/dev/null && wait "$running"
	rm -rf "$work" /var/run/dpdk/flowtap-bench-$$ /var/run/dpdk/bench-tp-$$
	release_hugepages
}
trap cleanup EXIT

mbuf_size=$(( size + 128 > 192 ? size + 128 : 192 ))
capture_packets() { # flows -> packets in its capture
	local per=$(( packets / $1 )); [ "$per" -ge 1 ] || per=1
	echo $(( per * $1 ))
}
capacity_of() { echo $(( $1 + $1 / 4 + 1024 )); }

# Hugepages for the largest capture, as flowtap estimates them (it runs without
# hugepages, slower, when fewer are free): an mbuf is its data room plus 128
# bytes of struct rte_mbuf, 128 of private area and 64 of pool overhead; the
# flow table ~150 bytes per flow of capacity; a quarter more for the rest.
max_flows=$(tr ',' '\n' <<<"$flows_list" | sort -n | tail -1)
max_packets=$(capture_packets "$max_flows")
need_mb=$(( ((max_packets + 65536) * (mbuf_size + 320) + $(capacity_of "$max_flows") * 150) \
	* 5 / 4 / 1048576 + 256 ))
. tools/bench/hugepages.sh
ensure_hugepages "$need_mb" "$max_packets packets and $max_flows flows" || exit 1

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
# Median of the rounds that gave a figure (a failed run gives 0), two decimals.
median_ok() {
	local ok
	ok=$(printf '%s\n' "$@" | awk '$1 > 0')
	if [ -n "$ok" ]; then median <<<"$ok" | awk '{printf "%.2f", $1}'; else printf -- '-'; fi
}

# Start a program in the background and return once a line matching $2 shows
# in its output ($1): it has started. Fails if it exits or takes 2 minutes.
start_program() { # out pattern command...
	local out=$1 pattern=$2 waited=0
	shift 2
	"$@" >"$out" 2>&1 &
	running=$!
	until grep -q "$pattern" "$out" 2>/dev/null; do
		if ! kill -0 "$running" 2>/dev/null || [ "$waited" -ge 1200 ]; then
			stop_program; return 1
		fi
		sleep 0.1; waited=$((waited + 1))
	done
}
stop_program() {
	kill -INT "$running" 2>/dev/null
	wait "$running"
	running=""
}

testpmd_mpps() { # pcap packets
	local out=$work/testpmd.out rates
	start_program "$out" 'Rx-pps' dpdk-testpmd -l 0-1 --in-memory --no-pci \
		--file-prefix bench-tp-$$ --log-level=lib.eal:warning \
		--vdev "net_pcap0,rx_pcap=$1,infinite_rx=1" -- --forward-mode=rxonly \
		--total-num-mbufs=$(($2 + 65536)) --mbuf-size=$mbuf_size --stats-period 1 \
		--auto-start && sleep $(( seconds + 4 )) && stop_program
	# Steady state: the rates after the first two (before and at the start).
	# testpmd prints one about every 2 s (it sleeps a second between checks of
	# its 1 s period), hence the 4 more seconds.
	rates=$(grep -o 'Rx-pps: *[0-9]*' "$out" | awk '{print $2}' | tail -n +3)
	if [ -z "$rates" ]; then
		echo "testpmd gave no rate:" >&2; tail -5 "$out" >&2
		echo 0; return
	fi
	median <<<"$rates" | awk '{printf "%.2f", $1 / 1e6}'
}

# flowtap's per-second rates come from flowtap-collector's live statistics (on
# the main lcore's core): the steady state is the seconds in which no flow was
# created (the first pass over the capture creates them all), after the first
# such second. Its whole-run figure (warm-up and the final flush included) is
# the dataplane's own summary.
flowtap_run() { # build pcap capacity flows stats(true|false) [--set S.K=V]... -> "steady_Mpps run_Mpps bytes_per_flow stats_bytes_per_flow"
	local dir=$1 out=$work/flowtap.out stats=$work/collector.out steady run bpf sbpf
	shift
	local extra=("${@:5}")
	start_program "$out" 'worker 0: lcore' "$dir/src/dataplane/flowtap" -l 0-1 --in-memory \
		--file-prefix flowtap-bench-$$ --log-level=lib.eal:warning -- -i bench-$$ \
		--set port.bench.pcap="$1" --set port.bench.pcap_loop=true \
		--set dataplane.mbuf_size=$mbuf_size --set flow.capacity="$2" --set stats.enable="$4" \
		--set export.linger=0 --set export.ring_size=1024 ${extra[@]+"${extra[@]}"} ||
		{ echo "0 0 0 0"; return; }
	taskset -c 0 "$dir/src/collector/flowtap-collector" -i bench-$$ -o /dev/null --stats-interval 1 2>"$stats" &
	collector=$!
	sleep $(( seconds + $3 / 2000000 ))
	kill -INT "$collector"; wait "$collector"; collector=""
	stop_program
	steady=$(awk '/ rx .* Mpps/ && / 0 new\/s/ {for (i = 1; i < NF; i++) if ($(i+1) == "Mpps") print $i}' \
		"$stats" | tail -n +2 | median | awk '{printf "%.2f", $1}')
	run=$(grep -o '[0-9.]* Mpps' "$out" | awk '{print $1}')
	bpf=$(grep -o 'flow table of .* bytes per flow' "$out" | grep -o '[0-9]* bytes per flow' |
		awk '{print $1}')
	sbpf=$(grep -o 'statistics each: .* bytes per flow' "$out" | grep -o '[0-9]* bytes per flow' |
		awk '{print $1}')
	if [ -z "$run" ]; then echo "flowtap gave no rate:" >&2; tail -5 "$out" >&2; fi
	if [ -z "$steady" ]; then
		echo "flowtap: no second without flow creation in ${seconds} s (raise --seconds)" >&2
	fi
	if grep -q 'running without hugepages' "$out"; then
		echo "flowtap ran without hugepages (others took them?): figures not comparable" >&2
	fi
	echo "${steady:-0} ${run:-0} ${bpf:-0} ${sbpf:-0}"
}

echo "flowtap rx benchmark: 64-byte packets, max($packets, flows) per capture, $rounds rounds of ${seconds} s,"
echo "one core each; ceiling = dpdk-testpmd rxonly on the same capture (net_pcap infinite_rx)."
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
header='| flows | packets | testpmd rxonly Mpps | flowtap Mpps | flowtap / ceiling | flowtap Mpps, whole run | flow table bytes per flow |'
rule='|---:|---:|---:|---:|---:|---:|---:|'
[ -n "$against" ] && header="$header against: flowtap Mpps | flowtap / against |" rule="$rule---:|---:|"
[ "$stats" = 1 ] && header="$header with [stats] Mpps | [stats] ns per packet | [stats] bytes per flow |" rule="$rule---:|---:|---:|"
echo "$header"
echo "$rule"
for flows in ${flows_list//,/ }; do
	per_flow=$(( packets / flows )); [ "$per_flow" -ge 1 ] || per_flow=1
	npk=$(capture_packets "$flows")
	pcap=$work/in-$flows.pcap
	# Every flow's packets spread over the whole 1 s capture: all flows live at once.
	"$pktgen" --flows "$flows" --size "$size" --packets-per-flow "$per_flow" \
		--flow-duration 1s --spread 1ms -w "$pcap" >/dev/null ||
		{ echo "flowtap-pktgen failed" >&2; exit 1; }
	capacity=$(capacity_of "$flows")
	tp=() ft=() whole=() base=() st=() bpf=0 sbpf=0
	for _ in $(seq "$rounds"); do
		tp+=("$(testpmd_mpps "$pcap" "$npk")")
		read -r m w b _ < <(flowtap_run "$build" "$pcap" "$capacity" "$flows" false ${sets[@]+"${sets[@]}"})
		ft+=("$m"); whole+=("$w"); bpf=$b
		if [ -n "$against" ]; then
			read -r m _ _ _ < <(flowtap_run "$against" "$pcap" "$capacity" "$flows" false \
				${against_sets[@]+"${against_sets[@]}"})
			base+=("$m")
		fi
		if [ "$stats" = 1 ]; then
			read -r m _ _ sb < <(flowtap_run "$build" "$pcap" "$capacity" "$flows" true ${sets[@]+"${sets[@]}"})
			st+=("$m"); sbpf=$sb
		fi
	done
	tpm=$(median_ok "${tp[@]}") ftm=$(median_ok "${ft[@]}") wm=$(median_ok "${whole[@]}")
	row=$(printf '| %s | %s | %s (%s) | %s (%s) | %s | %s | %s |' "$flows" "$npk" "$tpm" "${tp[*]}" \
		"$ftm" "${ft[*]}" \
		"$(awk -v a="$ftm" -v b="$tpm" 'BEGIN {if (b > 0) printf "%.0f%%", 100 * a / b; else print "-"}')" \
		"$wm" "$bpf")
	if [ -n "$against" ]; then
		bm=$(median_ok "${base[@]}")
		row="$row $(printf ' %s (%s) | %s |' "$bm" "${base[*]}" \
			"$(awk -v a="$ftm" -v b="$bm" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')")"
	fi
	if [ "$stats" = 1 ]; then
		# ns per packet with statistics minus without, from each one's best
		# round: other work on the machine only ever slows a round down
		stb=$(printf '%s\n' "${st[@]}" | sort -g | tail -1)
		ftb=$(printf '%s\n' "${ft[@]}" | sort -g | tail -1)
		row="$row $(printf ' %s (%s) | %s | %s |' "$(median_ok "${st[@]}")" "${st[*]}" \
			"$(awk -v a="$stb" -v b="$ftb" 'BEGIN {if (a > 0 && b > 0) printf "%.1f", 1e3 / a - 1e3 / b; else print "-"}')" \
			"$sbpf")"
	fi
	echo "$row"
	rm -f "$pcap"
done
echo
echo "Median of the rounds, each round's figure in parentheses. Both rates are steady"
echo "state: the median of the periodic rates, testpmd's after its first two reports,"
echo "flowtap's over the seconds without flow creation (after the first pass over the"
echo "capture created every flow) but the first. Whole run: flowtap's own summary, packets over"
echo "its run time, warm-up and the final flush of every flow included. Bytes per flow:"
echo "flowtap's whole table over its capacity (flows + flows/4 + 1024)."
[ ${#sets[@]} -gt 0 ] && echo "This build's flowtap ran with: ${sets[*]}"
[ -n "$against" ] && echo "Against: $against${against_sets[0]+ with ${against_sets[*]}}, run in the same rounds right after this build's flowtap."
[ "$stats" = 1 ] && echo "[stats] ns per packet: 1000 / Mpps with statistics - 1000 / Mpps without, best rounds."

exit 0
