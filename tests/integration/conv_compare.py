#!/usr/bin/env python3
"""Compare flowtap's flows with tshark's TCP and UDP conversations.

Independent reference: tshark dissects the capture itself. Two views of it:
  * `tshark -q -z conv,tcp -z conv,udp`: frames per direction exactly; bytes as
    tshark prints them (rounded to kB/MB above 10000 bytes), so we check that
    our exact byte count prints the same;
  * per-frame fields (addresses, ports, frame.len) summed per conversation:
    exact bytes per direction.

flowtap may split one tshark conversation into several flows: after an idle
timeout, or when a new SYN reuses a closed connection's ports. That is the one
documented difference: flows of one 5-tuple are summed before comparing, and
every flow but the last of a 5-tuple must have ended for one of those reasons.

Usage: conv_compare.py FLOWS.jsonl PCAP      (exit 0 if they agree)
"""
import collections
import json
import subprocess
import sys

SPLIT_REASONS = {"idle", "fin", "rst", "reused", "active"}


def endpoint(ip, port):
    return (ip, int(port))


def tshark_fields(pcap):
    """Exact per-direction frames and bytes per conversation, from frame fields.
    Only frames whose outermost transport header tshark sees as TCP or UDP."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-T", "fields", "-E", "separator=|",
         "-e", "frame.len", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src",
         "-e", "ipv6.dst", "-e", "tcp.srcport", "-e", "tcp.dstport",
         "-e", "udp.srcport", "-e", "udp.dstport"],
        check=False, capture_output=True, text=True)
    # tshark exits 2 on a capture cut inside a record, after printing every
    # complete one (as flowtap replays them).
    if out.returncode not in (0, 2) or not out.stdout:
        raise SystemExit(f"tshark failed: {out.stderr}")
    out = out.stdout
    conv = collections.defaultdict(lambda: collections.Counter())
    for line in out.splitlines():
        f = line.split("|")
        flen = int(f[0])
        # Outermost header only: tshark lists nested layers comma-separated.
        src = (f[1] or f[3]).split(",")[0]
        dst = (f[2] or f[4]).split(",")[0]
        if f[5]:
            proto, sp, dp = 6, f[5].split(",")[0], f[6].split(",")[0]
        elif f[7]:
            proto, sp, dp = 17, f[7].split(",")[0], f[8].split(",")[0]
        else:
            continue
        a, b = endpoint(src, sp), endpoint(dst, dp)
        key = (proto,) + tuple(sorted([a, b]))
        conv[key][(a, "frames")] += 1
        conv[key][(a, "bytes")] += flen
    return conv


def parse_size(tokens):
    value, unit = tokens
    return int(value), unit


def tshark_conv_table(pcap):
    """{(proto, ep_a, ep_b): (frames a->b, size a->b, frames b->a, size b->a)}"""
    out = subprocess.run(["tshark", "-r", pcap, "-q", "-z", "conv,tcp", "-z", "conv,udp"],
                         check=False, capture_output=True, text=True).stdout
    table = {}
    proto = None
    for line in out.splitlines():
        if line.startswith("TCP Conversations"):
            proto = 6
        elif line.startswith("UDP Conversations"):
            proto = 17
        elif "<->" in line and proto:
            left, right = line.split("<->")
            a = left.strip()
            toks = right.split()
            b = toks[0]
            # B->A frames bytes unit, A->B frames bytes unit, total..., start, duration
            fb, sb = int(toks[1]), parse_size(toks[2:4])
            fa, sa = int(toks[4]), parse_size(toks[5:7])
            ea = endpoint(*a.rsplit(":", 1))
            eb = endpoint(*b.rsplit(":", 1))
            table[(proto,) + tuple(sorted([ea, eb]))] = {ea: (fa, sa), eb: (fb, sb)}
    return table


def tshark_size(n):
    """How tshark 4.0 prints a byte count in conversation tables."""
    if n < 10000:
        return (n, "bytes")
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12)):
        v = n / scale
        if v < 10000:
            return (int(v), unit)
    return (int(n / 1e15), "PB")


def main():
    flows_path, pcap = sys.argv[1], sys.argv[2]
    ours = collections.defaultdict(list)
    with open(flows_path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("type") != "flow" or r["proto"] not in (6, 17):
                continue
            if r.get("flagged_fragments"):
                continue  # non-first fragments: tshark sees no ports there
            a = endpoint(r["src_ip"], r["src_port"])
            b = endpoint(r["dst_ip"], r["dst_port"])
            ours[(r["proto"],) + tuple(sorted([a, b]))].append(r)

    fields = tshark_fields(pcap)
    table = tshark_conv_table(pcap)
    problems, splits = [], 0
    for key in sorted(set(fields) | set(ours), key=str):
        flows = sorted(ours.get(key, []), key=lambda r: r["start_ns"])
        got = collections.Counter()
        for r in flows:
            a = endpoint(r["src_ip"], r["src_port"])
            b = endpoint(r["dst_ip"], r["dst_port"])
            got[(a, "frames")] += r["packets_fwd"]
            got[(a, "bytes")] += r["bytes_fwd"]
            got[(b, "frames")] += r["packets_rev"]
            got[(b, "bytes")] += r["bytes_rev"]
        want = fields.get(key, collections.Counter())
        if +got != +want:
            problems.append(f"{key}: flowtap {dict(+got)} != tshark {dict(+want)}")
        if len(flows) > 1:
            splits += len(flows) - 1
            for r in flows[:-1]:
                if r["end_reason"] not in SPLIT_REASONS:
                    problems.append(f"{key}: split flow ended '{r['end_reason']}'")
        conv = table.get(key)
        if conv is None:
            problems.append(f"{key}: not in tshark's conversation table")
            continue
        for ep, (frames, size) in conv.items():
            if got[(ep, "frames")] != frames or tshark_size(got[(ep, "bytes")]) != size:
                problems.append(f"{key} from {ep}: flowtap {got[(ep, 'frames')]} frames "
                                f"{got[(ep, 'bytes')]} B, tshark conv {frames} {size}")
    print(f"{pcap}: {len(table)} tshark conversations, {sum(len(v) for v in ours.values())} "
          f"flowtap TCP/UDP flows ({splits} from splits by timeout or port reuse), "
          f"{len(problems)} differences")
    for p in problems[:50]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
