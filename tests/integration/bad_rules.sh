#!/usr/bin/env bash
# A bad rules file is a configuration error: flowtap exits with status 2 before
# EAL or any port starts, naming the file, the line, the rule and Hyperscan's
# own message; flowtap-replay -r passes it through, and flowtap-rules says the
# same. A good file passes --check; a damaged database cache is ignored.
#
#   bad_rules.sh FLOWTAP FLOWTAP_REPLAY FLOWTAP_RULES PCAP
set -uo pipefail
flowtap=$1 replay=$2 rules_tool=$3 pcap=$4
[ -r "$pcap" ] || { echo "SKIP: $pcap not found"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
inst="badrules-$$"
fail=0

# expect NAME WANT-STATUS EXPECTED-SUBSTRING RULES-TEXT
expect() {
	local name=$1 status=$2 want=$3 text=$4 out rc
	printf '%s' "$text" >"$tmp/$name.rules"
	printf '[match]\nrules = %s.rules\ncache_dir = cache\n[port.a]\npcap = %s\n' "$name" \
		"$pcap" >"$tmp/$name.ini"
	out=$("$flowtap" -l 0-1 --in-memory -- -c "$tmp/$name.ini" -i "$inst" --check 2>&1)
	rc=$?
	if [ $rc -ne "$status" ] || ! grep -qF -- "$want" <<<"$out" || grep -q "^EAL:" <<<"$out"; then
		echo "FAIL $name (flowtap): exit $rc, want $status and '$want': $out"; fail=1; return
	fi
	out=$("$rules_tool" "$tmp/$name.rules" 2>&1)
	rc=$?
	if [ $rc -ne "$status" ] || ! grep -qF -- "$want" <<<"$out"; then
		echo "FAIL $name (flowtap-rules): exit $rc, want $status and '$want': $out"; fail=1; return
	fi
	if [ -e "/dev/shm/flowtap.$inst" ]; then
		echo "FAIL $name: left a segment"; fail=1; return
	fi
	echo "ok   $name: $(head -1 <<<"$out")"
}

r="$tmp"
expect hyperscan 2 "$r/hyperscan.rules:3: rule '2:/(a)\\1/ name=backref': Hyperscan: Back-references are unsupported." \
	"1:/ok/
# a comment
2:/(a)\\1/ name=backref
"
expect empty-match 2 "$r/empty-match.rules:1: rule '5:/x*/': Hyperscan: Pattern matches empty buffer" \
	"5:/x*/
"
expect syntax 2 "$r/syntax.rules:2: rule '2:/abc/Z': unknown flag 'Z'" \
	"1:/ok/
2:/abc/Z
"
expect attribute 2 "$r/attribute.rules:1: rule '1:/abc/ dir=up': dir: 'up' is not one of to_server, to_client, both" \
	"1:/abc/ dir=up
"
expect duplicate 2 "$r/duplicate.rules:2: rule '1:/b/': ID 1 already used at line 1" \
	"1:/a/
1:/b/
"
expect empty 2 "$r/empty.rules: no rules" "# nothing
"
expect good 0 "rules" "1:/GET \\/admin/i name=admin dir=to_server proto=tcp port=80
2:/EVIL/ name=evil meta=\"severity high\"
"

# A missing rules file names the configuration line.
printf '[match]\nrules = none.rules\n[port.a]\npcap = %s\n' "$pcap" >"$tmp/missing.ini"
out=$("$flowtap" -l 0-1 --in-memory -- -c "$tmp/missing.ini" -i "$inst" 2>&1); rc=$?
if [ $rc -ne 2 ] || ! grep -qF "$tmp/missing.ini:2: [match] rules: cannot read '$tmp/none.rules'" <<<"$out"; then
	echo "FAIL missing: exit $rc: $out"; fail=1
else
	echo "ok   missing: $out"
fi

# flowtap-replay -r: the same status and message, and nothing left behind.
out=$("$replay" -q -r "$tmp/hyperscan.rules" -o "$tmp/out.jsonl" "$pcap" 2>&1); rc=$?
if [ $rc -ne 2 ] || ! grep -qF "hyperscan.rules:3: rule '2:/(a)\\1/ name=backref': Hyperscan:" <<<"$out"; then
	echo "FAIL replay: exit $rc: $out"; fail=1
else
	echo "ok   replay: exit 2"
fi

# The cache: the second start loads what the first compiled; a damaged file is
# ignored (and rewritten), never trusted.
out=$("$flowtap" -l 0-1 --in-memory -- -c "$tmp/good.ini" -i "$inst" --check 2>&1)
grep -q "loaded from the cache" <<<"$out" || { echo "FAIL cache reuse: $out"; fail=1; }
for f in "$tmp"/cache/flowtap-*.hsdb; do printf 'garbage' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null; done
out=$("$flowtap" -l 0-1 --in-memory -- -c "$tmp/good.ini" -i "$inst" --check 2>&1); rc=$?
if [ $rc -ne 0 ] || ! grep -q "checksum mismatch (damaged): ignored" <<<"$out" || ! grep -q "compiled in" <<<"$out"; then
	echo "FAIL damaged cache: exit $rc: $out"; fail=1
else
	echo "ok   damaged cache ignored and recompiled"
fi
exit $fail
