#!/usr/bin/python3
"""Trumpet's packet rate per core: l3fwd (1,024 routes) hosting Trumpet with
1K, 4K and 16K triggers at 10 ms, each flow matching 8 of them (softfino-gen
triggers), 64-byte packets of 1,000 flows, beside l3fwd alone and
dpdk-testpmd io forwarding on the same ports in the same run.

softfino (and testpmd) replay a pcap without end (net_pcap infinite_rx)
into one worker core and send through net_null. The rate is the growth of
the received-packet counter between two `softfino-ctl stats` a few seconds
apart; for testpmd, its own Rx-pps over the same span. testpmd io runs
before the first softfino run and after each: "of testpmd io" divides by
the first, "beside" by the mean of the two around the run (this VM's speed
changes by spells; pipeline_bench.py does the same). The added packet
delay bound is the longest sweep slice Trumpet ran between two bursts
(packets wait behind it), from the switch's counters at exit.

  trumpet_bench.py BUILD_DIR [--seconds S] [--huge]

Without --huge, DPDK runs on --no-huge memory (slower per packet than
hugepages); the table says which.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('build')
p.add_argument('--seconds', type=float, default=4.0)
p.add_argument('--huge', action='store_true', help='use hugepages (set up by the caller)')
p.add_argument('--triggers', default='1024,4096,16384')
p.add_argument('--no-testpmd', action='store_true')
args = p.parse_args()
apps = f'{args.build}/src/apps'
work = tempfile.mkdtemp(prefix='trumpet_bench.')
mem = [] if args.huge else ['--no-huge', '-m', '1024']
pcap = f'{work}/flows.pcap'
subprocess.run([f'{apps}/softfino-gen', 'flows', '--flows', '1000', '--packets', '4000',
                '--sizes', '64', '--out', pcap], check=True, capture_output=True)

# 1,024 routes: 10.2.x.0/24 for x < 256 and 10.3-5.x.0/24, all to port 1.
routes = [{'key': {'dst_addr': f'10.{2 + i // 256}.{i % 256}.0/24'}, 'action': 'set_nexthop',
           'data': {'nexthop_id': 1}} for i in range(1024)]
base = {'tables': {
    'nexthop': [{'key': {'nexthop_id': 1}, 'action': 'forward',
                 'data': {'port': 1, 'src_mac': '02:00:00:00:01:00', 'dst_mac': '02:00:00:00:01:01'}}],
    'ipv4_lpm': routes},
    # Ports at 1 Tb/s, as in pipeline_bench: the program is measured, not the
    # traffic manager's model of a 10G port (which paces 64-byte packets at
    # 14.88 Mpps, the very goal).
    'ports': [{'port': p, 'speed': 10**12} for p in range(2)]}


def run_softfino(name, triggers):
    config = json.loads(json.dumps(base))
    if triggers:
        tfile = f'{work}/triggers_{triggers}.txt'
        subprocess.run([f'{apps}/softfino-gen', 'triggers', '--count', str(triggers),
                        '--per-flow', '8', '--interval-ms', '10', '--out', tfile], check=True,
                       capture_output=True)
        config['trumpet'] = {'trigger_file': tfile, 'epoch_us': 10000, 'flows': 65536}
    with open(f'{work}/config_{name}.json', 'w') as f:
        json.dump(config, f)
    tag = f'trb{os.getpid()}{name}'
    cmd = [f'{apps}/softfino', *mem, '--no-shconf', '--no-pci', '-l', '0-1', f'--file-prefix={tag}',
           '--log-level=error', f'--vdev=net_pcap0,rx_pcap={pcap},infinite_rx=1',
           '--vdev=net_null1,no-rx=1', '--', '--pipeline', 'l3fwd', '--config',
           f'{work}/config_{name}.json', '--fp-cores', '1', '--clock', 'real', '--stats-json',
           f'{work}/stats_{name}.json']
    rx = benchlib.measure_softfino(apps, cmd, tag, args.seconds)
    if rx is None:  # measure_softfino said why
        sys.exit(f'trumpet_bench: softfino did not start ({name})')
    program = json.load(open(f'{work}/stats_{name}.json')).get('program', {}).get('trumpet', {})
    return rx, program


def run_testpmd():
    rate = (None if args.no_testpmd else
            benchlib.measure_testpmd(mem, f'trbt{os.getpid()}', pcap, 'io', args.seconds))
    rate = float('nan') if rate is None else rate
    print(f'testpmd io: {rate / 1e6:.3f} Mpps', flush=True)
    return rate


testpmd_runs = [run_testpmd()]
rows = []  # name, rate, Trumpet's counters, the testpmd io runs before and after it
# l3fwd alone (0 triggers), then with each count of triggers.
for n in [0] + [int(x) for x in args.triggers.split(',')]:
    rx, program = run_softfino(f't{n}' if n else 'plain', n)
    print(f'{n} triggers: {rx / 1e6:.3f} Mpps, {program}' if n else f'l3fwd: {rx / 1e6:.3f} Mpps',
          flush=True)
    testpmd_runs.append(run_testpmd())
    rows.append((f'l3fwd + Trumpet, {n} triggers' if n else 'l3fwd, no Trumpet', rx, program,
                 testpmd_runs[-2:]))

testpmd = testpmd_runs[0]
print()
memory = 'hugepages' if args.huge else 'no-huge'
print('| program | Mpps/core (64 B) | of testpmd io | of testpmd io beside it | sweeps | overruns | '
      'sweep slice p99 / p99.9 / max (us) | memory |')
print('| --- | --- | --- | --- | --- | --- | --- | --- |')
print(f'| dpdk-testpmd io | {testpmd / 1e6:.2f} | 1.00 | 1.00 | | | | {memory} |')
for name, rx, program, around in rows:
    us = lambda key: program.get(key, 0) / 1000
    slices = (f"< {us('sweep_slice_ns_p99_below'):.1f} / < {us('sweep_slice_ns_p999_below'):.1f} / "
              f"{us('longest_sweep_slice_ns'):.1f}") if program else ''
    print(f"| {name} | {rx / 1e6:.2f} | {rx / testpmd:.3f} | {rx / (sum(around) / 2):.3f} | "
          f"{program.get('sweeps', '')} | {program.get('sweep_overruns', '')} | {slices} | "
          f"{memory} |")
print()
print('testpmd io runs, in order (one before the first softfino run, one after each): ' +
      ', '.join(f'{r / 1e6:.2f}' for r in testpmd_runs) + ' Mpps')
