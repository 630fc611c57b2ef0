#!/usr/bin/python3
"""Recirculation across pipes, as on a multi-pipe Tofino: ingress of pipe 0
sends a packet to pipe 1's recirculation port (196 = 68 + 128); the TM
carries it to pipe 1, whose egress sends it back into pipe 1's ingress
with ingress_port 196. Two pipes, virtual time, tm_probe:

  port 0 (pipe 0) -> port 196 (pipe 1's port 68) -> port 1 (pipe 1)
  port 2 (pipe 0) -> port 324 (the port 68 of a pipe 2 this switch lacks)

Checked against what was sent: every packet of port 0 leaves port 1 once,
in order, its bytes as sent but for the 24-byte record tm_probe's egress
writes into the UDP payload on the last pass (and the UDP checksum it
clears); pipe 1 counts each as recirculated and pipe 0 none; the packets to
a pipe that does not exist are dropped, counted as bad_egress_port.
  recirculation_test.py SOFTFINO
"""
import json
import os
import subprocess
import sys
import tempfile

from scapy.all import Ether, IP, UDP, Raw, RawPcapReader, raw, wrpcap

softfino = sys.argv[1]
work = tempfile.mkdtemp(prefix='softfino-recirc.')
N, N_LOST = 50, 7

failures = []


def check(name, cond, detail=''):
    print(('ok   ' if cond else 'FAIL ') + name + (f': {detail}' if detail and not cond else ''))
    if not cond:
        failures.append(name)


def packets(count, src, t0):
    out = []
    for k in range(count):
        p = (Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:ff') /
             IP(src=src, dst='10.0.9.9', id=k) / UDP(sport=1000 + k, dport=9) /
             Raw(bytes(range(40))))
        p.time = t0 + k * 0.001
        out.append(p)
    return out


sent = packets(N, '10.0.0.1', 1000)
wrpcap(f'{work}/in0.pcap', sent)
wrpcap(f'{work}/in2.pcap', packets(N_LOST, '10.0.0.2', 1000.0005))
wrpcap(f'{work}/empty.pcap', [])
config = {'tables': {'port_map': [
    {'key': {'ingress_port': 0}, 'action': 'send', 'data': {'port': 196, 'qid': 0}},
    {'key': {'ingress_port': 196}, 'action': 'send', 'data': {'port': 1, 'qid': 0}},
    {'key': {'ingress_port': 2}, 'action': 'send', 'data': {'port': 324, 'qid': 0}}]}}
with open(f'{work}/config.json', 'w') as f:
    json.dump(config, f)


def out_file(port, queue):
    return f'{work}/out{port}_q{queue}.pcap'


# Two RX and TX queues a port: pipe q reads queue q (each input's pcap on
# its own pipe's queue) and the port's owner, pipe port % 2, sends on TX
# queue port % 2.
vdevs = []
for port in range(3):
    v = f'net_pcap{port}'
    for q in range(2):
        rx = f'{work}/in{port}.pcap' if port in (0, 2) and q == 0 else f'{work}/empty.pcap'
        v += f',rx_pcap={rx},tx_pcap={out_file(port, q)}'
    vdevs.append(f'--vdev={v}')
r = subprocess.run([softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci',
                    '--lcores', f'0@0,1@{1 % os.cpu_count()},2@0',
                    f'--file-prefix=recirc{os.getpid()}', '--log-level=error', *vdevs,
                    '--', '--pipeline', 'tm_probe', '--config', f'{work}/config.json',
                    '--clock', 'virtual', '--exit-when-idle', '300', '--no-control-socket',
                    '--fp-cores', '2', '--stats-json', f'{work}/stats.json'],
                   capture_output=True, text=True)
check('tm_probe on 2 pipes runs', r.returncode == 0, r.stderr[-1500:])
if r.returncode != 0:
    sys.exit(1)
with open(f'{work}/stats.json') as f:
    stats = json.load(f)

got = [data for data, _ in RawPcapReader(out_file(1, 1))]
check(f'the {N} packets of port 0 left port 1 (pipe 1\'s TX queue)', len(got) == N, len(got))
others = sum(1 for port in range(3) for q in range(2) if (port, q) != (1, 1)
             for _ in RawPcapReader(out_file(port, q)))
check('nothing left any other port or queue', others == 0, others)


def without_record(frame):
    """The frame with tm_probe's record (UDP payload bytes 0..23) and the
    UDP checksum masked: what the switch must not have changed."""
    b = bytearray(frame)
    b[40:42] = b'\0\0'       # UDP checksum (Ethernet 14 + IPv4 20 + 6)
    b[42:66] = bytes(24)     # the record
    return bytes(b)


want = [without_record(raw(p)) for p in sent]
check('in order, their bytes as sent (but for the record)',
      [without_record(g) for g in got] == want)
ports = {int.from_bytes(g[42 + 16:42 + 18], 'big') for g in got}
check('the record\'s egress_port is port 1 (written on the last pass)', ports == {1}, ports)

pipes = stats['pipes']
check('pipe 1 counts every one recirculated, pipe 0 none',
      pipes[1]['recirculated'] == N and pipes[0]['recirculated'] == 0,
      [p['recirculated'] for p in pipes])
drops = {k: v for k, v in stats['drops'].items() if v}
check(f'the {N_LOST} packets to the port 68 of a pipe this switch lacks: bad_egress_port',
      drops == {'bad_egress_port': N_LOST}, drops)

print(f'{len(failures)} failure(s)')
sys.exit(1 if failures else 0)
