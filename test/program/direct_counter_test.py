#!/usr/bin/python3
"""l3fwd's nexthop table, direct counter and idle timeout, against a running
softfino replaying a pcap in virtual time, checked against what this script
computes from the pcap itself (scapy, longest-prefix match over the config
with ipaddress), never against the switch's own output.

Counters: after the replay, table_counter_read and table_dump counters=true
give, for every next hop, the packets and bytes of every packet routed to it
(TTL-expired ones included: the table applies before the TTL check, while
counter nexthop_counter counts only what was forwarded); clearing one entry
zeroes it alone, clearing all zeroes all; refused requests say why and change
nothing.

Idle timeout: next hops 1-5 have "ttl_ms": 40, next hop 100 none. Over 300 ms
of pcap time, next hops 1 and 2 are hit every 3 ms to the end, 3 every 6 ms
or less until 150 ms, 5 (only TTL-expired packets: hits, never forwarded)
every 12 ms until 150 ms and every 3 ms until 200 ms, 4 and 100 never. Exactly 3, 4 and 5 must be reported, once each, 3 and 5 with the pcap
time of their last packet as last_hit_ns, 4 with 0. With two pipes the pcap
is split over two RX queues, each pipe's clock runs on its own, and the
reports must still be exactly these.
  direct_counter_test.py SOFTFINO SOFTFINO_CTL [PIPES]
"""
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from live_harness import check, failures, wait_until  # noqa: E402
from live_harness import ctl_call as harness_ctl_call  # noqa: E402
from scapy.all import Ether, IP, IPv6, UDP, Raw, rdpcap, wrpcap  # noqa: E402

softfino, ctl = sys.argv[1], sys.argv[2]
pipes = int(sys.argv[3]) if len(sys.argv) > 3 else 1
work = tempfile.mkdtemp(prefix='softfino-dcounter.')
TTL_MS = 40

# --- The config: the l3fwd program test's, next hops 1-5 with a TTL -------
here = os.path.dirname(os.path.abspath(__file__))
config = json.load(open(os.path.join(here, 'l3fwd_test_config.json')))
for e in config['tables']['nexthop']:
    if e['key']['nexthop_id'] != 100:
        e['ttl_ms'] = TTL_MS
json.dump(config, open(f'{work}/config.json', 'w'))
ttl_of = {e['key']['nexthop_id']: e.get('ttl_ms', 0) for e in config['tables']['nexthop']}
routes = {4: [], 6: []}
for family, table in ((4, 'ipv4_lpm'), (6, 'ipv6_lpm')):
    for e in config['tables'][table]:
        routes[family].append((ipaddress.ip_network(e['key']['dst_addr']), e['data']['nexthop_id']))


def route_of(p):
    """The next hop the config routes p to (a hit of the nexthop table), 0 for none."""
    addr = ipaddress.ip_address(p[IP].dst if IP in p else p[IPv6].dst)
    best = max(((n.prefixlen, nh) for n, nh in routes[4 if IP in p else 6] if addr in n),
                default=None)
    return best[1] if best else 0


def forwarded(p):
    return (p[IP].ttl if IP in p else p[IPv6].hlim) > 1


# --- The workload: one packet a millisecond for 300 ms ---------------------
def eth():
    return Ether(src='02:00:00:00:00:aa', dst='02:00:00:00:00:bb')


BASE_S = 1000  # small, so that float times are exact to the microsecond
pkts = []
for k in range(300):
    if k % 3 == 0:    # next hop 1 (10.0.0.0/8)
        p = eth() / IP(dst='10.200.0.1') / UDP() / Raw(b'a' * (k * 7 % 300))
    elif k % 3 == 1:  # next hop 2, IPv4 and IPv6 in turn
        p = (eth() / IP(dst='100.64.1.1') if k % 2 else eth() / IPv6(dst='2001:db8:1:7::1')) / \
            UDP() / Raw(b'b' * (k * 11 % 500))
    elif k < 150 and k % 12 != 8:  # next hop 3, IPv4 and IPv6, some with TTL 1
        p = (eth() / IP(dst='10.1.2.5', ttl=1 if k % 5 == 0 else 64) if k % 2 else
             eth() / IPv6(dst='2001:db8:1:2::9')) / UDP() / Raw(b'c' * (k * 13 % 900))
    elif k < 200:     # next hop 5, TTL 1 only: routed (a hit), then dropped
        p = eth() / IP(dst='10.1.2.200', ttl=1) / UDP() / Raw(b'd' * (k % 50))
    else:             # no route
        p = eth() / IP(dst='9.9.9.9') / UDP() / Raw(b'e' * 20)
    p.time = BASE_S + k / 1000
    pkts.append(p)
queues = [pkts] if pipes == 1 else [pkts[q::pipes] for q in range(pipes)]
for q, qp in enumerate(queues):
    wrpcap(f'{work}/in{q}.pcap', qp)
wrpcap(f'{work}/empty.pcap', [])

# --- The oracle, from the pcaps as written --------------------------------
read = sorted((p for q in range(len(queues)) for p in rdpcap(f'{work}/in{q}.pcap')),
              key=lambda p: p.time)
assert len(read) == len(pkts)
ns = [round(p.time * 1_000_000) * 1000 for p in read]  # pcap times are microseconds
want = {nh: {'packets': 0, 'bytes': 0} for nh in ttl_of}
hits = {nh: [] for nh in ttl_of}
forwarded_to = {nh: [0, 0] for nh in ttl_of}
for p, t in zip(read, ns):
    nh = route_of(p)
    if nh:
        want[nh]['packets'] += 1
        want[nh]['bytes'] += len(p)
        hits[nh].append(t)
        if forwarded(p):
            forwarded_to[nh][0] += 1
            forwarded_to[nh][1] += len(p)
first_ns, end_ns = ns[0], ns[-1]
# The switch's time begins about its first burst (at most 32 packets, ms
# apart); margins below keep every verdict far from that edge, and away from
# when a sweep happens to run (an idle period inside the replay would be
# reported only if a sweep ran during it: the workload has none).
MARGIN_NS = 15 * 1_000_000
FIRST_BURSTS_NS = 32 * pipes * 1_000_000  # how late the switch's time may begin
ttl_ns = TTL_MS * 1_000_000
want_idle = {}
for nh, ttl in ttl_of.items():
    if ttl == 0:
        continue
    h = hits[nh]
    gaps = [b - a for a, b in zip([first_ns] + h, h)]
    assert all(g < ttl_ns - MARGIN_NS / 4 for g in gaps), (nh, max(gaps))
    last = h[-1] if h else 0
    idle_for = end_ns - (last or first_ns)
    assert abs(idle_for - ttl_ns) > MARGIN_NS, (nh, idle_for)
    assert last or idle_for - FIRST_BURSTS_NS > ttl_ns + MARGIN_NS, (nh, idle_for)
    if idle_for > ttl_ns:
        want_idle[nh] = last
assert sorted(want_idle) == [3, 4, 5] and want_idle[4] == 0, want_idle  # the workload's intent
assert want[5]['packets'] > 0 and forwarded_to[5][0] == 0
assert sum(1 for p in read if route_of(p) == 3 and not forwarded(p)) > 0


# --- The switch -------------------------------------------------------------
def ctl_call(*args):
    return harness_ctl_call(ctl, sock, *args)


def rx_packets():
    ports, _ = ctl_call('ports')
    return sum(p['rx_packets'] for p in ports) if ports else -1


sock = f'{work}/dc.sock'
cpus = os.cpu_count()
lcores = '0@0' + ''.join(f',{q}@{q % cpus}' for q in range(1, pipes + 1)) if pipes > 1 else '0@0'
vdevs = ['net_pcap0' + ''.join(f',rx_pcap={work}/in{q}.pcap,tx_pcap={work}/out0_q{q}.pcap'
                               for q in range(pipes))]
for port in (1, 2):
    vdevs.append(f'net_pcap{port}' + ''.join(
        f',rx_pcap={work}/empty.pcap,tx_pcap={work}/out{port}_q{q}.pcap' for q in range(pipes)))
cmd = [softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '--lcores', lcores,
       '--file-prefix', f'dc{os.getpid()}', '--log-level=error',
       *[f'--vdev={v}' for v in vdevs], '--', '--pipeline', 'l3fwd',
       '--config', f'{work}/config.json', '--control-socket', sock, '--clock', 'virtual',
       '--fp-cores', str(pipes), '--events', f'{work}/events.jsonl']
sw = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
try:
    if not wait_until(lambda: ctl_call('info')[0] is not None or sw.poll() is not None):
        sys.exit(f'FAIL the switch did not answer: {sw.stderr.read()}')
    if sw.poll() is not None:
        sys.exit(f'FAIL the switch exited: {sw.stderr.read()}')
    check(f'{pipes} pipe(s): the replay is received',
          wait_until(lambda: rx_packets() == len(pkts), seconds=30), rx_packets())
    time.sleep(0.3)  # the last bursts leave ingress

    def entries(*nhs):
        return [{'key': {'nexthop_id': nh}, 'counter': want[nh]} for nh in nhs]

    all_nh = sorted(ttl_of)
    got, err = ctl_call('table_counter_read', 'table=nexthop')
    check('table_counter_read = packets/bytes routed to each next hop, from the pcap',
          got == {'table': 'nexthop', 'entries': entries(*all_nh)}, f'{got or err} want {want}')
    got, err = ctl_call('table_counter_read', 'table=nexthop', 'entry={"key": {"nexthop_id": 5}}')
    check('table_counter_read of one entry (5: TTL-expired packets only)',
          got == {'table': 'nexthop', 'entries': entries(5)}, got or err)
    dump, err = ctl_call('table_dump', 'table=nexthop', 'counters=true')
    want_dump = [dict(e, counter=want[e['key']['nexthop_id']]) for e in config['tables']['nexthop']]
    check('table_dump counters=true: the config (ttl_ms included) with each counter',
          dump == want_dump, dump or err)
    plain, err = ctl_call('table_dump', 'table=nexthop')
    check('table_dump without counters is the config', plain == config['tables']['nexthop'],
          plain or err)
    indexed, err = ctl_call('counter_read', 'counter=nexthop_counter', 'from=0', 'to=127')
    check('counter nexthop_counter counts only forwarded packets, the direct counter all hits',
          indexed is not None and all(
              [indexed['entries'][nh]['packets'], indexed['entries'][nh]['bytes']] ==
              forwarded_to[nh] for nh in all_nh if nh < 128)
          and forwarded_to[3][0] < want[3]['packets'], indexed and indexed['entries'][:6])

    # Refused requests change nothing.
    for args, says in (
            (['table_counter_read', 'table=ipv4_lpm'],
             "table: 'ipv4_lpm' has no direct counter (tables with one: 'nexthop')"),
            (['table_counter_clear', 'table=nexthops'],
             "table: no such table 'nexthops' in this program (it has 'nexthop', 'ipv4_lpm', "
             "'ipv6_lpm')"),
            (['table_counter_clear', 'table=nexthop', 'entry={"key": {"nexthop_id": 6}}'],
             'entry.key.nexthop_id: no nexthop_id 6 in the nexthop table'),
            (['table_counter_clear', 'table=nexthop', 'entry={"key": {"nexthop_id": 70000}}'],
             'entry.key.nexthop_id: 70000 is not an integer in 0..65535'),
            (['table_counter_read', 'table=nexthop', 'entry={"key": {"dst_addr": "10.0.0.0/8"}}'],
             "entry.key: unknown field 'dst_addr' (expected 'nexthop_id')"),
            (['table_dump', 'table=nexthop', 'counters=1'],
             'counters: expected true or false, not 1')):
        got, err = ctl_call(*args)
        check(f'{" ".join(args)} refused: {says}', got is None and err == f'softfino-ctl: {says}',
              got or err)
    got, _ = ctl_call('table_counter_read', 'table=nexthop')
    check('refused requests changed nothing', got == {'table': 'nexthop', 'entries': entries(*all_nh)})

    got, err = ctl_call('table_counter_clear', 'table=nexthop', 'entry={"key": {"nexthop_id": 2}}')
    check('table_counter_clear of one entry', got == {'table': 'nexthop', 'cleared': 1}, got or err)
    cleared_2 = {**want, 2: {'packets': 0, 'bytes': 0}}
    got, _ = ctl_call('table_counter_read', 'table=nexthop')
    check('only that entry reads zero', got is not None and got['entries'] == [
        {'key': {'nexthop_id': nh}, 'counter': cleared_2[nh]} for nh in all_nh], got)
    got, err = ctl_call('table_counter_clear', 'table=nexthop')
    check('table_counter_clear of every entry', got == {'table': 'nexthop', 'cleared': len(all_nh)},
          got or err)
    got, _ = ctl_call('table_counter_read', 'table=nexthop')
    check('every entry reads zero', got is not None and all(
        e['counter'] == {'packets': 0, 'bytes': 0} for e in got['entries']) and
        len(got['entries']) == len(all_nh), got)

    # Idle timeout. With one pipe, the slow path sees the replay's end time
    # while the switch runs, so the reports come before it stops.
    if pipes == 1:
        def live():
            got, _ = ctl_call('events')
            return got['events'] if got else []
        wait_until(lambda: len(live()) >= len(want_idle), seconds=10)
        time.sleep(0.2)  # anything more would come now
        got = live()
        check('events (live): exactly next hops 3, 4, 5 idle',
              sorted(e['key']['nexthop_id'] for e in got) == sorted(want_idle), got)
finally:
    sw.terminate()
    try:
        sw.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sw.kill()
check('switch exits 0 on SIGTERM', sw.returncode == 0, f'rc {sw.returncode}: {sw.stderr.read()[-2000:]}')

events = [json.loads(line) for line in open(f'{work}/events.jsonl')]
idle = [e for e in events if e.get('event') == 'idle_timeout']
check('--events: only idle_timeout events', len(idle) == len(events), events)
got_ids = sorted(e['key']['nexthop_id'] for e in idle)
check(f'{pipes} pipe(s): exactly the idle next hops reported, once each',
      got_ids == sorted(want_idle), f'{got_ids} want {sorted(want_idle)}')
for e in idle:
    nh = e['key']['nexthop_id']
    if nh not in want_idle:
        continue
    check(f'next hop {nh}: last_hit_ns is the pcap time of its last packet ({want_idle[nh]})',
          e['last_hit_ns'] == want_idle[nh], e)
    since = want_idle[nh] or first_ns
    check(f'next hop {nh}: reported at a pipe time past its TTL, within the replay',
          e['table'] == 'nexthop' and e['ttl_ms'] == TTL_MS and
          since + ttl_ns <= e['now_ns'] <= end_ns, (e, since, end_ns))

shutil.rmtree(work, ignore_errors=True)
if failures:
    print(f'{len(failures)} check(s) failed')
    sys.exit(1)
print('all direct counter and idle timeout checks passed')
