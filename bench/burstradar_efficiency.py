#!/usr/bin/python3
"""BurstRadar's efficiency: packets sent to the monitor as a fraction of all
packets, beside an INT-style export of every packet (the paper: 10x fewer
than INT at a 5%-of-RTT threshold, on the web and cache traces).

Each workload is softfino-gen bursts (--preset web, --preset cache): burst
senders on ports 0..N-1 and Poisson background on port N, all forwarded to
one 10G port; couriers go to a 100G monitor port with a 1000-entry ring, so
none is lost. For each threshold (a fraction of a 25 us RTT at 10G), the
fraction is couriers / packets from the program's counters. INT exports
every packet at the last hop (fraction 1.0; postcards per hop would be one
per packet and hop, so 1.0 on this one-switch path too). The oracle column
is the least any exact detector could send: packets whose queueing delay
exceeded the threshold, from the traffic manager's own queue trace
(tm_probe, same workload, same TM, virtual time). "Sent in bursts" is the
share of packets the burst senders sent: what the fraction mostly follows.

  burstradar_efficiency.py BUILD_DIR [--bursts 200] [--markdown]
"""
import argparse
import json
import os
import struct
import subprocess
import tempfile

from scapy.all import RawPcapReader, wrpcap

p = argparse.ArgumentParser()
p.add_argument('build')
p.add_argument('--bursts', type=int, default=200)
p.add_argument('--fractions', default='0.05,0.1,0.3')
# PRESET or PRESET/GAPS: the preset with its gaps replaced (a distribution,
# softfino-gen bursts --gaps), to see how the fraction follows the share of
# traffic in bursts.
p.add_argument('--workloads', default='web,cache,web/exp:6000')
args = p.parse_args()
apps = f'{args.build}/src/apps'
work = tempfile.mkdtemp(prefix='br_eff.')
RTT_US, PORT_GBPS, SENDERS = 25, 10, 2
INPUTS = SENDERS + 1
OUT, MONITOR = INPUTS, INPUTS + 1  # ports are numbered in --vdev order
wrpcap(f'{work}/empty.pcap', [], linktype=1)


def run(tag, pipeline, config, prefix):
    with open(f'{work}/{tag}.json', 'w') as f:
        json.dump(config, f)
    vdevs = [f'--vdev=net_pcap{s},rx_pcap={prefix}{s}.pcap,tx_pcap=/dev/null'
             for s in range(INPUTS)]
    vdevs += [f'--vdev=net_pcap{OUT},rx_pcap={work}/empty.pcap,tx_pcap={work}/{tag}_out.pcap',
              f'--vdev=net_pcap{MONITOR},rx_pcap={work}/empty.pcap,tx_pcap=/dev/null']
    r = subprocess.run([f'{apps}/softfino', '--no-huge', '--no-shconf', '-m', '512', '--no-pci',
                        '-l', '0', f'--file-prefix=bre{os.getpid()}', '--log-level=error',
                        *vdevs, '--', '--pipeline', pipeline, '--config', f'{work}/{tag}.json',
                        '--clock', 'virtual', '--exit-when-idle', '300', '--no-control-socket',
                        '--stats-json', f'{work}/{tag}_stats.json'],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f'{pipeline} failed: {r.stderr[-2000:]}')
    with open(f'{work}/{tag}_stats.json') as f:
        return json.load(f)


ports = [{'port': OUT, 'speed': f'{PORT_GBPS}G', 'queue_limit_cells': 200000},
         {'port': MONITOR, 'speed': '100G', 'queue_limit_cells': 200000}]
fractions = [float(f) for f in args.fractions.split(',')]
rows = []
for index, workload in enumerate(args.workloads.split(',')):
    preset, _, gaps = workload.partition('/')
    prefix = f'{work}/w{index}_'
    r = subprocess.run([f'{apps}/softfino-gen', 'bursts', '--preset', preset, '--bursts',
                        str(args.bursts), '--senders', str(SENDERS), '--out-prefix', prefix] +
                       (['--gaps', gaps] if gaps else []),
                       check=True, capture_output=True, text=True)
    workload = f'{preset}, gaps {gaps}' if gaps else preset
    print(r.stderr.strip(), flush=True)
    # The TM's queue trace: each packet's queueing delay (tm_probe's record).
    run(f'w{index}_trace', 'tm_probe', {'tables': {'port_map': [
        {'key': {'ingress_port': s}, 'action': 'send', 'data': {'port': OUT, 'qid': 0}}
        for s in range(INPUTS)]}, 'ports': ports}, prefix)
    delays = [struct.unpack('!I', data[50:54])[0]
              for data, _ in RawPcapReader(f'{work}/w{index}_trace_out.pcap')]
    total = len(delays)
    in_bursts = sum(1 for s in range(SENDERS) for _ in RawPcapReader(f'{prefix}{s}.pcap'))
    for fraction in fractions:
        threshold_ns = fraction * RTT_US * 1000
        oracle = sum(1 for d in delays if d > threshold_ns)
        stats = run(f'w{index}_br', 'burstradar', {'burstradar': {
            'forward': [{'in': s, 'out': OUT} for s in range(INPUTS)],
            'threshold_rtt_fraction': fraction, 'rtt_us': RTT_US, 'ring_entries': 1000,
            'monitor_port': MONITOR}, 'ports': ports}, prefix)
        prog = stats['program']
        assert prog['watched_packets'] == total and prog['overwritten'] == 0, prog
        rows.append((workload, fraction, threshold_ns, total, in_bursts, oracle,
                     prog['couriers']))
        print(f'{workload} {fraction:.0%}: {prog["couriers"]} couriers, oracle {oracle}, '
              f'{total} packets', flush=True)

print()
print('| workload | threshold (of 25 us RTT) | packets | sent in bursts | oracle (delay > '
      'threshold) | BurstRadar couriers | BurstRadar / all | INT / all | fewer than INT |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for workload, fraction, threshold_ns, total, in_bursts, oracle, couriers in rows:
    print(f'| {workload} | {fraction:.0%} ({threshold_ns:.0f} ns) | {total} | '
          f'{in_bursts / total:.3f} | {oracle} '
          f'({oracle / total:.3f}) | {couriers} | {couriers / total:.3f} | 1.0 | '
          f'{total / max(couriers, 1):.1f}x |')
