#!/usr/bin/python3
"""BurstRadar's ring size against concurrent bursts (the paper: about 300
entries for < 1% of entries lost with 10 concurrent bursts, 1000 for none).

CONCURRENT output ports (10G each) get incast bursts at the same moments
from 2 senders each; every marked packet's courier goes to one monitor port
(10G), where couriers queue; an entry is lost when the ring wraps before its
courier reads it. For each ring size, the lost fraction is overwritten /
marked, from the program's counters. Virtual time, net_pcap, one pipe.

  burstradar_ring_sweep.py BUILD_DIR [--concurrent 8] [--monitor-gbps 10]
"""
import argparse
import json
import os
import subprocess
import tempfile

from scapy.all import wrpcap

p = argparse.ArgumentParser()
p.add_argument('build')
p.add_argument('--concurrent', type=int, default=8)
p.add_argument('--monitor-gbps', default='10G')
args = p.parse_args()
apps = f'{args.build}/src/apps'
work = tempfile.mkdtemp(prefix='br_sweep.')
n = args.concurrent
senders = 2 * n
# Ports: 0 .. senders-1 in, then n outputs, then the monitor.
outs = list(range(senders, senders + n))
monitor = senders + n
subprocess.run([f'{apps}/softfino-gen', 'incast', '--senders', str(senders), '--bursts', '5',
                '--burst-packets', '60', '--size', '1000', '--gap-us', '1000',
                '--out-prefix', f'{work}/in'], check=True, capture_output=True)
wrpcap(f'{work}/empty.pcap', [], linktype=1)
print(f'{n} concurrent bursts (2 senders x 60 packets each into {n} ports), monitor {args.monitor_gbps}')
print('| ring entries | marked | overwritten | lost |')
print('| --- | --- | --- | --- |')
for ring in (16, 32, 64, 128, 256, 300, 512, 1000, 2000):
    config = {'burstradar': {
        'forward': [{'in': s, 'out': outs[s // 2]} for s in range(senders)],
        'threshold_rtt_fraction': 0.05, 'rtt_us': 25, 'ring_entries': ring,
        'monitor_port': monitor},
        'ports': [{'port': o, 'speed': '10G', 'queue_limit_cells': 20000} for o in outs] +
                 [{'port': monitor, 'speed': args.monitor_gbps, 'queue_limit_cells': 200000}]}
    with open(f'{work}/c.json', 'w') as f:
        json.dump(config, f)
    vdevs = [f'--vdev=net_pcap{s},rx_pcap={work}/in{s}.pcap,tx_pcap=/dev/null'
             for s in range(senders)]
    vdevs += [f'--vdev=net_pcap{o},rx_pcap={work}/empty.pcap,tx_pcap=/dev/null'
              for o in outs + [monitor]]
    r = subprocess.run([f'{apps}/softfino', '--no-huge', '--no-shconf', '-m', '512', '--no-pci',
                        '-l', '0', f'--file-prefix=brs{os.getpid()}', '--log-level=error', *vdevs,
                        '--', '--pipeline', 'burstradar', '--config', f'{work}/c.json',
                        '--clock', 'virtual', '--exit-when-idle', '300', '--no-control-socket',
                        '--stats-json', f'{work}/s.json'], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    with open(f'{work}/s.json') as f:
        prog = json.load(f)['program']
    lost = prog['overwritten'] / max(prog['marked'], 1)
    print(f"| {ring} | {prog['marked']} | {prog['overwritten']} | {100 * lost:.2f}% |", flush=True)
