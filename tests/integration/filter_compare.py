#!/usr/bin/env python3
"""A capture filter ([port.NAME] filter, flowtap-replay -f) keeps what tcpdump
keeps with the same expression, and accounts for what it refuses.

    filter_compare.py FLOWTAP_REPLAY PCAPS_DIR WORKERS

For each case (a public capture and an expression), run

  A: flowtap-replay CAPTURE -f EXPR (with 2 workers: CAPTURE EXPR, as tcpdump)
  B: tcpdump -r CAPTURE -w KEPT.pcap EXPR, then flowtap-replay KEPT.pcap

and check:

- A accounts for every packet and byte of the capture (its summary), and its
  discards.filtered are exactly the packets and captured bytes tcpdump left
  out (A's input minus B's input);
- A's flow records are B's, field by field, but one: a flow B ends at the end
  of its shorter input ("shutdown") may have ended "idle" in A, whose capture
  time goes on to the end of the whole file (filtered packets still carry
  time; see README, Capture filter);
- the case means something: the filter kept some packets and refused some.

The cases cover Ethernet, VLANs, Linux cooked v1 and v2, BSD loopback (whose
header is in the writing machine's byte order), pcapng, a tunnel (the filter
sees the outer headers, flows are the inner packets), TCP flag tests through
an indirect load (tcp[tcpflags]) and a bit test (ip[6] & 0x20), which DPDK
22.11's rte_bpf_convert gets wrong (../shared/DESIGN.md).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

CASES = [
    ("nd_1kxun.pcap", "tcp port 80"),
    ("nd_1kxun.pcap", "udp"),
    ("nd_1kxun.pcap", "tcp[tcpflags] & tcp-syn != 0"),
    ("sv_ipv4frags.pcap", "ip[6] & 0x20 != 0"),
    ("sv_eve-flow-vlan-02.pcap", "vlan 6"),
    ("sv_sll2.pcap", "tcp and src port 80"),
    ("td_mptcp-v1.pcap", "greater 90"),
    ("sv_http-ipv6.pcap", "ip6 and src port 55717"),
    ("nd_http_ua_splitted_in_two_pkts.pcapng", "tcp and dst port 80"),
    ("td_geneve.pcap", "geneve and tcp"),
]


def replay(binary, workers, pcap, out, filt=None):
    cmd = [binary, pcap, "-q", "-w", str(workers), "-o", out]
    # Both ways of giving it: -f EXPR, and words after the capture (tcpdump's).
    if filt is not None and workers == 1:
        cmd += ["-f", filt]
    elif filt is not None:
        cmd += filt.split()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stdout))
    flows, summary = [], None
    for line in open(out):
        j = json.loads(line)
        if j["type"] == "flow":
            flows.append(j)
        elif j["type"] == "summary":
            summary = j
    return flows, summary


def flow_id(f):
    return (f["ip_version"], f["proto"], f["src_ip"], f["src_port"], f["dst_ip"],
            f["dst_port"], tuple(f.get("vlan") or ()), f.get("tunnel"), f["start_ns"])


def check(binary, workers, pcap, expr, tmp):
    problems = []
    kept = os.path.join(tmp, "kept.pcap")
    r = subprocess.run(["tcpdump", "-r", pcap, "-w", kept, expr], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        return ["tcpdump failed: %s" % r.stdout]
    fa, sa = replay(binary, workers, pcap, os.path.join(tmp, "a.jsonl"), expr)
    fb, sb = replay(binary, workers, kept, os.path.join(tmp, "b.jsonl"))
    os.unlink(os.path.join(tmp, "a.jsonl"))
    os.unlink(os.path.join(tmp, "b.jsonl"))

    if not (sa["accounted"]["packets"] and sa["accounted"]["bytes"]):
        problems.append("not accounted: %s" % sa["accounted"])
    want = {"packets": sa["input"]["packets"] - sb["input"]["packets"],
            "bytes": sa["input"]["captured_bytes"] - sb["input"]["captured_bytes"]}
    got = sa["discards"]["filtered"]
    if got != want:
        problems.append("discards.filtered %s, want %s (what tcpdump left out)" % (got, want))
    if not 0 < sb["input"]["packets"] < sa["input"]["packets"]:
        problems.append("tcpdump kept %d of %d packets: the case filters nothing or everything"
                        % (sb["input"]["packets"], sa["input"]["packets"]))

    a = {flow_id(f): f for f in fa}
    b = {flow_id(f): f for f in fb}
    if len(a) != len(fa) or len(b) != len(fb):
        problems.append("two flows with one identity")
    if a.keys() != b.keys():
        problems.append("flows only with -f: %s; only after tcpdump: %s"
                        % (sorted(a.keys() - b.keys())[:3], sorted(b.keys() - a.keys())[:3]))
    idle = 0
    for k in a.keys() & b.keys():
        x, y = dict(a[k]), dict(b[k])
        for d in (x, y):
            d.pop("flow_id")  # per-worker serials: flows end in another order
        if x.get("end_reason") == "idle" and y.get("end_reason") == "shutdown":
            idle += 1
            x["end_reason"] = "shutdown"
        if x != y:
            diff = {f: (x.get(f), y.get(f)) for f in x.keys() | y.keys() if x.get(f) != y.get(f)}
            problems.append("flow %s differs (with -f, after tcpdump): %s" % (k, diff))
            break
    print("%-40s %-30s %4d of %4d packets kept, %3d flows (%d idle only with -f): %s"
          % (os.path.basename(pcap), "'%s'" % expr, sb["input"]["packets"],
             sa["input"]["packets"], len(fa), idle, "ok" if not problems else "FAIL"))
    return problems


def main():
    binary, pcaps, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if shutil.which("tcpdump") is None:
        print("SKIP: tcpdump not installed (tools/setup.sh)")
        sys.exit(77)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, expr in CASES:
            pcap = os.path.join(pcaps, name)
            if not os.path.exists(pcap):
                print("SKIP: %s not found" % pcap)
                sys.exit(77)
            problems += ["%s '%s': %s" % (name, expr, p) for p in check(binary, workers, pcap,
                                                                        expr, tmp)]
    for p in problems:
        print("FAIL:", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
