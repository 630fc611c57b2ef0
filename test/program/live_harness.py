"""What the live program tests (real binaries on veth pairs) share: checks
that count failures, veth pairs (optionally with one end in a network
namespace), and waiting for a line on a process's stderr."""
import json
import os
import re
import subprocess
import sys
import time

failures = []


def check(name, cond, detail=''):
    print(('ok   ' if cond else 'FAIL ') + name + (f': {detail}' if detail and not cond else ''))
    if not cond:
        failures.append(name)


def require_root():
    if os.geteuid() != 0:
        print('SKIP: needs root for veth pairs')
        sys.exit(77)


def veth(a, b, b_netns=None):
    """A veth pair a <-> b, both up, IPv6 off (no router solicitations)."""
    subprocess.run(['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b], check=True)
    if b_netns:
        subprocess.run(['ip', 'link', 'set', b, 'netns', b_netns], check=True)
    for ifname, ns in ((a, None), (b, b_netns)):
        run_in = ['ip', 'netns', 'exec', ns] if ns else []
        subprocess.run([*run_in, 'sysctl', '-qw', f'net.ipv6.conf.{ifname}.disable_ipv6=1'])
        subprocess.run([*run_in, 'ip', 'link', 'set', ifname, 'up'], check=True)


def wait_for_line(proc, pattern, seconds=30):
    """Reads proc's stderr until a line matches; returns (match or None, lines read)."""
    said = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        said.append(line)
        m = re.search(pattern, line)
        if m:
            return m, said
    return None, said


def ctl_call(ctl, sock, *args):
    """softfino-ctl --socket sock args...: (result, None), or (None, its error line)."""
    p = subprocess.run([ctl, '--socket', sock, *args], capture_output=True, text=True, timeout=20)
    if p.returncode == 0:
        return json.loads(p.stdout), None
    return None, p.stderr.strip()


def wait_until(cond, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def finish():
    print(f'{len(failures)} failure(s)')
    sys.exit(1 if failures else 0)


def tagged_id(frame, tag):
    """The id a test put in a payload as TAG + six digits (e.g. b'tea000042'),
    found in the frame's bytes (scapy may decode the payload, e.g. DNS)."""
    i = frame.find(tag, 42)
    return int(frame[i + 3:i + 9]) if i >= 0 and frame[i + 3:i + 9].isdigit() else None


def tea_insert(collector, connect, requests, work, what='entries inserted'):
    """Inserts TEA table entries through `softfino-collector tea insert`
    (requests: JSON objects, one per line) at the collector's handshake
    address `connect`; checks every one was accepted."""
    import json
    path = f'{work}/inserts.jsonl'
    with open(path, 'w') as fh:
        fh.writelines(json.dumps(r) + '\n' for r in requests)
    r = subprocess.run([collector, 'tea', 'insert', '--requests', path, '--connect', connect],
                       capture_output=True, text=True, timeout=60)
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    refused = [a for a in answers if 'error' in a]
    check(f'{len(requests)} {what}',
          r.returncode == 0 and not refused and len(answers) == len(requests),
          (r.returncode, refused[:2], r.stderr[-300:]))


def tea_nat_config(connect, out_spec, in_spec, tea):
    """tea_nat's config on a CollectorTestbed with one collector (handshake
    at `connect`) and the outside port after it: inside port 0, RDMA port 1,
    outside port 2; tables tea.out and tea.in as `out_spec`/`in_spec`; the
    "tea" object `tea`."""
    return {
        'rdma': {'connections': [
            {'name': 'nat_out', 'collector': connect, 'region': 'tea.out', 'port': 1,
             'ip': '10.9.2.1'},
            {'name': 'nat_in', 'collector': connect, 'region': 'tea.in', 'port': 1,
             'ip': '10.9.2.1'}]},
        'nat': {'inside_ports': [0], 'outside_ports': [2], 'out_table': out_spec,
                'in_table': in_spec},
        'tea': tea,
    }


def start_program(bed, softfino, pipeline, config, work, extra_ifaces=(), pipes=1,
                  extra_args=()):
    """Writes `config` to WORK/config.json and starts softfino's `pipeline`
    on `bed` with it (real clock, no control socket, counters at exit in
    WORK/switch.json, `pipes` worker lcores spread over this machine's
    CPUs, then `extra_args`); returns the switch, or None (checked)."""
    import json
    import os
    with open(f'{work}/config.json', 'w') as fh:
        json.dump(config, fh)
    eal = EAL
    if pipes > 1:
        lcores = ','.join(['0@0'] + [f'{q}@{q % os.cpu_count()}' for q in range(1, pipes + 1)])
        eal = [a for a in EAL if a not in ('-l', '0')] + ['--lcores', lcores]
    return bed.start_switch(softfino, [
        '--pipeline', pipeline, '--config', f'{work}/config.json', '--clock', 'real',
        '--no-control-socket', '--stats-json', f'{work}/switch.json', '--fp-cores', str(pipes),
        *extra_args], extra_ifaces=extra_ifaces, eal=eal)


def start_tea_nat(bed, softfino, config, work, extra_ifaces, pipes=1):
    """start_program for tea_nat."""
    return start_program(bed, softfino, 'tea_nat', config, work, extra_ifaces, pipes)


def histogram_quantile(buckets, q):
    """The bucket start at quantile q of a histogram given as [[start, count], ...]
    (e.g. TEA's latency_ns): a lower bound within the bucket's width."""
    total = sum(c for _, c in buckets)
    seen = 0
    for start, count in buckets:
        seen += count
        if seen >= q * total:
            return start
    return None


EAL = ['--no-huge', '--no-shconf', '-m', '256', '--no-pci', '-l', '0', '--log-level=error']


class CollectorTestbed:
    """The links of the RDMA tests, all made here and removed by down():

      host --veth-- switch --veth (port 1 + k)-- collector k (own network namespace)
                      \---veth (handshake, 10.9.(3+k).1 -> 10.9.(3+k).2)---/

    Each collector lives in its own namespace: DPDK's af_packet names its
    PACKET_FANOUT group after pid ^ ifindex, which two processes on adjacent
    pids and interfaces can share by chance (EINVAL); groups are per
    namespace. The switch's RoCE address is 10.9.2.1, collector k's
    10.9.2.(2+k) (on the RDMA links, set by the programs, not the kernel)."""

    def __init__(self, prefix, collectors=1, relay=None, ctl_net=3, report_relay=None):
        """relay: (loss, dup, reorder, seed, stats_path) puts lossy_relay.py
        on every RDMA link (switch --veth-- relay --veth-- collector).
        report_relay: the same, with a log path after them (every frame in
        and out, see lossy_relay.py), on the host's link to the switch's
        port 0 (host --veth-- relay --veth-- switch); its counts come last
        from stop_relays().
        ctl_net: the handshake links use 10.9.(ctl_net + k).0/24; a test that
        may run beside other worktrees' tests picks its own."""
        tag = f'{prefix}{os.getpid() % 100000}'
        self.tag = tag
        self.count = collectors
        self.host, self.sw_in = f'{tag}a', f'{tag}b'
        self.sw_rdma = [f'{tag}c{k}' for k in range(collectors)]
        self.col_rdma = [f'{tag}d{k}' for k in range(collectors)]
        self.sw_ctl = [f'{tag}e{k}' for k in range(collectors)]
        self.col_ctl = [f'{tag}f{k}' for k in range(collectors)]
        self.netns = [f'{tag}n{k}' for k in range(collectors)]
        self.collectors = [None] * collectors
        self.procs = []
        self.relay = relay
        self.relay_a = [f'{tag}r{k}' for k in range(collectors)]
        self.relay_b = [f'{tag}s{k}' for k in range(collectors)]
        self.relays = []  # (process, stats path)
        self.report_relay = report_relay
        self.host_relay = (f'{tag}g', f'{tag}h')  # relay's ends towards host, switch
        self.ctl_net = ctl_net

    def _start_relay(self, a, b, loss, dup, reorder, seed, stats, log=None):
        r = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(__file__), 'lossy_relay.py'),
             a, b, str(loss), str(dup), str(reorder), str(seed), stats, *([log] if log else [])],
            stdout=subprocess.PIPE, text=True)
        r.stdout.readline()  # "relay ready"
        self.relays.append((r, stats))

    def up(self):
        if self.report_relay:
            veth(self.host, self.host_relay[0])
            veth(self.host_relay[1], self.sw_in)
        else:
            veth(self.host, self.sw_in)
        for k in range(self.count):
            subprocess.run(['ip', 'netns', 'add', self.netns[k]], check=True)
            if self.relay:
                veth(self.sw_rdma[k], self.relay_a[k])
                veth(self.relay_b[k], self.col_rdma[k], self.netns[k])
                loss, dup, reorder, seed, stats = self.relay
                self._start_relay(self.relay_a[k], self.relay_b[k], loss, dup, reorder,
                                  seed + k, f'{stats}.{k}')
            else:
                veth(self.sw_rdma[k], self.col_rdma[k], self.netns[k])
            veth(self.sw_ctl[k], self.col_ctl[k], self.netns[k])
            subprocess.run(['ip', 'addr', 'add', f'10.9.{self.ctl_net + k}.1/24', 'dev',
                            self.sw_ctl[k]],
                           check=True)
            subprocess.run(['ip', 'netns', 'exec', self.netns[k], 'ip', 'addr', 'add',
                            f'10.9.{self.ctl_net + k}.2/24', 'dev', self.col_ctl[k]], check=True)
        if self.report_relay:
            self._start_relay(*self.host_relay, *self.report_relay)

    @property
    def collector(self):
        return self.collectors[0]

    def handshake_ip(self, k=0):
        return f'10.9.{self.ctl_net + k}.2'

    def start_collector(self, collector, args, k=0, listen_port=0, eal=EAL):
        """Starts softfino-collector k with `args` (after --), its handshake
        on `listen_port` (0: any), EAL arguments `eal`; returns that port, or
        None (checked) when it does not come up."""
        col = subprocess.Popen(
            ['ip', 'netns', 'exec', self.netns[k], collector, *eal,
             f'--file-prefix={self.tag}col{k}', f'--vdev=net_af_packet0,iface={self.col_rdma[k]}',
             '--', '--ip', f'10.9.2.{2 + k}', '--listen', f'{self.handshake_ip(k)}:{listen_port}',
             *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.procs.append(col)
        self.collectors[k] = col
        m, _ = wait_for_line(col, r'handshake on [0-9.]+:(\d+)')
        check(f'collector {k} is up', m is not None)
        return int(m.group(1)) if m else None

    def start_switch(self, softfino, args, extra_ifaces=(), eal=EAL, capture_dir=None):
        """Starts softfino with port 0 (from the host), ports 1.. (to the
        collectors), then one port per interface of `extra_ifaces` (made by
        the caller), `args` (after --) and EAL arguments `eal`; returns it
        once running, or None (checked) when it does not start.
        capture_dir: port 0 and the extra ports read their interface through
        libpcap and write what they send to capture_dir/portN.pcap instead
        (net_pcap rx_iface + tx_pcap): nothing the switch sends can be lost
        by a capture that falls behind."""
        first_extra = 1 + self.count

        def data_port(n, iface):
            if capture_dir:
                return f'--vdev=net_pcap{n},rx_iface={iface},tx_pcap={capture_dir}/port{n}.pcap'
            return f'--vdev=net_af_packet{n},iface={iface}'

        sw = subprocess.Popen(
            [softfino, *eal, f'--file-prefix={self.tag}sw', data_port(0, self.sw_in),
             *[f'--vdev=net_af_packet{1 + k},iface={self.sw_rdma[k]}' for k in range(self.count)],
             *[data_port(first_extra + i, name) for i, name in enumerate(extra_ifaces)],
             '--', *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.procs.append(sw)
        self.switch = sw
        m, said = wait_for_line(sw, r'running on')
        check('switch connects its queue pair(s) and starts', m is not None, ''.join(said))
        return sw if m else None

    def stop_relays(self):
        """Stops the relays; returns their counts, one dict per link."""
        import json
        counts = []
        for r, stats in self.relays:
            r.terminate()
            r.wait(timeout=10)
            with open(stats) as f:
                counts.append(json.load(f))
        self.relays = []
        return counts

    def down(self):
        for r, _ in self.relays:
            r.kill()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for ifname in (self.host, *self.sw_rdma, *self.sw_ctl,
                       *(self.relay_b if self.relay else []),
                       *(self.host_relay[1:] if self.report_relay else [])):
            subprocess.run(['ip', 'link', 'del', ifname], stderr=subprocess.DEVNULL)
        for ns in self.netns:
            subprocess.run(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)


def l3fwd_flood_workload(work, seed, ports=3, count=3000):
    """The l3fwd workload (l3fwd_workload.py) of `count` frames arriving on
    port 0, with a config whose ports drain at 1 Tb/s, so a flood is never
    tail-dropped by the traffic manager's model of a 10G port (tests of
    pipes and cores, not of the TM). Returns (frames, oracle config); the
    config is work/config.json."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import l3fwd_workload
    from compare_output import read_pcap
    subprocess.run(['/usr/bin/python3', f'{here}/l3fwd_workload.py', '--config',
                    f'{here}/l3fwd_test_config.json', '--out-dir', work, '--count', str(count),
                    '--seed', str(seed), '--ports', str(ports)], check=True, capture_output=True)
    with open(f'{here}/l3fwd_test_config.json') as f:
        config = json.load(f)
    config['ports'] = [{'port': p, 'speed': 10**12} for p in range(ports)]
    with open(f'{work}/config.json', 'w') as f:
        json.dump(config, f)
    return read_pcap(f'{work}/in.pcap')[0], l3fwd_workload.Config(f'{work}/config.json', ports)


def ctl_json(softfino_ctl, prefix, *args):
    """softfino-ctl's answer for the switch of EAL file prefix `prefix`, or None."""
    r = subprocess.run([softfino_ctl, '--file-prefix', prefix, *args], capture_output=True,
                       text=True, timeout=10)
    return json.loads(r.stdout) if r.returncode == 0 else None


def set_thread_policy(pid, thread_name, policy, seconds=30):
    """Sets the scheduling policy (os.SCHED_IDLE, os.SCHED_OTHER) of process
    pid's thread named thread_name (DPDK names its lcores rte-worker-N),
    waiting up to `seconds` for the thread to exist. SCHED_IDLE on a CPU
    another busy thread shares starves it: a way to play an overloaded
    machine on purpose. Returns whether it found the thread."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            tids = os.listdir(f'/proc/{pid}/task')
        except FileNotFoundError:  # the process is gone
            return False
        for tid in tids:
            try:
                with open(f'/proc/{pid}/task/{tid}/comm') as f:
                    if f.read().strip() == thread_name:
                        os.sched_setscheduler(int(tid), policy, os.sched_param(0))
                        return True
            except OSError:
                pass
        time.sleep(0.001)
    return False


def l3fwd_expectations(frames, cfg, pipe_of, repeat, pipes=2, ports=3):
    """What the l3fwd oracle says `repeat` replays of `frames` make, when
    frame i is handled by pipe pipe_of(i, frame, verdict): frames per port
    (a multiset), drops by reason, and per pipe its received frames and its
    nexthop_counter cells (nexthop id -> [packets, bytes])."""
    import l3fwd_workload
    from collections import Counter
    per_port = {p: Counter() for p in range(ports)}
    drops = Counter()
    rx = [0] * pipes
    nexthop = [{} for _ in range(pipes)]
    for i, frame in enumerate(frames):
        v = l3fwd_workload.process(frame, cfg)
        pipe = pipe_of(i, frame, v)
        rx[pipe] += repeat
        if v.drop:
            drops[v.drop] += repeat
            continue
        per_port[v.port][v.frame] += repeat
        cell = nexthop[pipe].setdefault(v.route[1], [0, 0])
        cell[0] += repeat
        cell[1] += repeat * len(v.frame)
    return per_port, drops, rx, nexthop


def nexthop_cells(ctl, pipe):
    """Pipe `pipe`'s non-zero l3fwd nexthop_counter cells, {id: [packets,
    bytes]}, read with ctl(*args) (a softfino-ctl call); None if it failed."""
    got = ctl('counter_read', 'counter=nexthop_counter', 'from=0', 'to=127', f'pipe={pipe}')
    return {e['index']: [e['packets'], e['bytes']] for e in got['entries']
            if e['packets'] or e['bytes']} if got else None
