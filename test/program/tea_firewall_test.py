#!/usr/bin/python3
"""End to end: softfino's tea_firewall lets outside traffic in only for
connections opened from inside, with its connection table in a
softfino-collector's memory (--tea-table), and every decision equals that of
a plain Python firewall, packet for packet.

  inside host --veth (port 0)-- softfino (tea_firewall) --veth (port 2)-- outside host
                                    |  port 1: RDMA to the collector
                              softfino-collector (own netns; tea.fw)

Nothing is inserted by hand: the switch learns. A packet from inside goes
out unchanged; the first one of a connection hands its reply key to the
switch's slow path, which inserts it into the collector's table through the
handshake port. A packet from outside passes (unchanged, to the inside port)
when its 5-tuple is a known connection's reply: the on-chip cache (64
entries) or one RDMA READ of the table, else it is dropped (firewall_denied).

The reference firewall below walks the packets in the order they are sent:
an inside packet opens its connection; an outside packet passes when its
reversed 5-tuple was opened before it. Learning takes the slow path a moment,
so the traffic comes in three phases with a pause between: (1) inside
packets open most connections; (2) both sides mixed: more connections open,
replies of connections opened in (1) and of connections never opened, and
replies with a wrong port; (3) replies of connections opened in (2). No
reply is sent while its connection may still be on its way to the table.
Then the collector's table must hold exactly the connections opened.
With DEFERRAL remote the packets wait in the shadow rows (TEA's own way).
With PIPES 2, two pipes: pipe 0 reads the inside and outside ports and does
every lookup, pipe 1 reads the collector's port and sends every answer on to
pipe 0 (answers_steered), as in tea_nat_test.py.
  tea_firewall_test.py SOFTFINO SOFTFINO_COLLECTOR [DEFERRAL [PIPES]]
"""
import json
import random
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import AsyncSniffer, Ether, IP, TCP, UDP, Raw, sendp, raw

from live_harness import (CollectorTestbed, check, finish, require_root, start_program,
                          tagged_id, veth)

softfino, collector = sys.argv[1], sys.argv[2]
deferral = sys.argv[3] if len(sys.argv) > 3 else 'local'
pipes = int(sys.argv[4]) if len(sys.argv) > 4 else 1
require_root()

bed = CollectorTestbed('stw')
out_host, out_sw = f'{bed.tag}o', f'{bed.tag}p'
work = tempfile.mkdtemp(prefix='tea_firewall_test.')
# Remote deferral parks packets in the table's shadow rows; 16 lanes, so that
# a burst of one hot flow (almost) never finds every row of its bucket busy.
SPEC = 'tea.fw:buckets=1024,slots=2' + (',packet=256,lanes=16' if deferral == 'remote' else '')
N_FLOWS = 300
MAC_IN, MAC_OUT = '02:00:00:00:0a:01', '02:00:00:00:0b:01'

rng = random.Random(23)

# Connections from inside: 60% opened in phase 1, 20% in phase 2, 20% never
# (their "replies" are unsolicited traffic from outside).
flows = []
for i in range(N_FLOWS):
    r = rng.random()
    flows.append({
        'src': f'10.1.{i // 200}.{1 + i % 200}', 'dst': f'198.51.100.{1 + rng.randrange(50)}',
        'sport': rng.randrange(1024, 60000), 'dport': rng.choice([53, 80, 443, 8080]),
        'proto': rng.choice([6, 17]), 'opens': 1 if r < 0.6 else 2 if r < 0.8 else None})
weights = [1 / (r + 1) for r in range(N_FLOWS)]  # Zipf-ish popularity by rank
order = list(range(N_FLOWS))
rng.shuffle(order)


def pick(phases):
    while True:
        f = flows[order[rng.choices(range(N_FLOWS), weights)[0]]]
        if f['opens'] in phases:
            return f


def l4(proto, sport, dport):
    return TCP(sport=sport, dport=dport, flags='A', seq=1) if proto == 6 else \
        UDP(sport=sport, dport=dport)


pid_next = [0]


def packet(f, inside, wrong_port=False):
    pid = pid_next[0]
    pid_next[0] += 1
    if inside:
        p = (Ether(src=MAC_IN, dst='02:00:00:00:00:fe') / IP(src=f['src'], dst=f['dst'], id=pid) /
             l4(f['proto'], f['sport'], f['dport']))
    else:
        dport = f['sport'] + 1 if wrong_port else f['sport']
        p = (Ether(src=MAC_OUT, dst='02:00:00:00:00:fe') / IP(src=f['dst'], dst=f['src'], id=pid) /
             l4(f['proto'], f['dport'], dport))
    return pid, p / Raw(b'tfw%06d' % pid + bytes(rng.randrange(10, 40)))


phases = [[], [], []]  # (side, pid, packet) in send order
for f in flows:  # phase 1: every phase-1 connection opens, some twice
    if f['opens'] == 1:
        phases[0].extend(('in', *packet(f, True)) for _ in range(rng.choice([1, 1, 2])))
rng.shuffle(phases[0])
for f in flows:  # every phase-2 connection opens in phase 2
    if f['opens'] == 2:
        phases[1].append(('in', *packet(f, True)))
for _ in range(900):
    r = rng.random()
    if r < 0.35:
        phases[1].append(('in', *packet(pick({1, 2}), True)))
    elif r < 0.8:
        phases[1].append(('out', *packet(pick({1, None}), False)))
    else:
        phases[1].append(('out', *packet(pick({1}), False, wrong_port=True)))
rng.shuffle(phases[1])
for _ in range(300):
    phases[2].append(('out', *packet(pick({1, 2}), False)))

# The reference firewall, in send order.
known = set()
expect = {}  # pid -> side it must come out of, or None (denied)
n_denied = 0
for phase in phases:
    for side, pid, p in phase:
        t = (p[IP].src, p[IP].dst, p[IP].payload.sport, p[IP].payload.dport, p[IP].proto)
        if side == 'in':
            known.add((t[1], t[0], t[3], t[2], t[4]))
            expect[pid] = 'out'
        elif t in known:
            expect[pid] = 'in'
        else:
            expect[pid] = None
            n_denied += 1
sent = {pid: raw(p) for phase in phases for _, pid, p in phase}
n_packets = len(sent)


def pid_of(p):
    return tagged_id(raw(p), b'tfw')


try:
    bed.up()
    veth(out_host, out_sw)
    port = bed.start_collector(collector, [
        '--tea-table', SPEC, '--stats-json', f'{work}/collector.json'])
    if port is None:
        raise SystemExit(1)
    connect = f'{bed.handshake_ip()}:{port}'
    config = {
        'rdma': {'connections': [
            {'name': 'firewall', 'collector': connect, 'region': 'tea.fw', 'port': 1,
             'ip': '10.9.2.1'}]},
        'firewall': {'inside_ports': [0], 'outside_ports': [2], 'table': SPEC},
        # Half a second: nothing here tests timeouts, and a collector starved of
        # CPU on a loaded 2-core box (builds beside the tests) can take 50 ms.
        'tea': {'deferral': deferral, 'cache_entries': 64, 'cache_ways': 4,
                'timeout_us': 500000, 'probe_timeout_us': 2000000},
        'pktgen': [{'app': 0, 'period_us': 5000}],
    }
    sw = start_program(bed, softfino, 'tea_firewall', config, work, [out_sw], pipes,
                       ['--events', f'{work}/events.jsonl'])
    if sw is None:
        raise SystemExit(1)

    got = {}  # pid -> (side, bytes)
    dup = []

    def on(side):
        def f(p):
            pid = pid_of(p)
            if pid is None:
                return
            if pid in got:
                dup.append(pid)
            got[pid] = (side, raw(p))
        return f

    # Only what the switch sends: inside packets on the outside wire and
    # outside packets on the inside wire.
    sniff_out = AsyncSniffer(iface=out_host, store=False, prn=on('out'),
                             lfilter=lambda p: Ether in p and p[Ether].src == MAC_IN)
    sniff_in = AsyncSniffer(iface=bed.host, store=False, prn=on('in'),
                            lfilter=lambda p: Ether in p and p[Ether].src == MAC_OUT)
    sniff_out.start()
    sniff_in.start()
    time.sleep(0.5)
    for k, phase in enumerate(phases):
        for i in range(0, len(phase), 20):
            batch = phase[i:i + 20]
            for side in ('in', 'out'):
                pkts = [p for s, _, p in batch if s == side]
                if pkts:
                    sendp(pkts, iface=bed.host if side == 'in' else out_host, verbose=False,
                          inter=0.0005)
        time.sleep(1.5)  # the slow path inserts what the phase opened

    r = subprocess.run([collector, 'tea', 'stats', '--table', 'tea.fw', '--connect', connect],
                       capture_output=True, text=True, timeout=30)
    table_stats = json.loads(r.stdout) if r.returncode == 0 else {}
    sniff_out.stop()
    sniff_in.stop()
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    bed.collector.send_signal(signal.SIGTERM)
    bed.collector.wait(timeout=30)
    check('both exit cleanly', sw.returncode == 0 and bed.collector.returncode == 0,
          f'switch {sw.returncode}, collector {bed.collector.returncode}')

    want = {pid: side for pid, side in expect.items() if side is not None}
    missing = sorted(set(want) - set(got))
    extra = sorted(p for p in got if expect.get(p) is None)
    wrong = [p for p in want if p in got and got[p] != (want[p], sent[p])]
    check(f'{len(want)} of {n_packets} packets forwarded unchanged, to the side the reference '
          'firewall says', not missing and not wrong, f'missing {missing[:5]}, wrong {wrong[:3]}')
    check(f'{n_denied} packets from outside without a connection denied', not extra, extra[:5])
    check('no packet twice', not dup, dup[:5])

    with open(f'{work}/switch.json') as fh:
        stats = json.load(fh)
    program = stats.get('program', {})
    check(f'{pipes} pipe(s)', len(program['pipes']) == pipes, len(program['pipes']))
    p0 = program['pipes'][0]
    if pipes == 2:
        p1 = program['pipes'][1]
        print(f"pipe 1 steered {p1['answers_steered']} answers to pipe 0 "
              f"({p0['found'] + p0['not_found']} READs answered there)")
        check('pipe 1 looked nothing up: its port is the collector\'s',
              p1['cache_hits'] + p1['cache_misses'] == 0, p1)
        check('every answer pipe 0 resumed a lookup with came through pipe 1 (steered)',
              p1['answers_steered'] >= p0['found'] + p0['not_found'] > 0 and
              p0['answers_steered'] == 0, p1)
        check('no answer was for an unknown queue pair',
              p0['answers_unknown_qp'] + p1['answers_unknown_qp'] == 0)
    slow = program['slow_path']
    drops = stats.get('drops', {})
    print(f'switch drops: {drops}')
    print(f'pipe: {json.dumps(p0)}')
    print(f'slow path: {json.dumps(slow)}, table: {table_stats}')
    check('denials counted as firewall_denied',
          drops.get('firewall_denied', 0) == n_denied and p0['denied'] == n_denied,
          (drops.get('firewall_denied'), p0['denied'], n_denied))
    check('outside packets went through the cache and through READs (found and not found)',
          p0['cache_hits'] > 0 and p0['found'] > 0 and p0['not_found'] > 0, p0)
    check('no lookup lost or refused', p0['timeouts'] == 0 and p0['queue_full'] == 0 and
          p0['recovering'] == 0, p0)
    check(f'the slow path inserted each of the {len(known)} connections opened, once',
          slow['inserts'] == len(known) and slow['insert_failures'] == 0 and
          slow['backlog'] == 0, slow)
    check('the collector\'s table holds exactly them', table_stats.get('entries') == len(known),
          table_stats)
finally:
    bed.down()
    subprocess.run(['ip', 'link', 'del', out_host], stderr=subprocess.DEVNULL)

finish()
