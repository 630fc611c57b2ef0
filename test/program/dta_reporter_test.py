#!/usr/bin/python3
"""Program test of dta_reporter through the real softfino with net_pcap ports
(no root): traffic in on port 0, forwarded to port 1, DTA reports out of
port 2. The expected output is computed here from the README's rules alone:

  - port 1 carries every input frame, unchanged and in order (the bridged
    header that carries report values to egress is gone);
  - port 2 carries, per IPv4 TCP/UDP packet, in input order, the reports it
    makes, in opcode order (Key-Write, Append, Key-Increment, Postcarding),
    each with the next sequence number; flow key = CRC-32 (zlib) of the
    13-byte 5-tuple; a flow "starts" when its slot (key & (slots - 1))
    holds another flow or none; a tiny table makes flows evict each other.

Reports are decoded here from DTA's published layout (3-byte base form).

With PIPES = 2, port 0 has an RX queue per pipe, each replaying its own
flows, and each pipe reports through the report port it owns (2 in pipe 0,
3 in pipe 1), from its own source address: each report port carries the
reports of its pipe's packets alone, numbered from 0 (per-pipe flow tables,
per-port sequence numbers), and port 1 carries both inputs.
  dta_reporter_test.py SOFTFINO [PIPES]
"""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import zlib

from scapy.all import ARP, Ether, IP, IPv6, TCP, UDP, Raw, wrpcap, RawPcapReader

softfino = sys.argv[1]
pipes = int(sys.argv[2]) if len(sys.argv) > 2 else 1
assert pipes in (1, 2)
work = tempfile.mkdtemp(prefix='dta_reporter.')
SLOTS = 8
SWITCH_ID, HOP, LIST, EVERY = 7, 2, 3, 3
KW_N, KI_N = 2, 2
REPORT_PORTS = [2, 3][:pipes]  # port P is in pipe P % pipes
REPORT_SRC = ['10.0.0.7', '10.0.0.8'][:pipes]
config = {'dta_reporter': {
    'base_form': '3-byte', 'switch_id': SWITCH_ID, 'hop': HOP,
    'forward': [{'in': 0, 'out': 1}],
    'report_port': REPORT_PORTS if pipes > 1 else REPORT_PORTS[0],
    'report': {'src_ip': REPORT_SRC if pipes > 1 else REPORT_SRC[0], 'dst_ip': '10.0.255.255',
               'src_mac': '02:00:00:00:00:07', 'dst_mac': '02:00:00:00:00:ff'},
    'flow_slots': SLOTS,
    'key_write': {'redundancy': KW_N},
    'key_increment': {'redundancy': KI_N, 'counter': 'bytes', 'every': EVERY},
    'append': {'list': LIST},
    'postcarding': {}}}
with open(f'{work}/config.json', 'w') as f:
    json.dump(config, f)

rng = random.Random(4)


def workload(pipe):
    """400 frames of 12 flows of its own (and some ARP and IPv6) for `pipe`."""
    flows = [(f'10.{1 + 2 * pipe}.0.{i}', f'10.2.0.{rng.randrange(1, 200)}',
              rng.choice(['tcp', 'udp']), rng.randrange(1024, 65535), rng.choice([53, 80, 443]))
             for i in range(1, 13)]
    frames = []
    for n in range(400):
        kind = rng.random()
        eth = Ether(src='02:00:00:00:01:01', dst='02:00:00:00:01:02')
        if kind < 0.03:
            p = eth / ARP(psrc=f'10.9.0.{pipe}', pdst=f'10.9.1.{n % 250}')
        elif kind < 0.06:
            p = eth / IPv6(src=f'2001:db8::{pipe + 1}', dst='2001:db8::2') / UDP(sport=1, dport=n)
        else:
            src, dst, proto, sport, dport = rng.choice(flows)
            l4 = TCP(sport=sport, dport=dport) if proto == 'tcp' else UDP(sport=sport, dport=dport)
            p = eth / IP(src=src, dst=dst) / l4 / Raw(bytes(rng.randrange(0, 200)))
        frames.append(bytes(p))
    pkts = [Ether(f) for f in frames]
    for n, p in enumerate(pkts):
        p.time = n * 1e-5
    wrpcap(f'{work}/in{pipe}.pcap', pkts)
    return frames, len(flows)


inputs = [workload(p) for p in range(pipes)]
frames = [f for fs, _ in inputs for f in fs]
wrpcap(f'{work}/empty.pcap', [])


# --- the oracle ---
def expected_reports_of(frames):
    """The reports one pipe makes of its frames, in order (its own flow table)."""
    slots = [None] * SLOTS  # [key, last_written, packets, count]
    expected = []
    for f in frames:
        p = Ether(f)
        if IP not in p or (TCP not in p and UDP not in p):
            continue
        ip = p[IP]
        l4 = p[TCP] if TCP in p else p[UDP]
        tuple5 = struct.pack('!4s4sBHH', bytes(map(int, ip.src.split('.'))),
                             bytes(map(int, ip.dst.split('.'))), ip.proto, l4.sport, l4.dport)
        key = zlib.crc32(tuple5)
        s = slots[key % SLOTS]
        reports = {}
        if s is None or s[0] != key:
            s = slots[key % SLOTS] = [key, None, 0, 0]
            reports[2] = ('append', LIST, key)
            reports[4] = ('postcard', key, HOP, SWITCH_ID)
        value = SWITCH_ID << 16 | 0  # ingress port 0
        if value != s[1]:
            s[1] = value
            reports[1] = ('keywrite', KW_N, key, value)
        s[2] += 1
        s[3] += ip.len
        if s[2] == EVERY:
            reports[3] = ('keyincrement', KI_N, key, s[3])
            s[2], s[3] = 0, 0
        expected += [reports[op] for op in sorted(reports)]
    return expected


# Each pipe has an RX queue on every port (net_pcap: an rx_pcap each) and a
# TX queue on every port (a tx_pcap each); only the pipe that owns a port
# (port % pipes) sends on it, so a port's output is in its owner's file.
def out_file(port, queue):
    return f'{work}/out{port}.pcap' if queue == 0 else f'{work}/out{port}_q{queue}.pcap'


vdevs = []
for port in range(4 if pipes > 1 else 3):
    v = f'net_pcap{port}'
    for q in range(pipes):
        rx = f'{work}/in{q}.pcap' if port == 0 else f'{work}/empty.pcap'
        v += f',rx_pcap={rx},tx_pcap={out_file(port, q)}'
    vdevs.append(f'--vdev={v}')
lcores = ','.join(['0@0'] + [f'{q}@{q % os.cpu_count()}' for q in range(1, pipes + 1)])
cmd = [softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci',
       *(['--lcores', lcores] if pipes > 1 else ['-l', '0']),
       '--file-prefix', f'dtarep{os.getpid()}', '--log-level=error', *vdevs,
       '--', '--pipeline', 'dta_reporter', '--config', f'{work}/config.json',
       '--clock', 'virtual', '--exit-when-idle', '200', '--no-control-socket',
       '--fp-cores', str(pipes), '--stats-json', f'{work}/stats.json']
run = subprocess.run(cmd, capture_output=True, text=True)
failures = []


def check(name, ok, detail=''):
    print(('ok   ' if ok else 'FAIL ') + name + ('' if ok else f': {detail}'))
    if not ok:
        failures.append(name)


def frames_of(path):
    return [bytes(d) for d, _ in RawPcapReader(path)]


check('softfino runs', run.returncode == 0, run.stderr[-2000:])
forward_owner = 1 % pipes
forwarded = frames_of(out_file(1, forward_owner))
if pipes == 1:
    check(f'port 1 carries all {len(frames)} frames unchanged, in order', forwarded == frames,
          f'{len(forwarded)} frames; first difference at '
          f'{next((i for i, (a, b) in enumerate(zip(forwarded, frames)) if a != b), None)}')
else:
    # The pipes' clocks run apart: their packets interleave on port 1 in
    # no set way, but each pipe's come in its own order.
    check(f'port 1 carries all {len(frames)} frames unchanged', sorted(forwarded) == sorted(frames),
          f'{len(forwarded)} frames')
    for q, (fs, _) in enumerate(inputs):
        mine = set(fs)
        check(f'pipe {q}\'s frames leave port 1 in their order',
              [f for f in forwarded if f in mine] == fs)


def decode(frame, src_ip):
    """A report by DTA's published layout: Ethernet/IPv4/UDP 40040, base
    header opcode:8 seqnum:8 flags:8, then the primitive."""
    p = Ether(frame)
    assert p[IP].src == src_ip and p[IP].dst == '10.0.255.255' and p[UDP].dport == 40040, \
        p.summary()
    body = bytes(p[UDP].payload)
    opcode, seq, _ = struct.unpack('!BBB', body[:3])
    rest = body[3:]
    if opcode == 1:
        n, key, data = struct.unpack('!BII', rest)
        return seq, ('keywrite', n, key, data)
    if opcode == 2:
        lst, data = struct.unpack('!II', rest)
        return seq, ('append', lst, data)
    if opcode == 3:
        n, key, counter = struct.unpack('!BIQ', rest)
        return seq, ('keyincrement', n, key, counter)
    key, hop, data = struct.unpack('!IBI', rest)
    return seq, ('postcard', key, hop, data)


with open(f'{work}/stats.json') as f:
    stats = json.load(f)
print(f"program: {stats.get('program')}")
for q, (fs, n_flows) in enumerate(inputs):
    port, src = REPORT_PORTS[q], REPORT_SRC[q]
    expected_reports = expected_reports_of(fs)
    decoded = [decode(d, src) for d in frames_of(out_file(port, q))]
    got = [r for _, r in decoded]
    seqs = [s for s, _ in decoded]
    where = f'port {port} (pipe {q}, from {src})'
    check(f'{where} carries the {len(expected_reports)} reports the oracle expects of pipe {q}\'s '
          'packets, in order', got == expected_reports,
          f'{len(got)} reports; first difference at '
          f'{next((i for i, (a, b) in enumerate(zip(got, expected_reports)) if a != b), None)}')
    check(f'{where}: sequence numbers count up from 0, wrapping at 256',
          seqs == [i % 256 for i in range(len(seqs))], seqs[:10])
    kinds = {k: sum(1 for r in expected_reports if r[0] == k) for k in
             ('keywrite', 'append', 'keyincrement', 'postcard')}
    check(f'pipe {q}\'s workload makes every kind of report, and flows evict each other',
          all(v > 0 for v in kinds.values()) and kinds['append'] > n_flows, kinds)
    check(f'{where}: the switch counts the same reports sent',
          stats['ports'][port]['tx_packets'] == len(expected_reports), stats['ports'][port])
for port in range(len(vdevs)):
    for q in range(pipes):
        if q != port % pipes:
            n = len(frames_of(out_file(port, q)))
            check(f'port {port}: pipe {q} sent nothing (pipe {port % pipes} owns it)', n == 0, n)
check('received = forwarded + reports (+ nothing dropped)',
      stats['totals']['dropped'] == 0 and stats['ports'][1]['tx_packets'] == len(frames),
      stats['totals'])
print(f'{len(failures)} failure(s)')
sys.exit(1 if failures else 0)
