#!/usr/bin/python3
"""TEA lookup latency over an internal link: softfino's tea_nat and a
softfino-collector hosting its tables, on veth pairs (the collector in its
own network namespace, as test/program/tea_nat_test.py sets them up), at a
low packet rate with no cache (every packet is one RDMA READ), and the
latency histogram the switch itself records per table (latency_ns: the
packet's arrival to its READ response's arrival, both stamped by the
switch's rx), read from its --stats-json at exit.

  host --veth-- softfino (tea_nat) --veth-- softfino-collector (netns)

Both programs busy-poll (neither has an idle sleep). --collector-cpu puts
the collector's EAL lcore on another CPU than the switch's (lcore 0); by
default both are on CPU 0, as in the tests, so each round trip waits for
the scheduler to switch between the two pollers.

  tea_latency.py BUILD_DIR [--packets N] [--rate PPS] [--collector-cpu C]
                           [--deferral local|remote]

Needs root (veths, netns) and the 10.9.x.x addresses free (it checks).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, '..', 'test', 'program'))
from live_harness import (EAL, CollectorTestbed, check, histogram_quantile, require_root,  # noqa: E402
                          tea_insert, tea_nat_config, start_tea_nat, veth)
from tea_nat_bench import nat_value  # noqa: E402 (this folder)

p = argparse.ArgumentParser()
p.add_argument('build')
p.add_argument('--packets', type=int, default=1000)
p.add_argument('--rate', type=float, default=100, help='packets per second')
p.add_argument('--collector-cpu', type=int, default=0)
p.add_argument('--deferral', default='local', choices=['local', 'remote'])
args = p.parse_args()
require_root()
busy = subprocess.run(['ip', '-br', 'addr'], capture_output=True, text=True).stdout
if '10.9.' in busy:
    print('10.9.x.x addresses are in use (another live test?): not starting')
    sys.exit(1)

from scapy.all import Ether, IP, UDP, Raw, sendp  # noqa: E402

softfino = f'{args.build}/src/apps/softfino'
collector = f'{args.build}/src/apps/softfino-collector'
bed = CollectorTestbed('stl')
out_host, out_sw = f'{bed.tag}o', f'{bed.tag}p'
work = tempfile.mkdtemp(prefix='tea_latency.')
SHADOW = ',packet=256,lanes=4' if args.deferral == 'remote' else ''
OUT_SPEC = f'tea.out:buckets=1024,slots=2{SHADOW}'
IN_SPEC = f'tea.in:buckets=1024,slots=2{SHADOW}'
N_FLOWS = 64


flows = [(f'10.1.0.{1 + i}', '198.51.100.9', 40000 + i, 53) for i in range(N_FLOWS)]
requests = [{'op': 'insert', 'table': 'tea.out',
             'key': {'src': s, 'dst': d, 'sport': sp, 'dport': dp, 'proto': 17},
             'value': nat_value('203.0.113.7', 20000 + i)}
            for i, (s, d, sp, dp) in enumerate(flows)]
packets = [Ether(src='02:00:00:00:0a:01', dst='02:00:00:00:00:fe') / IP(src=s, dst=d) /
           UDP(sport=sp, dport=dp) / Raw(bytes(18))
           for s, d, sp, dp in (flows[i % N_FLOWS] for i in range(args.packets))]

collector_eal = list(EAL)
collector_eal[collector_eal.index('-l') + 1] = str(args.collector_cpu)
try:
    bed.up()
    veth(out_host, out_sw)
    port = bed.start_collector(collector, ['--tea-table', OUT_SPEC, '--tea-table', IN_SPEC],
                               eal=collector_eal)
    if port is None:
        raise SystemExit(1)
    connect = f'{bed.handshake_ip()}:{port}'
    tea_insert(collector, connect, requests, work)
    # No cache: every packet is a READ. Timeouts far above the round trip.
    config = tea_nat_config(connect, OUT_SPEC, IN_SPEC, {
        'deferral': args.deferral, 'cache_entries': 0, 'timeout_us': 1000000,
        'probe_timeout_us': 2000000})
    sw = start_tea_nat(bed, softfino, config, work, [out_sw])
    if sw is None:
        raise SystemExit(1)
    time.sleep(0.5)
    t0 = time.monotonic()
    sendp(packets, iface=bed.host, verbose=False, inter=1.0 / args.rate)
    sent_s = time.monotonic() - t0
    time.sleep(1.0)
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    bed.collector.send_signal(signal.SIGTERM)
    bed.collector.wait(timeout=30)
    with open(f'{work}/switch.json') as fh:
        out = json.load(fh)['program']['pipes'][0]['out']
    buckets = sorted((s, c) for s, c in out['latency_ns'])
    n = sum(c for _, c in buckets)
    check('every packet was one READ, answered and found',
          out['reads'] == args.packets and out['found'] == args.packets and n == args.packets,
          {k: out[k] for k in ('reads', 'found', 'not_found', 'timeouts', 'shadow_busy')})

    def q(f):
        return histogram_quantile(buckets, f)

    print(f'deferral {args.deferral}, collector on CPU {args.collector_cpu}, switch on CPU 0, '
          f'{n} READs at {args.packets / sent_s:.0f} packets/s')
    print('latency_ns (bucket lower bounds, buckets a quarter octave wide): '
          f'p50 {q(0.5)}  p90 {q(0.9)}  p99 {q(0.99)}  max bucket {buckets[-1][0] if buckets else None}')
    print(f'histogram: {json.dumps(buckets)}')
finally:
    bed.down()
    subprocess.run(['ip', 'link', 'del', out_host], stderr=subprocess.DEVNULL)
