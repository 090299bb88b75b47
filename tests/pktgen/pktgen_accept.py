#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Acceptance tests of flowtap-pktgen, judged by tshark.

usage: pktgen_accept.py CHECK PKTGEN SCENARIO_DIR

CHECK is one of:
  checksums    tshark with checksum validation finds no bad checksum and no
               malformed/error frame except the malformed frames the truth lists,
               and flags each of those for the fault it names
  conv         tshark -z conv,tcp/udp/sctp/ip/ipv6 agrees with the truth's flows,
               packets and bytes per direction (after removing the frames the
               truth says flowtap discards); an exact per-direction byte count
               from tshark's own dissection agrees too
  streams      the TCP/UDP payloads tshark dissects hold every pattern at the
               stream offset the truth gives, in the frames and number of segments
               it gives; retransmissions, reorders, gaps, sequence wrap, zero
               windows and handshake RTTs are where and what the truth says
  determinism  same scenario and seed give byte-identical pcap and truth; another
               seed does not; JSON document and JSON lines carry the same flows;
               jq reads both
  cli          the command-line form (--flows ... --size 64 --packets-per-flow 2)
               gives what it says, checked with capinfos and tshark -z conv

Upper-layer dissectors are disabled (a private Wireshark profile): payloads are
filler bytes, and an HTTP or DNS dissector reading them would report their
"malformation", which says nothing about the headers under test.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

KEEP = re.compile(r'^(frame|eth|ethertype|vlan|ieee8021ad|ip|ipv6(\..*)?|tcp|udp|sctp|icmp|icmpv6|'
                  r'data|_ws\..*|expert)$')
CHECKSUM_PREFS = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE',
                  '-o', 'udp.check_checksum:TRUE', '-o', 'sctp.checksum:CRC-32C']
COUNTED_KINDS = {'tcp_opt_zero_len', 'ipv4_opt_zero_len', 'udp_bad_length'}
# What tshark says about each fault (any of the expert messages of the frame).
KIND_MESSAGE = {
    'ipv4_bad_ihl': 'Bogus IP header length',
    'ipv4_bad_length': 'Bogus IP length',
    'ipv4_truncated': 'Malformed Packet',
    'ipv6_truncated': 'Malformed Packet',
    'ipv6_bad_ext': 'Malformed Packet',
    'l4_truncated': 'Malformed Packet',
    'l2_truncated': 'Malformed Packet',
    'ip_bad_version': 'Bogus IPv',  # "Bogus IPv4 version" / "Bogus IPv6 version"
    'tcp_bad_offset': 'Bogus TCP header length',
    'tcp_opt_zero_len': 'too-short option length',
    'ipv4_opt_zero_len': 'too-short option length',
    'udp_bad_length': 'Bad length value',
}
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        if len(failures) < 40:
            print('FAIL:', msg, file=sys.stderr)
    return cond


class Env:
    def __init__(self, pktgen, scenarios):
        self.pktgen = pktgen
        self.scenarios = scenarios
        self.tmp = tempfile.mkdtemp(prefix='pktgen-accept.')
        conf = os.path.join(self.tmp, 'wireshark')
        os.mkdir(conf)
        out = subprocess.run(['tshark', '-G', 'protocols'], capture_output=True, text=True,
                             check=True).stdout
        with open(os.path.join(conf, 'disabled_protos'), 'w') as f:
            for line in out.splitlines():
                cols = line.split('\t')
                if len(cols) >= 3 and not KEEP.match(cols[2]):
                    f.write(cols[2] + '\n')
        self.env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def gen(self, name, args, truth_name='truth.json'):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        r = subprocess.run([self.pktgen] + args + ['-w', 'out.pcap', '-t', truth_name], cwd=d,
                           capture_output=True, text=True)
        if r.returncode:
            sys.exit(f'pktgen failed: {r.stderr}')
        return os.path.join(d, 'out.pcap'), os.path.join(d, truth_name)

    def tshark(self, args):
        r = subprocess.run(['tshark'] + args, capture_output=True, text=True, env=self.env)
        if r.returncode:
            sys.exit(f'tshark {args} failed: {r.stderr}')
        return r.stdout

    def fields(self, pcap, fields, extra=()):
        args = ['-r', pcap, '-T', 'fields', '-E', 'aggregator=|', '-E', 'occurrence=a'] + \
            list(extra)
        for f in fields:
            args += ['-e', f]
        rows = []
        for line in self.tshark(args).splitlines():
            cols = line.split('\t')
            cols += [''] * (len(fields) - len(cols))
            rows.append(dict(zip(fields, cols)))
        return rows


def load_truth(path):
    with open(path) as f:
        text = f.read()
    if text.startswith('{"type":"truth"'):
        d = json.loads(text)
        return d, d['flows'], d['totals']
    header, flows, totals = None, [], None
    for line in text.splitlines():
        o = json.loads(line)
        if o['type'] == 'header':
            header = o
        elif o['type'] == 'flow':
            flows.append(o)
        elif o['type'] == 'totals':
            totals = o
    return header, flows, totals


def malformed_frames(flows):
    out = {}
    for f in flows:
        for m in f.get('malformed', []):
            out[m['frame']] = m['kind']
    return out


# ---- checksums ------------------------------------------------------------------

def run_checksums(env):
    for name in ('everything.ini', 'pathologies.ini', 'tunnels.ini'):
        pcap, truth = env.gen(name, ['-s', os.path.join(env.scenarios, name)])
        checksums_of(env, name, pcap, truth)


def checksums_of(env, name, pcap, truth):
    _, flows, totals = load_truth(truth)
    mal = malformed_frames(flows)
    check(sum(totals['malformed'].values()) == len(mal), 'truth totals list every malformed frame')
    if name == 'everything.ini':
        check(len(set(mal.values())) >= 10, f'the scenario exercises the malformed kinds: {mal}')
    cs = ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status',
          'sctp.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status']
    rows = env.fields(pcap, ['frame.number'] + cs + ['_ws.expert.severity', '_ws.expert.message'],
                      CHECKSUM_PREFS)
    check(len(rows) == totals['packets'], f'tshark read {len(rows)} frames, truth says {totals["packets"]}')
    verified = {c: 0 for c in cs}
    errors, option_notes = set(), set()
    for r in rows:
        n = int(r['frame.number'])
        for c in cs:
            for v in filter(None, r[c].split('|')):
                if v == '1':
                    verified[c] += 1
                elif n not in mal:
                    check(False, f'frame {n}: {c} = {v} (not Good) and not a requested malformation')
        sev = [int(x) for x in r['_ws.expert.severity'].split('|') if x]
        msgs = r['_ws.expert.message']
        if any(s >= 0x800000 for s in sev):  # PI_ERROR, which includes "Malformed Packet"
            errors.add(n)
        if 'too-short option length' in msgs:
            option_notes.add(n)
        if n in mal:
            kind = mal[n]
            check(KIND_MESSAGE[kind] in msgs,
                  f'frame {n} ({kind}): tshark does not report "{KIND_MESSAGE[kind]}": {msgs}')
    for c, k in verified.items():
        if name == 'everything.ini' or c in ('ip.checksum.status', 'tcp.checksum.status'):
            check(k > 0, f'no frame had {c} verified: the check did not run')
    want_errors = {n for n, k in mal.items() if k not in ('tcp_opt_zero_len', 'ipv4_opt_zero_len')}
    check(errors == want_errors,
          f'error frames differ from the requested malformations: extra {sorted(errors - want_errors)}, '
          f'missing {sorted(want_errors - errors)}')
    want_opt = {n for n, k in mal.items() if k in ('tcp_opt_zero_len', 'ipv4_opt_zero_len')}
    check(option_notes == want_opt, f'zero-length option frames {sorted(option_notes)} != {sorted(want_opt)}')
    print(f'checksums: {name}: {len(rows)} frames, verified {verified}, {len(mal)} malformed as requested')


# ---- conv ------------------------------------------------------------------------

UNITS = {'bytes': 1, 'kB': 1000, 'MB': 1000 ** 2, 'GB': 1000 ** 3}


def parse_conv(text):
    """{section: [(a, b, frames_b_to_a, bytes_b_to_a, frames_a_to_b, bytes_a_to_b)]}"""
    out, sect = {}, None
    line_re = re.compile(r'^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+) (bytes|kB|MB|GB)\s+(\d+)\s+(\d+) '
                         r'(bytes|kB|MB|GB)\s+(\d+)\s+(\d+) (bytes|kB|MB|GB)')
    for line in text.splitlines():
        m = re.match(r'^(\w+) Conversations', line)
        if m:
            sect = m.group(1)
            out[sect] = []
            continue
        m = line_re.match(line)
        if m and sect:
            out[sect].append((m.group(1), m.group(2), int(m.group(3)), (int(m.group(4)), m.group(5)),
                              int(m.group(6)), (int(m.group(7)), m.group(8))))
    return out


def bytes_match(shown, exact):
    v, unit = shown
    if unit == 'bytes':
        return v == exact
    u = UNITS[unit]  # tshark rounds big values to kB/MB: within one unit
    return abs(v * u - exact) < u


def ep(ip, port, with_port):
    if not with_port:
        return ip
    return f'{ip}:{port}'


def run_conv(env):
    for name in ('everything.ini', 'pathologies.ini'):
        pcap, truth = env.gen(name, ['-s', os.path.join(env.scenarios, name)])
        conv_of(env, name, pcap, truth)


def conv_of(env, name, pcap, truth):
    _, flows, totals = load_truth(truth)
    discarded = sorted(n for n, k in malformed_frames(flows).items() if k not in COUNTED_KINDS)
    # The tap filter drops them from the conversations; (-2 -R would renumber frames.)
    keep = '!(frame.number in {%s})' % ','.join(map(str, discarded)) if discarded else 'frame'
    zs = []
    for c in ('tcp', 'udp', 'sctp', 'ip', 'ipv6'):
        zs += ['-z', f'conv,{c},{keep}']
    text = env.tshark(['-r', pcap, '-q'] + zs)
    rfilter = ['-Y', keep]
    conv = parse_conv(text)
    sections = {6: 'TCP', 17: 'UDP', 132: 'SCTP'}
    matched = 0
    for proto, sect in sections.items():
        tf = [f for f in flows if f['proto'] == proto]
        rows = conv.get(sect, [])
        check(len(rows) == len(tf), f'{sect}: tshark has {len(rows)} conversations, truth {len(tf)}')
        index = {}
        for r in rows:
            index[(r[0], r[1])] = (r[4], r[5], r[2], r[3])  # a->b then b->a
            index[(r[1], r[0])] = (r[2], r[3], r[4], r[5])
        for f in tf:
            a = ep(f['src_ip'] if f['ip_version'] == 4 else f['src_ip'], f['src_port'], True)
            b = ep(f['dst_ip'], f['dst_port'], True)
            got = index.get((a, b))
            if not check(got is not None, f'{sect} flow {a} -> {b} not in tshark conversations'):
                continue
            pf, bf, pr, br = got
            check(pf == f['packets_fwd'] and pr == f['packets_rev'],
                  f'{sect} {a}->{b}: frames fwd/rev {pf}/{pr}, truth {f["packets_fwd"]}/{f["packets_rev"]}')
            check(bytes_match(bf, f['bytes_fwd']) and bytes_match(br, f['bytes_rev']),
                  f'{sect} {a}->{b}: bytes {bf}/{br}, truth {f["bytes_fwd"]}/{f["bytes_rev"]}')
            matched += 1
    # ICMP flows have no ports: their address pairs are unique in the scenario
    for fam, sect in ((4, 'IPv4'), (6, 'IPv6')):
        rows = conv.get(sect, [])
        index = {}
        for r in rows:
            index[(r[0], r[1])] = (r[4], r[5], r[2], r[3])
            index[(r[1], r[0])] = (r[2], r[3], r[4], r[5])
        for f in flows:
            if f['proto'] not in (1, 58) or f['ip_version'] != fam:
                continue
            got = index.get((f['src_ip'], f['dst_ip']))
            if not check(got is not None, f'ICMP flow {f["src_ip"]} -> {f["dst_ip"]} not in conv,{sect}'):
                continue
            check(got[0] == f['packets_fwd'] and got[2] == f['packets_rev'] and
                  bytes_match(got[1], f['bytes_fwd']) and bytes_match(got[3], f['bytes_rev']),
                  f'ICMP {f["src_ip"]}: tshark {got}, truth {f["packets_fwd"]}/{f["bytes_fwd"]} '
                  f'{f["packets_rev"]}/{f["bytes_rev"]}')
            matched += 1
    check(matched == len(flows) == totals['flows'], f'matched {matched} of {len(flows)} flows')

    # Exact bytes per direction, times, TCP flags and the expected end reason,
    # from tshark's dissection of every kept frame.
    header, _, _ = load_truth(truth)
    timeout = {c['name']: c['idle_timeout_ns'] for c in header['classes']}
    rows = env.fields(pcap, ['frame.time_epoch', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'tcp.srcport',
                             'udp.srcport', 'sctp.srcport', 'tcp.dstport', 'udp.dstport', 'sctp.dstport',
                             'frame.len', 'tcp.flags'], rfilter)
    seen = {}
    capture_end = 0
    for r in rows:
        src = r['ip.src'] or r['ipv6.src']
        dst = r['ip.dst'] or r['ipv6.dst']
        sp = r['tcp.srcport'] or r['udp.srcport'] or r['sctp.srcport'] or '0'
        dp = r['tcp.dstport'] or r['udp.dstport'] or r['sctp.dstport'] or '0'
        k = (src.split('|')[0], int(sp), dst.split('|')[0], int(dp))
        sec, frac = r['frame.time_epoch'].split('.')
        t = int(sec) * 10 ** 9 + int(frac.ljust(9, '0')[:9])
        c = seen.setdefault(k, [0, 0, t, t, 0])
        c[0] += 1
        c[1] += int(r['frame.len'])
        c[2] = min(c[2], t)
        c[3] = max(c[3], t)
        c[4] |= int(r['tcp.flags'], 16) if r['tcp.flags'] else 0
    with open(pcap, 'rb') as f:  # the capture ends with its last frame, kept or not
        data = f.read()
        off = 24
        while off < len(data):
            s_, ns_, cl, _ = struct.unpack('<IIII', data[off:off + 16])
            capture_end = max(capture_end, s_ * 10 ** 9 + ns_)
            off += 16 + cl
    total_p = total_b = 0
    for f in flows:
        fwd = seen.get((f['src_ip'], f['src_port'], f['dst_ip'], f['dst_port']), [0, 0, 0, 0, 0])
        rev = seen.get((f['dst_ip'], f['dst_port'], f['src_ip'], f['src_port']), [0, 0, 0, 0, 0])
        fname = f'{f["src_ip"]}:{f["src_port"]}'
        check(fwd[:2] == [f['packets_fwd'], f['bytes_fwd']] and rev[:2] == [f['packets_rev'], f['bytes_rev']],
              f'{fname}: tshark fwd {fwd[:2]} rev {rev[:2]}, truth '
              f'{f["packets_fwd"]}/{f["bytes_fwd"]} {f["packets_rev"]}/{f["bytes_rev"]}')
        first = min(x for x in (fwd[2], rev[2]) if x)
        last = max(fwd[3], rev[3])
        check(first == f['start_ns'] and last == f['end_ns'], f'{fname}: times {first}..{last}, truth '
              f'{f["start_ns"]}..{f["end_ns"]}')
        check(fwd[2] == first, f'{fname}: the initiator did not send first')
        check(fwd[4] == f['tcp_flags_fwd'] and rev[4] == f['tcp_flags_rev'],
              f'{fname}: TCP flags {fwd[4]:#x}/{rev[4]:#x}, truth {f["tcp_flags_fwd"]:#x}/{f["tcp_flags_rev"]:#x}')
        if fwd[4] & rev[4] & 0x01:
            want = 'fin'
        elif (fwd[4] | rev[4]) & 0x04:
            want = 'rst'
        elif timeout[f['class']] and capture_end - last > timeout[f['class']]:
            want = 'idle'
        else:
            want = 'shutdown'
        check(f['end_reason'] == want, f'{fname}: end_reason {f["end_reason"]}, the capture says {want}')
        total_p += fwd[0] + rev[0]
        total_b += fwd[1] + rev[1]
    reasons = {f['end_reason'] for f in flows}
    if name == 'everything.ini':
        check(reasons == {'fin', 'rst', 'idle', 'shutdown'}, f'the scenario exercises every end reason: {reasons}')
    check(total_p == totals['flow_packets'] and total_b == totals['flow_bytes'],
          f'flow totals {total_p}/{total_b}, truth {totals["flow_packets"]}/{totals["flow_bytes"]}')
    check(len(rows) == totals['flow_packets'], f'{len(rows)} kept frames, truth flow_packets {totals["flow_packets"]}')
    print(f'conv: {name}: {matched} flows agree with tshark conversations and exact byte counts')


# ---- streams ------------------------------------------------------------------------

def run_streams(env):
    for name in ('everything.ini', 'pathologies.ini'):
        pcap, truth = env.gen(name, ['-s', os.path.join(env.scenarios, name)])
        streams_of(env, name, pcap, truth)


def streams_of(env, name, pcap, truth):
    _, flows, totals = load_truth(truth)
    mal = malformed_frames(flows)
    rows = env.fields(pcap, ['frame.number', 'frame.time_epoch', 'ip.src', 'ipv6.src', 'ip.dst',
                             'ipv6.dst', 'tcp.srcport', 'udp.srcport', 'tcp.dstport', 'udp.dstport',
                             'tcp.seq_raw', 'tcp.flags', 'tcp.window_size_value',
                             'tcp.payload', 'udp.payload'])
    frames = {}
    for r in rows:
        n = int(r['frame.number'])
        if n in mal:
            continue
        frames[n] = r
    by_ep = {}  # (src ip, src port, dst ip, dst port) -> [frame numbers]
    for n, r in sorted(frames.items()):
        src = (r['ip.src'] or r['ipv6.src']).split('|')[0]
        dst = (r['ip.dst'] or r['ipv6.dst']).split('|')[0]
        sport = r['tcp.srcport'] or r['udp.srcport']
        dport = r['tcp.dstport'] or r['udp.dstport']
        if sport:
            by_ep.setdefault((src, int(sport), dst, int(dport)), []).append(n)

    def ns(r):
        s, frac = r['frame.time_epoch'].split('.')
        return int(s) * 10 ** 9 + int(frac.ljust(9, '0')[:9])

    checked = {'patterns': 0, 'retransmissions': 0, 'reordered': 0, 'gaps': 0, 'wrap': 0,
               'zero_windows': 0, 'rtt': 0}
    for f in flows:
        if f['proto'] not in (6, 17):
            continue
        tcp = f['proto'] == 6
        dirs = {'fwd': by_ep.get((f['src_ip'], f['src_port'], f['dst_ip'], f['dst_port']), []),
                'rev': by_ep.get((f['dst_ip'], f['dst_port'], f['src_ip'], f['src_port']), [])}
        isn = {d: f['streams'][d].get('isn') for d in dirs}

        def offset(n, d):
            return (int(frames[n]['tcp.seq_raw']) - isn[d] - 1) % 2 ** 32

        def payload(n):
            r = frames[n]
            return bytes.fromhex(r['tcp.payload'] if tcp else r['udp.payload'])

        # the stream of each direction: offset -> byte, first transmission
        stream, owner = {}, {}
        for d, ns_ in dirs.items():
            stream[d], owner[d] = bytearray(), {}
            retrans = {x['frame'] for x in f.get('retransmissions', []) if x['dir'] == d}
            pos = 0
            for n in ns_:
                p = payload(n)
                if tcp:
                    if int(frames[n]['tcp.flags'], 16) & 0x02:
                        check(int(frames[n]['tcp.seq_raw']) == isn[d], f'frame {n}: SYN seq is not the truth ISN')
                        continue
                    if not p or n in retrans:
                        continue
                    pos = offset(n, d)
                if len(stream[d]) < pos + len(p):
                    stream[d].extend(b'\0' * (pos + len(p) - len(stream[d])))
                stream[d][pos:pos + len(p)] = p
                for k in range(pos, pos + len(p)):
                    owner[d][k] = n
                if not tcp:
                    pos += len(p)
            check(len(stream[d]) == f['streams'][d]['bytes'] or f.get('gaps'),
                  f'{f["src_ip"]}:{f["src_port"]} {d}: stream of {len(stream[d])} bytes, truth {f["streams"][d]["bytes"]}')
        retrans_frames = {x['frame'] for x in f.get('retransmissions', [])}
        for p in f.get('patterns', []):
            d = p['dir']
            want = bytes.fromhex(p['hex'])
            if p['in_stream']:
                gaps = [(x['offset'], x['offset'] + x['length']) for x in f.get('gaps', []) if x['dir'] == d]
                in_gap = [any(a <= k < b for a, b in gaps) for k in range(p['offset'], p['offset'] + p['length'])]
                check(p['complete'] == (not any(in_gap)), f'pattern {p["name"]}: complete={p["complete"]}, gaps {gaps}')
                got = bytes(stream[d][p['offset']:p['offset'] + p['length']])
                check(all(g == w or hole for g, w, hole in zip(got, want, in_gap)) and len(got) == len(want),
                      f'pattern {p["name"]} not at {d} offset {p["offset"]}: {got!r}')
                holders = sorted({owner[d].get(k, 0) for k in range(p['offset'], p['offset'] + p['length'])})
                check(len(p['frames']) == p['segments'] == p['split'] and
                      holders == sorted(set(p['frames'])),
                      f'pattern {p["name"]}: frames {holders}, truth {p["frames"]} split {p["split"]}')
                check(p['after_gap'] == any(a < p['offset'] for a, _ in gaps), f'pattern {p["name"]}: after_gap')
            else:
                fr = p['frames'][0]
                check(payload(fr)[:p['length']] == want, f'conflict pattern {p["name"]} not in frame {fr}')
                check(bytes(stream[d][p['offset']:p['offset'] + p['length']]) != want,
                      f'conflict-only pattern {p["name"]} is in the stream')
            checked['patterns'] += 1
        for x in f.get('retransmissions', []):
            a, b = payload(x['original_frame']), payload(x['frame'])
            check(offset(x['frame'], x['dir']) == offset(x['original_frame'], x['dir']) == x['offset'],
                  f'retransmission {x} offsets')
            check(len(a) == len(b) == x['length'], f'retransmission {x} lengths')
            if x['conflict']:
                check(all(u != v for u, v in zip(a, b)), f'conflicting retransmission {x} shares bytes')
            else:
                check(a == b, f'retransmission {x} differs from the original')
            check(x['frame'] > x['original_frame'], f'retransmission {x} before its original')
            later = [m for m in dirs[x['dir']] if x['original_frame'] < m < x['frame'] and payload(m)
                     and offset(m, x['dir']) > x['offset'] and m not in retrans_frames]
            check(len(later) == x['after'], f'retransmission {x}: {len(later)} later segments before it')
            checked['retransmissions'] += 1
        for x in f.get('reordered', []):
            n, d = x['frame'], x['dir']
            check(offset(n, d) == x['offset'], f'reordered {x} offset')
            later = [m for m in dirs[d] if m < n and payload(m) and offset(m, d) > x['offset']
                     and not int(frames[m]['tcp.flags'], 16) & 0x02 and m not in retrans_frames]
            check(len(later) == x['by'] > 0, f'reordered {x}: {len(later)} later segments before it')
            checked['reordered'] += 1
        for x in f.get('gaps', []):
            d = x['dir']
            covered = [k for k in range(x['offset'], x['offset'] + x['length']) if k in owner[d]]
            check(not covered, f'gap {x}: bytes captured in frames {sorted({owner[d][k] for k in covered})}')
            lost = sum(y['length'] for y in f.get('gaps', []) if y['dir'] == d)
            check(f['streams'][d]['captured_bytes'] == f['streams'][d]['bytes'] - lost,
                  f'gap {x}: captured_bytes')
            checked['gaps'] += 1
        for d in dirs:
            w = f['streams'][d].get('wrap_offset')
            if w is not None:
                check((isn[d] + 1 + w) % 2 ** 32 == 0, f'wrap at {w}: isn {isn[d]}')
                n = owner[d].get(w)  # None when the byte fell in a gap
                check(n is None or (int(frames[n]['tcp.seq_raw']) + (w - offset(n, d))) % 2 ** 32 == 0,
                      f'wrap: byte {w} is not sequence 0')
                check(any(int(frames[m]['tcp.seq_raw']) > 2 ** 31 for m in dirs[d] if payload(m)) and
                      any(int(frames[m]['tcp.seq_raw']) < 2 ** 31 for m in dirs[d] if payload(m)),
                      'wrap: sequence numbers do not cross zero')
                checked['wrap'] += 1
        for x in f.get('zero_windows', []):
            a, b = frames[x['frame']], frames[x['update_frame']]
            check(a['tcp.window_size_value'] == '0' and int(b['tcp.window_size_value']) > 0,
                  f'zero window {x}: windows {a["tcp.window_size_value"]} {b["tcp.window_size_value"]}')
            check(ns(a) == x['start_ns'] and ns(b) == x['end_ns'], f'zero window {x}: times')
            sender = dirs[x['dir']]
            check(not any(x['frame'] < m < x['update_frame'] and payload(m) for m in sender),
                  f'zero window {x}: data sent while the window was closed')
            checked['zero_windows'] += 1
        if tcp and 'handshake_rtt_ns' in f:
            syn, ack = dirs['fwd'][0], dirs['fwd'][1]
            check(ns(frames[ack]) - ns(frames[syn]) == f['handshake_rtt_ns'],
                  f'{f["src_ip"]}: handshake rtt {ns(frames[ack]) - ns(frames[syn])} != {f["handshake_rtt_ns"]}')
            check(ns(frames[syn]) == f['start_ns'], 'flow start is the SYN')
            checked['rtt'] += 1
    for k, v in checked.items():
        check(v > 0, f'{name}: the scenario exercised no {k}')
    print(f'streams: {name}: checked {checked}')


# ---- determinism ----------------------------------------------------------------------

def run_determinism(env):
    sc = os.path.join(env.scenarios, 'everything.ini')
    p1, t1 = env.gen('a', ['-s', sc])
    p2, t2 = env.gen('b', ['-s', sc])
    p3, t3 = env.gen('c', ['-s', sc, '--seed', '8'])
    p4, t4 = env.gen('d', ['-s', sc], truth_name='truth.jsonl')

    def data(p):
        with open(p, 'rb') as f:
            return f.read()
    check(data(p1) == data(p2), 'same seed: pcaps differ')
    check(data(t1) == data(t2), 'same seed: truths differ')
    check(data(p1) != data(p3), 'another seed: same pcap')
    check(data(p1) == data(p4), 'truth format changed the pcap')
    h1, f1, tot1 = load_truth(t1)
    h4, f4, tot4 = load_truth(t4)
    check(f1 == f4 and tot1 == tot4, 'JSON document and JSON lines disagree')
    check(h4['type'] == 'header' and h1['type'] == 'truth', 'truth headers')
    # jq reads the document and the lines
    r = subprocess.run(['jq', '-e', '.totals.flows == (.flows | length)', t1], capture_output=True,
                       text=True)
    check(r.returncode == 0, f'jq on the JSON document: {r.stdout} {r.stderr}')
    r = subprocess.run(['jq', '-e', '-s', '(map(select(.type=="flow")) | length) == '
                        '(map(select(.type=="totals"))[0].flows)', t4], capture_output=True, text=True)
    check(r.returncode == 0, f'jq on the JSON lines: {r.stdout} {r.stderr}')
    print(f'determinism: {len(f1)} flows, {tot1["packets"]} packets reproduced exactly')


# ---- cli ----------------------------------------------------------------------------------

def capinfos(pcap):
    r = subprocess.run(['capinfos', '-M', '-c', '-d', '-T', '-r', pcap], capture_output=True, text=True,
                       check=True)
    cols = r.stdout.strip().split('\t')
    return int(cols[1]), int(cols[2])


def run_cli(env):
    pcap, truth = env.gen('cli-udp', ['--flows', '20000', '--size', '64', '--packets-per-flow', '2',
                                      '--spread', '2s'])
    _, flows, totals = load_truth(truth)
    n, size = capinfos(pcap)
    check(n == 40000 == totals['packets'], f'capinfos counts {n} packets, truth {totals["packets"]}')
    check(size == 40000 * 64 == totals['bytes'], f'capinfos data size {size}')
    rows = env.fields(pcap, ['frame.len'], ['-Y', 'frame.len != 64'])
    check(not rows, f'{len(rows)} frames are not 64 bytes')
    conv = parse_conv(env.tshark(['-r', pcap, '-q', '-z', 'conv,udp']))['UDP']
    check(len(conv) == 20000 == totals['flows'], f'{len(conv)} UDP conversations')
    check(all(r[2] == 1 and r[4] == 1 and r[3] == (64, 'bytes') and r[5] == (64, 'bytes') for r in conv),
          'every conversation is one 64-byte packet each way')
    idx = {(f['src_ip'] + ':' + str(f['src_port']), f['dst_ip'] + ':' + str(f['dst_port'])) for f in flows}
    check(all((r[0], r[1]) in idx for r in conv), 'conversations are the truth flows (initiator first)')

    pcap, truth = env.gen('cli-tcp', ['--flows', '500', '--proto', 'tcp', '--ip', 'mix', '--vlan',
                                      '10,20', '--packets-per-flow', '6', '--size', 'imix', '--flow-rate',
                                      '100pps', '--concurrency', '50'])
    _, flows, totals = load_truth(truth)
    conv = parse_conv(env.tshark(['-r', pcap, '-q', '-z', 'conv,tcp']))['TCP']
    check(len(conv) == 500 == len(flows), f'{len(conv)} TCP conversations for 500 flows')
    check(sum(1 for f in flows if f['ip_version'] == 6) == 250, 'ip mix: half IPv6')
    check(all(f.get('vlan') == [10, 20] for f in flows), 'QinQ 10,20 in the truth')
    check(totals['max_concurrent_flows'] <= 50, f'concurrency {totals["max_concurrent_flows"]} > 50')
    tags = env.fields(pcap, ['eth.type', 'ieee8021ad.id', 'vlan.id'], ['-c', '50'])
    check(all(r['eth.type'].startswith('0x88a8') and r['ieee8021ad.id'] == '10' and r['vlan.id'] == '20'
              for r in tags), f'QinQ tags on the wire: {tags[:3]}')
    check(all(f['end_reason'] == 'fin' and f['tcp_flags_fwd'] & 0x13 == 0x13 for f in flows),
          'TCP flows end with FIN and show SYN/FIN/ACK')
    print('cli: quick forms agree with capinfos and tshark')


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    what, pktgen, scenarios = sys.argv[1:]
    for tool in ('tshark', 'capinfos', 'jq'):
        if not shutil.which(tool):
            print(f'{tool} not found: skipped')
            sys.exit(77)
    env = Env(os.path.abspath(pktgen), os.path.abspath(scenarios))
    try:
        {'checksums': run_checksums, 'conv': run_conv, 'streams': run_streams,
         'determinism': run_determinism, 'cli': run_cli}[what](env)
    finally:
        env.close()
    if failures:
        print(f'{len(failures)} failure(s)', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
