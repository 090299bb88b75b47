#!/usr/bin/env python3
"""flowtap's pattern matches against flowtap-pktgen's ground truth.

  match_compare.py rules TRUTH.json            print a rules file for the truth's patterns
  match_compare.py compare OUT.jsonl TRUTH.json PCAP

Every pattern occurrence the truth says a correct reassembler sees (in_stream:
a byte of the stream as first captured, and complete: no byte in a gap) must be
exactly one flowtap match event, with the rule, the direction and the stream
offset just past its last byte; flowtap must report nothing else (patterns
only in conflicting retransmissions, or across a gap, must stay silent). Each
event must come no earlier than the capture of the pattern's last segment and
no later than its flow's end. Per flow, the records' match summaries (one per
record: a long flow has several with active timeouts, and they add up) must
count the same events and rules, and their gap bytes must equal the truth's
holes. In
the summary: events found = received, no ring drop or scan error, per-rule hits
as expected, and retransmitted bytes (not scanned again) equal to the truth's
retransmissions; and the payload counters place every byte captured once.

MATCH_DEPTH=N in the environment: flowtap ran with [match] depth N, so only
patterns ending by offset N are expected, and the holes and retransmissions
beyond it are not compared (bytes there count as beyond the depth).
"""
import collections
import json
import os
import struct
import sys


def key(r):
    a = (r["src_ip"], r["src_port"])
    b = (r["dst_ip"], r["dst_port"])
    return (r["proto"], tuple(r.get("vlan", [])), r.get("tunnel"), min(a, b), max(a, b))


def unescape(s):
    """pktgen's literal escapes: \\\\ \\" \\n \\r \\t \\0 \\xHH."""
    out, i = bytearray(), 0
    simple = {"\\": 0x5C, '"': 0x22, "n": 0x0A, "r": 0x0D, "t": 0x09, "0": 0x00}
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            c = s[i + 1]
            if c == "x":
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out.append(simple[c])
            i += 2
            continue
        out += s[i].encode()
        i += 1
    return bytes(out)


def rules(truth):
    for p in truth["patterns"]:
        if "literal" in p:
            body = "".join(chr(b) if chr(b).isalnum() else "\\x%02x" % b
                           for b in unescape(p["literal"]))
            expr = "/%s/" % body
        else:
            expr = p["regex"]
        print("%d:%s name=%s" % (p["id"], expr, p["name"]))


def frame_times(path):
    """ns of every frame (from 1) of a classic pcap (us or ns)."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    scale = 1 if magic == 0xA1B23C4D else 1000
    times, off = [None], 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        times.append(sec * 10**9 + frac * scale)
        off += 16 + incl
    return times


def compare(out_path, truth_path, pcap_path):
    depth = int(os.environ.get("MATCH_DEPTH", "0"))
    truth = json.load(open(truth_path))
    times = frame_times(pcap_path)
    flows, events, summary = {}, collections.Counter(), None
    ev_lines = collections.defaultdict(list)
    for line in open(out_path):
        r = json.loads(line)
        if r["type"] == "summary":
            summary = r
        elif r["type"] == "flow":
            flows.setdefault(key(r), []).append(r)
        elif r["type"] == "match":
            k = (key(r), r["rule"], r["dir"], r["offset"])
            events[k] += 1
            ev_lines[k].append(r)
    problems = []
    expected = collections.Counter()
    per_rule = collections.Counter()
    retrans = 0
    for t in truth["flows"]:
        fk = key(t)
        want = collections.Counter()
        gap_bytes = {"fwd": 0, "rev": 0}
        for g in t.get("gaps", []):
            if g["offset"] + g["length"] < t["streams"][g["dir"]]["bytes"]:
                gap_bytes[g["dir"]] += g["length"]
        retrans += sum(x["length"] for x in t.get("retransmissions", []))
        for p in t.get("patterns", []):
            if not p["in_stream"] or not p["complete"]:
                continue
            if depth and p["offset"] + p["length"] > depth:
                continue
            k = (fk, p["id"], p["dir"], p["offset"] + p["length"])
            want[k] += 1
            per_rule[p["id"]] += 1
            for r in ev_lines.get(k, []):
                last = times[max(p["frames"])] // 1000 * 1000
                if not last <= r["ts_ns"] <= t["end_ns"]:
                    problems.append(f"{k}: at {r['ts_ns']}, its last segment was captured "
                                    f"at {last}, the flow ended at {t['end_ns']}")
        expected.update(want)
        records = flows.get(fk)
        if records is None:
            problems.append(f"{fk} ({t['class']}): no flow record")
            continue
        if any("match" not in r for r in records):
            problems.append(f"{fk}: flow record without a match summary")
            continue
        m = {"events": sum(r["match"]["events"] for r in records),
             "rules": sorted({i for r in records for i in r["match"]["rules"]})}
        for d in ("fwd", "rev"):
            m[d] = {"gap_bytes": sum(r["match"][d].get("gap_bytes", 0) for r in records)}
        if m["events"] != sum(want.values()):
            problems.append(f"{fk} ({t['class']}): summary counts {m['events']} events, "
                            f"truth {sum(want.values())}")
        ids = sorted({k[1] for k in want})
        if len(ids) <= 4 and m["rules"] != ids:
            problems.append(f"{fk}: summary rules {m['rules']}, truth {ids}")
        for d in ("fwd", "rev"):
            if t["proto"] == 6 and not depth and m[d].get("gap_bytes", 0) != gap_bytes[d]:
                problems.append(f"{fk} ({t['class']}) {d}: gap bytes {m[d].get('gap_bytes', 0)}, "
                                f"truth {gap_bytes[d]}")
    for k in expected.keys() | events.keys():
        if events[k] != expected[k]:
            what = "missing" if events[k] < expected[k] else "unexpected"
            problems.append(f"{what}: {k} reported {events[k]} time(s), truth {expected[k]}")

    if summary is None:
        problems.append("no summary line")
    else:
        m = summary["match"]
        ev = m["events"]
        total = sum(expected.values())
        if ev["found"] != total or ev["received"] != total or ev["ring_drops"] or ev["suppressed"]:
            problems.append(f"summary events {ev}, truth {total}")
        if m["scan_errors"]:
            problems.append(f"{m['scan_errors']} scan errors")
        if m["chunks"]["in_use"] or m["chunks"]["held_bytes"]:
            problems.append(f"chunk buffers still hold bytes at the end: {m['chunks']}")
        hits = {h["id"]: h["hits"] for h in m["hits"]}
        if hits != dict(per_rule):
            problems.append(f"rule hits {hits}, truth {dict(per_rule)}")
        if not depth and m["payload"]["retransmitted_bytes"] != retrans:
            problems.append(f"retransmitted bytes {m['payload']['retransmitted_bytes']}, "
                            f"truth {retrans}")
        # Every payload byte captured is in exactly one category (gap_bytes
        # counts bytes the capture never had). TCP and UDP payload as the
        # truth has it; other protocols' as flowtap's records say, since
        # flowtap scans what follows their first header (ICMP's 4 bytes,
        # SCTP's common header) and pktgen counts their user data.
        seen = retrans + sum(s.get("captured_bytes", 0) for t in truth["flows"]
                             if t["proto"] in (6, 17)
                             for s in t.get("streams", {}).values())
        seen += sum(r["match"][d].get("scanned_bytes", 0) for rs in flows.values()
                    for r in rs if r["proto"] not in (6, 17) for d in ("fwd", "rev"))
        placed = sum(v for k, v in m["payload"].items() if k != "gap_bytes")
        if placed != seen:
            problems.append(f"payload categories {m['payload']} add up to {placed}, "
                            f"truth {seen} bytes captured")
    print(f"{truth_path}: {sum(expected.values())} expected matches in "
          f"{len(truth['flows'])} flows, {sum(events.values())} reported, "
          f"{len(problems)} differences")
    for p in problems[:50]:
        print("  " + p)
    return 1 if problems else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "rules":
        rules(json.load(open(sys.argv[2])))
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "compare":
        return compare(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
