#!/usr/bin/python3
"""softfino-ctl couriers (the courier decoder) against an independent
decode of the same pcap, with scapy, from the format in
pipelines/burstradar/README.md.

softfino-gen bursts (2 senders, lognormal burst durations, 1 Gb/s of
background) runs through burstradar in virtual time; the monitor port's
capture is decoded both ways and every field of every courier must agree.
Then a capture that mixes couriers with other traffic, a VLAN-tagged
courier and a truncated one: the decoder skips and counts what is not a
courier. A missing file is an error that says what to give.
  burstradar_couriers_test.py SOFTFINO SOFTFINO_GEN SOFTFINO_CTL
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

from scapy.all import IP, UDP, Dot1Q, Ether, Raw, RawPcapReader, wrpcap

softfino, gen, ctl = sys.argv[1:4]
work = tempfile.mkdtemp(prefix='couriers.')
SENDERS = 2
OUT, MONITOR = SENDERS + 1, SENDERS + 2  # ports are numbered in --vdev order
failures = []


def check(name, ok, detail=''):
    print(('ok   ' if ok else 'FAIL ') + name + ('' if ok else f': {detail}'))
    if not ok:
        failures.append(name)


def scapy_decode(path):
    """The README's format, read with scapy; ts in ns."""
    out = []
    reader = RawPcapReader(path)
    scale = 1 if reader.nano else 1000
    for data, meta in reader:
        pkt = Ether(data)
        if UDP not in pkt or pkt[UDP].dport != 9393 or len(bytes(pkt[UDP].payload)) < 40:
            continue
        (seq, src, dst, sport, dport, proto, _, eport, enq_ts, deq_ts, enq_d, deq_d, length,
         _) = struct.unpack('!IIIHHBBHIIIIHH', bytes(pkt[UDP].payload)[:40])
        dotted = lambda a: '.'.join(str(b) for b in struct.pack('!I', a))
        out.append({'seq': seq, 'src_ip': dotted(src), 'dst_ip': dotted(dst), 'src_port': sport,
                    'dst_port': dport, 'proto': proto, 'egress_port': eport,
                    'enq_tstamp': enq_ts, 'deq_tstamp': deq_ts,
                    'deq_timedelta': (deq_ts - enq_ts) % 2**32, 'enq_qdepth': enq_d,
                    'deq_qdepth': deq_d, 'pkt_length': length,
                    'ts_ns': meta.sec * 10**9 + meta.usec * scale})
    reader.close()
    return out


def ctl_decode(path):
    r = subprocess.run([ctl, 'couriers', f'pcap={path}'], capture_output=True, text=True)
    return r, [json.loads(line) for line in r.stdout.splitlines()]


subprocess.run([gen, 'bursts', '--bursts', '20', '--durations', 'lognormal:20,0.8', '--gaps',
                'exp:100', '--senders', str(SENDERS), '--burst-gbps', '15',
                '--background-gbps', '1', '--out-prefix', f'{work}/in'],
               check=True, capture_output=True)
wrpcap(f'{work}/empty.pcap', [], linktype=1)
inputs = SENDERS + 1
config = {'burstradar': {'forward': [{'in': p, 'out': OUT} for p in range(inputs)],
                         'threshold_rtt_fraction': 0.05, 'rtt_us': 25, 'ring_entries': 1000,
                         'monitor_port': MONITOR},
          'ports': [{'port': OUT, 'speed': '10G', 'queue_limit_cells': 20000},
                    {'port': MONITOR, 'speed': '100G', 'queue_limit_cells': 20000}]}
with open(f'{work}/br.json', 'w') as f:
    json.dump(config, f)
vdevs = [f'--vdev=net_pcap{p},rx_pcap={work}/in{p}.pcap,tx_pcap={work}/out{p}.pcap'
         for p in range(inputs)]
vdevs += [f'--vdev=net_pcap{p},rx_pcap={work}/empty.pcap,tx_pcap={work}/out{p}.pcap'
          for p in (OUT, MONITOR)]
r = subprocess.run([softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '-l', '0',
                    f'--file-prefix=brc{os.getpid()}', '--log-level=error', *vdevs, '--',
                    '--pipeline', 'burstradar', '--config', f'{work}/br.json', '--clock',
                    'virtual', '--exit-when-idle', '300', '--no-control-socket', '--stats-json',
                    f'{work}/stats.json'], capture_output=True, text=True)
check('burstradar runs on the bursts workload', r.returncode == 0, r.stderr[-1500:])
with open(f'{work}/stats.json') as f:
    program = json.load(f)['program']

monitor = f'{work}/out{MONITOR}.pcap'
r, ours = ctl_decode(monitor)
theirs = scapy_decode(monitor)
check('softfino-ctl couriers succeeds', r.returncode == 0, r.stderr)
check(f'it decodes every courier ({len(ours)}; the program sent {program["couriers"]})',
      len(ours) == len(theirs) == program['couriers'] > 0, (len(ours), len(theirs), program))
mismatch = [(a, b) for a, b in zip(ours, theirs) if a != b]
check('every field of every courier matches the independent decode', not mismatch,
      mismatch[:2])
check('the couriers name the burst senders and the background (10.3.0.1..3 -> 10.4.0.254)',
      {c['src_ip'] for c in ours} <= {'10.3.0.1', '10.3.0.2', '10.3.0.3'} and
      all(c['dst_ip'] == '10.4.0.254' and c['egress_port'] == OUT for c in ours))
check('sequence numbers run 0, 1, 2, ... (no entry overwritten)',
      [c['seq'] for c in ours] == list(range(len(ours))))

# Couriers among other traffic, one behind a VLAN tag, one cut short.
frames = [Ether() / IP(src='10.0.0.1', dst='10.0.0.2') / UDP(sport=1, dport=53) / Raw(b'x' * 40)]
entry = struct.pack('!IIIHHBBHIIIIHH', 77, 0x0a000001, 0x0a000002, 1234, 80, 6, 0, 3,
                    0xfffffff0, 0x10, 25, 30, 1500, 0)
frames.append(Ether() / Dot1Q(vlan=7) / IP(src='192.168.254.1', dst='192.168.254.2') /
              UDP(sport=9393, dport=9393) / Raw(entry))
frames.append(Ether() / IP() / UDP(sport=9393, dport=9393) / Raw(entry[:20]))
frames.append(Ether() / IP(src='192.168.254.1', dst='192.168.254.2', options=b'\x01' * 4) /
              UDP(sport=9393, dport=9393) / Raw(entry))
wrpcap(f'{work}/mixed.pcap', frames)
r, ours = ctl_decode(f'{work}/mixed.pcap')
check('the mixed capture decodes', r.returncode == 0, r.stderr)
check('two couriers (tagged, and with IP options) of four frames; the rest counted',
      len(ours) == 2 and '2 couriers in 4 frames (1 other, 1 truncated' in r.stderr, r.stderr)
check('the hand-built entry reads back (wrapped timestamps: deq_timedelta 32)',
      all(c['seq'] == 77 and c['src_ip'] == '10.0.0.1' and c['dst_port'] == 80 and
          c['proto'] == 6 and c['egress_port'] == 3 and c['deq_timedelta'] == 32 and
          c['pkt_length'] == 1500 and c['deq_qdepth'] == 30 for c in ours), ours)

r = subprocess.run([ctl, 'couriers', f'pcap={work}/nothing.pcap'], capture_output=True, text=True)
check('a missing capture is an error naming it', r.returncode == 1 and 'nothing.pcap' in r.stderr,
      r.stderr)
r = subprocess.run([ctl, 'couriers'], capture_output=True, text=True)
check('couriers without pcap= says to give it', r.returncode == 1 and 'pcap=FILE' in r.stderr,
      r.stderr)
print(f'{len(failures)} failure(s)')
sys.exit(1 if failures else 0)
