#!/usr/bin/env python3
"""Patterns split across IP fragments are found once; copies that come later
lose; datagrams that cannot be made whole are counted, not scanned.

    match_fragments.py FLOWTAP_REPLAY WORKERS [SECTION.KEY=VALUE...]
    match_fragments.py --write DIR

--write only writes the capture (DIR/fragments.pcap), its rules
(DIR/fragments.rules) and what a correct run gives (DIR/want.json: the events,
the later fragments that come before their first fragment) for
tests/system/live_fragments.sh, which sends the capture through a veth.

A generated capture, one flow per case, each with its own pattern (rule):

 1  UDP, three fragments in order, the pattern across the first boundary
 2  UDP, four fragments in reverse order, the pattern across two boundaries
 3  UDP, a fragment sent twice with other bytes the second time: the first
    copy's pattern is found (rule 3), the second copy's never (rule 4)
 5  TCP, after the handshake one segment in three fragments, out of order;
    the pattern across fragments, at its stream offset
 6  IPv6 UDP, two fragments (fragment header), the pattern across them
 7  UDP, the middle fragment never captured: the pattern across it is not
    found; the datagram is given up at the end of input
 8  TCP, a first fragment with only 8 bytes of TCP header (RFC 1858's tiny
    fragment), the rest of the header in the next: found, at its offset
 9  UDP, not fragmented: the control
10  UDP, two last fragments that end in different places (before the rest):
    invalid, counted, its pattern not found
11  IPv6 UDP with a hop-by-hop header before the fragment header and a
    destination options header after it (fragmentable data, so the later
    fragments' header names the options, not UDP), three fragments, the
    pattern across all three

Checked: the events (rule, offset), exactly; the summary's defrag counters;
the payload categories (every payload byte captured once); that every later
fragment sent before its first fragment (cases 2, 5, 10 and 11) waited for it
(fragments_waited) and joined its flow: no flow without ports; and the same
again with [match] defrag_datagrams = 0, where no pattern inside fragments is
found.

Then a crowd: CROWD UDP datagrams of two fragments (2,008 bytes, one block of
the defragmenter's pool each), every first fragment before any second one,
each with the pattern across its fragments. At the defaults all are put
together and found; with [match] defrag_memory = 64k (32 blocks) the first 32
are, and the others are given up for memory, counted, their bytes in
fragment_bytes.
"""
import json
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from match_evasion import checksum, frame, replay_lines, write_pcap  # noqa: E402

ETH4 = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
ETH6 = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x86\xdd"
PATTERNS = {
    1: b"FRAG-IN-ORDER-PATTERN",
    2: b"REVERSE-ORDER-SPLIT-PATTERN",
    3: b"FIRST-COPY-WINS!",
    4: b"LATER-COPY-LOSE!",
    5: b"TCP-SEGMENT-IN-FRAGMENTS",
    6: b"IPV6-FRAGMENTED-PATTERN",
    7: b"NEVER-WHOLE-PATTERN",
    8: b"TINY-FIRST-FRAGMENT",
    9: b"UNFRAGMENTED-CONTROL",
    12: b"CROWDED-DATAGRAM-PATTERN",
    10: b"TWO-DIFFERENT-ENDS",
    11: b"IPV6-OPTIONS-AFTER-FRAGMENT-HEADER",
}


def ip4(n):
    return bytes([10, 7, n, 1]), bytes([10, 7, n, 2])


def udp(src, dst, sport, dport, payload):
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, 17, len(u))
    else:
        pseudo = src + dst + struct.pack("!I3xB", len(u), 17)  # length, 3 zero bytes, next header
    return u[:6] + struct.pack("!H", checksum(pseudo + u) or 0xFFFF) + u[8:]


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload):
    t = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(t))
    return t[:16] + struct.pack("!H", checksum(pseudo + t)) + t[18:]


def ipv4_fragments(src, dst, proto, ident, data, cuts):
    """Frames of datagram `data` (its L4 bytes) cut at the offsets in cuts."""
    bounds = [0] + cuts + [len(data)]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        more = hi != len(data)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + hi - lo, ident,
                         (0x2000 if more else 0) | lo // 8, 64, proto, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        out.append(ETH4 + ip + data[lo:hi])
    return out


def ipv6_fragments(src, dst, proto, ident, data, cuts):
    bounds = [0] + cuts + [len(data)]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        more = hi != len(data)
        fh = struct.pack("!BBHI", proto, 0, lo | (1 if more else 0), ident)
        ip = struct.pack("!IHBB16s16s", 6 << 28, 8 + hi - lo, 44, 64, src, dst)
        out.append(ETH6 + ip + fh + data[lo:hi])
    return out


def ipv6_fragments_ext(src, dst, proto, ident, data, cuts):
    """Hop-by-hop options, then the fragment header, then (fragmentable)
    destination options before the L4 header."""
    pad = b"\x01\x04\0\0\0\0"  # PadN: the 6 bytes after next header and length
    fragmentable = bytes([proto, 0]) + pad + data
    bounds = [0] + cuts + [len(fragmentable)]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        more = hi != len(fragmentable)
        hbh = bytes([44, 0]) + pad
        fh = struct.pack("!BBHI", 60, 0, lo | (1 if more else 0), ident)
        ip = struct.pack("!IHBB16s16s", 6 << 28, 16 + hi - lo, 0, 64, src, dst)
        out.append(ETH6 + ip + hbh + fh + fragmentable[lo:hi])
    return out


def unfragmented(src, dst, proto, data):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), 1, 0, 64, proto, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ETH4 + ip + data


def build():
    """(frames, expected events {(rule, offset)}, facts about the capture)."""
    frames, want = [], set()
    facts = {"datagrams": 0, "invalid": 0, "end": 0, "overlap": 0, "lost": 0}

    # 1: in order.
    s, d = ip4(1)
    pay = b"0123456789abcdef" + PATTERNS[1] + b"." * 27
    frames += ipv4_fragments(s, d, 17, 101, udp(s, d, 5001, 53, pay), [24, 48])
    want.add((1, pay.index(PATTERNS[1]) + len(PATTERNS[1])))
    facts["datagrams"] += 1

    # 2: reverse order.
    s, d = ip4(2)
    pay = b"~" * 20 + PATTERNS[2] + b"~" * 33
    frames += reversed(ipv4_fragments(s, d, 17, 102, udp(s, d, 5002, 53, pay), [16, 32, 48]))
    want.add((2, pay.index(PATTERNS[2]) + len(PATTERNS[2])))
    facts["datagrams"] += 1

    # 3: the first copy of [16, 32) carries rule 3's pattern; a later copy of
    # the same bytes carries rule 4's.
    s, d = ip4(3)
    pay = b"12345678" + PATTERNS[3] + b"z" * 24
    dg = udp(s, d, 5003, 53, pay)
    a, b, c = ipv4_fragments(s, d, 17, 103, dg, [16, 32])
    evil = udp(s, d, 5003, 53, b"12345678" + PATTERNS[4] + b"z" * 24)
    b2 = ipv4_fragments(s, d, 17, 103, evil, [16, 32])[1]
    frames += [b, b2, a, c]
    want.add((3, pay.index(PATTERNS[3]) + len(PATTERNS[3])))
    facts["datagrams"] += 1
    facts["overlap"] += 16

    # 5: TCP; one segment in three fragments (second, third, first).
    s, d = ip4(5)
    cs, ss = 40005, 80
    c = lambda seq, ack, fl, p=b"": frame(s, d, cs, ss, seq, ack, fl, p)
    sv = lambda seq, ack, fl, p=b"": frame(d, s, ss, cs, seq, ack, fl, p)
    frames += [c(1000, 0, 0x02), sv(5000, 1001, 0x12), c(1001, 5001, 0x10)]
    pay = b"GET /x HTTP/1.1\r\nX-A: " + PATTERNS[5] + b"\r\n\r\n" + b"-" * 17
    seg = tcp_segment(s, d, cs, ss, 1001, 5001, 0x18, pay)
    f0, f1, f2 = ipv4_fragments(s, d, 6, 105, seg, [32, 48])
    frames += [f1, f2, f0, sv(5001, 1001 + len(pay), 0x10)]
    frames += [c(1001 + len(pay), 5001, 0x11), sv(5001, 1002 + len(pay), 0x11),
               c(1002 + len(pay), 5002, 0x10)]
    want.add((5, pay.index(PATTERNS[5]) + len(PATTERNS[5])))
    facts["datagrams"] += 1

    # 6: IPv6.
    s6 = bytes.fromhex("20010db8000000000000000000000061")
    d6 = bytes.fromhex("20010db8000000000000000000000062")
    pay = b"#" * 30 + PATTERNS[6] + b"#" * 11
    frames += ipv6_fragments(s6, d6, 17, 0x60606, udp(s6, d6, 5006, 53, pay), [40])
    want.add((6, pay.index(PATTERNS[6]) + len(PATTERNS[6])))
    facts["datagrams"] += 1

    # 11: IPv6 extension headers around the fragment header; the first
    # fragment comes first (with several workers dispatching by flow, later
    # fragments that came first could go elsewhere: see case 2).
    s6 = bytes.fromhex("20010db8000000000000000000000111")
    d6 = bytes.fromhex("20010db8000000000000000000000112")
    pay = b"+" * 20 + PATTERNS[11] + b"+" * 18
    f0, f1, f2 = ipv6_fragments_ext(s6, d6, 17, 0x1111, udp(s6, d6, 5011, 53, pay), [40, 56])
    frames += [f0, f2, f1]
    want.add((11, pay.index(PATTERNS[11]) + len(PATTERNS[11])))
    facts["datagrams"] += 1

    # 7: the middle fragment is missing.
    s, d = ip4(7)
    pay = b"-" * 12 + PATTERNS[7] + b"-" * 17
    f0, _, f2 = ipv4_fragments(s, d, 17, 107, udp(s, d, 5007, 53, pay), [16, 32])
    frames += [f0, f2]
    facts["end"] += 1
    facts["lost"] += (16 - 8) + (len(pay) + 8 - 32)

    # 8: a tiny first fragment (8 bytes of TCP header), then the rest.
    s, d = ip4(8)
    c = lambda seq, ack, fl, p=b"": frame(s, d, 40008, 80, seq, ack, fl, p)
    frames += [c(2000, 0, 0x02), frame(d, s, 80, 40008, 7000, 2001, 0x12),
               c(2001, 7001, 0x10)]
    pay = b"POST / HTTP/1.1\r\n" + PATTERNS[8] + b"\r\n"
    seg = tcp_segment(s, d, 40008, 80, 2001, 7001, 0x18, pay)
    frames += ipv4_fragments(s, d, 6, 108, seg, [8])
    want.add((8, pay.index(PATTERNS[8]) + len(PATTERNS[8])))
    facts["datagrams"] += 1
    # The tiny fragment is a partial header (no payload to the parser); the
    # other's 12 header bytes count as payload, then are not scanned.
    facts["overlap"] += 12

    # 10: the last fragment twice, with different ends, before the others.
    s, d = ip4(10)
    pay = b"=" * 4 + PATTERNS[10] + b"=" * 26
    f0, f1, f2 = ipv4_fragments(s, d, 17, 110, udp(s, d, 5010, 53, pay), [16, 32])
    short = bytearray(f2[:-8])
    struct.pack_into("!H", short, 16, len(short) - 14)  # its IP length says so too
    frames += [f2, bytes(short), f0, f1]
    facts["invalid"] += 1
    facts["lost"] += 24 + 16 + 8 + 16

    # 9: control.
    s, d = ip4(9)
    pay = b"ctl:" + PATTERNS[9]
    frames.append(unfragmented(s, d, 17, udp(s, d, 5009, 53, pay)))
    want.add((9, len(pay)))
    return frames, want, facts


CROWD = 200


def build_crowd():
    """Frames of the crowd; the pattern's end offset in each datagram."""
    s, d = ip4(12)
    firsts, seconds = [], []
    pay = b"c" * 1460 + PATTERNS[12] + b"c" * (2000 - 1460 - len(PATTERNS[12]))
    for i in range(CROWD):
        # One flow (so one worker, however they dispatch), many datagrams.
        f0, f1 = ipv4_fragments(s, d, 17, 1000 + i, udp(s, d, 20000, 53, pay), [1480])
        firsts.append(f0)
        seconds.append(f1)
    return firsts + seconds, pay.index(PATTERNS[12]) + len(PATTERNS[12])


def write_inputs(tmp, frames):
    """The capture and the rules file, in tmp."""
    pcap = os.path.join(tmp, "fragments.pcap")
    write_pcap(pcap, frames)
    rules = os.path.join(tmp, "fragments.rules")
    with open(rules, "w") as f:
        for rid, pat in PATTERNS.items():
            f.write("%d:/%s/ name=case%d\n" % (rid, pat.decode().replace("/", "\\/"), rid))
    return pcap, rules


def run(replay, tmp, workers, defrag, sets, crowd=False):
    frames, want, facts = build_crowd() + (None,) if crowd else build()
    pcap, rules = write_inputs(tmp, frames)
    out = os.path.join(tmp, "out-%d.jsonl" % len(os.listdir(tmp)))  # -o appends
    cmd = [replay, pcap, "-q", "-w", str(workers), "-r", rules, "-o", out,
           "--set", "match.cache_dir=" + os.path.join(tmp, "cache")]
    if defrag is not None:
        cmd += ["--set", "match.defrag_datagrams=%d" % defrag]
    for s in sets:
        cmd += ["--set", s]
    lines = replay_lines(cmd, out)
    events = [(e["rule"], e["offset"]) for e in lines if e["type"] == "match"]
    summary = [l for l in lines if l["type"] == "summary"][-1]
    flows = [l for l in lines if l["type"] == "flow"]
    flows11 = [(l["proto"], l["src_port"], l["packets_fwd"] + l["packets_rev"], l["fragments"])
               for l in flows if "2001:db8::111" in (l["src_ip"], l["dst_ip"])]
    portless = [(l["src_ip"], l["dst_ip"], l["proto"]) for l in flows
                if l["src_port"] == 0 and l["dst_port"] == 0]
    return events, want, facts, summary["match"], flows11, summary, portless, frames


def later_before_first(frames):
    """Later fragments that come before their datagram's first fragment."""
    seen_first, early = set(), 0
    for f in frames:
        if f[12:14] == b"\x08\x00":
            ip = f[14:]
            off, ident = struct.unpack("!H", ip[6:8])[0], ip[4:6]
            if not off & 0x3FFF:
                continue
            dgram, later = (ip[12:20], ident), off & 0x1FFF != 0
        else:
            ip, nh, pos = f[14:], f[14 + 6], 40
            while nh != 44:  # walk to the fragment header
                nh, pos = ip[pos], pos + (ip[pos + 1] + 1) * 8
            dgram = (ip[8:40], ip[pos + 4:pos + 8])
            later = struct.unpack("!H", ip[pos + 2:pos + 4])[0] & 0xFFF8 != 0
        if not later:
            seen_first.add(dgram)
        elif dgram not in seen_first:
            early += 1
    return early


def main():
    if sys.argv[1] == "--write":
        frames, want, _ = build()
        write_inputs(sys.argv[2], frames)
        with open(os.path.join(sys.argv[2], "want.json"), "w") as f:
            json.dump({"events": sorted(want), "fragments_waited": later_before_first(frames)}, f)
        return
    replay, workers, sets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        events, want, facts, m, flows11, summary, portless, frames = run(replay, tmp, workers, 64,
                                                                         sets)
        if sorted(events) != sorted(want):
            problems.append("events %s, want %s" % (sorted(events), sorted(want)))
        # Case 11's later fragments join its first fragment's UDP flow.
        if flows11 != [(17, 5011, 3, 3)]:
            problems.append("case 11 flows (proto, port, packets, fragments) %s, want "
                            "[(17, 5011, 3, 3)]" % flows11)
        df, pay = m["defrag"], m["payload"]
        got = {"datagrams": df["datagrams"], "invalid": df["given_up"]["invalid"],
               "end": df["given_up"]["end"], "overlap": pay["fragment_overlap_bytes"],
               "lost": pay["fragment_bytes"]}
        if got != facts:
            problems.append("defrag counters %s, want %s" % (got, facts))
        if df["in_use"] or pay["fragment_held_bytes"] or df["given_up"]["timeout"] or \
                df["given_up"]["evicted"] or df["given_up"]["memory"] or \
                df["given_up"]["flow_ended"]:
            problems.append("defrag: %s" % df)
        print("with defragmentation: events %s; defrag %s; payload %s" % (sorted(events), df, pay))

        # Without: only the control and nothing inside fragments; the same
        # payload bytes, placed in fragment_bytes instead.
        # Later fragments that came first waited for their first fragment and
        # joined its flow: no flow without ports.
        early = later_before_first(frames)
        got = (summary["fragments_waited"], summary["fragments_unattributed"], portless)
        if got != (early, 0, []):
            problems.append("(fragments_waited, fragments_unattributed, flows without ports) "
                            "%s, want %s" % (got, (early, 0, [])))
        print("fragments: %d waited for their first fragment" % early)

        events0, _, _, m0, _, _, _, _ = run(replay, tmp, workers, 0, sets)
        if sorted(events0) != [(9, len(b"ctl:" + PATTERNS[9]))]:
            problems.append("defrag_datagrams 0: events %s, want only rule 9" % sorted(events0))
        placed = sum(v for k, v in pay.items() if k != "gap_bytes")
        placed0 = sum(v for k, v in m0["payload"].items() if k != "gap_bytes")
        if placed != placed0 or m0["defrag"]["fragments"] != 0:
            problems.append("payload bytes placed %d with defragmentation, %d without "
                            "(defrag %s)" % (placed, placed0, m0["defrag"]))
        print("without: events %s; payload %s" % (sorted(events0), m0["payload"]))

        # The crowd, at the defaults, then with a pool of 32 blocks.
        for memory, whole in ((None, CROWD), ("64k", 32)):
            extra = ["match.defrag_memory=" + memory] if memory else []
            events, offset, _, m, _, _, _, _ = run(replay, tmp, workers, None, sets + extra,
                                                   crowd=True)
            df, pay = m["defrag"], m["payload"]
            given_up = CROWD - whole
            # One UDP stream: datagram k's pattern ends at k * 2000 + offset.
            got = (sorted(events), df["datagrams"], df["given_up"], pay["fragment_bytes"])
            want = ([(12, k * 2000 + offset) for k in range(whole)], whole,
                    {"timeout": 0, "evicted": 0, "invalid": 0, "end": 0,
                     "memory": given_up, "flow_ended": 0},
                    given_up * 2000)
            if got != want:
                problems.append("crowd, defrag_memory %s: (events, datagrams, given up, "
                                "fragment_bytes) %s, want %s"
                                % (memory or "default", got, want))
            print("crowd, defrag_memory %s: %d events; defrag %s" % (memory or "default",
                                                                     len(events), df))
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
