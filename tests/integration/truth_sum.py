#!/usr/bin/env python3
"""Check flowtap's flow records against flowtap-pktgen's ground truth, flow by
flow, for large runs: the records of each 5-tuple (with VLANs) summed must equal
the truth flow's packets and bytes per direction, and no record may name a flow
the truth does not have. Streams both files (JSON lines), so millions of flows fit.

Usage: truth_sum.py FLOWS.jsonl TRUTH.jsonl [--once]
  --once  every truth flow must be exactly one record, ended for its own reason
          (not evicted, no active-timeout segments)
"""
import json
import sys


def key(r):
    a = (r["src_ip"], r["src_port"])
    b = (r["dst_ip"], r["dst_port"])
    lo, hi = (a, b) if a <= b else (b, a)
    return (r["proto"], tuple(r.get("vlan", [])), r.get("tunnel"), lo, hi)


def oriented(r, k):
    """packets/bytes as (from lo, from hi)."""
    lo = k[-2]
    fwd = (r["packets_fwd"], r["bytes_fwd"])
    rev = (r["packets_rev"], r["bytes_rev"])
    return (fwd, rev) if (r["src_ip"], r["src_port"]) == lo else (rev, fwd)


def main():
    flows_path, truth_path = sys.argv[1], sys.argv[2]
    once = "--once" in sys.argv[3:]
    want = {}
    with open(truth_path) as f:
        for line in f:
            t = json.loads(line)
            if t.get("type") != "flow":
                continue
            k = key(t)
            (pl, bl), (ph, bh) = oriented(t, k)
            want[k] = [pl, bl, ph, bh, 0, t["end_reason"]]
    problems, records, extra = [], 0, 0
    with open(flows_path) as f:
        for line in f:
            r = json.loads(line)
            if r["type"] != "flow":
                continue
            records += 1
            k = key(r)
            w = want.get(k)
            if w is None:
                extra += 1
                if extra <= 10:
                    problems.append(f"{k}: flowtap flow not in the truth")
                continue
            (pl, bl), (ph, bh) = oriented(r, k)
            w[0] -= pl
            w[1] -= bl
            w[2] -= ph
            w[3] -= bh
            w[4] += 1
            if once and r["end_reason"] != w[5]:
                problems.append(f"{k}: end_reason {r['end_reason']}, truth {w[5]}")
    missing = 0
    for k, w in want.items():
        if w[:4] != [0, 0, 0, 0]:
            missing += 1
            if missing <= 10:
                problems.append(f"{k}: counts off by {w[:4]} (packets/bytes from each end)")
        elif once and w[4] != 1:
            problems.append(f"{k}: {w[4]} records, want exactly one")
    print(f"{len(want)} truth flows, {records} flowtap records, "
          f"{len(problems) + max(0, missing - 10) + max(0, extra - 10)} differences")
    for p in problems[:30]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
