#!/usr/bin/env bash
# The live view names a flow's tunnel: sv_gre-sample.pcap at five times its
# pace, top flows every second: its SSH connection inside GRE shows as
# "tcp in gre".
#   tunnel_live_view.sh FLOWTAP_REPLAY PCAP
set -uo pipefail
replay=$1 pcap=$2
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$replay" --top 3 --speed 5 -o /dev/null "$pcap" 2>"$tmp/err" ||
	{ echo "flowtap-replay failed"; cat "$tmp/err"; exit 1; }
if ! grep -Eq '^ +[0-9]+\. 66\.59\.111\.190:40264 -> 172\.28\.2\.3:22 tcp in gre [0-9]+ bytes' "$tmp/err"; then
	echo "FAIL: no top flow 'tcp in gre' in the live view:"; cat "$tmp/err"; exit 1
fi
echo "ok: $(grep -m1 'tcp in gre' "$tmp/err")"
