#!/usr/bin/env bash
# flowtap's payload scanning throughput on one worker core, next to the ceiling
# measured on the same payload bytes in the same run: Hyperscan's raw block
# mode (flowtap-rules --bench: hs_scan over every packet's payload, from
# memory, on one core).
#
#   tools/bench/match.sh [--sets lit1000,lit10000,re100] [--seconds 5] [--rounds 3]
#                        [--flows 150]
#
# flowtap reads the capture from memory (net_pcap infinite_rx) on hugepages and
# runs its whole pipeline on one worker: rx, parse, flow table, TCP reassembly,
# chunk buffers, one Hyperscan stream per flow direction, match events. Every
# figure is per CPU second of the thread doing the work
# (CLOCK_THREAD_CPUTIME_ID), so other processes sharing the core do not count;
# runs alternate between the tools.
#
# Columns:
#   ceiling        Hyperscan block mode, payload by payload (the target's base)
#   stream         Hyperscan stream mode alone on the same payloads, one stream
#                  per flow direction, no reassembly: the cost of finding
#                  patterns across packets, before any of flowtap's work
#   flowtap        payload bytes flowtap scanned per worker CPU second
#   matcher        flowtap's matching alone: the same run's bytes over the extra
#                  CPU time per packet compared with flowtap without rules on
#                  the same input (rx, parse and flow table taken out)
#
# Input: pktgen/scenarios/bench-match.ini (IMIX TCP connections and UDP flows,
# text payload), --flows TCP connections (half as many UDP flows); rule sets from
# tools/bench/match_rules.py.
set -uo pipefail
cd "$(dirname "$0")/../.."
sets=lit1000,lit10000,re100 seconds=5 rounds=3 flows=150
while [ $# -gt 0 ]; do
	case $1 in
	--sets) sets=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--flows) flows=$2; shift 2 ;;
	*) echo "usage: $0 [--sets lit1000,lit10000,re100] [--seconds S] [--rounds R] [--flows N]" >&2
	   exit 2 ;;
	esac
done
build=${BUILD:-build}
pktgen=$build/pktgen/flowtap-pktgen flowtap=$build/src/dataplane/flowtap
rules_tool=$build/src/match/flowtap-rules
for x in "$pktgen" "$flowtap" "$rules_tool"; do
	[ -x "$x" ] || { echo "build first: meson setup build && ninja -C build" >&2; exit 1; }
done

work=$(mktemp -d /tmp/flowtap-bench-match.XXXXXX)
trap 'rm -rf "$work" /var/run/dpdk/flowtap-bmatch-*' EXIT

pcap=$work/imix.pcap
"$pktgen" -s pktgen/scenarios/bench-match.ini -D "class web:count=$flows" \
	-D "class dns:count=$(( (flows + 1) / 2 ))" -w "$pcap" -t "$work/truth.json" >/dev/null ||
	{ echo "flowtap-pktgen failed" >&2; exit 1; }
packets=$(python3 -c "import json; print(json.load(open('$work/truth.json'))['totals']['packets'])")

# Hugepages: flowtap holds the whole capture in 2 KiB mbufs.
need_mb=$(( packets * 2400 / 1048576 + 256 ))
free_mb=$(( $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) * 2 ))
[ "$free_mb" -ge "$need_mb" ] ||
	{ echo "need $need_mb MiB of free hugepages, have $free_mb (tools/setup.sh)" >&2; exit 1; }

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

hyperscan() { # rules -> "block stream" MB per CPU second
	local out
	out=$(taskset -c 1 "$rules_tool" --cache-dir "$work/cache" --bench "$pcap" \
		--seconds "$seconds" "$1" 2>&1)
	echo "$(grep -o 'block scan throughput: [0-9.]*' <<<"$out" | awk '{print $4}')" \
	     "$(grep -o 'stream scan throughput: [0-9.]*' <<<"$out" | awk '{print $4}')"
}

flowtap_run() { # [rules] -> "MB per CPU s, M packets per CPU s"
	local out rules=()
	[ -n "${1:-}" ] && rules=(--set match.rules="$1" --set match.cache_dir="$work/cache"
				   --set match.depth=0)
	out=$(timeout -s INT "$seconds" "$flowtap" -l 0-1 --in-memory --file-prefix flowtap-bmatch-$$ \
		--log-level=lib.eal:warning -- -i bmatch-$$ \
		--set port.bench.pcap="$pcap" --set port.bench.pcap_loop=true \
		--set flow.capacity=65536 --set export.linger=0 --set export.ring_size=1024 \
		"${rules[@]}" 2>&1 || true)
	local mbs mpps
	mbs=$(grep -o '[0-9.]* MB per worker CPU second' <<<"$out" | awk '{print $1}')
	mpps=$(grep -o '[0-9.]* M packets per worker CPU second' <<<"$out" | awk '{print $1}')
	if [ -z "$mpps" ]; then echo "flowtap gave no rate:" >&2; tail -5 <<<"$out" >&2; fi
	echo "${mbs:-0} ${mpps:-0}"
}

echo "flowtap match benchmark: $packets packets ($flows IMIX TCP connections, $(( (flows + 1) / 2 ))"
echo "UDP flows, text payload), $rounds rounds of ${seconds} s; one core each, figures per CPU second."
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Hyperscan $(pkg-config --modversion libhs 2>/dev/null)"
echo
printf '| rule set | rules | ceiling: block MB/s | stream MB/s | flowtap MB/s | flowtap / ceiling | matcher MB/s | matcher / ceiling | stream state bytes per flow |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for set in ${sets//,/ }; do
	rules=$work/$set.rules
	case $set in
	lit*) python3 tools/bench/match_rules.py literals "${set#lit}" >"$rules" ;;
	re*) python3 tools/bench/match_rules.py regex "${set#re}" >"$rules" ;;
	*) echo "unknown set $set (litN or reN)" >&2; exit 2 ;;
	esac
	info=$("$rules_tool" --cache-dir "$work/cache" "$rules") || { echo "$info" >&2; exit 1; }
	state=$(grep -o 'stream state: [0-9]*' <<<"$info" | awk '{print $3}')
	count=$(grep -o 'rules: [0-9]*' <<<"$info" | awk '{print $2}')
	bl=() st=() ft=() mt=()
	for _ in $(seq "$rounds"); do
		read -r b s < <(hyperscan "$rules")
		read -r m p < <(flowtap_run "$rules")
		read -r _ p0 < <(flowtap_run "")
		bl+=("$b"); st+=("$s"); ft+=("$m")
		# bytes per CPU second over the extra CPU time per packet that matching costs
		mt+=("$(awk -v m="$m" -v p="$p" -v p0="$p0" \
			'BEGIN {print (p > 0 && p0 > p ? m / (1 - p / p0) : 0)}')")
	done
	blm=$(printf '%s\n' "${bl[@]}" | median)
	stm=$(printf '%s\n' "${st[@]}" | median)
	ftm=$(printf '%s\n' "${ft[@]}" | median)
	mtm=$(printf '%s\n' "${mt[@]}" | median)
	printf '| %s | %s | %.0f | %.0f | %.0f (%s) | %.0f%% | %.0f | %.0f%% | %s (2 x %s) |\n' \
		"$set" "$count" "$blm" "$stm" "$ftm" "${ft[*]}" \
		"$(awk -v a="$ftm" -v b="$blm" 'BEGIN {print (b > 0 ? 100 * a / b : 0)}')" "$mtm" \
		"$(awk -v a="$mtm" -v b="$blm" 'BEGIN {print (b > 0 ? 100 * a / b : 0)}')" \
		"$((2 * state))" "$state"
done
echo
echo "Median of the rounds (flowtap's rounds in parentheses). Both scan the same bytes:"
echo "no retransmissions in the input, depth 0. Stream state: Hyperscan's, one per flow"
echo "direction; flowtap's own per-flow matching state comes on top (printed at start)."
