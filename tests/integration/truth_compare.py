#!/usr/bin/env python3
"""Compare flowtap's flow records with flowtap-pktgen's ground truth.

Every truth flow must be exactly one flowtap flow with the same initiator, VLANs, tunnel,
packets and bytes per direction, TCP flags, end reason, ICMP type, and first and
last packet times (to the microsecond: net_pcap reads captures at microsecond
precision); flowtap must report no other flow; its discards by reason must equal
the truth's malformed packets that flowtap discards.

Usage: truth_compare.py [--live] FLOWS.jsonl TRUTH.json   (exit 0 if they agree)

--live: the capture was sent over a link (tcpreplay) and timed on arrival, so
times and end reasons are not compared, only what the packets carry.
"""
import json
import sys


def key(r):
    a = (r["src_ip"], r["src_port"])
    b = (r["dst_ip"], r["dst_port"])
    return (r["proto"], tuple(r.get("vlan", [])), r.get("tunnel"), min(a, b), max(a, b))


def main():
    args = sys.argv[1:]
    live = args and args[0] == "--live"
    if live:
        args = args[1:]
    flows_path, truth_path = args[0], args[1]
    truth = json.load(open(truth_path))
    ours, summary = {}, None
    problems = []
    for line in open(flows_path):
        r = json.loads(line)
        if r["type"] == "summary":
            summary = r
            continue
        if r["type"] != "flow":
            continue
        k = key(r)
        if k in ours:
            problems.append(f"{k}: flowtap reports it twice")
        ours[k] = r

    fields = ["src_ip", "src_port", "dst_ip", "dst_port", "packets_fwd", "bytes_fwd",
              "packets_rev", "bytes_rev", "tcp_flags_fwd", "tcp_flags_rev"]
    if not live:
        fields.append("end_reason")
    for t in truth["flows"]:
        k = key(t)
        r = ours.pop(k, None)
        if r is None:
            problems.append(f"{k} ({t['class']}): missing from flowtap")
            continue
        for f in fields:
            if r.get(f) != t.get(f):
                problems.append(f"{k} ({t['class']}): {f} flowtap {r.get(f)} truth {t.get(f)}")
        for f in () if live else ("start_ns", "end_ns"):
            if r[f] != t[f] // 1000 * 1000:
                problems.append(f"{k} ({t['class']}): {f} flowtap {r[f]} truth {t[f]}")
        if t["proto"] in (1, 58) and r.get("icmp_type") != t.get("icmp_type"):
            problems.append(f"{k}: icmp_type flowtap {r.get('icmp_type')} truth {t.get('icmp_type')}")
    for k, r in ours.items():
        problems.append(f"{k}: flowtap flow not in the truth")

    if summary is None:
        problems.append("no summary line")
    else:
        want = {k: v for k, v in truth["totals"]["discard"].items() if v["packets"]}
        got = {k: v for k, v in summary["discards"].items() if v["packets"]}
        if got != want:
            problems.append(f"discards: flowtap {got} truth {want}")
        if not summary["accounted"]["packets"] or not summary["accounted"]["bytes"]:
            problems.append(f"not accounted: {summary['accounted']}")
    print(f"{truth_path}: {len(truth['flows'])} truth flows, "
          f"{sum(v['packets'] for v in truth['totals']['discard'].values())} discarded packets, "
          f"{len(problems)} differences")
    for p in problems[:50]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
