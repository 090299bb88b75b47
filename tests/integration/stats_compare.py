#!/usr/bin/env python3
"""flowtap's sliding statistics against the capture and flowtap-pktgen's truth.

The capture is read here, independently of flowtap (timestamps cut to the
microsecond, as net_pcap reads them), and every exported figure is recomputed
exactly:
  flow_stats    totals, last-bucket / window / peak counts per direction as of
                the record's time; size and inter-arrival min, max, mean and
                variance (exact); p50/p90/p99 within the stated error (the true
                nearest-rank quantile lies in the reported bin cut to
                [min, max], the estimate within (hi-lo)/(hi+lo) of it, never
                above 1/3 outside the open last bin); handshake RTT parts equal
                to the capture's timestamp differences and to the truth's; TCP
                retransmissions, out-of-order segments and zero windows equal to
                the truth's lists; one periodic record exactly for every interval
                a flow had packets in and was still live at the end of; rates of
                the fixed-pace classes within 2 packets of the truth's rate
  worker_stats  summed over workers: packets, bytes, new flows over 1/10/60 s
  topk          every interval's by-bytes and by-packets lists equal the exact
                top-K of the flows' packets in that interval
and the outputs of every run (1 and 2 workers) are the same but for flow ids.

With --elephants NAMES: every interval inside all the elephants' lives names
exactly those classes first, fastest (truth bytes per second) first.

Usage: stats_compare.py [--elephants c1,c2,..] PCAP TRUTH.json TIMEOUT_NS OUT.jsonl...
"""
import ipaddress
import json
import struct
import sys
from fractions import Fraction

problems = []


def problem(msg):
    problems.append(msg)


# --------------------------------------------------------------- capture


def read_pcap(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit(f"{path}: not a little-endian pcap")
    nano = magic == 0xA1B23C4D
    assert struct.unpack("<I", data[20:24])[0] == 1, "Ethernet captures only"
    off, out = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack("<IIII", data[off:off + 16])
        off += 16
        ns = sec * 10**9 + (frac if nano else frac * 1000)
        out.append((ns // 1000 * 1000, incl, data[off:off + incl]))
        off += incl
    return out


def parse(frame):
    """(proto, vlans, (src ip, port), (dst ip, port), tcp) or None."""
    et, off, vlans = struct.unpack(">H", frame[12:14])[0], 14, []
    while et in (0x8100, 0x88A8, 0x9100):
        vlans.append(struct.unpack(">H", frame[off:off + 2])[0] & 0xFFF)
        et = struct.unpack(">H", frame[off + 2:off + 4])[0]
        off += 4
    if et == 0x0800:
        ihl = (frame[off] & 15) * 4
        total = struct.unpack(">H", frame[off + 2:off + 4])[0]
        proto = frame[off + 9]
        src = ipaddress.ip_address(frame[off + 12:off + 16])
        dst = ipaddress.ip_address(frame[off + 16:off + 20])
        end, l4 = off + total, off + ihl
    elif et == 0x86DD:
        plen = struct.unpack(">H", frame[off + 4:off + 6])[0]
        proto = frame[off + 6]
        src = ipaddress.ip_address(frame[off + 8:off + 24])
        dst = ipaddress.ip_address(frame[off + 24:off + 40])
        end, l4 = off + 40 + plen, off + 40
    else:
        return None
    sport = dport = 0
    tcp = None
    if proto in (6, 17):
        sport, dport = struct.unpack(">HH", frame[l4:l4 + 4])
    if proto == 6:
        seq, _ack, offx, flags, win = struct.unpack(">IIBBH", frame[l4 + 4:l4 + 16])
        tcp = {"seq": seq, "flags": flags, "win": win, "payload": end - l4 - (offx >> 4) * 4}
    return proto, tuple(vlans), (str(src), sport), (str(dst), dport), tcp


def flow_key(proto, vlans, a, b):
    return (proto, vlans, min(a, b), max(a, b))


def key_of_line(r):
    return flow_key(r["proto"], tuple(r.get("vlan", [])), (r["src_ip"], r["src_port"]),
                    (r["dst_ip"], r["dst_port"]))


def c_key_words(k):
    """The flow key as flowtap lays it out (export.h), as six little-endian
    64-bit words: the tie-break order of the top-K."""
    proto, vlans, lo, hi = k
    fam = 4 if ipaddress.ip_address(lo[0]).version == 4 else 6

    def addr(a):
        b = ipaddress.ip_address(a).packed
        return b + bytes(16 - len(b))

    v = list(vlans) + [0, 0]
    raw = addr(lo[0]) + addr(hi[0]) + struct.pack("<HHHHBB", lo[1], hi[1], v[0], v[1], proto,
                                                  fam) + bytes(6)
    return struct.unpack("<6Q", raw)


# --------------------------------------------------------------- reference


class Flow:
    def __init__(self, key, initiator):
        self.key, self.initiator, self.pkts = key, initiator, []


def build_flows(frames, truth, timeout):
    initiators = {}
    for t in truth["flows"]:
        k = flow_key(t["proto"], tuple(t.get("vlan", [])), (t["src_ip"], t["src_port"]),
                     (t["dst_ip"], t["dst_port"]))
        initiators[k] = (t["src_ip"], t["src_port"])
    flows, live = [], {}
    for ts, length, frame in frames:
        p = parse(frame)
        if p is None:
            continue
        proto, vlans, a, b, tcp = p
        k = flow_key(proto, vlans, a, b)
        f = live.get(k)
        if f is None or ts - f.pkts[-1][0] > timeout:
            f = Flow(k, initiators.get(k, a))
            live[k] = f
            flows.append(f)
        f.pkts.append((ts, length, 0 if a == f.initiator else 1, tcp))
    return flows


def bucket_figures(pkts, d, t, w, nb):
    tb = t // w
    out = {"packets": 0, "bytes": 0, "last_packets": 0, "last_bytes": 0, "window_packets": 0,
           "window_bytes": 0}
    buckets = {}
    for ts, ln, dd, _ in pkts:
        if dd != d or ts >= t:
            continue
        out["packets"] += 1
        out["bytes"] += ln
        m = ts // w
        if m == tb - 1:
            out["last_packets"] += 1
            out["last_bytes"] += ln
        if m >= tb - nb:
            out["window_packets"] += 1
            out["window_bytes"] += ln
        c = buckets.setdefault(m, [0, 0])
        c[0] += 1
        c[1] += ln
    out["peak_packets"] = max((c[0] for c in buckets.values()), default=0)
    out["peak_bytes"] = max((c[1] for c in buckets.values()), default=0)
    return out


def size_bin(x):
    return 0 if x < 64 else min(x.bit_length() - 1 - 5, 15)


def iat_bin(x):
    return 0 if x < 1024 else min(x.bit_length() - 1 - 9, 23)


def size_lo(b):
    return 0 if b == 0 else 1 << (b + 5)


def iat_lo(b):
    return 0 if b == 0 else 1 << (b + 9)


def check_quantile(name, est, values, permille, binf, lof, nbins):
    vs = sorted(values)
    n = len(vs)
    rank = max(1, -(-n * permille // 1000))
    q = vs[rank - 1]
    if rank <= 1 or rank >= n:
        if est != q:
            problem(f"{name}: {est}, the {'min' if rank <= 1 else 'max'} is {q}")
        return
    b = binf(q)
    lo = max(lof(b), vs[0])
    hi = min(lof(b + 1) - 1 if b + 1 < nbins else vs[-1], vs[-1])
    if lo == 0:
        ok = abs(est - q) <= hi / 2 + 1
    else:
        bound = (hi - lo) / (hi + lo)
        ok = abs(est - q) <= bound * q + 0.5
        if b + 1 < nbins and bound >= 1 / 3:
            problem(f"{name}: bin [{lo}, {hi}] allows more than the stated 1/3")
    if not ok:
        problem(f"{name}: estimate {est}, true {q} (bin [{lo}, {hi}])")


def moments(values):
    n = len(values)
    mean = Fraction(sum(values), n)
    var = Fraction(sum(v * v for v in values), n) - mean * mean
    return mean, var


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def handshake(pkts):
    syn = synack = ack = None
    for ts, _ln, d, tcp in pkts:
        fl = tcp["flags"]
        if syn is None and d == 0 and fl & 0x16 == 0x02:
            syn = ts
        elif syn is not None and synack is None and d == 1 and fl & 0x16 == 0x12:
            synack = ts
        elif synack is not None and ack is None and d == 0 and fl & 0x16 == 0x10:
            ack = ts
    return syn, synack, ack


def check_record(r, f, truth_flow, checks):
    t = r["time_ns"]
    name = f"{f.key} {r['kind']} at {t}"
    w, nb = r["bucket_ns"], r["window_ns"] // r["bucket_ns"]
    sub = [p for p in f.pkts if p[0] < t]
    if r["kind"] == "final" and len(sub) != len(f.pkts):
        problem(f"{name}: a final record before the flow's last packet")
    if r["start_ns"] != f.pkts[0][0] or r["last_ns"] != max(p[0] for p in sub):
        problem(f"{name}: start/last {r['start_ns']}/{r['last_ns']}")
    for d, sfx in ((0, "_fwd"), (1, "_rev")):
        want = bucket_figures(sub, d, t, w, nb)
        for k, v in want.items():
            if r[k + sfx] != v:
                problem(f"{name}: {k}{sfx} {r[k + sfx]}, capture {v}")
    checks["windows"] += 1
    sizes = [p[1] for p in sub]
    iats, last = [], None
    for p in sub:
        if last is not None:
            iats.append(max(0, p[0] - last))
            last = max(last, p[0])
        else:
            last = p[0]
    if "size_min" not in r:
        problem(f"{name}: no distributions")
        return
    mean, var = moments(sizes)
    if (r["size_min"], r["size_max"]) != (min(sizes), max(sizes)) or \
            not close(r["size_mean"], float(mean)) or not close(r["size_variance"], float(var)):
        problem(f"{name}: sizes {r['size_min']} {r['size_max']} {r['size_mean']} "
                f"{r['size_variance']}, capture {min(sizes)} {max(sizes)} {float(mean)} "
                f"{float(var)}")
    for pm in (500, 900, 990):
        check_quantile(f"{name} size_p{pm // 10}", r[f"size_p{pm // 10}"], sizes, pm, size_bin,
                       size_lo, 16)
    if iats:
        mean, var = moments(iats)
        if (r["iat_min_ns"], r["iat_max_ns"]) != (min(iats), max(iats)) or \
                not close(r["iat_mean_ns"], float(mean)) or \
                not close(r["iat_variance_ns2"], float(var)):
            problem(f"{name}: inter-arrival {r['iat_min_ns']} {r['iat_max_ns']} "
                    f"{r['iat_mean_ns']} {r['iat_variance_ns2']}, capture {min(iats)} "
                    f"{max(iats)} {float(mean)} {float(var)}")
        for pm in (500, 900, 990):
            check_quantile(f"{name} iat_p{pm // 10}", r[f"iat_p{pm // 10}_ns"], iats, pm,
                           iat_bin, iat_lo, 24)
    elif "iat_min_ns" in r:
        problem(f"{name}: inter-arrival figures with one packet")
    checks["distributions"] += 1
    if f.key[0] != 6:
        return
    syn, synack, ack = handshake(sub)
    want_server = synack - syn if synack is not None else None
    want_client = ack - synack if ack is not None else None
    if r.get("rtt_server_ns") != want_server or r.get("rtt_client_ns") != want_client:
        problem(f"{name}: rtt {r.get('rtt_server_ns')}/{r.get('rtt_client_ns')}, capture "
                f"{want_server}/{want_client}")
    if truth_flow is not None and ack is not None and r["kind"] == "final":
        s0 = truth_flow["start_ns"]
        s1 = s0 + truth_flow["rtt_syn_synack_ns"]
        s2 = s1 + truth_flow["rtt_synack_ack_ns"]
        us = lambda x: x // 1000 * 1000  # noqa: E731
        if (r["rtt_server_ns"], r["rtt_client_ns"]) != (us(s1) - us(s0), us(s2) - us(s1)):
            problem(f"{name}: rtt {r['rtt_server_ns']}/{r['rtt_client_ns']}, truth "
                    f"{us(s1) - us(s0)}/{us(s2) - us(s1)}")
        checks["rtt"] += 1
    if truth_flow is not None and r["kind"] == "final":
        for d, sfx in ((0, "_fwd"), (1, "_rev")):
            dn = ("fwd", "rev")[d]
            want = {
                "retransmissions": sum(1 for x in truth_flow.get("retransmissions", [])
                                       if x["dir"] == dn),
                "out_of_order": sum(1 for x in truth_flow.get("reordered", []) if x["dir"] == dn),
                # the truth names the stalled stream; its receiver advertises
                "zero_windows": sum(1 for x in truth_flow.get("zero_windows", [])
                                    if x["dir"] != dn),
            }
            for k, v in want.items():
                if r[k + sfx] != v:
                    problem(f"{name}: {k}{sfx} {r[k + sfx]}, truth {v}")
        checks["tcp"] += 1


def check_run(path, frames, flows, truth, timeout, elephants):
    checks = {k: 0 for k in ("windows", "distributions", "rtt", "tcp", "periodic", "rates",
                             "worker", "topk", "elephants")}
    lines = [json.loads(x) for x in open(path)]
    by_key = {}
    for f in flows:
        by_key.setdefault(f.key, []).append(f)
    truth_by_key = {flow_key(t["proto"], tuple(t.get("vlan", [])), (t["src_ip"], t["src_port"]),
                             (t["dst_ip"], t["dst_port"])): t for t in truth["flows"]}
    stats = [r for r in lines if r["type"] == "flow_stats"]
    if not stats:
        problem(f"{path}: no flow_stats lines")
        return checks
    interval = next(r["interval_ns"] for r in lines if r["type"] == "worker_stats")
    seen = {}
    for r in stats:
        cands = [f for f in by_key.get(key_of_line(r), []) if f.pkts[0][0] == r["start_ns"]]
        if len(cands) != 1:
            problem(f"{key_of_line(r)}: flow_stats of no flow of the capture")
            continue
        f = cands[0]
        check_record(r, f, truth_by_key.get(f.key), checks)
        seen.setdefault(id(f), []).append(r)
    # periodic records: exactly the intervals with packets, live at their end
    for f in flows:
        recs = seen.get(id(f), [])
        finals = [r for r in recs if r["kind"] == "final"]
        if len(finals) != 1:
            problem(f"{f.key}: {len(finals)} final records")
        got = sorted(r["time_ns"] for r in recs if r["kind"] == "periodic")
        want = []
        for b in sorted({(p[0] // interval + 1) * interval for p in f.pkts}):
            before = [p[0] for p in f.pkts if p[0] < b]
            after = [p[0] for p in f.pkts if p[0] >= b]
            if after or b - max(before) <= timeout:
                want.append(b)
        if got != want:
            problem(f"{f.key}: periodic records at {got}, want {want}")
        checks["periodic"] += 1
        # rates of the fixed-pace classes, inside the flow's data phase
        t = truth_by_key.get(f.key)
        if t is None or t["class"] not in ("steady",) + tuple(elephants):
            continue
        for r in recs:
            w = r["bucket_ns"]
            if r["kind"] != "periodic" or r["time_ns"] - w < t["start_ns"] + 100_000_000 or \
                    r["time_ns"] > t["end_ns"] - 100_000_000:
                continue
            for d in ("fwd", "rev"):
                want = t["pps_" + d] * w / 1e9
                if abs(r["last_packets_" + d] - want) > 2 + 0.1 * want:
                    problem(f"{f.key} at {r['time_ns']}: {r['last_packets_' + d]} {d} packets "
                            f"in {w / 1e9} s, truth rate {t['pps_' + d]} pps")
            checks["rates"] += 1
    # per-worker windows, summed over workers
    all_pkts = sorted((p[0], p[1]) for f in flows for p in f.pkts)
    starts = sorted(f.pkts[0][0] for f in flows)
    sums = {}
    for r in (x for x in lines if x["type"] == "worker_stats"):
        s = sums.setdefault(r["time_ns"], {})
        for k in ("packets", "bytes", "flows_new"):
            for win in ("1s", "10s", "60s"):
                s[f"{k}_{win}"] = s.get(f"{k}_{win}", 0) + r[f"{k}_{win}"]
        s["packets_total"] = s.get("packets_total", 0) + r["packets_total"]
    for t, s in sums.items():
        for win, sec in (("1s", 1), ("10s", 10), ("60s", 60)):
            lo = t - sec * 10**9
            want = {"packets": sum(1 for ts, _ in all_pkts if lo <= ts < t),
                    "bytes": sum(ln for ts, ln in all_pkts if lo <= ts < t),
                    "flows_new": sum(1 for ts in starts if lo <= ts < t)}
            for k, v in want.items():
                if s[f"{k}_{win}"] != v:
                    problem(f"worker_stats at {t}: {k}_{win} {s[f'{k}_{win}']} summed, "
                            f"capture {v}")
        if s["packets_total"] != sum(1 for ts, _ in all_pkts if ts < t):
            problem(f"worker_stats at {t}: packets_total {s['packets_total']}")
        checks["worker"] += 1
    # top-K of every interval
    topks = [r for r in lines if r["type"] == "topk"]
    ends = sorted({(p[0] // interval + 1) * interval for f in flows for p in f.pkts})
    if [r["time_ns"] for r in topks] != ends:
        problem(f"topk lines at {len(topks)} interval ends, want {len(ends)}")
    for r in topks:
        t = r["time_ns"]
        cand = []
        for f in flows:
            ps = [p for p in f.pkts if t - interval <= p[0] < t]
            if ps:
                cand.append((sum(p[1] for p in ps), len(ps), c_key_words(f.key), f.pkts[0][0],
                             f.key))
        for lst, order in (("by_bytes", lambda c: (-c[0], -c[1], c[2], c[3])),
                           ("by_packets", lambda c: (-c[1], -c[0], c[2], c[3]))):
            want = [(c[4], c[0], c[1]) for c in sorted(cand, key=order)[:r["k"]]]
            got = [(key_of_line(e), e["bytes"], e["packets"]) for e in r[lst]]
            if got != want:
                problem(f"topk at {t} {lst}: {got[:3]}..., want {want[:3]}...")
        checks["topk"] += 1
        if elephants:
            els = [t2 for t2 in truth["flows"] if t2["class"] in elephants]
            if max(e["start_ns"] for e in els) <= t - interval and \
                    t <= min(e["end_ns"] for e in els):
                for lst, rate in (("by_bytes", lambda e: e["bps_fwd"] + e["bps_rev"]),
                                  ("by_packets", lambda e: e["pps_fwd"] + e["pps_rev"])):
                    want = [e["class"] for e in sorted(els, key=rate, reverse=True)]
                    got = [truth_by_key[key_of_line(e)]["class"]
                           if key_of_line(e) in truth_by_key else "?"
                           for e in r[lst][:len(els)]]
                    if got != want:
                        problem(f"topk at {t} {lst}: {got}, the elephants are {want}")
                checks["elephants"] += 1
    return checks


def without_ids(path):
    out = []
    for x in open(path):
        r = json.loads(x)
        if r["type"] in ("flow_stats", "topk"):
            r.pop("flow_id", None)
            r.pop("worker", None)
            for lst in ("by_bytes", "by_packets"):
                for e in r.get(lst, []):
                    e.pop("flow_id")
                    e.pop("worker")
            out.append(json.dumps(r, sort_keys=True))
    return sorted(out)


def main():
    args = sys.argv[1:]
    elephants = ()
    if args[0] == "--elephants":
        elephants = tuple(args[1].split(","))
        args = args[2:]
    pcap, truth_path, timeout, outs = args[0], args[1], int(args[2]), args[3:]
    truth = json.load(open(truth_path))
    frames = read_pcap(pcap)
    flows = build_flows(frames, truth, timeout)
    for path in outs:
        checks = check_run(path, frames, flows, truth, timeout, elephants)
        print(f"{path}: {len(flows)} flows; checked " +
              ", ".join(f"{v} {k}" for k, v in checks.items() if v))
        if elephants and checks["elephants"] == 0:
            problem(f"{path}: no interval inside every elephant's life")
    base = without_ids(outs[0])
    for path in outs[1:]:
        if without_ids(path) != base:
            problem(f"{path}: statistics differ from {outs[0]}'s")
    print(f"{len(problems)} differences")
    for p in problems[:40]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
