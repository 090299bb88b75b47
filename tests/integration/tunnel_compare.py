#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hold flowtap's flows on tunnelled captures against tshark's dissection.

Usage: tunnel_compare.py FLOWS.jsonl PCAP {inner|outer}

tshark dissects every frame of PCAP (IP and TCP reassembly off); each frame is
given to the flow of the IP packet that keys it: with `inner` (flowtap's
default [flow] tunnels), the one inside up to two GRE, IP-in-IP, VXLAN,
Geneve, Teredo or GTP-U tunnels (tests/parse/tshark_compare.py's
flow_ip_layer()), with `outer` ([flow] tunnels = none) the outermost one.
Flows are (tunnel or not, protocol, the two endpoints sorted), ports for
TCP/UDP/SCTP only. flowtap's records, summed per such key (a flow may be
exported in several records), must hold exactly the frames and frame bytes
tshark's grouping gives, every record's "tunnel" must say whether its frames
came through a tunnel, and no key may be missing on either side.

IPv4 fragments: flowtap gives a later fragment its first fragment's ports
(README "Flow tracking"); tshark, without reassembly, shows none. A later
fragment is counted in the one flow of its (tunnel, protocol, addresses) that
has ports, when there is exactly one.
"""
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parse"))
from tshark_compare import FIELDS, flow_ip_layer, tshark_view  # noqa: E402

PORTS = {6, 17, 132, 136}


def key(tunnel, proto, a, b):
    return (tunnel, proto) + tuple(sorted([a, b]))


def tshark_flows(pcap, inner):
    cmd = ["tshark", "-r", pcap, "-n", "-o", "ip.defragment:FALSE", "-o",
           "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE",
           "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,",
           "-e", "frame.len", "-e", "ip.frag_offset"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True)
    flows = collections.Counter()
    later = collections.Counter()
    for line in out.stdout.splitlines():
        cols = line.split("\t")
        names = ["frame.len", "ip.frag_offset"] + FIELDS
        row = dict(zip(names, cols + [""] * (len(names) - len(cols))))
        layers = row["frame.protocols"].split(":")
        if not inner:
            # The outermost IP alone: no tunnel is followed.
            first = min((i for i, n in enumerate(layers) if n in ("ip", "ipv6")), default=None)
            if first is None:
                continue
            row["frame.protocols"] = ":".join(layers[:first + 1] + [
                n for n in layers[first + 1:] if n not in ("ip", "ipv6")])
        if flow_ip_layer(row["frame.protocols"].split(":")) is None:
            continue  # not IP: flowtap discards it (non_ip), not a flow
        t = tshark_view(row)
        ports = t["ports"] if t["proto"] in PORTS and t["ports"] else (0, 0)
        k = key(bool(t["tunnel"]), t["proto"], (t["src"], ports[0]), (t["dst"], ports[1]))
        at = flow_ip_layer(row["frame.protocols"].split(":"))
        if layers[at] == "ip":
            offs = row["ip.frag_offset"].split(",") if row["ip.frag_offset"] else []
            n = layers[:at].count("ip")
            if n < len(offs) and offs[n] not in ("", "0"):
                later[k] += 1
        flows[k + ("frames",)] += 1
        flows[k + ("bytes",)] += int(row["frame.len"])
    # Later fragments to their datagrams' flow, as flowtap attributes them.
    for k in later:
        if later[k] != flows[k + ("frames",)]:
            continue  # not all of that flow's frames are later fragments
        with_ports = {f[:-1] for f in flows
                      if f[:2] == k[:2] and {f[2][0], f[3][0]} == {k[2][0], k[3][0]}
                      and f[:-1] != k}
        if len(with_ports) == 1:
            (to,) = with_ports
            for what in ("frames", "bytes"):
                flows[to + (what,)] += flows.pop(k + (what,))
    return flows


def flowtap_flows(path):
    flows = collections.Counter()
    problems = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("type") != "flow":
                continue
            if r.get("tunnel") not in (None, "gre", "ipip", "vxlan", "geneve", "teredo", "gtp"):
                problems.append(f"unknown tunnel name in {line.strip()}")
            k = key("tunnel" in r, r["proto"], (r["src_ip"], r["src_port"]),
                    (r["dst_ip"], r["dst_port"]))
            flows[k + ("frames",)] += r["packets_fwd"] + r["packets_rev"]
            flows[k + ("bytes",)] += r["bytes_fwd"] + r["bytes_rev"]
    return flows, problems


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("inner", "outer"):
        print(__doc__)
        return 2
    ours, problems = flowtap_flows(sys.argv[1])
    theirs = tshark_flows(sys.argv[2], sys.argv[3] == "inner")
    for k in sorted(set(ours) | set(theirs), key=str):
        if ours[k] != theirs[k]:
            problems.append(f"{k}: flowtap {ours[k]}, tshark {theirs[k]}")
    tunnelled = sum(v for k, v in theirs.items() if k[0] and k[-1] == "frames")
    if sys.argv[3] == "outer" and tunnelled != 0:
        problems.append("tunnels = none, but frames were keyed inside a tunnel")
    nflows = len([k for k in theirs if k[-1] == "frames"])
    print(f"{sys.argv[2]}: {nflows} flows, {tunnelled} frames through tunnels "
          f"({sys.argv[3]} headers)")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
