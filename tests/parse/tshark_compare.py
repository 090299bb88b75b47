#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hold flowtap's parser against tshark, frame by frame.

For every capture in PCAP_DIR whose link type the parser supports, run
parse-dump (ft_parse on each frame) and tshark on the same file, and compare per
frame: the outer IP version, source and destination address, the IP protocol
(after IPv6 extension headers) and, for TCP/UDP/UDP-Lite/SCTP, the ports.

tshark runs with IP reassembly off (so a first fragment shows its L4 header on
its own frame, as the parser sees it) and TCP reassembly off.

A frame the two disagree on passes only if a rule below explains it; every rule
is one of the expected differences documented in tests/parse/README.md:

  tunnel      the parser keys the outer header; tshark's ports may come from an
              inner packet. Handled by construction: ports are compared only when
              the outer protocol is TCP/UDP/UDP-Lite/SCTP, from that protocol's
              first occurrence.
  malformed   the parser discards a frame whose headers are cut or inconsistent
              (ipv4_bad_length, ipv6_bad_ext, l4_truncated, tcp_bad_offset,
              l2_truncated, ip_bad_version...) and tshark either shows no such
              layer or flags the frame with an expert error or as malformed.
  truncated   the parser discards a frame whose headers the capture cut short
              before anything it keys on (an IPv6 extension header: ipv6_bad_ext;
              fewer than 4 bytes of L4 header: l4_truncated) and tshark marks it
              "Packet size limited during capture" while still showing the
              fields it got.

A capture cut inside the L4 header after the ports, a tiny first fragment, an
IPv4 total length of 0 (TSO) and an IPv6 payload length of 0 on a BIG TCP frame
are flow packets for the parser (parse.h), so they are compared like any other.

Anything else fails the test and is printed. Exit 0: all frames agree or are
explained; 1: unexplained differences; 77: skipped (no captures or no tshark).

Usage: tshark_compare.py PARSE_DUMP PCAP_DIR [-v]
"""
import os
import shutil
import subprocess
import sys

SKIP = 77

FIELDS = [
    "frame.number", "frame.protocols", "ip.src", "ip.dst", "ip.proto", "ipv6.src",
    "ipv6.dst", "ipv6.nxt", "ipv6.hopopts.nxt", "ipv6.routing.nxt", "ipv6.fraghdr.nxt",
    "ipv6.dstopts.nxt", "ah.next_header", "tcp.srcport", "tcp.dstport", "udp.srcport",
    "udp.dstport", "sctp.srcport", "sctp.dstport", "_ws.expert.severity", "_ws.malformed",
    "_ws.short",
]

# IPv6 extension headers the parser walks, with the tshark field naming the next
# header. 135 (mobility), 139 (HIP), 140 (shim6) have none here: unresolved.
EXT_NEXT_FIELD = {0: "ipv6.hopopts.nxt", 43: "ipv6.routing.nxt", 44: "ipv6.fraghdr.nxt",
                  60: "ipv6.dstopts.nxt", 51: "ah.next_header"}
EXT_OTHER = {135, 139, 140}
PORT_FIELDS = {6: "tcp", 17: "udp", 136: "udp", 132: "sctp"}
# UDP tunnels as tshark names them (the parser's: src/parse/parse.h).
TUNNELS = {"vxlan", "geneve", "teredo", "gtp"}
# Expert severity "error" (PI_ERROR = 0x00800000) or a malformed marker.
PI_ERROR = 0x00800000
MALFORMED_DISCARDS = {"l2_truncated", "ip_bad_version", "ipv4_truncated", "ipv4_bad_ihl",
                      "ipv4_bad_length", "ipv6_truncated", "ipv6_bad_ext", "l4_truncated",
                      "tcp_bad_offset"}


def values(row, name):
    v = row.get(name, "")
    return [x for x in v.split(",")] if v else []


def first(row, name):
    v = values(row, name)
    return v[0] if v else None


def tshark_frames(path):
    cmd = ["tshark", "-r", path, "-n",
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.desegment_tcp_streams:FALSE",
           "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True)
    frames = {}
    for line in out.stdout.splitlines():
        cols = line.split("\t")
        row = dict(zip(FIELDS, cols + [""] * (len(FIELDS) - len(cols))))
        frames[int(row["frame.number"])] = row
    return frames, out.stderr


def nth(row, name, k):
    v = values(row, name)
    return v[k] if k < len(v) else None


def flow_ip_layer(layers):
    """Index in layers of the IP header that keys the flow: the first IP
    layer, or, through up to two tunnels the parser looks into, the IP layer
    inside (GRE with what it carries, IP in IP, UDP with VXLAN, Geneve,
    Teredo, GTP). None without an IP layer."""
    ips = [i for i, name in enumerate(layers) if name in ("ip", "ipv6")]
    if not ips:
        return None
    cur = ips[0]
    for _ in range(2):
        later = [i for i in ips if i > cur]
        if not later:
            break
        between = layers[cur + 1:later[0]]
        if not (between == [] or between[0] == "gre" or
                (between[:1] == ["udp"] and between[1:2] and between[1] in TUNNELS)):
            break
        cur = later[0]
    return cur


def tshark_view(row):
    """The IP packet that keys the flow (the outer one, or the one inside a
    tunnel) as tshark dissected it: dict or None (no IP layer)."""
    layers = row["frame.protocols"].split(":")
    at = flow_ip_layer(layers)
    if at is None:
        return None
    t = {"malformed": bool(row["_ws.malformed"]) or any(
        int(s, 0) >= PI_ERROR for s in values(row, "_ws.expert.severity") if s)}
    t["tunnel"] = at != min(i for i, name in enumerate(layers) if name in ("ip", "ipv6"))
    k = layers[:at].count(layers[at])  # occurrence of this layer's fields
    if layers[at] == "ip":
        t.update(family=4, src=nth(row, "ip.src", k), dst=nth(row, "ip.dst", k),
                 proto=nth(row, "ip.proto", k))
        t["proto"] = int(t["proto"]) if t["proto"] else None
    else:
        t.update(family=6, src=nth(row, "ipv6.src", k), dst=nth(row, "ipv6.dst", k))
        nh = nth(row, "ipv6.nxt", k)
        nh = int(nh) if nh else None
        if k == 0:
            # Follow the outer chain: the k-th occurrence of an extension's
            # "next" field belongs to the outer header while its chain goes on.
            seen = {}
            while nh in EXT_NEXT_FIELD:
                j = seen.get(nh, 0)
                seen[nh] = j + 1
                vals = values(row, EXT_NEXT_FIELD[nh])
                nh = int(vals[j]) if j < len(vals) else None
        elif nh in EXT_NEXT_FIELD:
            nh = None  # an inner chain: occurrences no longer say whose
        if nh in EXT_OTHER:
            nh = None
        t["proto"] = nh
    t["ports"] = None
    if t["proto"] in PORT_FIELDS:
        p = PORT_FIELDS[t["proto"]]
        after = [i for i in range(at + 1, len(layers)) if layers[i] == p]
        if after:
            j = layers[:after[0]].count(p)
            s, d = nth(row, p + ".srcport", j), nth(row, p + ".dstport", j)
            if s is not None and d is not None:
                t["ports"] = (int(s), int(d))
    t["layers"] = layers
    return t


def ours(path, parse_dump):
    out = subprocess.run([parse_dump, path], capture_output=True, text=True)
    frames = {}
    for line in out.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) == 2:
            frames[int(cols[0])] = {"discard": cols[1]}
        else:
            frames[int(cols[0])] = {
                "family": int(cols[1]), "src": cols[2], "dst": cols[3],
                "proto": int(cols[4]), "ports": (int(cols[5]), int(cols[6])),
                "flags": cols[7], "tunnel": cols[8]}
    return out.returncode, frames, out.stderr


def explain(o, t, row):
    """Why a parser discard of a frame tshark shows as IP is expected, or None."""
    d = o["discard"]
    if d in MALFORMED_DISCARDS and first(row, "_ws.short"):
        if d == "l4_truncated" and t["ports"] is not None:
            return None  # cut after the ports: a flow packet by contract
        return "truncated"
    if d in MALFORMED_DISCARDS and t["malformed"]:
        return "malformed"
    return None


def compare_file(path, parse_dump, verbose):
    rc, mine, err = ours(path, parse_dump)
    if rc == 3:
        return None  # link type the parser does not take
    if rc not in (0, 2):
        return ["parse-dump exited %d: %s" % (rc, err.strip())]
    theirs, terr = tshark_frames(path)
    problems = []
    if rc == 2:
        # A file cut in the middle of a record: fine if tshark says so too.
        if "cut short" not in terr and "truncated" not in terr:
            problems.append("parse-dump read error tshark did not report: " + err.strip())
    if set(mine) != set(theirs):
        problems.append("frame sets differ: parser %d frames, tshark %d"
                        % (len(mine), len(theirs)))
    counts = {}
    for n in sorted(set(mine) & set(theirs)):
        o, row = mine[n], theirs[n]
        t = tshark_view(row)
        if t is None:
            ok = "discard" in o and o["discard"] in ("non_ip", "l2_truncated", "l2_too_deep")
            why = "agree" if ok else None
            if not ok and "discard" in o and o["discard"] in MALFORMED_DISCARDS:
                why = "malformed"
        elif "discard" in o:
            why = explain(o, t, row)
        else:
            diffs = []
            if (o["tunnel"] != "none") != t["tunnel"]:
                diffs.append("tunnel")
            if o["family"] != t["family"]:
                diffs.append("family")
            if o["src"] != t["src"] or o["dst"] != t["dst"]:
                diffs.append("addresses")
            if t["proto"] is not None and o["proto"] != t["proto"]:
                diffs.append("proto")
            if t["proto"] in PORT_FIELDS and "L" not in o["flags"]:
                if t["ports"] is not None and o["ports"] != t["ports"]:
                    diffs.append("ports")
            elif o["ports"] != (0, 0):
                diffs.append("ports")
            why = "agree" if not diffs else None
            if diffs and o["tunnel"] != "none" and not t["tunnel"] and t["malformed"] and \
                    t["layers"][-1] == "udp":
                why = "bigtcp"  # tshark stopped at an outer UDP it took as empty
            if diffs:
                o["diffs"] = diffs
            elif t["proto"] is None:
                why = "agree-no-proto"  # tshark did not resolve the chain
            elif t["proto"] in PORT_FIELDS and "L" not in o["flags"] and t["ports"] is None:
                why = "agree-no-ports"  # tshark did not dissect the L4 header
        counts[why or "UNEXPLAINED"] = counts.get(why or "UNEXPLAINED", 0) + 1
        if why is None or (verbose and not why.startswith("agree")):
            problems.append("frame %d: %s: parser %s | tshark %s"
                            % (n, why or "UNEXPLAINED", o,
                               {k: v for k, v in (t or {"layers": row["frame.protocols"]}).items()}))
    return counts, problems


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    parse_dump, pcap_dir = sys.argv[1], sys.argv[2]
    verbose = "-v" in sys.argv[3:]
    if not os.path.isdir(pcap_dir):
        print("no capture folder %s: skipped" % pcap_dir)
        return SKIP
    if shutil.which("tshark") is None:
        print("tshark not installed: skipped")
        return SKIP
    files = sorted(f for f in os.listdir(pcap_dir) if f.endswith((".pcap", ".pcapng")))
    failed = 0
    compared = 0
    for f in files:
        res = compare_file(os.path.join(pcap_dir, f), parse_dump, verbose)
        if res is None:
            print("%-45s skipped (link type)" % f)
            continue
        if isinstance(res, list):
            print("%-45s ERROR %s" % (f, res))
            failed += 1
            continue
        counts, problems = res
        compared += 1
        unexplained = [p for p in problems if "UNEXPLAINED" in p or not p.startswith("frame")]
        print("%-45s %s%s" % (f, " ".join("%s=%d" % kv for kv in sorted(counts.items())),
                              "  FAIL" if unexplained else ""))
        for p in (problems if verbose else unexplained)[:20]:
            print("    " + p)
        if unexplained:
            failed += 1
    if compared == 0:
        print("no capture the parser takes in %s: skipped" % pcap_dir)
        return SKIP
    print("%d files compared, %d with unexplained differences" % (compared, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
