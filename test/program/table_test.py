#!/usr/bin/python3
"""Live table updates through softfino-ctl against a running l3fwd switch.

Part 1: table_add / table_modify / table_delete / table_batch / table_clear
change what table_dump shows, exactly; every kind of bad request is refused
with its message and changes nothing.

Part 2 (the acceptance test): port 0 replays a pcap forever (net_pcap
infinite_rx) at full speed, to 64 /24 routes. While it flows, hundreds of
batches each move all 64 routes at once between next hop 1 (port 1) and next
hop 2 (port 2). Every published version sends every packet to port 1 or
port 2, so at the end: nothing was dropped, nothing left on port 0, and tx on
ports 1 + 2 equals what was received. Some commits are also checked in time:
once a commit has returned (its grace period passed) and the traffic
manager's queues have drained, the port the routes left gets nothing more.
  table_test.py SOFTFINO SOFTFINO_CTL
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from scapy.all import Ether, IP, IPv6, UDP, Raw, wrpcap

softfino, ctl = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix='softfino-table.')
prefix = f'table{os.getpid()}'
runtime_base = '/var/run' if os.geteuid() == 0 else os.environ.get('XDG_RUNTIME_DIR', '/tmp')
failures = 0
procs = []


def check(name, cond, detail=''):
    global failures
    print(('ok   ' if cond else 'FAIL ') + name + ('' if cond else f': {detail}'))
    failures += 0 if cond else 1


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)
    for suffix in ('a', 'b'):
        shutil.rmtree(f'{runtime_base}/dpdk/{prefix}{suffix}', ignore_errors=True)


def nexthop(i, port, mac):
    return {'key': {'nexthop_id': i}, 'action': 'forward',
            'data': {'port': port, 'src_mac': '02:00:00:00:00:01', 'dst_mac': mac}}


def route(p, nh):
    return {'key': {'dst_addr': p}, 'action': 'set_nexthop', 'data': {'nexthop_id': nh}}


ROUTES = [f'10.9.{r}.0/24' for r in range(64)]
CONFIG = {'tables': {
    'nexthop': [nexthop(1, 1, '02:00:00:00:01:01'), nexthop(2, 2, '02:00:00:00:02:02')],
    'ipv4_lpm': [route(p, 1) for p in ROUTES],
    'ipv6_lpm': [route('2001:db8::/32', 2)]},
    'ports': [{'port': 1, 'speed': '100G'}, {'port': 2, 'speed': '100G'}]}


def start(suffix, in_pcap, infinite, stats_json):
    empty = f'{work}/empty.pcap'
    rx0 = f'rx_pcap={in_pcap}' + (',infinite_rx=1' if infinite else '')
    cmd = [softfino, '--no-huge', '--no-shconf', '-m', '512', '--no-pci', '-l', '0',
           '--file-prefix', prefix + suffix, '--log-level=warning',
           f'--vdev=net_pcap0,{rx0},tx_pcap=/dev/null',
           f'--vdev=net_pcap1,rx_pcap={empty},tx_pcap=/dev/null',
           f'--vdev=net_pcap2,rx_pcap={empty},tx_pcap=/dev/null',
           '--', '--pipeline', 'l3fwd', '--config', f'{work}/config.json', '--clock', 'real',
           '--stats-json', stats_json]
    p = subprocess.Popen(cmd, stdout=open(f'{work}/{suffix}.txt', 'w'), stderr=subprocess.STDOUT)
    procs.append(p)
    for _ in range(300):
        if run(suffix, 'info')[0] == 0:
            return p
        if p.poll() is not None:
            break
        time.sleep(0.1)
    print(open(f'{work}/{suffix}.txt').read())
    raise SystemExit(f'FAIL switch {suffix} did not come up')


def run(suffix, *args):
    p = subprocess.run([ctl, '--file-prefix', prefix + suffix, *args], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr.strip()


def ok(suffix, *args):
    rc, out, err = run(suffix, *args)
    if rc != 0:
        raise SystemExit(f'FAIL softfino-ctl {" ".join(args)}: exit {rc}: {err}')
    return json.loads(out)


def stop(p, suffix):
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)
    check(f'{suffix}_sigterm_exit_0', rc == 0, open(f'{work}/{suffix}.txt').read())


def part1():
    a = 'a'
    p = start(a, f'{work}/empty.pcap', False, f'{work}/a.json')
    check('dump_is_config', ok(a, 'table_dump') == {'tables': CONFIG['tables']})
    check('dump_one', ok(a, 'table_dump', 'table=nexthop') == CONFIG['tables']['nexthop'])
    e = json.dumps

    r = ok(a, 'table_add', 'table=nexthop', 'entry=' + e(nexthop(3, 0, '02:00:00:00:00:03')))
    check('add_reply', r['committed'] == 1 and r['build_us'] > 0 and r['wait_us'] >= 0, r)
    ok(a, 'table_add', 'table=ipv4_lpm', 'entry=' + e(route('10.10.0.0/16', 3)))
    ok(a, 'table_modify', 'table=ipv4_lpm', 'entry=' + e(route('10.9.0.0/24', 2)))
    ok(a, 'table_delete', 'table=ipv4_lpm', 'entry=' + e({'key': {'dst_addr': '10.9.1.0/24'}}))
    v4 = ok(a, 'table_dump', 'table=ipv4_lpm')
    want = [route(p_, 1) for p_ in ROUTES if p_ != '10.9.1.0/24']
    want[0] = route('10.9.0.0/24', 2)
    want.append(route('10.10.0.0/16', 3))
    check('add_modify_delete', v4 == want, v4[:3])

    ops = [{'op': 'add', 'table': 'ipv6_lpm', 'entry': route('::/0', 3)},
           {'op': 'modify', 'table': 'nexthop', 'entry': nexthop(3, 2, '02:00:00:00:00:33')},
           {'op': 'delete', 'table': 'ipv4_lpm', 'entry': {'key': {'dst_addr': '10.10.0.0/16'}}}]
    r = ok(a, 'table_batch', 'ops=' + e(ops))
    check('batch_reply', r['committed'] == 3, r)
    check('batch_applied', ok(a, 'table_dump', 'table=ipv6_lpm') ==
          [route('::/0', 3), route('2001:db8::/32', 2)] and
          ok(a, 'table_dump', 'table=nexthop')[2] == nexthop(3, 2, '02:00:00:00:00:33'))

    before = ok(a, 'table_dump')

    def refused(name, args, want):
        rc, out, err = run(a, *args)
        check(name, rc == 1 and out == '' and err == f'softfino-ctl: {want}', f'exit {rc}: {err!r}')
        check(f'{name}_changed_nothing', ok(a, 'table_dump') == before)

    good = {'op': 'add', 'table': 'ipv4_lpm', 'entry': route('10.11.0.0/16', 1)}
    refused('unknown_table', ['table_add', 'table=ipv4', 'entry=' + e(route('10.1.0.0/16', 1))],
            "table: no such table 'ipv4' in this program (it has 'nexthop', 'ipv4_lpm', "
            "'ipv6_lpm')")
    refused('bad_prefix', ['table_add', 'table=ipv4_lpm', 'entry=' + e(route('10.1.0.0/33', 1))],
            "entry.key.dst_addr: '10.1.0.0/33' has a bad prefix length: expected 0-32")
    refused('host_bits', ['table_add', 'table=ipv4_lpm', 'entry=' + e(route('10.1.2.3/16', 1))],
            "entry.key.dst_addr: '10.1.2.3/16' has host bits set past /16; did you mean "
            "10.1.0.0/16?")
    refused('wrong_family', ['table_add', 'table=ipv6_lpm', 'entry=' + e(route('10.1.0.0/16', 1))],
            "entry.key.dst_addr: '10.1.0.0/16' is not an IPv6 prefix: '10.1.0.0' is not an IPv6 "
            "address")
    refused('duplicate_add', ['table_add', 'table=ipv4_lpm', 'entry=' + e(route(ROUTES[5], 2))],
            f'entry.key.dst_addr: route {ROUTES[5]} already exists in ipv4_lpm; use modify to '
            'change it')
    refused('delete_missing', ['table_delete', 'table=ipv4_lpm',
                               'entry=' + e({'key': {'dst_addr': '10.1.0.0/16'}})],
            'entry.key.dst_addr: no route 10.1.0.0/16 in ipv4_lpm')
    refused('modify_missing', ['table_modify', 'table=nexthop',
                               'entry=' + e(nexthop(9, 1, '02:00:00:00:00:09'))],
            'entry.key.nexthop_id: nexthop_id 9 does not exist; use add to create it')
    refused('nexthop_in_use', ['table_delete', 'table=nexthop',
                               'entry=' + e({'key': {'nexthop_id': 1}})],
            'entry.key.nexthop_id: nexthop_id 1 is used by 62 route(s); delete them or move them '
            'to another next hop first')
    refused('batch_all_or_nothing',
            ['table_batch', 'ops=' + e([good, {'op': 'add', 'table': 'ipv4_lpm',
                                               'entry': route('10.12.0.0/16', 7)}])],
            'ops[1].entry.data.nexthop_id: nexthop_id 7 is not in the nexthop table')
    refused('batch_bad_op', ['table_batch', 'ops=' + e([good, {'op': 'upsert'}])],
            "ops[1].op: unknown op 'upsert' (expected 'add', 'modify', 'delete')")
    # A full table is covered by the unit tests: that batch exceeds a request's 64 KiB.
    refused('clear_in_use', ['table_clear', 'table=nexthop'],
            'nexthop[0].key.nexthop_id: nexthop_id 1 is used by 62 route(s); delete them or move '
            'them to another next hop first')
    refused('missing_entry', ['table_add', 'table=ipv4_lpm'],
            'entry: missing; give the entry as in the config file, e.g. '
            'entry=\'{"key": {...}, "action": "...", "data": {...}}\'')

    r = ok(a, 'table_clear', 'table=ipv4_lpm')
    check('clear', r['committed'] == 63 and ok(a, 'table_dump', 'table=ipv4_lpm') == [], r)
    stop(p, a)


def part2():
    b = 'b'
    # 64 destinations, one per route, 64-byte frames.
    pkts = [Ether() / IP(dst=f'10.9.{r}.1') / UDP() / Raw(b'x' * 18) for r in range(64)]
    wrpcap(f'{work}/flow.pcap', pkts)
    p = start(b, f'{work}/flow.pcap', True, f'{work}/b.json')
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(f'{runtime_base}/dpdk/{prefix}{b}/softfino.sock')
    f = sock.makefile('rw')

    def call(cmd, args, i=[0]):
        i[0] += 1
        f.write(json.dumps({'id': i[0], 'cmd': cmd, 'args': args}) + '\n')
        f.flush()
        return json.loads(f.readline())

    def tx():
        ports = call('ports', {})['result']
        return [q['tx_packets'] for q in ports], ports[0]['rx_packets']

    _, rx_start = tx()
    commits, errors, late, build, wait = 400, [], [], [], []
    for c in range(commits):
        nh = 2 if c % 2 == 0 else 1
        ops = [{'op': 'modify', 'table': 'ipv4_lpm', 'entry': route(p_, nh)} for p_ in ROUTES]
        r = call('table_batch', {'ops': ops})
        if not r['ok']:
            errors.append(r)
            continue
        build.append(r['result']['build_us'])
        wait.append(r['result']['wait_us'])
        if c % 40 == 0:
            # After the grace period no pipe uses the old routes; give the
            # TM queues time to drain, then the old port must stay idle.
            time.sleep(0.02)
            t1, _ = tx()
            time.sleep(0.05)
            t2, _ = tx()
            old = 1 if nh == 2 else 2
            if t2[old] != t1[old] or t2[nh] <= t1[nh]:
                late.append((c, t1, t2))
    _, rx_end = tx()
    sock.close()
    stop(p, b)
    check('batches_committed', not errors, errors[:2])
    check('traffic_flowed_during_commits', rx_end - rx_start > 100_000, rx_end - rx_start)
    check('old_port_idle_after_commit', not late, late[:3])
    stats = json.load(open(f'{work}/b.json'))
    ports, totals = stats['ports'], stats['totals']
    check('nothing_dropped', totals['dropped'] == 0 and not any(stats['drops'].values()),
          stats['drops'])
    check('nothing_to_port_0', ports[0]['tx_packets'] == 0, ports[0])
    check('both_next_hops_used', ports[1]['tx_packets'] > 0 and ports[2]['tx_packets'] > 0)
    check('every_packet_out_on_1_or_2',
          ports[1]['tx_packets'] + ports[2]['tx_packets'] == ports[0]['rx_packets'] ==
          totals['received'] == totals['forwarded'], (ports, totals))
    build.sort()
    wait.sort()
    print(f'note {len(build)} commits of 64 route moves while {rx_end - rx_start} packets '
          f'arrived: build median {build[len(build) // 2]:.0f} us, grace wait median '
          f'{wait[len(wait) // 2]:.0f} us (max {wait[-1]:.0f} us)')


try:
    wrpcap(f'{work}/empty.pcap', [])
    json.dump(CONFIG, open(f'{work}/config.json', 'w'))
    part1()
    part2()
finally:
    cleanup()
if failures:
    print(f'{failures} check(s) failed')
    sys.exit(1)
print('all table checks passed')
