#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""System test of flowtap-pktgen's load mode over a veth pair.

usage: load_veth.py PKTGEN SCENARIO

Creates a veth pair whose far end lives in a private network namespace (IPv6
off, no addresses: the kernel sends nothing of its own), captures the far end
with dumpcap, transmits the scenario through DPDK's net_af_packet on the near
end at a fixed rate, and checks that
  - the capture holds exactly the frames of the same scenario in file mode, in
    order, byte for byte;
  - pktgen's report (packets, bytes, no tx failures) equals what was captured;
  - the achieved rate is near the one asked for.
The veth pair, the namespace and EAL's runtime directory are removed whatever
happens. Needs root;
exits 77 (skipped) without it.
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

RATE_PPS = 20000


def read_pcap(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        sys.exit(f'{path}: not a little-endian classic pcap (magic {magic:#x})')
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, caplen, wirelen = struct.unpack('<IIII', data[off:off + 16])
        off += 16
        frames.append((wirelen, data[off:off + caplen]))
        off += caplen
    return frames


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    pktgen, scenario = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if os.geteuid() != 0:
        print('needs root: skipped')
        sys.exit(77)
    for tool in ('ip', 'dumpcap'):
        if not shutil.which(tool):
            print(f'{tool} not found: skipped')
            sys.exit(77)
    tag = f'{os.getpid() % 100000}'
    near, far, ns = f'pgt{tag}a', f'pgt{tag}b', f'pgtns{tag}'
    tmp = tempfile.mkdtemp(prefix='pktgen-load.')
    cap = os.path.join(tmp, 'capture.pcap')
    dumpcap = None
    failures = []
    try:
        sh('ip', 'netns', 'add', ns)
        sh('ip', 'link', 'add', near, 'type', 'veth', 'peer', 'name', far, 'netns', ns)
        sh('sysctl', '-qw', f'net.ipv6.conf.{near}.disable_ipv6=1')
        sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw', f'net.ipv6.conf.{far}.disable_ipv6=1')
        sh('ip', 'link', 'set', near, 'multicast', 'off', 'up')
        sh('ip', '-n', ns, 'link', 'set', far, 'multicast', 'off', 'up')

        dumpcap = subprocess.Popen(['ip', 'netns', 'exec', ns, 'dumpcap', '-q', '-P', '-i', far, '-w',
                                    cap], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            if os.path.exists(cap) and os.path.getsize(cap) >= 24:
                break
            time.sleep(0.05)
        time.sleep(0.5)

        r = subprocess.run([pktgen, '--no-pci', '--no-huge', '-m', '256', '--file-prefix', f'pgt{tag}',
                            '--log-level', 'lib.eal:error', '--vdev', f'net_af_packet0,iface={near}',
                            '--', '-s', scenario, '--rate', f'{RATE_PPS}pps'],
                           capture_output=True, text=True, timeout=120)
        if r.returncode:
            sys.exit(f'pktgen load mode failed ({r.returncode}): {r.stderr}')
        report = json.loads(r.stdout.strip().splitlines()[-1])
        time.sleep(1.0)
        dumpcap.send_signal(signal.SIGTERM)
        dumpcap.wait(timeout=10)
        dumpcap = None

        ref = os.path.join(tmp, 'ref.pcap')
        sh(pktgen, '-s', scenario, '-w', ref)
        want = read_pcap(ref)
        got = read_pcap(cap)

        def check(cond, msg):
            if not cond:
                failures.append(msg)
                print('FAIL:', msg, file=sys.stderr)

        check(len(got) == len(want), f'captured {len(got)} frames, file mode has {len(want)}')
        same = sum(1 for a, b in zip(got, want) if a[1] == b[1])
        check(same == len(want), f'{len(want) - same} frames differ from file mode')
        for i, (a, b) in enumerate(zip(got, want)):
            if a[1] != b[1]:
                print(f'first difference at frame {i + 1}: got {a[1][:64].hex()} want {b[1][:64].hex()}',
                      file=sys.stderr)
                break
        cap_bytes = sum(len(f[1]) for f in got)
        check(report['packets'] == len(got) and report['bytes'] == cap_bytes,
              f'report says {report["packets"]} packets / {report["bytes"]} bytes, '
              f'captured {len(got)} / {cap_bytes}')
        check(report['generated_packets'] == len(want), 'report generated_packets')
        check(report['tx_failures'] == 0, f'{report["tx_failures"]} tx failures')
        check(report['port_stats']['opackets'] == report['packets'], 'port opackets != report packets')
        check(0.8 * RATE_PPS < report['pps'] < 1.2 * RATE_PPS,
              f'achieved {report["pps"]:.0f} pps for {RATE_PPS} asked')
        print(f'load: {len(got)} frames sent and captured identically at {report["pps"]:.0f} pps')
    finally:
        if dumpcap:
            dumpcap.kill()
            dumpcap.wait()
        sh('ip', 'link', 'del', near, check=False)
        sh('ip', 'netns', 'del', ns, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        # EAL leaves its runtime directory behind even with --no-huge
        shutil.rmtree(f'/var/run/dpdk/pgt{tag}', ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
