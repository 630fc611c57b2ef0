#!/usr/bin/python3
"""Whole-switch packet rate of tea_nat with a warm cache, one worker core.

softfino runs tea_nat with its translation tables in a softfino-collector
(over a veth pair, the collector in its own network namespace, as the tests
set it up: test/program/live_harness.py), replays a pcap of valid flows
without end into the inside port (net_pcap infinite_rx) and sends the
translated packets out of the outside port (net_null). Every flow of the
pcap has its out_table entry in the collector; the cache holds them all, so
after the first READ per flow (in the 1 s warm-up) every packet is a cache
hit: what is measured is the switch's own per-packet work (parse, cache
lookup, address and port rewrite with incremental checksums), as a
user's NAT sees it once its flows are known. The READs of the warm-up and
the cache's hit count are printed, and any drop while measuring.

  tea_nat_bench.py BUILD_DIR PCAP [--seconds S] [--huge]

Needs root (veths, a network namespace) and the 10.9.x.x test addresses
free. measure() is what pipeline_bench.py calls for its tea_nat row.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, '..', 'test', 'program'))
import benchlib  # noqa: E402


def pcap_flows(path):
    """The distinct IPv4 TCP/UDP 5-tuples of a classic pcap of Ethernet
    frames (softfino-gen flows writes one)."""
    with open(path, 'rb') as f:
        data = f.read()
    flows, off = set(), 24
    while off + 16 <= len(data):
        incl = struct.unpack_from('<I', data, off + 8)[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 38 or frame[12:14] != b'\x08\x00' or frame[23] not in (6, 17):
            continue
        ihl = (frame[14] & 0x0f) * 4
        sport, dport = struct.unpack_from('!HH', frame, 14 + ihl)
        flows.add(('.'.join(map(str, frame[26:30])), '.'.join(map(str, frame[30:34])),
                   sport, dport, frame[23]))
    return sorted(flows)


def nat_value(ip, port):
    """A table value: the new address and port, to the first outside port."""
    a = [int(x) for x in ip.split('.')]
    return f'0x{(a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]) << 32 | port << 16:016x}'


def measure(apps, pcap, mem, seconds):
    """Received packets per second of tea_nat on one core, cache warm, or
    (None, why) when it cannot run here; returns (rate, why)."""
    if os.geteuid() != 0:
        return None, 'needs root (veths and a network namespace for the collector)'
    if '10.9.' in subprocess.run(['ip', '-br', 'addr'], capture_output=True, text=True).stdout:
        return None, '10.9.x.x addresses in use (a live test running?)'
    from live_harness import CollectorTestbed, tea_insert, tea_nat_config  # noqa: E402
    flows = pcap_flows(pcap)
    buckets = 1 << max(10, (4 * len(flows) - 1).bit_length())  # a quarter full at most
    out_spec = f'tea.out:buckets={buckets},slots=2'
    in_spec = f'tea.in:buckets={buckets},slots=2'
    work = tempfile.mkdtemp(prefix='tea_nat_bench.')
    bed = CollectorTestbed('tnb')
    try:
        bed.up()
        port = bed.start_collector(f'{apps}/softfino-collector',
                                   ['--tea-table', out_spec, '--tea-table', in_spec])
        if port is None:
            return None, 'the collector did not start'
        connect = f'{bed.handshake_ip()}:{port}'
        tea_insert(f'{apps}/softfino-collector', connect, [
            {'op': 'insert', 'table': 'tea.out',
             'key': {'src': s, 'dst': d, 'sport': sp, 'dport': dp, 'proto': proto},
             'value': nat_value('203.0.113.7', 1024 + i)}
            for i, (s, d, sp, dp, proto) in enumerate(flows)], work)
        config = tea_nat_config(connect, out_spec, in_spec, {
            'cache_entries': 4 * buckets, 'cache_ways': 4, 'timeout_us': 100000,
            'probe_timeout_us': 1000000})
        # Inside port 0: the replay; RDMA port 1: the veth to the collector;
        # outside port 2: net_null. Ports at 1 Tb/s, as in pipeline_bench.
        config['ports'] = [{'port': p, 'speed': 10**12} for p in range(3)]
        with open(f'{work}/config.json', 'w') as f:
            json.dump(config, f)
        tag = f'{bed.tag}sw'
        cmd = [f'{apps}/softfino', *mem, '--no-shconf', '--no-pci', '--lcores', '0@0,1@1',
               f'--file-prefix={tag}', '--log-level=error',
               f'--vdev=net_pcap0,rx_pcap={pcap},infinite_rx=1',
               f'--vdev=net_af_packet1,iface={bed.sw_rdma[0]}', '--vdev=net_null2,no-rx=1',
               '--', '--pipeline', 'tea_nat', '--config', f'{work}/config.json', '--fp-cores', '1',
               '--clock', 'real', '--stats-json', f'{work}/switch.json']
        rate = benchlib.measure_softfino(apps, cmd, tag, seconds)
        if rate is None:
            return None, 'the switch did not start'
        with open(f'{work}/switch.json') as f:
            out = json.load(f)['program']['pipes'][0]['out']
        print(f'tea_nat: {len(flows)} flows, {out.get("reads")} READs '
              f'({out.get("found")} found), {out.get("cache_hits", "?")} cache hits',
              file=sys.stderr)
        return rate, None
    finally:
        bed.down()


if __name__ == '__main__':
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument('build')
    p.add_argument('pcap')
    p.add_argument('--seconds', type=float, default=3.0)
    p.add_argument('--huge', action='store_true', help='hugepages are set up: use them')
    a = p.parse_args()
    rate, why = measure(f'{a.build}/src/apps', a.pcap, benchlib.eal_memory(a.huge), a.seconds)
    print(f'tea_nat, warm cache: {rate / 1e6:.2f} Mpps' if rate else f'tea_nat: n/a: {why}')
