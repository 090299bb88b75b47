#!/usr/bin/env python3
"""A later fragment waits for its first fragment at most [flow] fragment_wait
of rx time, whatever the order of the capture's timestamps.

    frag_wait.py FLOWTAP_REPLAY

A capture whose timestamps go back: datagram A's later fragment at 10 s (its
first fragment never comes), then datagram B's later fragment at 5 s, 100
unrelated packets (so that what follows is another burst), and B's first
fragment. When B's first fragment comes, the rx clock is at 10 s: B's
fragment has waited past its deadline (5.1 s) and was let go unattributed
before it, although A's (10.1 s), which came first, had not. So the summary
has 2 unattributed fragments and none that waited, and B's first fragment is
a flow of its own. Then the control: with the timestamps in order (B at
10 s too), B's fragment waits and joins its first fragment's flow.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from match_evasion import replay_lines, write_pcap  # noqa: E402
from match_fragments import ip4, ipv4_fragments, udp, unfragmented  # noqa: E402

SEC = 1000000


def capture(b_time):
    """Frames and their times (microseconds)."""
    sa, da = ip4(21)
    sb, db = ip4(22)
    fa = ipv4_fragments(sa, da, 17, 201, udp(sa, da, 6001, 53, b"a" * 40), [16])
    fb = ipv4_fragments(sb, db, 17, 202, udp(sb, db, 6002, 53, b"b" * 40), [16])
    sc, dc = ip4(23)
    filler = [unfragmented(sc, dc, 17, udp(sc, dc, 7000 + i, 53, b"f")) for i in range(100)]
    frames = [fa[1], fb[1]] + filler + [fb[0]]
    times = [10 * SEC, b_time] + [10 * SEC + i for i in range(100)] + [10 * SEC + 200]
    return frames, times


def run(replay, tmp, b_time):
    frames, times = capture(b_time)
    pcap = os.path.join(tmp, "wait.pcap")
    write_pcap(pcap, frames, times)
    out = os.path.join(tmp, "out-%d.jsonl" % len(os.listdir(tmp)))  # -o appends
    lines = replay_lines([replay, pcap, "-q", "-o", out], out)
    summary = [l for l in lines if l["type"] == "summary"][-1]
    b_flows = sorted((l["src_port"], l["packets_fwd"] + l["packets_rev"]) for l in lines
                     if l["type"] == "flow" and l["src_ip"] == "10.7.22.1")
    return (summary["fragments_waited"], summary["fragments_unattributed"], b_flows,
            summary["flows"]["packets"] == len(frames))


def main():
    replay = sys.argv[1]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for b_time, want in ((5 * SEC, (0, 2, [(0, 1), (6002, 1)], True)),
                             (10 * SEC, (1, 1, [(6002, 2)], True))):
            got = run(replay, tmp, b_time)
            print("B's later fragment at %d s: (waited, unattributed, B's flows (port, packets), "
                  "all counted) %s" % (b_time // SEC, got))
            if got != want:
                problems.append("B at %d s: %s, want %s" % (b_time // SEC, got, want))
    if problems:
        sys.exit("FAIL: " + "; ".join(problems))
    print("ok")


if __name__ == "__main__":
    main()
