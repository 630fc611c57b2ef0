"""What the whole-switch benchmarks share: starting softfino on replayed
pcaps, reading its counters, measuring dpdk-testpmd on the same ports, and
the l3fwd routes that softfino and Open vSwitch (ovs_bench.py) both get."""
import json
import os
import pty
import re
import signal
import statistics
import struct
import subprocess
import sys
import time


# l3fwd's routes in every benchmark: /24 prefixes from 10.2.0.0 up, all to
# one next hop that sends to port 1 with these MACs. softfino-gen flows'
# destinations are all in 10.2.0.0/16, so every packet hits a route.
NEXTHOP_MAC = {'src_mac': '02:00:00:00:01:00', 'dst_mac': '02:00:00:00:01:01'}


def route_prefixes(count):
    """The first `count` benchmark prefixes (10.2.0.0/24, 10.2.1.0/24, ...)."""
    return [f'10.{2 + i // 256}.{i % 256}.0/24' for i in range(count)]


def split_pcap_by_dst(path, parts, out_pattern):
    """Splits a pcap of IPv4 packets (classic format, as softfino-gen writes)
    into `parts` files, out_pattern.format(i): packet to part (third octet of
    its destination address) mod parts, so each part holds whole flows and
    the /24 routes of its own. Returns the files."""
    with open(path, 'rb') as f:
        data = f.read()
    header, records = data[:24], [[] for _ in range(parts)]
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from('<I', data, off + 8)[0]
        record = data[off:off + 16 + incl]
        dst_third_octet = record[16 + 14 + 16 + 2]  # pcap record, Ethernet, IPv4 dst
        records[dst_third_octet % parts].append(record)
        off += 16 + incl
    files = []
    for i, part in enumerate(records):
        files.append(out_pattern.format(i))
        with open(files[-1], 'wb') as f:
            f.write(header + b''.join(part))
    return files


def program_configs(apps, work, ports=None, cores=1):
    """Each benchmarked program's (pipeline, config) by row name, for
    `cores` pipes, with `ports` ports (default 2 * cores + 1) draining at
    1 Tb/s: the program, not the traffic manager's model of a 10G port, is
    what is measured. Writes the Trumpet rows' trigger file into `work`.

    Every pipe's traffic stays in it, as on a multi-pipe Tofino whose ports
    each belong to a pipe (pipe::PipeOfPort: port q is pipe q mod pipes):
    input port p (pipe p) takes the flows of part p of the pcap
    (split_pcap_by_dst) and sends them to output port cores + p, which pipe
    p owns; port 2 * cores + p takes pipe p's DTA reports and BurstRadar
    couriers (a report and monitor port per pipe, so that reporting scales;
    those rows have 3 * cores ports, the others 2 * cores + 1). l3fwd routes
    10.2.X.0/24 (X mod cores = p, where pipe p's flows go) to next hop
    p + 1, which sends to port cores + p. With one core: port 0 in, port 1
    out, port 2 reports, next hop 1."""
    subprocess.run([f'{apps}/softfino-gen', 'triggers', '--count', '16384', '--per-flow', '8',
                    '--interval-ms', '10', '--out', f'{work}/triggers.txt'], check=True,
                   capture_output=True)
    routes = [{'key': {'dst_addr': prefix}, 'action': 'set_nexthop',
               'data': {'nexthop_id': (i % 256) % cores + 1}}
              for i, prefix in enumerate(route_prefixes(1024))]
    l3fwd = {'tables': {'nexthop': [{'key': {'nexthop_id': p + 1}, 'action': 'forward',
                                     'data': {'port': cores + p, **NEXTHOP_MAC}}
                                    for p in range(cores)],
                        'ipv4_lpm': routes}}
    forward = [{'in': p, 'out': cores + p} for p in range(cores)]
    report_port = 2 * cores
    report_ports = [2 * cores + p for p in range(cores)]  # port 2 * cores + p is in pipe p
    report_src = [f'10.0.{p // 250}.{7 + p % 250}' for p in range(cores)]
    configs = {
        'l3fwd': ('l3fwd', l3fwd),
        'l3fwd_trumpet16k': ('l3fwd', {**l3fwd, 'trumpet': {
            'trigger_file': f'{work}/triggers.txt', 'epoch_us': 10000, 'flows': 65536}}),
        'dta_reporter': ('dta_reporter', {'dta_reporter': {
            'base_form': '3-byte', 'switch_id': 7, 'hop': 1, 'forward': forward,
            'report_port': report_ports if cores > 1 else report_port,
            'report': {'src_ip': report_src if cores > 1 else report_src[0],
                       'dst_ip': '10.0.255.255',
                       'src_mac': '02:00:00:00:00:07', 'dst_mac': '02:00:00:00:00:ff'},
            'flow_slots': 65536, 'key_write': {'redundancy': 2},
            'key_increment': {'redundancy': 2, 'counter': 'bytes', 'every': 1}}}),
        'burstradar': ('burstradar', {'burstradar': {
            'forward': forward, 'threshold_bytes': 15000, 'ring_entries': 1000,
            'monitor_port': report_ports if cores > 1 else report_port,
            'mirror_session': 900}}),
    }
    for name, (_, config) in configs.items():
        count = ports or (3 * cores if name in ('dta_reporter', 'burstradar') else 2 * cores + 1)
        config['ports'] = [{'port': p, 'speed': 10**12} for p in range(count)]
    return configs


def eal_memory(huge, pipes=1):
    """EAL memory arguments: hugepages when set up, else ordinary memory
    (about 3x slower per packet): 2 GiB, more for many pipes, whose
    program_configs have up to 3 * pipes ports of `pipes` RX queues each (an
    RX ring's worth of packet buffers per queue: about 3.4 GB at 15 pipes)."""
    return [] if huge else ['--no-huge', '-m', str(max(2048, 1024 + 5 * 3 * pipes * pipes))]


def ctl_stats(apps, prefix):
    """The switch's `softfino-ctl stats` (every counter)."""
    out = subprocess.run([f'{apps}/softfino-ctl', '--file-prefix', prefix, 'stats'],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f'softfino-ctl: {out.stderr}')
    return json.loads(out.stdout)


def measure_softfino(apps, cmd, prefix, seconds):
    """Starts softfino (`cmd`, with --file-prefix `prefix`), waits for it to
    run, and returns received packets per second over `seconds` after a
    1 s warm-up (infinite_rx loads its pcap first), or None if it did not
    start."""
    sw = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    said = []
    for line in sw.stderr:
        said.append(line)
        if 'running on' in line:
            break
    else:
        print(f'softfino did not start: {"".join(said)[-500:]}', file=sys.stderr)
        return None
    try:
        time.sleep(1.0)
        a, ta = ctl_stats(apps, prefix), time.monotonic()
        time.sleep(seconds)
        b, tb = ctl_stats(apps, prefix), time.monotonic()
    finally:
        sw.send_signal(signal.SIGTERM)
        sw.wait()
    drops = {k: v - a['drops'].get(k, 0) for k, v in b['drops'].items()
             if v - a['drops'].get(k, 0)}
    if drops:  # a rate of packets dropped is not a forwarding rate: say so
        print(f'{prefix}: dropped while measured: {drops}', file=sys.stderr)
    return (b['totals']['received'] - a['totals']['received']) / (tb - ta)


def measure_testpmd(mem, prefix, pcap, mode, seconds):
    """dpdk-testpmd forwarding (`mode`: io, macswap) from a net_pcap replay
    without end into net_null, one core: its median Rx-pps from the first
    full second on, or None."""
    # testpmd's stdout is a terminal, which it (glibc) writes a line at a
    # time; through a pipe its statistics would sit in a buffer. (stdbuf
    # would preload this machine's libstdbuf, which fails under a bundled
    # C library: scripts/bundle.)
    terminal, testpmd_side = pty.openpty()
    proc = subprocess.Popen(
        ['dpdk-testpmd', *mem, '--no-shconf', '--no-pci', '-l', '0-1',
         f'--file-prefix={prefix}', '--log-level=error',
         f'--vdev=net_pcap0,rx_pcap={pcap},infinite_rx=1', '--vdev=net_null1,no-rx=1',
         '--', f'--forward-mode={mode}', '--nb-cores=1', '--stats-period=1'],
        stdin=subprocess.DEVNULL, stdout=testpmd_side, stderr=subprocess.DEVNULL)
    os.close(testpmd_side)
    rates, port = [], None
    deadline = time.monotonic() + seconds + 4
    with open(terminal, errors='replace') as out:
        try:
            for line in out:
                m = re.search(r'NIC statistics for port (\d+)', line)
                if m:
                    port = int(m.group(1))
                m = re.search(r'Rx-pps:\s+(\d+)', line)
                if m and port == 0:
                    rates.append(int(m.group(1)))
                if time.monotonic() > deadline:
                    break
        except OSError:  # EIO: testpmd exited and closed its terminal
            pass
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    rates = [r for r in rates if r > 0][1:]
    return statistics.median(rates) if rates else None
