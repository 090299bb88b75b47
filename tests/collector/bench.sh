#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Drain-rate benchmark (a figure, not a test) of flowtap-collector against
# ft-test-producer's synthetic flow records, JSON lines written to OUTPUT.
#
#   bench.sh COLLECTOR PRODUCER [prefilled|live] [RECORDS_PER_WORKER] [WORKERS] [OUTPUT]
#
# prefilled: the producer fills rings big enough for every record first, then the
#            collector drains them alone (the collector's own rate).
# live:      both run at once, backpressure mode, 64 Ki-slot rings (the pair's rate
#            on this machine's two cores).
set -eu
COLLECTOR=$1
PRODUCER=$2
MODE=${3:-prefilled}
N=${4:-2000000}
W=${5:-2}
OUT=${6:-/dev/null}
inst="bench$$"
status=$(mktemp)
trap 'rm -f /dev/shm/flowtap.$inst "$status"' EXIT

if [ "$MODE" = prefilled ]; then
	ring=1
	while [ $ring -le "$N" ]; do ring=$((ring * 2)); done
	"$PRODUCER" -i "$inst" --workers "$W" --ring-size $ring --records "$N" \
		--status "$status" --linger 120 &
	prod=$!
	until grep -qx phase1 "$status"; do sleep 0.05; done
else
	"$PRODUCER" -i "$inst" --workers "$W" --ring-size 65536 --records "$N" \
		--overflow backpressure --wait-consumer --linger 120 &
	prod=$!
fi
[ "$OUT" = /dev/null ] || rm -f "$OUT"
start=$(date +%s.%N)
/usr/bin/time -f "collector CPU: %U s user, %S s system, %M KiB max RSS" \
	"$COLLECTOR" -i "$inst" --once --stats-interval 0 -o "$OUT" 2>&1 | grep -E 'records/s|CPU'
end=$(date +%s.%N)
wait $prod
awk -v n=$((N * W)) -v s="$start" -v e="$end" -v m="$MODE" \
	'BEGIN { printf "%s: %d records in %.3f s wall: %.2f M records/s\n", m, n, e - s, n / (e - s) / 1e6 }'
if [ "$OUT" != /dev/null ]; then
	ls -l "$OUT"
	rm -f "$OUT"
fi
