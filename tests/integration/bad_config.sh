#!/usr/bin/env bash
# flowtap refuses a bad configuration before touching anything: exit status 2, a
# message naming the file, the line and the key, in well under a second, and no
# shared-memory segment or EAL runtime folder created.
#
#   bad_config.sh FLOWTAP PCAP
set -uo pipefail
flowtap=$1 pcap=$2
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
inst="badcfg-$$"
fail=0

# expect NAME EXPECTED-SUBSTRING CONFIG-TEXT [extra flowtap args...]
expect() {
	local name=$1 want=$2 text=$3; shift 3
	printf '%s' "$text" >"$tmp/$name.ini"
	local t0 t1 out rc
	t0=$(date +%s%N)
	out=$("$flowtap" -l 0-1 --in-memory -- -c "$tmp/$name.ini" -i "$inst" "$@" 2>&1)
	rc=$?
	t1=$(date +%s%N)
	if [ $rc -ne 2 ]; then
		echo "FAIL $name: exit $rc, want 2: $out"; fail=1; return
	fi
	if ! grep -qF -- "$want" <<<"$out"; then
		echo "FAIL $name: message lacks '$want': $out"; fail=1; return
	fi
	if grep -q "^EAL:" <<<"$out"; then
		echo "FAIL $name: EAL started before the error: $out"; fail=1; return
	fi
	if [ -e "/dev/shm/flowtap.$inst" ] || [ -e "/var/run/dpdk/flowtap-$inst" ]; then
		echo "FAIL $name: left a segment or runtime folder"; fail=1; return
	fi
	echo "ok   $name ($(( (t1 - t0) / 1000000 )) ms): $out"
}

f="$tmp"
expect unknown-key "$f/unknown-key.ini:3: [flow] idle: unknown key" \
	"[flow]
capacity = 100
idle = 30s
[port.a]
pcap = $pcap
"
expect bad-value "$f/bad-value.ini:2: [flow] capacity: 'many' is not a non-negative integer" \
	"[flow]
capacity = many
[port.a]
pcap = $pcap
"
expect out-of-range "$f/out-of-range.ini:2: [export] ring_size: 1000 is out of range" \
	"[export]
ring_size = 1000
[port.a]
pcap = $pcap
"
expect missing-pcap "$f/missing-pcap.ini:4: [port.a] pcap: cannot read '/nonexistent/none.pcap'" \
	"[flow]
capacity = 100
[port.a]
pcap = /nonexistent/none.pcap
"
expect unknown-section "$f/unknown-section.ini:1: [flows]: unknown section" \
	"[flows]
capacity = 100
"
expect no-input "no input" "[flow]
capacity = 100
"
expect bad-override "command line: [flow] capacity: 'x'" "[port.a]
pcap = $pcap
" --set flow.capacity=x
# A capture libpcap cannot read at all: named with its port section.
printf 'not a pcap' >"$tmp/junk.pcap"
expect unreadable-pcap "[port.a]: pcap: cannot read capture '$tmp/junk.pcap'" "[port.a]
pcap = $tmp/junk.pcap
"
# A looping capture whose largest frame does not fit one mbuf (net_pcap's
# infinite_rx would refuse the queue after EAL): what to set, before EAL.
expect loop-frame-too-big "[port.a]: pcap_loop keeps every frame in one mbuf" \
	"[dataplane]
mbuf_size = 192
[port.a]
pcap = $pcap
pcap_loop = true
"
# A capture filter libpcap cannot compile: file, line, the expression and
# libpcap's own message; one that makes no sense on the port's link type
# (a capture of Ethernet frames has no 802.11 header); one from --filter.
expect bad-filter "$f/bad-filter.ini:3: [port.a] filter: 'tcp port': can't parse filter expression: syntax error" \
	"[port.a]
pcap = $pcap
filter = tcp port
"
expect filter-link-type "$f/filter-link-type.ini:3: [port.a] filter: 'wlan type mgt': 802.11 link-layer types supported only on 802.11 (link type EN10MB)" \
	"[port.a]
pcap = $pcap
filter = wlan type mgt
"
expect bad-filter-option "command line (--filter): [port.a] filter: 'port 99999': illegal port number 99999 > 65535" \
	"[port.a]
pcap = $pcap
" --filter 'port 99999'
# A good one passes --check, which says it compiled it.
printf '[port.a]\npcap = %s\nfilter = udp port 53 or (vlan and tcp)\n' "$pcap" >"$tmp/good-filter.ini"
out=$("$flowtap" -l 0-1 --in-memory -- -c "$tmp/good-filter.ini" -i "$inst" --check 2>&1)
if [ $? -ne 0 ] || ! grep -q "is valid (1 port(s), capture filters compiled)" <<<"$out"; then
	echo "FAIL good-filter: $out"; fail=1
else
	echo "ok   good-filter: $out"
fi
# One that can never match, which tcpdump refuses too.
expect filter-rejects-all "[port.a] filter: 'ip and ip6': expression rejects all packets" \
	"[port.a]
pcap = $pcap
filter = ip and ip6
"
exit $fail
