#!/usr/bin/env bash
# The real dataplane and collector, started separately, as an operator would:
#   late      the collector starts after the dataplane finished: it gets every
#             record the rings still hold (the dataplane lingers for it)
#   restart   the collector is killed (SIGKILL) mid-run and another one started:
#             together they hold every flow (at-least-once: duplicates possible,
#             none missing), and packets add up to the capture's
#   drops     drop mode, a 1024-slot ring and a collector that comes late: the
#             records that did not fit are counted as ring drops, with their
#             packets, and the collector sees exactly that many sequence gaps
#
#   collector_lifecycle.sh FLOWTAP COLLECTOR PCAP PKTGEN
set -uo pipefail
flowtap=$1 collector=$2 pcap=$3 pktgen=$4
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
command -v capinfos >/dev/null || { echo "SKIP: capinfos not installed"; exit 77; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -f /dev/shm/flowtap.lc-$$-*
	rm -rf "$tmp" /var/run/dpdk/flowtap-lc-$$-*
}
trap cleanup EXIT
read -r cap_packets < <(capinfos -T -r -c -M "$pcap" | cut -f2)
fail=0

# Sum of packets over distinct flow records (by worker and flow id), plus the
# discards of the final summary, must equal the capture's packets.
check_union() { # name summary-file flow-files...
	local name=$1 summary=$2; shift 2
	local flows pkts disc dup
	read -r flows pkts dup < <(cat "$@" | jq -r 'select(.type=="flow") | [.worker, .flow_id,
		.packets_fwd + .packets_rev] | @tsv' | awk '
		{ n[$1" "$2]++; if (n[$1" "$2] == 1) { f++; p += $3 } else d++ }
		END { print f+0, p+0, d+0 }')
	disc=$(jq '[.discards[].packets] | add' "$summary")
	local created
	created=$(jq '.flows.created' "$summary")
	if [ "$flows" != "$created" ]; then
		echo "FAIL $name: $flows distinct flow records, the dataplane created $created"; fail=1
	fi
	if [ $((pkts + disc)) != "$cap_packets" ]; then
		echo "FAIL $name: flow packets $pkts + discards $disc != capture $cap_packets"; fail=1
	fi
	echo "ok   $name: $flows flows ($dup duplicates), $pkts + $disc packets = $cap_packets"
}

eal=(-l 0-1 --in-memory --log-level=lib.eal:warning --log-level=lib.telemetry:warning
	--log-level='flowtap.*:warning')

# --- late: the dataplane runs to the end with no collector, then waits.
inst=lc-$$-late
"$flowtap" "${eal[@]}" --log-level='flowtap.main:notice' --file-prefix=flowtap-$inst -- \
	--pcap "$pcap" -i $inst --set export.linger=60s 2>"$tmp/late.log" &
dp=$!; pids+=($dp)
# Its summary line is printed once every worker is done and the state FINISHED.
for _ in $(seq 300); do
	grep -q "records exported" "$tmp/late.log" && break
	sleep 0.1
done
grep -q "records exported" "$tmp/late.log" || { echo "FAIL late: dataplane did not finish"; cat "$tmp/late.log"; exit 1; }
"$collector" -i $inst --once -q -o "$tmp/late.jsonl" --summary "$tmp/late.summary" --wait-timeout 30
rc=$?
wait $dp; dprc=$?
if [ $rc -ne 0 ] || [ $dprc -ne 0 ]; then echo "FAIL late: collector $rc, flowtap $dprc"; fail=1; fi
[ "$(jq .complete "$tmp/late.summary")" = true ] || { echo "FAIL late: incomplete run"; fail=1; }
[ "$(jq .accounted.packets "$tmp/late.summary")" = true ] || { echo "FAIL late: not accounted"; fail=1; }
check_union late "$tmp/late.summary" "$tmp/late.jsonl"

# --- restart: a paced replay (a few seconds), collector A killed mid-run.
inst=lc-$$-restart
"$collector" -i $inst -q -o "$tmp/a.jsonl" --stats-interval 0 &
ca=$!; pids+=($ca)
"$flowtap" "${eal[@]}" --file-prefix=flowtap-$inst -- --pcap "$pcap" -i $inst \
	--set dataplane.replay_speed=1 --set dataplane.replay_max_gap=10ms \
	--set export.wait_collector=30s --set export.linger=60s &
dp=$!; pids+=($dp)
# Kill A once it has written some records, while the replay still runs.
for _ in $(seq 200); do
	[ "$(grep -c '"type":"flow"' "$tmp/a.jsonl" 2>/dev/null)" -ge 10 ] && break
	sleep 0.05
done
kill -9 $ca; wait $ca 2>/dev/null
got_a=$(grep -c '"type":"flow"' "$tmp/a.jsonl" || true)
"$collector" -i $inst --once -q -o "$tmp/b.jsonl" --summary "$tmp/b.summary" --wait-timeout 30
rc=$?
wait $dp; dprc=$?
if [ $rc -ne 0 ] || [ $dprc -ne 0 ]; then echo "FAIL restart: collector $rc, flowtap $dprc"; fail=1; fi
[ "$(jq .complete "$tmp/b.summary")" = true ] || { echo "FAIL restart: incomplete run"; fail=1; }
if [ "$got_a" -eq 0 ] || grep -q '"type":"summary"' "$tmp/a.jsonl"; then
	echo "FAIL restart: collector A was not killed mid-run ($got_a records)"; fail=1
fi
if [ "$(grep -c '"type":"flow"' "$tmp/b.jsonl")" -eq 0 ]; then
	echo "FAIL restart: collector B got no records (the run ended before the kill)"; fail=1
fi
echo "     restart: collector A wrote $got_a flow records before SIGKILL"
check_union restart "$tmp/b.summary" "$tmp/a.jsonl" "$tmp/b.jsonl"

# --- drops: 5000 UDP flows that all end at the end of the capture.
"$pktgen" --flows 5000 --packets-per-flow 2 --size 100 -w "$tmp/5k.pcap" -t "$tmp/5k.jsonl" >/dev/null
inst=lc-$$-drops
"$flowtap" "${eal[@]}" --log-level='flowtap.main:notice' --file-prefix=flowtap-$inst -- \
	--pcap "$tmp/5k.pcap" -i $inst --set export.overflow=drop --set export.ring_size=1024 \
	--set export.linger=60s 2>"$tmp/drops.log" &
dp=$!; pids+=($dp)
for _ in $(seq 300); do
	grep -q "records exported" "$tmp/drops.log" && break
	sleep 0.1
done
"$collector" -i $inst --once -q -o "$tmp/drops.jsonl" --summary "$tmp/drops.summary" --wait-timeout 30
wait $dp
# Every record type counts: 1023 delivered of any type (flow records and the
# statistics around them), every other one a ring drop, by type; flow records
# dropped carry their packets.
read -r recs gaps drops dpkts flowp acc frecs fdrops sum_types < <(jq -r '[
	(.records | del(.topk_lines) | add), .ring_drops.seq_gaps, .ring_drops.records,
	.ring_drops.packets, .flows.packets, .accounted.packets, .flows.records,
	.ring_drops.by_type.flow, (.ring_drops.by_type | add)] | @tsv' "$tmp/drops.summary")
if [ "$recs" != 1023 ] || [ "$drops" != "$gaps" ] || [ "$drops" != "$sum_types" ] ||
	[ "$acc" != true ] || [ $((dpkts + flowp)) != 10000 ] || [ $((frecs + fdrops)) != 5000 ]; then
	echo "FAIL drops: records $recs (want 1023), ring drops $drops (by type $sum_types)" \
		"and gaps $gaps (want equal), dropped packets $dpkts + flow packets $flowp" \
		"(want 10000), flow records $frecs + dropped $fdrops (want 5000), accounted $acc"
	fail=1
else
	echo "ok   drops: 1023 records delivered, $drops dropped and counted ($fdrops flow records," \
		"$dpkts packets), $gaps gaps seen"
fi
exit $fail
