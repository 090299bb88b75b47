#!/usr/bin/env python3
"""A capture cut at a snaplen: what the cut took from a segment is a gap at
once, so later segments are matched when they come, not at the flow's end.

    match_snaplen.py FLOWTAP_REPLAY

One TCP connection captured on the client's side only (no acks to say what
the server got), every data segment 300 bytes long and captured to 150 (the
file records the frames' full lengths). A pattern lies inside the captured
part of the fifth segment (found, timed at that segment, at its stream
offset); another spans a cut (never found: its middle was never captured).
The connection then idles 20 s before its FIN: a pattern held behind a hole
until the flow's end would be reported 20 s late.

Flows count a cut frame's bytes as its IP length gives them, but never past
the file's longest original frame (a crafted IP length claims 5,000 bytes
more in a cut record).

And a segment whose IP length claims more than its frame holds, in a file
without cut records, and in a file with some but in a frame shorter than the
snaplen (which no cut made): malformed, not cut; the next segment's pattern
is found.
"""
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from match_evasion import frame, replay_lines  # noqa: E402

CLIENT, SERVER = bytes([10, 8, 0, 1]), bytes([10, 8, 0, 2])
FOUND, CUT = b"FOUND-INSIDE-CAPTURED-PART", b"SPANS-THE-CUT-NEVER-SEEN"
SEG, SNAP_PAYLOAD = 300, 150
HDRS = 14 + 20 + 20


def write_cut_pcap(path, recs):
    """recs: (time in seconds, frame, bytes captured or None for all); the
    snaplen is that of the cut records."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, HDRS + SNAP_PAYLOAD, 1))
        for t, fr, cap in recs:
            cap = len(fr) if cap is None else min(cap, len(fr))
            f.write(struct.pack("<IIII", 1700000000 + int(t), int(t * 1e6) % 1000000,
                                cap, len(fr)) + fr[:cap])


def malformed_length(replay, cut_records):
    """A segment whose IP length claims 300 bytes more than its frame holds
    is malformed, not cut, and must not make the stream skip the next
    segment's bytes, which carry a pattern: in a file with no record cut, and
    in a file with cut records where the frame is shorter than the snaplen."""
    isn, head = 7000, []
    if cut_records:  # a first segment the snaplen cut: a real cut, one gap
        head = [frame(CLIENT, SERVER, 40001, 80, isn + 1, 9001, 0x18, b"c" * SEG)]
    at = isn + 1 + len(head) * SEG
    short = SNAP_PAYLOAD - 50
    bogus = bytearray(frame(CLIENT, SERVER, 40001, 80, at, 9001, 0x18, b"a" * short))
    struct.pack_into("!H", bogus, 16, 20 + 20 + short + 300)
    frames = [frame(CLIENT, SERVER, 40001, 80, isn, 0, 0x02)] + head + [bytes(bogus),
              frame(CLIENT, SERVER, 40001, 80, at + short, 9001, 0x18,
                    b"b" * 10 + FOUND + b"b" * 10),
              frame(CLIENT, SERVER, 40001, 80, at + short + 30 + len(FOUND), 9001, 0x11)]
    want = [(1, len(head) * SEG + short + 10 + len(FOUND))]
    with tempfile.TemporaryDirectory() as tmp:
        pcap = os.path.join(tmp, "bogus.pcap")
        write_cut_pcap(pcap, [(0.01 * i, fr, HDRS + SNAP_PAYLOAD if cut_records and i == 1
                               else None) for i, fr in enumerate(frames)])
        rules = os.path.join(tmp, "r.rules")
        with open(rules, "w") as f:
            f.write("1:/%s/\n" % FOUND.decode())
        out = os.path.join(tmp, "out.jsonl")
        lines = replay_lines([replay, pcap, "-q", "-r", rules, "-o", out,
                              "--set", "match.cache_dir=" + os.path.join(tmp, "cache")], out)
    events = [(e["rule"], e["offset"]) for e in lines if e["type"] == "match"]
    cut = [l for l in lines if l["type"] == "summary"][-1]["match"]["reassembly"]["gaps_cut"]
    which = "with cut records, in a short frame" if cut_records else "without cut records"
    print("malformed IP length, file %s: events %s, gaps_cut %d" % (which, events, cut))
    if events != want or cut != len(head):
        return ["malformed IP length in a file %s: events %s, gaps_cut %d; want %s and %d"
                % (which, events, cut, want, len(head))]
    return []


def uncut_bound(replay):
    """A cut file: a 300-byte segment cut to 150 (354 bytes on the wire), and
    a 200-byte one cut to 150 whose IP length claims 5,000 bytes more. The
    first counts its 354 bytes; the second no more than 354, the file's
    longest original frame."""
    isn = 9000
    real = frame(CLIENT, SERVER, 40002, 80, isn + 1, 9001, 0x18, b"r" * SEG)
    crafted = bytearray(frame(CLIENT, SERVER, 40002, 80, isn + 1 + SEG, 9001, 0x18, b"x" * 200))
    struct.pack_into("!H", crafted, 16, 20 + 20 + 200 + 5000)
    syn = frame(CLIENT, SERVER, 40002, 80, isn, 0, 0x02)
    fin = frame(CLIENT, SERVER, 40002, 80, isn + 1 + SEG + 200, 9001, 0x11)
    recs = [(0.0, syn, None), (0.01, real, HDRS + SNAP_PAYLOAD),
            (0.02, bytes(crafted), HDRS + SNAP_PAYLOAD), (0.03, fin, None)]
    with tempfile.TemporaryDirectory() as tmp:
        pcap = os.path.join(tmp, "crafted.pcap")
        write_cut_pcap(pcap, recs)
        out = os.path.join(tmp, "out.jsonl")
        lines = replay_lines([replay, pcap, "-q", "-o", out], out)
    flows = [l["bytes_fwd"] for l in lines if l["type"] == "flow"]
    summary = [l for l in lines if l["type"] == "summary"][-1]
    want = len(syn) + len(real) + len(real) + len(fin)
    print("uncut bytes bounded: flow bytes %s (want [%d]); input %s; accounted %s"
          % (flows, want, summary["input"], summary["accounted"]["bytes"]))
    if flows != [want] or not summary["accounted"]["bytes"]:
        return ["a crafted IP length in a cut record: flow bytes %s, want [%d] (the file's "
                "longest frame bounds it); bytes accounted %s"
                % (flows, want, summary["accounted"]["bytes"])]
    return []


def main():
    replay = sys.argv[1]
    isn = 5000
    segs = []
    for k in range(8):
        data = bytearray(b"." * SEG)
        if k == 4:
            data[40:40 + len(FOUND)] = FOUND
        if k == 6:
            at = SNAP_PAYLOAD - 10
            data[at:at + len(CUT)] = CUT
        segs.append(bytes(data))
    # (time in seconds, frame, bytes captured): the client's side only
    recs = [(0.0, frame(CLIENT, SERVER, 40000, 80, isn, 0, 0x02), None)]
    for k, data in enumerate(segs):
        recs.append((0.01 * (k + 1), frame(CLIENT, SERVER, 40000, 80, isn + 1 + k * SEG, 9001,
                                           0x18, data), HDRS + SNAP_PAYLOAD))
    end = isn + 1 + len(segs) * SEG
    recs.append((20.5, frame(CLIENT, SERVER, 40000, 80, end, 9001, 0x11), None))
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        pcap = os.path.join(tmp, "cut.pcap")
        write_cut_pcap(pcap, recs)
        rules = os.path.join(tmp, "cut.rules")
        with open(rules, "w") as f:
            f.write("1:/%s/\n2:/%s/\n" % (FOUND.decode(), CUT.decode()))
        out = os.path.join(tmp, "out.jsonl")
        lines = replay_lines([replay, pcap, "-q", "-r", rules, "-o", out,
                              "--set", "match.cache_dir=" + os.path.join(tmp, "cache")], out)
    events = [(e["rule"], e["offset"], e["ts_ns"]) for e in lines if e["type"] == "match"]
    want_off = 4 * SEG + 40 + len(FOUND)
    want_ts = (1700000000 * 10**6 + int(0.05 * 1e6)) * 1000
    if [(r, o) for r, o, _ in events] != [(1, want_off)]:
        problems.append("events %s, want rule 1 at offset %d only" % (events, want_off))
    elif events[0][2] != want_ts:
        problems.append("the event is timed %.3f s after the capture's start, want 0.050 "
                        "(the segment that holds it)" % ((events[0][2] - 1700000000 * 10**9) / 1e9))
    summary = [l for l in lines if l["type"] == "summary"][-1]["match"]
    r = summary["reassembly"]
    # Every segment's uncaptured 150 bytes are a gap, given up at once.
    if r["gaps_cut"] != len(segs) or summary["payload"]["gap_bytes"] != len(segs) * (SEG - SNAP_PAYLOAD):
        problems.append("gaps_cut %d, gap_bytes %d: want %d and %d" % (
            r["gaps_cut"], summary["payload"]["gap_bytes"], len(segs),
            len(segs) * (SEG - SNAP_PAYLOAD)))
    if r["held_segments"] != 0:
        problems.append("%d segments held: each should continue the stream" % r["held_segments"])
    print("events %s; reassembly %s" % (events, r))
    problems += malformed_length(replay, False)
    problems += malformed_length(replay, True)
    problems += uncut_bound(replay)
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
