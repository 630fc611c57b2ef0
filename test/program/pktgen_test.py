#!/usr/bin/python3
"""The packet generator in virtual time, checked against the timer arithmetic.

Port 0 replays 11 UDP packets 100 ms apart (t = 0 .. 1 s); tm_probe sends
them to port 1 and the timer packets (ingress port 68) to port 2. Timer app
3 fires every 30 ms with 2 batches of 3 packets of 64 bytes, so over the
replay's second it fires at 30, 60, ..., 990 ms: 33 firings, 66 batches,
198 packets, each starting with TNA's pktgen timer header (pipe 0, app 3,
batch_id counting up from 0, packet_id 0..2) and zeros after it. A firing
enters at the first arrival at or after its time, so after the packet at
t = 100 ms come the firings of 30, 60 and 90 ms, and so on.
  pktgen_test.py SOFTFINO
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

from scapy.all import Ether, IP, UDP, Raw, wrpcap, RawPcapReader

softfino = sys.argv[1]
work = tempfile.mkdtemp(prefix='softfino-pktgen.')
PERIOD_MS, BATCHES, PER_BATCH, LEN, APP = 30, 2, 3, 64, 3

pkts = []
for k in range(11):
    p = (Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:ff') /
         IP(src='10.0.0.1', dst='10.0.9.9') / UDP(sport=1000, dport=9) / Raw(bytes(40)))
    p.time = 1000 + k * 0.1
    pkts.append(p)
wrpcap(f'{work}/in0.pcap', pkts)
wrpcap(f'{work}/empty.pcap', [])
config = {
    'tables': {'port_map': [
        {'key': {'ingress_port': 0}, 'action': 'send', 'data': {'port': 1, 'qid': 0}},
        {'key': {'ingress_port': 68}, 'action': 'send', 'data': {'port': 2, 'qid': 0}}]},
    'pktgen': [{'app': APP, 'period_us': PERIOD_MS * 1000, 'batches': BATCHES,
                'packets_per_batch': PER_BATCH, 'packet_len': LEN}],
}
with open(f'{work}/config.json', 'w') as f:
    json.dump(config, f)
cmd = [softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '-l', '0',
       '--file-prefix', f'pktgen{os.getpid()}', '--log-level=warning',
       f'--vdev=net_pcap0,rx_pcap={work}/in0.pcap,tx_pcap={work}/out0.pcap',
       f'--vdev=net_pcap1,rx_pcap={work}/empty.pcap,tx_pcap={work}/out1.pcap',
       f'--vdev=net_pcap2,rx_pcap={work}/empty.pcap,tx_pcap={work}/out2.pcap',
       '--', '--pipeline', 'tm_probe', '--config', f'{work}/config.json', '--clock', 'virtual',
       '--exit-when-idle', '200', '--no-control-socket', '--stats-json', f'{work}/stats.json']
run = subprocess.run(cmd, capture_output=True, text=True)
if run.returncode != 0:
    print(run.stdout, run.stderr)
    sys.exit(1)

failures = []


def check(name, cond, detail=''):
    print(('ok   ' if cond else 'FAIL ') + name + (f': {detail}' if detail and not cond else ''))
    if not cond:
        failures.append(name)


firings = 1000 // PERIOD_MS  # 30, 60, ..., 990 ms: 33
expected = []
for batch in range(firings * BATCHES):
    for packet in range(PER_BATCH):
        expected.append(struct.pack('!BBHH', APP, 0, batch, packet) + bytes(LEN - 6))
timers = [bytes(data) for data, _ in RawPcapReader(f'{work}/out2.pcap')]
check(f'{len(expected)} timer packets, in order, with their headers', timers == expected,
      f'got {len(timers)}; first differing at '
      f'{next((i for i, (a, b) in enumerate(zip(timers, expected)) if a != b), None)}')
data = list(RawPcapReader(f'{work}/out1.pcap'))
check('the 11 replayed packets still go through', len(data) == 11, len(data))
with open(f'{work}/stats.json') as f:
    totals = json.load(f)['totals']
check('totals add up: received + generated = forwarded + dropped',
      totals['generated'] == len(expected) and
      totals['received'] + totals['generated'] == totals['forwarded'] + totals['dropped'], totals)

# A bad pktgen section stops the switch with a message naming the field.
bad = dict(config, pktgen=[{'app': 9, 'period_us': 10}])
with open(f'{work}/bad.json', 'w') as f:
    json.dump(bad, f)
run = subprocess.run(cmd[:cmd.index('--config') + 1] + [f'{work}/bad.json'], capture_output=True,
                     text=True)
check('app 9 is refused with the range', run.returncode != 0 and 'apps 0..7' in run.stderr,
      run.stderr[-300:])

print(f'{len(failures)} failure(s)')
sys.exit(1 if failures else 0)
