#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# flowtap-collector end-to-end cases against ft-test-producer (see README.md).
#
#   run.sh CASE COLLECTOR PRODUCER
#
# Flow lines are compared with the lines the producer says it enqueued (--expect,
# formatted independently with snprintf/inet_ntop/gmtime_r), sorted, with diff;
# summaries are compared with the producer's own totals (--truth). Exit 0 pass,
# 1 fail, 77 skip.
set -u

case_name=$1
COLLECTOR=$2
PRODUCER=$3

tmp=$(mktemp -d -t ft-collector-test.XXXXXX)
inst="ct$$-${case_name:0:20}"
inst=${inst//_/-}
seg="/dev/shm/flowtap.$inst"
pids=()
test_user=
test_group=

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -f "/dev/shm/flowtap.$inst" "/dev/shm/flowtap.$inst".*
	[ -n "$test_user" ] && userdel "$test_user" 2>/dev/null
	[ -n "$test_group" ] && groupdel "$test_group" 2>/dev/null
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	local f
	echo "FAIL [$case_name]: $*" >&2
	for f in "$tmp"/*.err "$tmp"/*.status; do
		[ -s "$f" ] || continue
		echo "--- $f" >&2
		tail -n 20 "$f" >&2
	done
	exit 1
}

note() { echo "[$case_name] $*"; }

# wait_until TIMEOUT_S COMMAND...: poll every 50 ms.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

has_line() { [ -f "$1" ] && grep -qx -- "$2" "$1"; }
has_text() { [ -f "$1" ] && grep -q -- "$2" "$1"; }
count_lines() { # FILE PATTERN
	if [ -f "$1" ]; then grep -c -- "$2" "$1"; else echo 0; fi
}
flow_count() { count_lines "$1" '^{"type":"flow"'; }
at_least_flows() { [ "$(flow_count "$1")" -ge "$2" ]; }
summary_count() { count_lines "$1" '^{"type":"summary"'; }
# Only whole lines: a collector killed mid-write may leave a cut one.
flows_sorted() { grep -hE '^\{"type":"flow".*\}$' "$@" | LC_ALL=C sort; }
summary() { grep '^{"type":"summary"' "$1" | tail -n 1; }
sj() { summary "$1" | jq -r "$2"; }
tj() { jq -r "$2" "$1"; }
alive() { kill -0 "$1" 2>/dev/null; }
inspect() { "$PRODUCER" -i "$inst" --inspect | jq -r "$1"; }

# The attached collector's claim and heartbeat, read from the segment.
check_claim() { # PID
	eq "$(inspect .consumer_pid)" "$1" "consumer_pid while attached"
	local hb1 hb2
	hb1=$(inspect .consumer_heartbeat_ns)
	[ "$(inspect '(.now_ns - .consumer_heartbeat_ns) < 500000000')" = true ] ||
		fail "consumer heartbeat older than 500 ms"
	sleep 0.3
	hb2=$(inspect .consumer_heartbeat_ns)
	[ "$hb2" -gt "$hb1" ] || fail "consumer heartbeat not refreshed in 300 ms"
}

# wait_exit PID TIMEOUT_S: the exit status, or 124 after killing it on timeout.
wait_exit() {
	if ! wait_until "$2" bash -c "! kill -0 $1 2>/dev/null || grep -q '^State:.*Z' /proc/$1/status 2>/dev/null"; then
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		return 124
	fi
	wait "$1"
}

# start_producer NAME ARGS...: sets $producer_pid; files $tmp/NAME.{truth,expect,status,err}
start_producer() {
	local name=$1
	shift
	"$PRODUCER" -i "$inst" --truth "$tmp/$name.truth" --expect "$tmp/$name.expect" \
		--status "$tmp/$name.status" "$@" 2>"$tmp/$name.err" &
	producer_pid=$!
	pids+=("$producer_pid")
}

# start_collector NAME ARGS...: sets $collector_pid; output in $tmp/NAME.out
start_collector() {
	local name=$1
	shift
	"$COLLECTOR" -i "$inst" -o "$tmp/$name.out" --stats-interval 0 "$@" 2>"$tmp/$name.err" &
	collector_pid=$!
	pids+=("$collector_pid")
}

expect_rc() { # expect_rc WANT GOT WHAT
	[ "$2" = "$1" ] || fail "$3: exit status $2, expected $1"
}

eq() { # eq GOT WANT WHAT
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# The collector's flow lines are exactly the lines of the records that entered
# the rings (each once).
check_flows_exact() { # check_flows_exact "OUT..." "EXPECT..."
	flows_sorted $1 >"$tmp/got.sorted"
	cat $2 | LC_ALL=C sort >"$tmp/want.sorted"
	[ -s "$tmp/want.sorted" ] || fail "producer enqueued nothing"
	if ! diff -q "$tmp/got.sorted" "$tmp/want.sorted" >/dev/null; then
		diff "$tmp/got.sorted" "$tmp/want.sorted" | head -n 6 >&2
		fail "flow lines differ from what the producer enqueued" \
			"($(wc -l <"$tmp/got.sorted") got, $(wc -l <"$tmp/want.sorted") expected)"
	fi
}

discard_names="non_ip,l2_truncated,l2_too_deep,ip_bad_version,ipv4_truncated,ipv4_bad_ihl,ipv4_bad_length,ipv6_truncated,ipv6_bad_ext,l4_truncated,tcp_bad_offset,flow_table_full,dispatch_full,filtered"
rfc3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$'

# Summary numbers against the producer's totals.
check_summary_vs_truth() { # OUT TRUTH
	local out=$1 truth=$2
	eq "$(sj "$out" .dataplane_pid)" "$(tj "$truth" .pid)" "dataplane_pid"
	eq "$(sj "$out" .workers)" "$(tj "$truth" .workers)" "workers"
	eq "$(sj "$out" .instance)" "$inst" "instance"
	eq "$(sj "$out" .version)" "test-producer" "version"
	eq "$(sj "$out" .flows.records)" "$(tj "$truth" .enqueued_records)" "flows.records"
	eq "$(sj "$out" .flows.packets)" "$(tj "$truth" .enqueued_packets)" "flows.packets"
	eq "$(sj "$out" .flows.bytes)" "$(tj "$truth" .enqueued_bytes)" "flows.bytes"
	eq "$(sj "$out" .flows.created)" "$(tj "$truth" '.issued|add')" "flows.created"
	eq "$(sj "$out" .rx.packets)" "$(tj "$truth" .rx_packets)" "rx.packets"
	eq "$(sj "$out" .rx.bytes)" "$(tj "$truth" .rx_bytes)" "rx.bytes"
	eq "$(sj "$out" '[.discards[].packets]|add')" "$(tj "$truth" .discard_packets)" "discard packets"
	eq "$(sj "$out" '[.discards[].bytes]|add')" "$(tj "$truth" .discard_bytes)" "discard bytes"
	eq "$(sj "$out" '.discards|keys_unsorted|join(",")')" "$discard_names" "discard names/order"
	eq "$(sj "$out" .ring_drops.records)" "$(tj "$truth" '.dropped|add')" "ring_drops.records"
	eq "$(sj "$out" .ring_drops.packets)" "$(tj "$truth" .dropped_packets)" "ring_drops.packets"
	eq "$(sj "$out" .ring_drops.bytes)" "$(tj "$truth" .dropped_bytes)" "ring_drops.bytes"
	summary "$out" | jq -e --arg re "$rfc3339" '(.start|test($re)) and (.end|test($re))' \
		>/dev/null || fail "start/end not RFC 3339 with 9 fraction digits"
}

# ---------------------------------------------------------------- cases

case_started_before() {
	start_collector c --once
	wait_until 5 has_text "$tmp/c.err" "waiting for $seg" || fail "no waiting notice"
	# STARTING for a while: the collector must wait, then attach.
	start_producer p --workers 3 --ring-size 4096 --records 3000 --rate 20000 \
		--starting-ms 400
	wait_exit "$collector_pid" 30
	expect_rc 0 $? "collector"
	wait_exit "$producer_pid" 30
	expect_rc 0 $? "producer"
	eq "$(grep -c 'waiting for' "$tmp/c.err")" 2 "one notice per wait reason (absent, starting)"
	has_text "$tmp/c.err" "to finish starting" || fail "no notice for a STARTING segment"
	check_flows_exact "$tmp/c.out" "$tmp/p.expect"
	eq "$(summary_count "$tmp/c.out")" 1 "summaries"
	eq "$(sj "$tmp/c.out" .complete)" true "complete"
	check_summary_vs_truth "$tmp/c.out" "$tmp/p.truth"
	eq "$(sj "$tmp/c.out" .ring_drops.seq_gaps)" 0 "seq_gaps"
	eq "$(sj "$tmp/c.out" .accounted.packets)" true "packets accounted"
	eq "$(sj "$tmp/c.out" .accounted.bytes)" true "bytes accounted"
	eq "$(tj "$tmp/p.truth" ".consumer_pids|index($collector_pid) != null")" true \
		"producer saw the collector's pid in consumer_pid"
	eq "$(tj "$tmp/p.truth" .final_consumer_pid)" 0 "consumer_pid cleared on exit"
	[ -e "$seg" ] && fail "segment left behind by the producer"
	note "$(flow_count "$tmp/c.out") flow lines identical to the producer's"
}

case_started_after() {
	start_producer p --workers 2 --ring-size 4096 --records 2500 --seed 7
	wait_until 10 has_line "$tmp/p.status" phase1 || fail "producer did not fill the rings"
	start_collector c --once
	wait_exit "$collector_pid" 30
	expect_rc 0 $? "collector"
	wait_exit "$producer_pid" 30
	expect_rc 0 $? "producer"
	has_text "$tmp/c.err" "waiting for" && fail "waited although the segment existed"
	check_flows_exact "$tmp/c.out" "$tmp/p.expect"
	eq "$(sj "$tmp/c.out" .complete)" true "complete"
	check_summary_vs_truth "$tmp/c.out" "$tmp/p.truth"
	eq "$(sj "$tmp/c.out" .ring_drops.seq_gaps)" 0 "seq_gaps"
	grep -qx drained "$tmp/p.status" || fail "producer did not see its rings drained"
}

case_accounting_file_port() {
	start_collector c --once
	start_producer p --workers 2 --ports 2 --file-port --beyond 12345 --ring-size 4096 \
		--records 3000 --rate 50000
	wait_exit "$collector_pid" 30
	expect_rc 0 $? "collector"
	wait_exit "$producer_pid" 30
	check_flows_exact "$tmp/c.out" "$tmp/p.expect"
	check_summary_vs_truth "$tmp/c.out" "$tmp/p.truth"
	local rxp rxb
	rxp=$(tj "$tmp/p.truth" .rx_packets)
	rxb=$(tj "$tmp/p.truth" .rx_bytes)
	eq "$(sj "$tmp/c.out" .input.packets)" "$rxp" "input.packets"
	eq "$(sj "$tmp/c.out" .input.captured_bytes)" "$rxb" "input.captured_bytes"
	eq "$(sj "$tmp/c.out" .input.bytes)" "$((rxb + 12345))" "input.bytes"
	eq "$(sj "$tmp/c.out" .input.beyond_snaplen_bytes)" 12345 "beyond_snaplen_bytes"
	eq "$(sj "$tmp/c.out" '.ports|map(.name)|join(",")')" "pcap0,pcap1" "port names"
	eq "$(sj "$tmp/c.out" '[.ports[].file_packets]|add')" "$rxp" "sum of file_packets"
	eq "$(sj "$tmp/c.out" .accounted.packets)" true "packets accounted"
	eq "$(sj "$tmp/c.out" .accounted.bytes)" true "bytes accounted (snaplen bytes included)"
	eq "$(sj "$tmp/c.out" .accounted.unaccounted_bytes)" 0 "unaccounted_bytes"
}

case_accounting_port_loss() {
	start_collector c --once
	start_producer p --workers 2 --imissed 77 --ring-size 4096 --records 2000
	wait_exit "$collector_pid" 30
	expect_rc 0 $? "collector"
	wait_exit "$producer_pid" 30
	check_summary_vs_truth "$tmp/c.out" "$tmp/p.truth"
	eq "$(sj "$tmp/c.out" .input.packets)" 0 "input.packets without file ports"
	eq "$(sj "$tmp/c.out" '.ports[0].imissed')" 77 "imissed"
	eq "$(sj "$tmp/c.out" .accounted.packets)" true "packets accounted (imissed counted as lost)"
	eq "$(sj "$tmp/c.out" .accounted.unaccounted_packets)" 0 "unaccounted_packets"
	eq "$(sj "$tmp/c.out" .accounted.unaccounted_bytes)" 0 "unaccounted_bytes"
	eq "$(sj "$tmp/c.out" .accounted.bytes)" false "bytes not claimed after port losses"
}

case_collector_killed() {
	start_collector a
	local a_pid=$collector_pid
	start_producer p --workers 2 --ring-size 1024 --records 50000 --rate 100000 \
		--overflow backpressure --wait-consumer
	wait_until 20 at_least_flows "$tmp/a.out" 15000 || fail "collector a too slow"
	kill -KILL "$a_pid"
	wait "$a_pid" 2>/dev/null
	local a_lines
	a_lines=$(flow_count "$tmp/a.out")
	start_collector b --once
	wait_exit "$collector_pid" 60
	expect_rc 0 $? "collector b"
	wait_exit "$producer_pid" 30
	expect_rc 0 $? "producer"
	eq "$(tj "$tmp/p.truth" '.dropped|add')" 0 "producer drops (backpressure)"
	# at-least-once: together they hold every record; duplicates are allowed
	flows_sorted "$tmp/a.out" "$tmp/b.out" >"$tmp/all.sorted"
	uniq "$tmp/all.sorted" >"$tmp/union.sorted"
	LC_ALL=C sort "$tmp/p.expect" >"$tmp/want.sorted"
	diff -q "$tmp/union.sorted" "$tmp/want.sorted" >/dev/null ||
		fail "records lost across the kill: $(comm -13 "$tmp/union.sorted" "$tmp/want.sorted" | wc -l) missing"
	eq "$(sj "$tmp/b.out" .complete)" true "b complete"
	local dups
	dups=$(($(wc -l <"$tmp/all.sorted") - $(wc -l <"$tmp/union.sorted")))
	note "a wrote $a_lines lines before SIGKILL, b the rest; $dups duplicates; $(grep -o 'reading again [0-9]* records' "$tmp/b.err" || echo 'no re-read')"
	# b did not receive what a wrote, and says so
	[ "$(sj "$tmp/b.out" .ring_drops.seq_gaps)" -gt 0 ] || fail "b reports no sequence gaps"
	eq "$(sj "$tmp/b.out" .accounted.packets)" false "b cannot account for a's packets"
}

case_output_failure() {
	start_producer p --workers 2 --ring-size 8192 --records 5000
	wait_until 10 has_line "$tmp/p.status" phase1 || fail "producer not ready"

	# An output that refuses every write: error, exit 1, nothing confirmed,
	# the claim released at once.
	"$COLLECTOR" -i "$inst" --once --stats-interval 0 -o - >/dev/full 2>"$tmp/f.err"
	expect_rc 1 $? "collector writing to /dev/full"
	has_text "$tmp/f.err" "standard output: No space left on device" ||
		fail "no output error message"
	eq "$(inspect .consumer_pid)" 0 "claim released after the output failure"

	# Killed in the middle of a write (SIGXFSZ at the file size limit): the
	# burst being written was taken from the ring but never confirmed.
	(
		ulimit -f 200
		exec "$COLLECTOR" -i "$inst" --once --stats-interval 0 -o "$tmp/a.out" 2>"$tmp/a.err"
	)
	local rc=$?
	expect_rc 153 "$rc" "collector killed by SIGXFSZ"
	[ "$(flow_count "$tmp/a.out")" -gt 0 ] || fail "nothing written before the limit"

	start_collector b --once
	wait_exit "$collector_pid" 30
	expect_rc 0 $? "next collector"
	wait_exit "$producer_pid" 30
	has_text "$tmp/b.err" "reading again 512 records" || fail "unconfirmed burst not re-read"
	flows_sorted "$tmp/a.out" "$tmp/b.out" | uniq >"$tmp/union.sorted"
	LC_ALL=C sort "$tmp/p.expect" >"$tmp/want.sorted"
	diff -q "$tmp/union.sorted" "$tmp/want.sorted" >/dev/null ||
		fail "records lost: $(comm -13 "$tmp/union.sorted" "$tmp/want.sorted" | wc -l) missing"
	local dups
	dups=$(($(flows_sorted "$tmp/a.out" "$tmp/b.out" | wc -l) - $(wc -l <"$tmp/union.sorted")))
	[ "$dups" -gt 0 ] || fail "expected the cut burst's written lines to appear twice"
	eq "$(sj "$tmp/b.out" .complete)" true "b complete"
	note "a wrote $(flow_count "$tmp/a.out") whole lines before SIGXFSZ; b re-read the burst; $dups duplicates"
}

case_stale_head() {
	start_producer p --workers 2 --ring-size 1024 --records 500 --stale-head 100
	wait_until 10 has_line "$tmp/p.status" phase1 || fail "producer not ready"
	start_collector c --once
	wait_exit "$collector_pid" 30
	expect_rc 0 $? "collector"
	wait_exit "$producer_pid" 30
	has_text "$tmp/c.err" "reading again 200 records" || fail "no re-read notice"
	check_flows_exact "$tmp/c.out" "$tmp/p.expect"
	eq "$(sj "$tmp/c.out" .ring_drops.seq_gaps)" 0 "seq_gaps"
	eq "$(sj "$tmp/c.out" .complete)" true "complete"
}

case_drop_overflow() {
	start_producer p --workers 2 --ring-size 256 --records 1000 --go "$tmp/go" \
		--records2 600 --overflow drop
	wait_until 10 has_line "$tmp/p.status" phase1 || fail "producer not ready"
	start_collector c --once
	wait_until 10 at_least_flows "$tmp/c.out" 510 || fail "collector did not drain phase 1"
	sleep 0.2
	kill -STOP "$collector_pid"
	touch "$tmp/go"
	wait_until 10 has_line "$tmp/p.status" finished || fail "producer did not finish"
	kill -CONT "$collector_pid"
	wait_exit "$collector_pid" 30
	expect_rc 0 $? "collector"
	wait_exit "$producer_pid" 30
	local drops
	drops=$(tj "$tmp/p.truth" '.dropped|add')
	[ "$drops" -gt 1000 ] || fail "producer dropped only $drops records"
	# the last record of worker 0 (seq 1599) was dropped: a trailing gap
	grep -q '"flow_id":1599,' "$tmp/p.expect" && fail "test setup: last record not dropped"
	check_flows_exact "$tmp/c.out" "$tmp/p.expect"
	check_summary_vs_truth "$tmp/c.out" "$tmp/p.truth"
	eq "$(sj "$tmp/c.out" .ring_drops.seq_gaps)" "$drops" "seq_gaps == dropped records"
	eq "$(sj "$tmp/c.out" .accounted.packets)" true "packets accounted with drops"
	eq "$(sj "$tmp/c.out" .complete)" true "complete"
	has_text "$tmp/c.err" "sequence numbers not received" && fail "spurious seq/drop mismatch warning"
	note "$drops records dropped, seq_gaps $(sj "$tmp/c.out" .ring_drops.seq_gaps)"
}

case_dataplane_restart() {
	start_collector c
	start_producer p1 --workers 2 --records 800 --ring-size 2048 --seed 11
	wait_exit "$producer_pid" 30
	expect_rc 0 $? "producer 1"
	wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"summary\"' $tmp/c.out) -ge 1 ]" ||
		fail "no summary for run 1"
	start_producer p2 --workers 3 --records 600 --ring-size 2048 --seed 12
	wait_exit "$producer_pid" 30
	expect_rc 0 $? "producer 2"
	wait_until 10 bash -c "[ \$(grep -c '^{\"type\":\"summary\"' $tmp/c.out) -ge 2 ]" ||
		fail "no summary for run 2"
	alive "$collector_pid" || fail "collector exited after a run without --once"
	kill -TERM "$collector_pid"
	wait_exit "$collector_pid" 10
	expect_rc 0 $? "collector after SIGTERM while waiting"
	eq "$(summary_count "$tmp/c.out")" 2 "summaries"
	eq "$(grep '^{"type":"summary"' "$tmp/c.out" | jq -r .dataplane_pid | paste -sd,)" \
		"$(tj "$tmp/p1.truth" .pid),$(tj "$tmp/p2.truth" .pid)" "one summary per run, in order"
	eq "$(grep '^{"type":"summary"' "$tmp/c.out" | jq -r '[.complete, .flows.records]|@tsv' | paste -sd,)" \
		"$(printf 'true\t%s,true\t%s' "$(tj "$tmp/p1.truth" .enqueued_records)" "$(tj "$tmp/p2.truth" .enqueued_records)")" \
		"complete runs with their own record counts"
	check_flows_exact "$tmp/c.out" "$tmp/p1.expect $tmp/p2.expect"
}

case_dataplane_vanished() {
	# -q: the reason an incomplete run gives exit status 1 is still said.
	start_collector c --once -q
	start_producer p --workers 2 --ring-size 2048 --records 1500 --end vanish
	wait_exit "$producer_pid" 30
	wait_exit "$collector_pid" 10
	expect_rc 1 $? "collector (dataplane vanished)"
	has_text "$tmp/c.err" "exited before finishing" || fail "no reason given"
	[ -e "$seg" ] || fail "segment should be left by the vanished producer"
	check_flows_exact "$tmp/c.out" "$tmp/p.expect"
	eq "$(sj "$tmp/c.out" .complete)" false "complete"
	eq "$(sj "$tmp/c.out" .flows.records)" "$(tj "$tmp/p.truth" .enqueued_records)" "records drained"
	# A collector started later drains the dead run once, reports it incomplete,
	# then (no --once) waits for a new run instead of collecting it again.
	start_collector c2 --wait-timeout 1
	wait_exit "$collector_pid" 10
	expect_rc 1 $? "collector on a dead segment (wait timeout)"
	eq "$(summary_count "$tmp/c2.out")" 1 "summaries of the dead run"
	eq "$(sj "$tmp/c2.out" .complete)" false "stale segment reported incomplete"
	has_text "$tmp/c2.err" "already collected; waiting for a new run" ||
		fail "no notice about the old run"
	rm -f "$seg"
}

case_dataplane_hung() {
	start_collector c --once
	start_producer p --workers 2 --ring-size 2048 --records 1000 --end hang
	wait_until 10 has_line "$tmp/p.status" hung || fail "producer did not hang"
	local t0=$SECONDS
	wait_exit "$collector_pid" 15
	expect_rc 1 $? "collector (heartbeat stalled)"
	local dt=$((SECONDS - t0))
	[ $dt -ge 2 ] || fail "gave up after ${dt}s, before the 3 s heartbeat limit"
	has_text "$tmp/c.err" "heartbeat stalled" || fail "no reason given"
	eq "$(sj "$tmp/c.out" .complete)" false "complete"
	check_flows_exact "$tmp/c.out" "$tmp/p.expect"
	kill -TERM "$producer_pid"
	wait_exit "$producer_pid" 10
}

case_signal_stop() {
	# while waiting: exit 0, no summary
	start_collector w
	wait_until 5 has_text "$tmp/w.err" "waiting for" || fail "no waiting notice"
	kill -INT "$collector_pid"
	wait_exit "$collector_pid" 5
	expect_rc 0 $? "SIGINT while waiting"
	eq "$(summary_count "$tmp/w.out")" 0 "summary without a run"

	start_producer p --workers 2 --ring-size 2048 --records 500 --end hold
	start_collector c
	local c_pid=$collector_pid
	wait_until 10 at_least_flows "$tmp/c.out" 1000 || fail "records not drained"
	check_claim "$c_pid"
	kill -INT "$c_pid"
	wait_exit "$c_pid" 5
	expect_rc 0 $? "collector after SIGINT"
	eq "$(summary_count "$tmp/c.out")" 1 "summaries"
	eq "$(sj "$tmp/c.out" .complete)" false "complete while the dataplane runs"
	kill -TERM "$producer_pid"
	wait_exit "$producer_pid" 10
	expect_rc 0 $? "producer"
	check_flows_exact "$tmp/c.out" "$tmp/p.expect"
	eq "$(tj "$tmp/p.truth" .final_consumer_pid)" 0 "consumer_pid cleared on SIGINT"
}

case_second_collector() {
	start_producer p --workers 1 --records 10 --end hold
	start_collector a
	local a_pid=$collector_pid
	wait_until 10 at_least_flows "$tmp/a.out" 10 || fail "a did not attach"
	start_collector b --once
	wait_exit "$collector_pid" 10
	expect_rc 2 $? "second collector"
	has_text "$tmp/b.err" "already consumed by pid $a_pid" || fail "no clear message"
	alive "$a_pid" || fail "first collector died"
	kill -TERM "$a_pid"
	wait_exit "$a_pid" 5
	expect_rc 0 $? "first collector"
	kill -TERM "$producer_pid"
	wait_exit "$producer_pid" 10
}

case_attach_errors() {
	local bad want
	for bad in magic version record-size ring; do
		case $bad in
		magic) want="bad magic 0x1122334455667788" ;;
		version)
			# The producer writes the collector's layout version + 1.
			local v
			v=$("$COLLECTOR" --version | sed -n 's/.*export layout \([0-9]*\).*/\1/p')
			want="layout version $((v + 1)), this flowtap-collector reads version $v" ;;
		record-size) want="record size 128, expected 256" ;;
		ring) want="ring of worker 1: size 2048" ;;
		esac
		rm -f "$tmp/p.status"
		start_producer p --bad "$bad"
		wait_until 10 has_line "$tmp/p.status" running || fail "producer ($bad) not up"
		start_collector c-$bad --once
		wait_exit "$collector_pid" 10
		expect_rc 2 $? "collector on a segment with bad $bad"
		has_text "$tmp/c-$bad.err" "$seg: $want" || fail "bad $bad: message lacks '$seg: $want'"
		kill -TERM "$producer_pid"
		wait_exit "$producer_pid" 10
	done
	start_collector t --once --wait-timeout 0.3
	wait_exit "$collector_pid" 5
	expect_rc 1 $? "wait timeout"
	has_text "$tmp/t.err" "gave up waiting for $seg after 0.3 s" || fail "no timeout message"
	"$COLLECTOR" -i 'a/b' --once 2>"$tmp/u.err"
	expect_rc 2 $? "invalid instance"
	"$COLLECTOR" --top x 2>"$tmp/u.err"
	expect_rc 2 $? "bad --top"
}

case_unprivileged() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root to create a throwaway user" >&2
		exit 77
	fi
	command -v setpriv >/dev/null || exit 77
	test_group="ftc$$g"
	test_user="ftc$$u"
	groupadd "$test_group" || fail "groupadd"
	useradd -M -N -g nogroup -s /usr/sbin/nologin "$test_user" || fail "useradd"
	local gid uid
	gid=$(getent group "$test_group" | cut -d: -f3)
	uid=$(id -u "$test_user")

	start_producer p --workers 2 --ring-size 2048 --records 1500 --group "$test_group" \
		--mode 0660 --go "$tmp/go"
	wait_until 10 has_line "$tmp/p.status" phase1 || fail "producer not ready"
	eq "$(stat -c '%a %G' "$seg")" "660 $test_group" "segment mode and group"

	# without the group: refused, with a message that says why
	setpriv --reuid="$uid" --regid=nogroup --clear-groups \
		"$COLLECTOR" -i "$inst" --once --stats-interval 0 >"$tmp/n.out" 2>"$tmp/n.err"
	expect_rc 2 $? "collector without group access"
	has_text "$tmp/n.err" "$seg: permission denied" || fail "no permission message"

	# with the group: drains everything
	setpriv --reuid="$uid" --regid=nogroup --groups="$gid" \
		"$COLLECTOR" -i "$inst" --once --stats-interval 0 >"$tmp/c.out" 2>"$tmp/c.err" &
	collector_pid=$!
	pids+=("$collector_pid")
	wait_until 10 at_least_flows "$tmp/c.out" 3000 || fail "unprivileged collector did not drain"
	eq "$(awk '/^Uid:/ {print $2, $3}' /proc/$collector_pid/status)" "$uid $uid" \
		"collector real/effective uid"
	check_claim "$collector_pid"
	touch "$tmp/go"
	wait_exit "$collector_pid" 30
	expect_rc 0 $? "unprivileged collector"
	wait_exit "$producer_pid" 30
	check_flows_exact "$tmp/c.out" "$tmp/p.expect"
	eq "$(sj "$tmp/c.out" .complete)" true "complete"
	eq "$(tj "$tmp/p.truth" .final_consumer_pid)" 0 "claim released"
}

type "case_$case_name" >/dev/null 2>&1 || {
	echo "unknown case $case_name" >&2
	exit 2
}
"case_$case_name"
note "ok"
exit 0
