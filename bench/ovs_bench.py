#!/usr/bin/python3
"""Open vSwitch with DPDK (Debian's openvswitch-switch-dpdk: the userspace
datapath, one PMD core) doing l3fwd's work, as the peer a user would pick
instead of softfino: the same ports (net_pcap replaying a pcap without end
into net_null) and OpenFlow rules that do what l3fwd does with its routes
(per /24 prefix: set the source and destination MACs, decrement the TTL,
output to the next hop's port).

Everything runs from a private temp folder (database, sockets, logs,
pidfiles), so a system OVS is never touched; the folder and both daemons
are gone when measure_ovs returns, error or not (OVS_BENCH_KEEP=1 keeps the
folder, with the daemons' logs). Installs nothing
(scripts/bench installs the package).

  ovs_bench.py PCAP [--huge] [--seconds S] [--routes N]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

VSWITCHD = '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk'
SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
BRIDGE = 'sfbench0'  # also a tap device while it runs: a name no one else uses


def version():
    """"Open vSwitch 3.1.0, DPDK 22.11.11", or why there is none."""
    try:
        out = subprocess.run([VSWITCHD, '--version'], capture_output=True, text=True).stdout
    except OSError:
        return 'not installed'
    ovs = re.search(r'Open vSwitch\) (\S+)', out)
    dpdk = re.search(r'DPDK (\S+)', out)
    return f'Open vSwitch {ovs.group(1) if ovs else "?"}, DPDK {dpdk.group(1) if dpdk else "?"}'


class OvsError(RuntimeError):
    """OVS could not be set up; the message says what failed."""


def l3fwd_flows(prefixes, src_mac, dst_mac, out_port):
    """OpenFlow rules doing l3fwd's `ipv4_lpm` -> `nexthop.forward`: one rule
    per prefix, priority = prefix length (longest prefix wins, as in an LPM
    table); anything else is dropped (no rule: OVS drops a table miss once
    the default NORMAL rule is gone)."""
    return [f'priority={int(p.split("/")[1])},ip,nw_dst={p},'
            f'actions=mod_dl_src:{src_mac},mod_dl_dst:{dst_mac},dec_ttl,output:{out_port}'
            for p in prefixes]


class _Ovs:
    """ovsdb-server and ovs-vswitchd in `work`, driven with ovs-vsctl,
    ovs-ofctl and ovs-appctl pointed at it."""

    def __init__(self, work):
        self.work = work
        self.db = f'unix:{work}/db.sock'
        # OVS_RUNDIR is where ovs-vswitchd puts <bridge>.mgmt (ovs-ofctl's
        # socket) and pidfiles; the others keep every file in `work` too.
        self.env = {**os.environ, 'OVS_RUNDIR': work, 'OVS_DBDIR': work, 'OVS_LOGDIR': work,
                    'OVS_SYSCONFDIR': work}
        self.procs = []

    def check_alive(self):
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise OvsError(f'{name} exited ({proc.returncode}): {self.log(name)}')

    def run(self, *cmd):
        """Runs an OVS client; fails at once if a daemon it waits on died
        (ovs-vsctl waits for ovs-vswitchd to apply a change)."""
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=self.env)
        deadline = time.monotonic() + 60
        while True:
            try:
                out, err = client.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline or any(p.poll() is not None for _, p in self.procs):
                    client.kill()
                    client.communicate()
                    self.check_alive()
                    raise OvsError(f'{" ".join(cmd[:3])}... took over 60 s')
        if client.returncode != 0:
            self.check_alive()
            raise OvsError(f'{" ".join(cmd[:3])}...: {err.strip()[-800:]}')
        return out

    def vsctl(self, *args):
        return self.run('ovs-vsctl', f'--db={self.db}', '--timeout=60', *args)

    def start(self, name, cmd, ready):
        """Starts a daemon and waits until ready() is true."""
        with open(f'{self.work}/{name}.out', 'w') as console:
            self.procs.append((name, subprocess.Popen(cmd, stdout=console,
                                                      stderr=subprocess.STDOUT, env=self.env)))
        deadline = time.monotonic() + 60
        while not ready():
            self.check_alive()
            if time.monotonic() > deadline:
                raise OvsError(f'{name} did not start in 60 s: {self.log(name)}')
            time.sleep(0.1)

    def log_text(self, name):
        path = f'{self.work}/{name}.log'
        return open(path, errors='replace').read() if os.path.exists(path) else ''

    def log(self, name, tail=1500):
        """What the daemon complained about (its WARN/ERR/EMER lines; the
        log file once it has opened it, its console before), for an error
        message."""
        for f in (f'{self.work}/{name}.log', f'{self.work}/{name}.out'):
            if os.path.exists(f):
                lines = open(f, errors='replace').read().splitlines()
                bad = [ln for ln in lines if re.search(r'\|(WARN|ERR|EMER)\|', ln)]
                return '\n'.join(bad or lines)[-tail:]
        return ''

    def stop(self):
        # ovs-vswitchd first: on SIGTERM it closes its DPDK ports and the
        # tap device of the bridge, then the database.
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def measure_ovs(pcap, prefixes, src_mac, dst_mac, seconds, mem=(), lcore=0, pmd_core=1,
                stats_file=None):
    """Packets per second OVS-DPDK forwards from a net_pcap replay of `pcap`
    (without end) to net_null, with l3fwd_flows(prefixes, ...): the growth
    of the output port's tx_packets over `seconds` after a warm-up. One PMD
    thread on `pmd_core`, OVS's other threads on `lcore`. `mem`: EAL memory
    arguments (['--no-huge', '-m', '2048'] without hugepages). `stats_file`:
    where to write the PMD's statistics over the measurement (cache hits,
    cycles per packet) and a part of its megaflows. Raises
    OvsError with the reason when OVS does not run or does not forward
    what it receives."""
    if not os.access(VSWITCHD, os.X_OK):
        raise OvsError(f'{VSWITCHD} missing: install openvswitch-switch-dpdk '
                       '(scripts/bench does)')
    work = tempfile.mkdtemp(prefix='ovs_bench.')
    ovs = _Ovs(work)
    try:
        ovs.run('ovsdb-tool', 'create', f'{work}/conf.db', SCHEMA)
        ovs.start('ovsdb-server', ['ovsdb-server', f'{work}/conf.db', f'--remote=punix:{work}/db.sock',
                                   f'--unixctl={work}/ovsdb-server.ctl',
                                   f'--pidfile={work}/ovsdb-server.pid',
                                   f'--log-file={work}/ovsdb-server.log'],
                  lambda: os.path.exists(f'{work}/db.sock'))
        # OVS adds --in-memory unless it sees --legacy-mem; --in-memory does
        # not go with --no-huge (which is legacy memory anyway).
        legacy = ['--legacy-mem', '--no-shconf'] if '--no-huge' in mem else []
        extra = [*mem, *legacy, '--no-pci', f'--file-prefix=ovsb{os.getpid()}',
                 f'--vdev=net_pcap0,rx_pcap={pcap},infinite_rx=1', '--vdev=net_null1,no-rx=1']
        ovs.vsctl('--no-wait', 'init', '--', 'set', 'Open_vSwitch', '.',
                  'other_config:dpdk-init=true',
                  f'other_config:dpdk-lcore-mask={1 << lcore:#x}',
                  f'other_config:pmd-cpu-mask={1 << pmd_core:#x}',
                  f'other_config:dpdk-extra="{" ".join(extra)}"')
        ovs.start('ovs-vswitchd', [VSWITCHD, ovs.db, f'--unixctl={work}/ovs-vswitchd.ctl',
                                   f'--pidfile={work}/ovs-vswitchd.pid',
                                   f'--log-file={work}/ovs-vswitchd.log'],
                  lambda: 'DPDK Enabled - initialized' in ovs.log_text('ovs-vswitchd'))
        ovs.vsctl('add-br', BRIDGE, '--', 'set', 'Bridge', BRIDGE, 'datapath_type=netdev',
                  '--', 'add-port', BRIDGE, 'in0', '--', 'set', 'Interface', 'in0', 'type=dpdk',
                  'options:dpdk-devargs=net_pcap0', 'ofport_request=1',
                  '--', 'add-port', BRIDGE, 'out1', '--', 'set', 'Interface', 'out1', 'type=dpdk',
                  'options:dpdk-devargs=net_null1', 'ofport_request=2')
        for port in ('in0', 'out1'):
            err = ovs.vsctl('get', 'Interface', port, 'error').strip()
            if err != '[]':
                raise OvsError(f'port {port}: {err}; {ovs.log("ovs-vswitchd")}')
        flows = f'{work}/flows.txt'
        with open(flows, 'w') as f:
            f.write('\n'.join(l3fwd_flows(prefixes, src_mac, dst_mac, 2)) + '\n')
        ovs.run('ovs-ofctl', 'del-flows', BRIDGE)
        ovs.run('ovs-ofctl', 'add-flows', BRIDGE, flows)

        def counters():
            # dump-ports reads the ports' counters now (the database's
            # statistics column is refreshed only every 5 s).
            out = ovs.run('ovs-ofctl', '--no-names', 'dump-ports', BRIDGE)
            rx = int(re.search(r'port\s+1: rx pkts=(\d+)', out).group(1))
            tx = int(re.search(r'port\s+2: rx pkts=\d+.*?tx pkts=(\d+)', out, re.S).group(1))
            return rx, tx, time.monotonic()

        appctl = ('ovs-appctl', '-t', f'{work}/ovs-vswitchd.ctl')
        time.sleep(2.0)  # net_pcap loads its pcap; the PMD fills its caches
        ovs.run(*appctl, 'dpif-netdev/pmd-stats-clear')
        rx0, tx0, t0 = counters()
        time.sleep(seconds)
        rx1, tx1, t1 = counters()
        if stats_file:
            with open(stats_file, 'w') as f:
                f.write(ovs.run(*appctl, 'dpif-netdev/pmd-stats-show'))
                f.write(ovs.run(*appctl, 'dpif-netdev/pmd-perf-show'))
                megaflows = ovs.run(*appctl, 'dpctl/dump-flows', '-m').splitlines()
                f.write(f'\n{len(megaflows)} megaflows, the first 3:\n')
                f.write('\n'.join(megaflows[:3]) + '\n')
        if tx1 - tx0 < 0.99 * (rx1 - rx0) or tx1 == tx0:
            raise OvsError(f'forwarded {tx1 - tx0} of {rx1 - rx0} packets received: the rules '
                           f'do not route this pcap; {ovs.run("ovs-ofctl", "dump-flows", BRIDGE)[-600:]}')
        return (tx1 - tx0) / (t1 - t0)
    except (OSError, subprocess.SubprocessError, AttributeError) as e:
        raise OvsError(f'{type(e).__name__}: {e}; {ovs.log("ovs-vswitchd")}') from e
    finally:
        ovs.stop()
        if os.environ.get('OVS_BENCH_KEEP'):
            print(f'ovs_bench: kept {work}', file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('pcap')
    p.add_argument('--huge', action='store_true', help='hugepages are set up: use them')
    p.add_argument('--seconds', type=float, default=3.0)
    p.add_argument('--routes', type=int, default=1024)
    p.add_argument('--stats', help='write the PMD statistics here')
    a = p.parse_args()
    try:
        r = measure_ovs(os.path.abspath(a.pcap), benchlib.route_prefixes(a.routes),
                        **benchlib.NEXTHOP_MAC, seconds=a.seconds,
                        mem=benchlib.eal_memory(a.huge), stats_file=a.stats)
    except OvsError as e:
        sys.exit(f'ovs-dpdk: {e}')
    print(f'ovs-dpdk l3 ({a.routes} routes): {r / 1e6:.2f} Mpps')
