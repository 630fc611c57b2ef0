#!/usr/bin/python3
"""End to end: softfino's tea_nat translates a workload with its NAT table in
a softfino-collector's memory (--tea-table), and every decision equals that
of a plain Python NAT, packet for packet.

  inside host --veth (port 0)-- softfino (tea_nat) --veth (port 2)-- outside host
                                    |  port 1: RDMA to the collector
                              softfino-collector (own netns; tea.out, tea.in)

The control plane (this script, through `softfino-collector tea insert`)
inserts both entries of most flows: (inside 5-tuple) -> public address and
port in tea.out, and (the reply's 5-tuple as the outside sends it) -> the
inside address and port in tea.in. The rest have no entry. Packets from
inside and replies from outside go out with Zipf popularity, each with an
id in its payload. The truth is computed here with scapy from the entries
alone (checksums recomputed from scratch, not incrementally): each packet is
translated to exact bytes, or dropped when its flow has no entry. Then the
collector is stopped (SIGSTOP) while new flows arrive: their READs go
unanswered, time out and are counted, and the late answers after SIGCONT
resume nothing (unexpected PSN).
With DEFERRAL remote the packets wait in the tables' shadow rows in the
collector's memory (TEA's own way) instead of on the switch.
With PIPES 2 the switch runs two pipes, each port's one queue read by one
of them: ports 0 and 2 (inside, outside) by pipe 0, which does every
lookup, the collector's port 1 by pipe 1, which receives every answer and
must send it to pipe 0 through pipe 0's recirculation port
(answers_steered); pipe 0's READs (and in remote deferral its shadow
WRITEs, which pipe 1's egress turns into READs) leave through pipe 1.
  tea_nat_test.py SOFTFINO SOFTFINO_COLLECTOR [DEFERRAL [PIPES]]
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import AsyncSniffer, Ether, IP, TCP, UDP, Raw, sendp, raw

from live_harness import (CollectorTestbed, check, finish, histogram_quantile, require_root,
                          tagged_id, tea_insert, tea_nat_config, start_tea_nat, veth)

softfino, collector = sys.argv[1], sys.argv[2]
deferral = sys.argv[3] if len(sys.argv) > 3 else 'local'
pipes = int(sys.argv[4]) if len(sys.argv) > 4 else 1
require_root()

bed = CollectorTestbed('stn')
out_host, out_sw = f'{bed.tag}o', f'{bed.tag}p'
work = tempfile.mkdtemp(prefix='tea_nat_test.')
BUCKETS, SLOTS = 1024, 2
# Remote deferral parks packets in the tables' shadow rows (packet=P bytes,
# lanes=L rows per bucket), so the tables have them then.
SHADOW = ',packet=256,lanes=4' if deferral == 'remote' else ''
OUT_SPEC = f'tea.out:buckets={BUCKETS},slots={SLOTS}{SHADOW}'
IN_SPEC = f'tea.in:buckets={BUCKETS},slots={SLOTS}{SHADOW}'
PUBLIC = '203.0.113.7'
N_FLOWS, N_PACKETS, N_STALLED = 300, 1500, 20
# Well above a READ's round trip on a loaded 2-core box under ASan (tens of ms).
TIMEOUT_US = 100000
MAC_IN, MAC_OUT = '02:00:00:00:0a:01', '02:00:00:00:0b:01'

rng = random.Random(11)


def five_tuple(src, dst, sport, dport, proto):
    return {'src': src, 'dst': dst, 'sport': sport, 'dport': dport, 'proto': proto}


# Flows: inside host -> server, TCP or UDP; 85% get a translation.
flows = []
for i in range(N_FLOWS):
    flows.append({
        'src': f'10.1.{i // 200}.{1 + i % 200}', 'dst': f'198.51.100.{1 + rng.randrange(50)}',
        'sport': rng.randrange(1024, 60000), 'dport': rng.choice([53, 80, 443, 8080]),
        'proto': rng.choice([6, 17]), 'public_port': 20000 + i,
        'entry': rng.random() < 0.85})
forward = {}  # (src, dst, sport, dport, proto) -> (ip, port)
reverse = {}
requests = []
for f in flows:
    if not f['entry']:
        continue
    key_out = (f['src'], f['dst'], f['sport'], f['dport'], f['proto'])
    key_in = (f['dst'], PUBLIC, f['dport'], f['public_port'], f['proto'])
    forward[key_out] = (PUBLIC, f['public_port'])
    reverse[key_in] = (f['src'], f['sport'])
    # Value: address (63..32), port (31..16), 0: the side's first port.
    def value(ip, port):
        a = [int(x) for x in ip.split('.')]
        return f'0x{(a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]) << 32 | port << 16:016x}'
    requests.append({'op': 'insert', 'table': 'tea.out', 'key': five_tuple(*key_out),
                     'value': value(PUBLIC, f['public_port'])})
    requests.append({'op': 'insert', 'table': 'tea.in', 'key': five_tuple(*key_in),
                     'value': value(f['src'], f['sport'])})


def l4(proto, sport, dport):
    return TCP(sport=sport, dport=dport, flags='A', seq=1) if proto == 6 else \
        UDP(sport=sport, dport=dport)


def packet(src, dst, sport, dport, proto, pid, mac):
    return (Ether(src=mac, dst='02:00:00:00:00:fe') / IP(src=src, dst=dst, ttl=64, id=pid) /
            l4(proto, sport, dport) / Raw(b'tea%06d' % pid + bytes(rng.randrange(10, 40))))


def translated(pkt, source, ip, port):
    """What a NAT makes of pkt: scapy recomputes every checksum."""
    p = pkt.copy()
    if source:
        p[IP].src, p[IP].payload.sport = ip, port
    else:
        p[IP].dst, p[IP].payload.dport = ip, port
    del p[IP].chksum
    del p[IP].payload.chksum
    return raw(Ether(raw(p)))


# The workload: Zipf-ish popularity (rank r with weight 1/(r+1)), forward
# and reply packets mixed; the reference decision for each.
weights = [1 / (r + 1) for r in range(N_FLOWS)]
order = list(range(N_FLOWS))
rng.shuffle(order)
sent_in, sent_out, expect = [], [], {}  # id -> (iface side, bytes) or None
for pid in range(N_PACKETS):
    f = flows[order[rng.choices(range(N_FLOWS), weights)[0]]]
    if rng.random() < 0.6:
        pkt = packet(f['src'], f['dst'], f['sport'], f['dport'], f['proto'], pid, MAC_IN)
        t = forward.get((f['src'], f['dst'], f['sport'], f['dport'], f['proto']))
        expect[pid] = ('out', translated(pkt, True, *t)) if t else None
        sent_in.append(pkt)
    else:
        pkt = packet(f['dst'], PUBLIC, f['dport'], f['public_port'], f['proto'], pid, MAC_OUT)
        t = reverse.get((f['dst'], PUBLIC, f['dport'], f['public_port'], f['proto']))
        expect[pid] = ('in', translated(pkt, False, *t)) if t else None
        sent_out.append(pkt)


def pid_of(p):
    return tagged_id(raw(p), b'tea')


try:
    bed.up()
    veth(out_host, out_sw)
    port = bed.start_collector(collector, [
        '--tea-table', OUT_SPEC, '--tea-table', IN_SPEC,
        '--stats-json', f'{work}/collector.json'])
    if port is None:
        raise SystemExit(1)
    connect = f'{bed.handshake_ip()}:{port}'
    tea_insert(collector, connect, requests, work)

    config = tea_nat_config(connect, OUT_SPEC, IN_SPEC, {
        'deferral': deferral, 'cache_entries': 64, 'cache_ways': 4,
        # Probes only after the stop below: a queue pair that waits for a
        # recovery probe sends no lookups (rdma_recovering).
        'timeout_us': TIMEOUT_US, 'probe_timeout_us': 2000000})
    config['pktgen'] = [{'app': 0, 'period_us': 5000}]
    sw = start_tea_nat(bed, softfino, config, work, [out_sw], pipes)
    if sw is None:
        raise SystemExit(1)

    got = {}  # id -> (side, bytes)
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

    # Only what the switch sends: translated forward packets leave from
    # PUBLIC, translated replies go to an inside address.
    sniff_out = AsyncSniffer(iface=out_host, store=False, prn=on('out'),
                             lfilter=lambda p: IP in p and p[IP].src == PUBLIC)
    sniff_in = AsyncSniffer(iface=bed.host, store=False, prn=on('in'),
                            lfilter=lambda p: IP in p and p[IP].dst.startswith('10.1.'))
    sniff_out.start()
    sniff_in.start()
    time.sleep(0.5)
    # Paced, both sides interleaved in batches.
    bi, bo = 0, 0
    while bi < len(sent_in) or bo < len(sent_out):
        sendp(sent_in[bi:bi + 20], iface=bed.host, verbose=False, inter=0.0005)
        sendp(sent_out[bo:bo + 14], iface=out_host, verbose=False, inter=0.0005)
        bi, bo = bi + 20, bo + 14
    time.sleep(1.0)

    # The collector stops answering: new flows' lookups time out.
    col = bed.collector
    stalled = []
    for i in range(N_STALLED):
        f = flows[order[-1 - i]]  # the least popular: not cached
        if not f['entry']:
            continue
        pid = N_PACKETS + i
        stalled.append(pid)
        sendp(packet(f['src'], f['dst'], f['sport'], f['dport'], f['proto'], pid, MAC_IN),
              iface=bed.host, verbose=False)
    time.sleep(0.3)
    os.kill(col.pid, signal.SIGSTOP)  # (the ip netns exec process execs the collector)
    time.sleep(0.05)
    stalled_sent = []
    for i in range(N_STALLED):
        f = flows[order[-1 - i]]
        pid = N_PACKETS + 100 + i
        stalled_sent.append(pid)
        sendp(packet(f['src'], f['dst'], f['sport'] + 1, f['dport'], f['proto'], pid, MAC_IN),
              iface=bed.host, verbose=False)
    time.sleep(3 * TIMEOUT_US / 1e6 + 0.3)
    os.kill(col.pid, signal.SIGCONT)
    time.sleep(1.0)
    sniff_out.stop()
    sniff_in.stop()
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    col.send_signal(signal.SIGTERM)
    col.wait(timeout=30)
    check('both exit cleanly', sw.returncode == 0 and col.returncode == 0,
          f'switch {sw.returncode}, collector {col.returncode}')

    with open(f'{work}/switch.json') as fh:
        stats = json.load(fh)
    program = stats.get('program', {})
    drops = stats.get('drops', {})
    check(f'{pipes} pipe(s)', len(program['pipes']) == pipes, len(program['pipes']))
    # The tables' counters of all pipes together.
    p0 = {d: {k: (sum(p[d][k] for p in program['pipes']) if k != 'latency_ns' else
                  [b for p in program['pipes'] for b in p[d][k]])
              for k, v in program['pipes'][0][d].items()
              if isinstance(v, int) or k == 'latency_ns'}
          for d in ('out', 'in')}
    if pipes == 2:
        p0_, p1 = program['pipes']
        answered = sum(p0_[d]['found'] + p0_[d]['not_found'] for d in ('out', 'in'))
        print(f"pipe 1 steered {p1['answers_steered']} answers to pipe 0 "
              f"({answered} READs answered there)")
        check('pipe 1 looked nothing up: its ports are the collector\'s',
              all(p1[d]['cache_hits'] + p1[d]['cache_misses'] == 0 for d in ('out', 'in')), p1)
        check('every answer pipe 0 resumed a lookup with came through pipe 1 (steered)',
              answered > 0 and p1['answers_steered'] >= answered and
              p0_['answers_steered'] == 0, (p1['answers_steered'], answered))
        check('no answer was for an unknown queue pair',
              p0_['answers_unknown_qp'] + p1['answers_unknown_qp'] == 0)
    # Remote deferral: a packet whose key's rows are all busy (every lane
    # of its h holds a packet in flight) is dropped, counted (shadow_busy).
    # Scapy sends in bursts, so a hot flow can have more packets in flight
    # than lanes. Local deferral has no such drop (shadow_busy is 0).
    shadow_busy = p0['out']['shadow_busy'] + p0['in']['shadow_busy']
    print(f'shadow_busy: {shadow_busy}')

    want = {pid: e for pid, e in expect.items() if e is not None}
    missing = sorted(set(want) - set(got))
    extra = sorted(p for p in got if p < N_PACKETS and p not in want)
    wrong = [p for p in want if p in got and got[p] != want[p]]
    check(f'{len(want)} of {N_PACKETS} packets translated exactly as the reference NAT does',
          len(missing) <= shadow_busy and not wrong,
          f'missing {missing[:5]} ({len(missing)}; shadow_busy {shadow_busy}), wrong {wrong[:3]}')
    if wrong:
        p = wrong[0]
        print('got ', Ether(got[p][1]).show(dump=True))
        print('want', Ether(want[p][1]).show(dump=True))
    check(f'{N_PACKETS - len(want)} packets of flows without an entry dropped', not extra, extra[:5])
    check('no packet twice', not dup, dup[:5])

    print(f'switch drops: {drops}')
    # The READ round trip over the veth to the collector, as the switch saw it.
    latency = sorted(p0['out']['latency_ns'] + p0['in']['latency_ns'])
    merged = {}
    for start, count in latency:
        merged[start] = merged.get(start, 0) + count
    buckets = sorted(merged.items())
    print(f'lookup round trip ({deferral}): p50 >= {histogram_quantile(buckets, 0.5)} ns, '
          f'p99 >= {histogram_quantile(buckets, 0.99)} ns over {sum(merged.values())} READs')
    check('every answered READ is in the latency histogram',
          sum(merged.values()) == sum(p0[d]['found'] + p0[d]['not_found'] for d in ('out', 'in')))
    print(f"out: {json.dumps(p0['out'])}")
    print(f"in:  {json.dumps(p0['in'])}")
    n_fwd_no_entry = sum(1 for pid, e in expect.items() if e is None)
    lookups = sum(p0[d]['cache_hits'] + p0[d]['cache_misses'] for d in ('out', 'in'))
    check('every packet was looked up once (cache hit or READ)',
          lookups == N_PACKETS + len(stalled) + len(stalled_sent), lookups)
    check('the cache served the hot flows and READs the rest',
          p0['out']['cache_hits'] > 0 and p0['out']['reads'] > 0 and p0['in']['reads'] > 0)
    busy_no_entry = shadow_busy - len(missing)  # shadow_busy drops of flows without an entry
    check('flows without an entry are counted as tea_no_entry (or shadow_busy)',
          drops.get('tea_no_entry', 0) + busy_no_entry == n_fwd_no_entry and
          p0['out']['no_entry'] + p0['in']['no_entry'] + busy_no_entry == n_fwd_no_entry,
          (drops.get('tea_no_entry'), busy_no_entry, n_fwd_no_entry))
    late = [p for p in stalled_sent if p in got]
    check(f'{len(stalled_sent)} lookups unanswered while the collector stopped: none resumed',
          not late, late)
    timeouts = p0['out']['timeouts']
    check('they timed out, counted', timeouts == len(stalled_sent), timeouts)
    check('their late answers matched no lookup (tea_unexpected_psn)',
          drops.get('tea_unexpected_psn', 0) == len(stalled_sent), drops)
    check('the lookups before the stop were answered',
          all(p in got for p in stalled), [p for p in stalled if p not in got])
finally:
    bed.down()
    subprocess.run(['ip', 'link', 'del', out_host], stderr=subprocess.DEVNULL)

finish()
