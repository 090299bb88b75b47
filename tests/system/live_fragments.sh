#!/usr/bin/env bash
# IP fragments on a live link, two workers dispatching by flow: flowtap reads a
# veth through AF_XDP while tcpreplay sends tests/integration/
# match_fragments.py's capture into the other end (from a network namespace):
# patterns across fragments in order, reversed, overlapping, in a fragmented
# TCP segment, in IPv6. Later fragments sent before their first fragment wait
# for it on the reading worker (on the TSC clock here, not capture time) and
# must reach its worker: every pattern is found once at its offset, the early
# fragments are counted as waited, none unattributed, and every packet sent is
# in a flow. AF_XDP, not AF_PACKET: DPDK 22.11's AF_PACKET sockets join a
# fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel puts datagrams
# together before flowtap sees them (21 packets for the 38 frames sent).
#
#   live_fragments.sh FLOWTAP COLLECTOR
set -uo pipefail
flowtap=$1 collector=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (veth, netns)"; exit 77; }
command -v tcpreplay >/dev/null || { echo "SKIP: tcpreplay not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
. "$here/live_lib.sh"

python3 "$here/../integration/match_fragments.py" --write "$tmp" || exit 1
live_setup

# Two workers on whatever cores there are (the main lcore floats); one queue,
# so the worker reading it spreads packets over both by flow. 1,000 packets a
# second: a datagram's fragments 1 ms apart, well within [flow] fragment_wait
# (100 ms).
last=$(( $(nproc) - 1 ))
fail=0
live_run 1000 "$tmp/fragments.pcap" "--lcores=0@(0-$last),1@0,2@$last" 2 "$flowtap" "$collector" \
	--set port.veth.device="net_af_xdp0,iface=$a,start_queue=0,queue_count=1" \
	--set match.rules="$tmp/fragments.rules" --set match.cache_dir="$tmp/cache"
python3 - "$tmp" "$sent" <<'EOF' || fail=1
import json, sys
tmp, sent = sys.argv[1], int(sys.argv[2])
want = json.load(open(tmp + "/want.json"))
lines = [json.loads(l) for l in open(tmp + "/out.jsonl")]
summary = json.load(open(tmp + "/summary.json"))
events = sorted([e["rule"], e["offset"]] for e in lines if e["type"] == "match")
got = {"events": events, "fragments_waited": summary["fragments_waited"],
       "fragments_unattributed": summary["fragments_unattributed"],
       "rx": summary["rx"]["packets"], "accounted": summary["accounted"]["packets"]}
exp = dict(want, fragments_unattributed=0, rx=sent, accounted=True)
if got != exp:
    print("FAIL: got %s\n      want %s" % (got, exp))
    sys.exit(1)
print("ok   %d packets sent, %d events, %d later fragments waited for their first"
      % (sent, len(events), got["fragments_waited"]))
EOF
exit $fail
