#!/usr/bin/env bash
# Flow table designs compared on one core: ns per packet on the hit path (every
# flow live, random order) and the insert path, and bytes per flow, at 1k, 100k,
# 1M and 10M flows. See tools/bench/table.c for the designs and the method.
#
#   tools/bench/table.sh [--flows 1000,100000,1000000,10000000] [--rounds 3]
#                        [--variants flowtap,cuckoo,cuckoo-home,rte_hash,open-80,open-50]
#                        [--core 1]
#
# Needs hugepages (random access over gigabytes on 4 KiB pages measures the TLB,
# not the table): it checks free 2 MiB pages against the largest table and, when
# short, asks tools/setup.sh to reserve more (FLOWTAP_HUGEPAGES), which it leaves
# reserved.
set -uo pipefail
cd "$(dirname "$0")/../.."
flows=1000,100000,1000000,10000000 rounds=3 variants="" core=1
while [ $# -gt 0 ]; do
	case $1 in
	--flows) flows=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--variants) variants=$2; shift 2 ;;
	--core) core=$2; shift 2 ;;
	*) echo "usage: $0 [--flows N[,N...]] [--rounds R] [--variants a,b] [--core C]" >&2; exit 2 ;;
	esac
done
build=${BUILD:-build}
bench=$build/tools/bench/flowtap-bench-table
[ -x "$bench" ] || { echo "build first: meson setup build && ninja -C build" >&2; exit 1; }

# One design's table lives at a time; the largest takes about 280 bytes per flow
# (rte_hash: key store, buckets and entries; open-50: two 128-byte slots).
max_flows=$(tr ',' '\n' <<<"$flows" | sort -n | tail -1)
need_mb=$(( max_flows * 280 / 1048576 + 256 ))
. tools/bench/hugepages.sh
trap 'rm -rf /var/run/dpdk/bench-table-$$; release_hugepages' EXIT
ensure_hugepages "$need_mb" "$max_flows flows" || exit 1

echo "flow table designs, one core (lcore $core), 32-packet bursts, $rounds rounds alternating designs"
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
args=(--flows "$flows" --rounds "$rounds")
[ -n "$variants" ] && args+=(--variants "$variants")
"$bench" -l "$core" --no-pci --in-memory --file-prefix "bench-table-$$" \
	--log-level=lib.eal:warning --log-level=lib.telemetry:warning -- "${args[@]}" 2> >(grep -v -e '^EAL: No free 1048576 kB' -e '^TELEMETRY: No legacy callbacks' >&2)
rc=$?
echo
echo "hit: every flow live, flows drawn uniformly at random; insert: all flows created in"
echo "random order into an empty table of capacity flows + flows/4. ns per packet of the"
echo "table alone (the same loop without a table, making the packets, is subtracted);"
echo "median of the rounds, the hit figure of each round in the last column. bytes/flow:"
echo "DPDK heap allocated for the table over the live flows. probes/pkt: entries"
echo "examined per hit-path packet (open addressing)."
exit $rc
