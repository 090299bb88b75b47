#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""flowtap-collector's community_id against Wireshark's Community ID dissector.

Usage: community_compare.py FLOWS.jsonl PCAP [SEED]

tshark (--enable-protocol communityid, seed SEED, default 0) gives every frame
the Community ID v1 of its flow; every flow line of FLOWS.jsonl (written with
--community-id[=SEED]) must carry one, and the set of flowtap's IDs must equal
the set of tshark's over the capture's frames: the same flows, hashed alike,
each of them reported. Match lines (with rules) must carry their flow's.
"""
import json
import subprocess
import sys


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        return 2
    flows_path, pcap = sys.argv[1], sys.argv[2]
    seed = sys.argv[3] if len(sys.argv) == 4 else "0"
    ours, problems, nflows = set(), [], 0
    by_flow, matches = {}, []
    for line in open(flows_path):
        r = json.loads(line)
        if r["type"] == "match":
            matches.append(r)
        if r["type"] != "flow":
            continue
        by_flow[(r["worker"], r["flow_id"])] = r.get("community_id")
        nflows += 1
        if "community_id" not in r:
            problems.append(f"flow {r['flow_id']}: no community_id")
            continue
        ours.add(r["community_id"])
    out = subprocess.run(["tshark", "--enable-protocol", "communityid", "-o",
                          f"communityid.seed:{seed}", "-r", pcap, "-T", "fields",
                          "-e", "communityid"], capture_output=True, text=True)
    theirs = {x for x in out.stdout.split() if x}
    if not theirs:
        problems.append(f"tshark gave no Community ID: {out.stderr.strip()[:300]}")
    for x in sorted(ours - theirs):
        problems.append(f"flowtap {x}: no frame tshark hashes so")
    for x in sorted(theirs - ours):
        problems.append(f"tshark {x}: no flowtap flow hashes so")
    for m in matches:
        want = by_flow.get((m["worker"], m["flow_id"]))
        if m.get("community_id") != want:
            problems.append(f"match of flow {m['flow_id']}: community_id "
                            f"{m.get('community_id')}, its flow's {want}")
    print(f"{pcap}: {nflows} flows, {len(ours)} community IDs, tshark {len(theirs)}, "
          f"{len(matches)} match lines, {len(problems)} differences")
    for p in problems[:30]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
