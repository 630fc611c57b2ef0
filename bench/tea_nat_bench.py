#!/usr/bin/python3
"""Whole-switch packet rate of tea_nat with a warm cache, on 1..N worker cores.

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

With N cores the switch runs N pipes pipe-affine, as pipeline_bench.py's
other rows (benchlib.program_configs): the pcap is split N ways by
destination, part p enters inside port p (pipe p) and its flows' entries
send it to outside port N + p (pipe p); the collector's veth is port 2N,
whose one queue one pipe reads: the other pipes' warm-up answers reach them
through that pipe (tea_nat's README, "Several pipes").

  tea_nat_bench.py BUILD_DIR PCAP [--seconds S] [--huge] [--cores N]

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


def nat_value(ip, port, out_port):
    """A table value: the new address and port, to switch port `out_port`."""
    a = [int(x) for x in ip.split('.')]
    return f'0x{(a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]) << 32 | port << 16 | out_port + 1:016x}'


def measure(apps, pcap, mem, seconds, cores=1, lcores='0@0,1@1'):
    """Received packets per second of tea_nat on `cores` worker cores
    (EAL --lcores `lcores`), cache warm, or (None, why) when it cannot run
    here; returns (rate, why)."""
    if os.geteuid() != 0:
        return None, 'needs root (veths and a network namespace for the collector)'
    if '10.9.' in subprocess.run(['ip', '-br', 'addr'], capture_output=True, text=True).stdout:
        return None, '10.9.x.x addresses in use (a live test running?)'
    from live_harness import CollectorTestbed, tea_insert, tea_nat_config  # noqa: E402
    work = tempfile.mkdtemp(prefix='tea_nat_bench.')
    parts = benchlib.split_pcap_by_dst(pcap, cores, f'{work}/part{{}}.pcap')
    part_flows = [pcap_flows(part) for part in parts]
    flows = [f for fs in part_flows for f in fs]
    buckets = 1 << max(10, (4 * len(flows) - 1).bit_length())  # a quarter full at most
    out_spec = f'tea.out:buckets={buckets},slots=2'
    in_spec = f'tea.in:buckets={buckets},slots=2'
    bed = CollectorTestbed('tnb')
    try:
        bed.up()
        # --idle-sleep: once the cache is warm the collector has nothing to
        # do, and a hardware RNIC would take no CPU; spinning, it would take
        # its CPU's share from a worker on a machine of few CPUs.
        port = bed.start_collector(f'{apps}/softfino-collector',
                                   ['--tea-table', out_spec, '--tea-table', in_spec,
                                    '--idle-sleep'])
        if port is None:
            return None, 'the collector did not start'
        connect = f'{bed.handshake_ip()}:{port}'
        tea_insert(f'{apps}/softfino-collector', connect, [
            {'op': 'insert', 'table': 'tea.out',
             'key': {'src': s, 'dst': d, 'sport': sp, 'dport': dp, 'proto': proto},
             'value': nat_value('203.0.113.7', 1024 + i, cores + part)}
            for i, (part, (s, d, sp, dp, proto)) in enumerate(
                (part, f) for part, fs in enumerate(part_flows) for f in fs)], work)
        config = tea_nat_config(connect, out_spec, in_spec, {
            'cache_entries': 4 * buckets, 'cache_ways': 4, 'timeout_us': 100000,
            'probe_timeout_us': 1000000})
        # Inside ports 0..N-1: the replays; outside ports N..2N-1: net_null;
        # RDMA port 2N: the veth to the collector. Ports at 1 Tb/s, as in
        # pipeline_bench.
        rdma_port = 2 * cores
        for c in config['rdma']['connections']:
            c['port'] = rdma_port
        config['nat'].update(inside_ports=list(range(cores)),
                             outside_ports=list(range(cores, 2 * cores)))
        config['ports'] = [{'port': p, 'speed': 10**12} for p in range(rdma_port + 1)]
        with open(f'{work}/config.json', 'w') as f:
            json.dump(config, f)
        tag = f'{bed.tag}sw'
        cmd = [f'{apps}/softfino', *mem, '--no-shconf', '--no-pci', '--lcores', lcores,
               f'--file-prefix={tag}', '--log-level=error',
               *[f'--vdev=net_pcap{p},rx_pcap={part},infinite_rx=1'
                 for p, part in enumerate(parts)],
               *[f'--vdev=net_null{p},no-rx=1' for p in range(cores, 2 * cores)],
               f'--vdev=net_af_packet{rdma_port},iface={bed.sw_rdma[0]}',
               '--', '--pipeline', 'tea_nat', '--config', f'{work}/config.json', '--fp-cores',
               str(cores), '--clock', 'real', '--stats-json', f'{work}/switch.json']
        rate = benchlib.measure_softfino(apps, cmd, tag, seconds)
        if rate is None:
            return None, 'the switch did not start'
        with open(f'{work}/switch.json') as f:
            pipes = json.load(f)['program']['pipes']
        for n, pipe in enumerate(pipes):
            out = pipe['out']
            print(f'tea_nat pipe {n}: {len(part_flows[n])} flows, {out.get("reads")} READs '
                  f'({out.get("found")} found, {pipe.get("answers_steered")} answers steered '
                  f'to other pipes), {out.get("cache_hits", "?")} cache hits', file=sys.stderr)
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
    p.add_argument('--cores', type=int, default=1, help='worker cores (pipes)')
    a = p.parse_args()
    cpus = os.cpu_count()
    lcores = ','.join(['0@0'] + [f'{w}@{w % cpus}' for w in range(1, a.cores + 1)])
    rate, why = measure(f'{a.build}/src/apps', a.pcap, benchlib.eal_memory(a.huge, a.cores),
                        a.seconds, a.cores, lcores)
    print(f'tea_nat, warm cache, {a.cores} core(s): {rate / 1e6:.2f} Mpps' if rate
          else f'tea_nat: n/a: {why}')
