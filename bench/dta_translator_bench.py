#!/usr/bin/python3
"""Whole-switch throughput of dta_translator, per primitive, on one core.

For each primitive, softfino-gen writes a report stream; softfino replays it
without end (net_pcap infinite_rx) into the translator on one worker core,
and its RDMA requests leave through net_null. The queue pairs come from a
softfino-collector over the loopback handshake; the collector is stopped
once the switch runs (nothing answers: the translator is in resync mode and
needs no answers), so its core does not compete. The rate is the growth of
the switch's received-packet counter between two `softfino-ctl stats` a few
seconds apart: reports per second per core, every copy and RDMA request
built (valid ICRC) included; beside it, dpdk-testpmd io forwarding of the
same report stream on the same ports (the ceiling, as in pipeline_bench).
Drops in that time are printed: the collector
is not supervised (rdma.supervise_ms 0), or the translator would count the
stopped collector as down and drop every report.

  dta_translator_bench.py BUILD_DIR [--seconds S] [--huge]

Without --huge, DPDK runs on --no-huge memory (about 3x slower per packet
here than hugepages); the table says which.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('build')
p.add_argument('--seconds', type=float, default=3.0)
p.add_argument('--huge', action='store_true', help='use hugepages (set up by the caller)')
args = p.parse_args()
apps = f'{args.build}/src/apps'
work = tempfile.mkdtemp(prefix='dta_bench.')
mem = [] if args.huge else ['--no-huge', '-m', '512']
LAYOUT = {'keywrite_slots': 1 << 20, 'keyincrement_rows': 2, 'keyincrement_slots': 1 << 20,
          'append_lists': 64, 'append_entries': 1 << 14, 'append_batch': 16,
          'append_head_interval': 1, 'postcarding_slots': 1 << 18, 'postcarding_copies': 2}
with open(f'{work}/layout.json', 'w') as f:
    json.dump(LAYOUT, f)


def run(primitive, redundancy):
    pcap = f'{work}/{primitive}.pcap'
    subprocess.run([f'{apps}/softfino-gen', 'dta', '--primitive', primitive, '--reports', '4000',
                    '--keys', '10000', '--redundancy', str(redundancy), '--lists', '64',
                    '--path-length', '5', '--out', pcap], check=True, capture_output=True)
    tag = f'dtab{os.getpid()}{primitive}'
    col = subprocess.Popen(
        [f'{apps}/softfino-collector', *mem, '--no-shconf', '--no-pci', '-l', '0',
         f'--file-prefix={tag}c', '--vdev=net_null0,no-rx=1', '--log-level=error', '--',
         '--dta-layout', f'{work}/layout.json', '--ip', '10.9.2.2', '--listen', '127.0.0.1:0'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    for line in col.stderr:
        m = re.search(r'handshake on 127\.0\.0\.1:(\d+)', line)
        if m:
            port = int(m.group(1))
            break
    regions = ['dta.keywrite', 'dta.keyincrement', 'dta.append', 'dta.postcarding']
    config = {
        # No supervision (supervise_ms 0): the collector is stopped once the
        # switch runs, and a supervised translator would then count every
        # report as lost to a collector that is down instead of translating.
        'rdma': {'supervise_ms': 0, 'connections': [
            {'name': f'c0/{s}', 'collector': f'127.0.0.1:{port}', 'region': r, 'port': 1,
             'ip': '10.9.2.1', 'mac': '02:00:00:00:02:01'}
            for s, r in zip(['keywrite', 'keyincrement', 'append', 'postcarding'], regions)]},
        'dta_translator': {'collectors': ['c0'], 'layout': LAYOUT,
                           'postcarding_path_length': 5, 'postcard_cache_rows': 65536},
        # Ports at 1 Tb/s, as in pipeline_bench: the translator, not the TM's
        # model of a 10G port, is measured (at 10G, N >= 2 requests of ~100
        # bytes a report filled the port's queue from ~5 M reports/s, and
        # the packets it held left no buffers for the copies).
        'ports': [{'port': p, 'speed': 10**12} for p in range(2)],
    }
    with open(f'{work}/config.json', 'w') as f:
        json.dump(config, f)
    sw = subprocess.Popen(
        [f'{apps}/softfino', *mem, '--no-shconf', '--no-pci', '-l', '0-1',
         f'--file-prefix={tag}s', '--log-level=error',
         f'--vdev=net_pcap0,rx_pcap={pcap},infinite_rx=1', '--vdev=net_null1,no-rx=1', '--',
         '--pipeline', 'dta_translator', '--config', f'{work}/config.json', '--fp-cores', '1',
         '--clock', 'real'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    said = []
    for line in sw.stderr:
        said.append(line)
        if 'running on' in line:
            break
    else:
        sys.exit(f'softfino did not start: {"".join(said)}')
    col.send_signal(signal.SIGTERM)
    col.wait()
    time.sleep(1.0)  # warm up (infinite_rx loads the pcap into memory first)
    a, ta = benchlib.ctl_stats(apps, f'{tag}s'), time.monotonic()
    time.sleep(args.seconds)
    b, tb = benchlib.ctl_stats(apps, f'{tag}s'), time.monotonic()
    sw.send_signal(signal.SIGTERM)
    sw.wait()
    # Reports Append holds for a batch and Postcarding for its path are
    # counted as dropped by design; anything else means reports were lost.
    by_design = {'dta_batched', 'dta_cached', 'dta_copy_unused'}
    drops = {k: v - a['drops'].get(k, 0) for k, v in b['drops'].items()
             if k not in by_design and v - a['drops'].get(k, 0)}
    if drops:  # a rate of reports dropped is no translation rate
        print(f'{primitive}: dropped {drops}', file=sys.stderr)
    rx = b['totals']['received'] - a['totals']['received']
    tx = b['ports'][1]['tx_packets'] - a['ports'][1]['tx_packets']
    if primitive not in CEILING:  # the report sizes differ by primitive, not by N
        CEILING[primitive] = benchlib.measure_testpmd(mem, f'dtabt{os.getpid()}', pcap, 'io',
                                                      args.seconds)
    return rx / (tb - ta), tx / (tb - ta)


CEILING = {}  # primitive -> testpmd io packets/s on its report stream


rows = []
for primitive, redundancy in [('keywrite', 1), ('keywrite', 2), ('keywrite', 4),
                              ('keyincrement', 2), ('append', 1), ('postcarding', 1)]:
    reports, requests = run(primitive, redundancy)
    rows.append((primitive, redundancy, reports, requests))
    print(f'{primitive:13s} N={redundancy}: {reports / 1e6:6.3f} M reports/s, '
          f'{requests / 1e6:6.3f} M RDMA requests/s', flush=True)
print()
print('| primitive | N | M reports/s/core | M RDMA requests/s | testpmd io, same reports (Mpps) '
      f'| reports / testpmd io | memory |')
print('| --- | --- | --- | --- | --- | --- | --- |')
for primitive, n, reports, requests in rows:
    io = CEILING.get(primitive)
    print(f"| {primitive} | {n} | {reports / 1e6:.3f} | {requests / 1e6:.3f} | "
          f"{io / 1e6 if io else float('nan'):.2f} | {reports / io if io else float('nan'):.3f} | "
          f"{'hugepages' if args.huge else 'no-huge'} |")
