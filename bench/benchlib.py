"""What the whole-switch benchmarks share: starting softfino on replayed
pcaps, reading its counters, measuring dpdk-testpmd on the same ports, and
the l3fwd routes that softfino and Open vSwitch (ovs_bench.py) both get."""
import json
import re
import signal
import statistics
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


def program_configs(apps, work, ports):
    """Each benchmarked program's (pipeline, config) by row name, with
    `ports` ports draining at 1 Tb/s: the program, not the traffic
    manager's model of a 10G port, is what is measured. Writes the
    Trumpet rows' trigger file into `work`."""
    subprocess.run([f'{apps}/softfino-gen', 'triggers', '--count', '16384', '--per-flow', '8',
                    '--interval-ms', '10', '--out', f'{work}/triggers.txt'], check=True,
                   capture_output=True)
    routes = [{'key': {'dst_addr': p}, 'action': 'set_nexthop', 'data': {'nexthop_id': 1}}
              for p in route_prefixes(1024)]
    l3fwd = {'tables': {'nexthop': [{'key': {'nexthop_id': 1}, 'action': 'forward',
                                     'data': {'port': 1, **NEXTHOP_MAC}}],
                        'ipv4_lpm': routes}}
    configs = {
        'l3fwd': ('l3fwd', l3fwd),
        'l3fwd_trumpet16k': ('l3fwd', {**l3fwd, 'trumpet': {
            'trigger_file': f'{work}/triggers.txt', 'epoch_us': 10000, 'flows': 65536}}),
        'dta_reporter': ('dta_reporter', {'dta_reporter': {
            'base_form': '3-byte', 'switch_id': 7, 'hop': 1, 'forward': [{'in': 0, 'out': 1}],
            'report_port': 2, 'report': {'src_ip': '10.0.0.7', 'dst_ip': '10.0.255.255',
                                         'src_mac': '02:00:00:00:00:07',
                                         'dst_mac': '02:00:00:00:00:ff'},
            'flow_slots': 65536, 'key_write': {'redundancy': 2},
            'key_increment': {'redundancy': 2, 'counter': 'bytes', 'every': 1}}}),
        'burstradar': ('burstradar', {'burstradar': {
            'forward': [{'in': 0, 'out': 1}], 'threshold_bytes': 15000, 'ring_entries': 1000,
            'monitor_port': 2, 'mirror_session': 900}}),
    }
    for _, config in configs.values():
        config['ports'] = [{'port': p, 'speed': 10**12} for p in range(ports)]
    return configs


def eal_memory(huge):
    """EAL memory arguments: hugepages when set up, else 2 GiB of ordinary
    memory (about 3x slower per packet)."""
    return [] if huge else ['--no-huge', '-m', '2048']


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
    return (b['totals']['received'] - a['totals']['received']) / (tb - ta)


def measure_testpmd(mem, prefix, pcap, mode, seconds):
    """dpdk-testpmd forwarding (`mode`: io, macswap) from a net_pcap replay
    without end into net_null, one core: its median Rx-pps from the first
    full second on, or None."""
    proc = subprocess.Popen(
        ['stdbuf', '-oL', 'dpdk-testpmd', *mem, '--no-shconf', '--no-pci', '-l', '0-1',
         f'--file-prefix={prefix}', '--log-level=error',
         f'--vdev=net_pcap0,rx_pcap={pcap},infinite_rx=1', '--vdev=net_null1,no-rx=1',
         '--', f'--forward-mode={mode}', '--nb-cores=1', '--stats-period=1'],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rates, port = [], None
    deadline = time.monotonic() + seconds + 4
    for line in proc.stdout:
        m = re.search(r'NIC statistics for port (\d+)', line)
        if m:
            port = int(m.group(1))
        m = re.search(r'Rx-pps:\s+(\d+)', line)
        if m and port == 0:
            rates.append(int(m.group(1)))
        if time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    rates = [r for r in rates if r > 0][1:]
    return statistics.median(rates) if rates else None
