#!/usr/bin/env python3
"""Reassembly under memory pressure must not let a sender hide a pattern.

    match_evasion.py FLOWTAP_REPLAY

One TCP connection, client to server. After the handshake the client sends
junk far ahead of the stream (beyond the server's window: a real server drops
it and acknowledges nothing new) until [match] reorder_flow_bytes is full many
times over, then the request that carries the pattern, its second half first.
The server acknowledges what it takes, as a real one would.

- Both directions captured: the receiver's acks are seen, so memory pressure
  drops the far-ahead junk instead of skipping the hole (src/reasm/reasm.h).
  The pattern must be reported exactly once, at its stream offset, and the
  summary must show the dropped data and no hole skipped for room.
- The same packets without the server's (a capture of one side): holes are
  skipped for room, as documented, so the stream passes the request by. This
  run shows that the capture does put the reassembler under pressure, and
  what a one-sided capture costs.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

CLIENT, SERVER = bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2])
CPORT, SPORT = 40000, 80
PATTERN = b"X-Evade: HIDDEN-PATTERN-31337"
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: example\r\n" + PATTERN + b"\r\n\r\n"
RULE_ID = 77
BUDGET = 16384
C_ISN, S_ISN = 1000, 900000


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + tcp


def packets(with_server):
    """(from_client, frame) in capture order."""
    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
    c = lambda seq, ack, fl, p=b"": (True, frame(CLIENT, SERVER, CPORT, SPORT, seq, ack, fl, p))
    s = lambda seq, ack, fl, p=b"": (False, frame(SERVER, CLIENT, SPORT, CPORT, seq, ack, fl, p))
    out = [c(C_ISN, 0, SYN), s(S_ISN, C_ISN + 1, SYN | ACK), c(C_ISN + 1, S_ISN + 1, ACK)]
    nxt = C_ISN + 1
    # Junk 256 KiB ahead, four budgets' worth in segments that fill the
    # budget exactly: the server acks nothing new.
    for k in range(4 * BUDGET // 1024):
        out.append(c(nxt + (1 << 18) + k * 1024, S_ISN + 1, ACK | PSH, b"J" * 1024))
        out.append(s(S_ISN + 1, nxt, ACK))
    half = len(REQUEST) // 2
    out.append(c(nxt + half, S_ISN + 1, ACK | PSH, REQUEST[half:]))
    out.append(s(S_ISN + 1, nxt, ACK))
    out.append(c(nxt, S_ISN + 1, ACK | PSH, REQUEST[:half]))
    nxt += len(REQUEST)
    out.append(s(S_ISN + 1, nxt, ACK))
    out.append(c(nxt, S_ISN + 1, FIN | ACK))
    out.append(s(S_ISN + 1, nxt + 1, FIN | ACK))
    out.append(c(nxt + 1, S_ISN + 2, ACK))
    return [f for client, f in out if client or with_server]


def write_pcap(path, frames, times_us=None):
    """Frames 1 ms apart from 1700000000 s, or at times_us (microseconds after it)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            us = times_us[i] if times_us is not None else 1000 * i
            f.write(struct.pack("<IIII", 1700000000 + us // 1000000, us % 1000000, len(fr),
                                len(fr)) + fr)


def replay_lines(cmd, out):
    """Run flowtap-replay (cmd, writing JSON lines to out); its lines."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit("flowtap-replay failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stdout))
    return [json.loads(l) for l in open(out)]


def run(replay, tmp, with_server):
    pcap = os.path.join(tmp, "both.pcap" if with_server else "client.pcap")
    write_pcap(pcap, packets(with_server))
    rules = os.path.join(tmp, "evade.rules")
    with open(rules, "w") as f:
        f.write("%d:/%s/ name=evade\n" % (RULE_ID, PATTERN.decode().replace("-", "\\-")))
    out = os.path.join(tmp, ("both" if with_server else "client") + ".jsonl")
    cmd = [replay, pcap, "-q", "-r", rules, "-o", out,
           "--set", "match.cache_dir=" + os.path.join(tmp, "cache"),
           "--set", "match.reorder_flow_bytes=%d" % BUDGET]
    lines = replay_lines(cmd, out)
    events = [l for l in lines if l["type"] == "match"]
    flows = [l for l in lines if l["type"] == "flow"]
    summary = [l for l in lines if l["type"] == "summary"][-1]
    return events, flows, summary["match"]


def main():
    replay = sys.argv[1]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        events, flows, m = run(replay, tmp, True)
        want_end = REQUEST.index(PATTERN) + len(PATTERN)
        got = [(e.get("rule"), e.get("offset")) for e in events]
        if got != [(RULE_ID, want_end)]:
            problems.append("both sides: events %s, want [(%d, %d)]" % (got, RULE_ID, want_end))
        r = m["reassembly"]
        if r["gaps_budget"] != 0:
            problems.append("both sides: %d holes skipped for room" % r["gaps_budget"])
        # Junk beyond the budget dropped on arrival; held junk dropped for the
        # request's second half, which is nearer.
        if r["dropped_segments"] == 0 or r["dropped_held_bytes"] == 0:
            problems.append("both sides: dropped_segments %d, dropped_held_bytes %d: expected "
                            "both" % (r["dropped_segments"], r["dropped_held_bytes"]))
        if m["payload"]["reorder_dropped_bytes"] == 0:
            problems.append("both sides: payload.reorder_dropped_bytes is 0")
        # The one flow's record says which direction lost those bytes.
        per_flow = [(f["match"]["fwd"].get("dropped_bytes", 0),
                     f["match"]["rev"].get("dropped_bytes", 0)) for f in flows]
        if per_flow != [(m["payload"]["reorder_dropped_bytes"], 0)]:
            problems.append("both sides: flow records' dropped_bytes (fwd, rev) %s, want "
                            "[(%d, 0)]" % (per_flow, m["payload"]["reorder_dropped_bytes"]))
        print("both sides: events %s, reassembly %s, payload %s" % (got, r, m["payload"]))

        events, flows, m = run(replay, tmp, False)
        got = [(e.get("rule"), e.get("offset")) for e in events]
        if events or m["reassembly"]["gaps_budget"] == 0:
            problems.append("client side only: events %s, gaps_budget %d: expected the "
                            "documented skip (no event, holes skipped for room)"
                            % (got, m["reassembly"]["gaps_budget"]))
        print("client side only: events %s, reassembly %s" % (got, m["reassembly"]))
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
