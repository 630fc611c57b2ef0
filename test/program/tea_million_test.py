#!/usr/bin/python3
"""TEA at scale, through the real binaries: a million flows through
softfino's tea_nat or tea_firewall, their table in a softfino-collector's
memory, and every decision equal to a plain in-memory NAT or firewall in
Python, packet for packet.

  inside host --veth (port 0)-- softfino --veth (port 2)-- outside host
                                    |  port 1: RDMA to the collector
                              softfino-collector (own netns)

  tea_million_test.py SOFTFINO SOFTFINO_COLLECTOR nat|firewall local|remote
                      [--flows N] [--rate PPS] [--cache N]

The workload, built here (no code of the switch involved): FLOWS distinct
TCP/UDP flows from inside; each sends one packet, and a fifth as many more
go to flows drawn with Zipf 0.99 popularity, all shuffled. Then the
outside answers every flow once, again a fifth more Zipf-drawn, plus
packets no flow explains. Phase one (inside) is replayed by tcpreplay at
RATE packets/s into port 0, then phase two (outside) into port 2. The
switch's data ports read their veth through libpcap and write what they
send straight into pcap files (nothing lost by a capture), so the check is
exact: every packet out must be byte for byte the reference's output for
that packet (its id is in the payload), on the right port, once; every
packet the reference forwards must come out, or be counted by the switch
as a drop with a reason (printed); every packet the reference drops must
not come out.

nat: the control plane inserts both entries of 90% of the flows through
`softfino-collector tea insert --requests` before the traffic (answers
checked: an insert refused for a full probe window makes that flow one
without an entry in the reference too). The reference rewrites addresses
and ports and recomputes checksums from scratch (the switch updates them
incrementally).
firewall: nothing is inserted; the switch learns each connection from its
first inside packet through its slow path. Phase two starts once the
switch reports every connection inserted; replies of unknown connections
(a wrong port) are denied.

Not part of scripts/test (minutes, and most of this machine): run it by
hand, e.g. `sudo test/program/tea_million_test.py build/src/apps/softfino
build/src/apps/softfino-collector nat remote`; pipelines/tea_nat/README.md
has the last results.
"""
import argparse
import json
import os
import random
import signal
import struct
import subprocess
import tempfile
import time

from live_harness import (EAL, CollectorTestbed, check, finish, histogram_quantile, require_root,
                          veth)

ap = argparse.ArgumentParser()
ap.add_argument('softfino')
ap.add_argument('collector')
ap.add_argument('program', choices=['nat', 'firewall'])
ap.add_argument('deferral', choices=['local', 'remote'])
ap.add_argument('--flows', type=int, default=1_000_000)
ap.add_argument('--rate', type=int, default=20000, help='packets/s into the switch')
ap.add_argument('--cache', type=int, default=4096, help='on-chip cache entries')
ap.add_argument('--keep', action='store_true', help='keep the work folder')
ap.add_argument('--learn', action='store_true',
                help='nat: the switch learns every flow (its slow path allocates the public '
                     'endpoint and inserts both entries) instead of the control plane inserting')
args = ap.parse_args()
require_root()
if args.learn and args.program != 'nat':
    ap.error('--learn is for nat (the firewall always learns)')

F = args.flows
EXTRA = F // 5
rng = random.Random(2026)
work = tempfile.mkdtemp(prefix='tea_million.')
ctl_dir = os.path.join(os.path.dirname(os.path.abspath(args.softfino)), 'softfino-ctl')
# Its own handshake network: may run beside the suite's live tests.
bed = CollectorTestbed('tmf', ctl_net=70)
out_host, out_sw = f'{bed.tag}o', f'{bed.tag}p'
MAC_IN, MAC_OUT, MAC_SW = (bytes.fromhex(m) for m in ('02000000a001', '02000000b001',
                                                      '0200000000fe'))
# Tables: four slots (32 bytes each) a bucket and four per entry: about 60
# of a million inserts find their two-bucket window full. The NAT's control
# plane learns which from the answers (the reference then has no entry),
# but a firewall connection whose insert failed passes or not by whether
# the cache still holds it, which no reference can know; so the firewall's
# buckets have eight slots and eight per entry (a 512-byte window holding 2
# entries on average): a full window is then about 1 in 10^9. Remote
# deferral adds one shadow row a bucket (packets here are under 128 bytes).
SLOTS = 8 if args.program == 'firewall' else 4
BUCKETS = 1 << max(10, (F - 1).bit_length())
SHADOW = ',packet=128,lanes=1' if args.deferral == 'remote' else ''
TAG = b'TM'


# --- packets, built from the definitions (RFC 791/768/793) -------------------
def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip4(text):
    return bytes(int(x) for x in text.split('.'))


def frame(src, dst, sport, dport, proto, pid, pad, mac_src):
    """Ethernet/IPv4/TCP or UDP with correct checksums; payload TAG + 8-digit id."""
    payload = TAG + b'%08d' % pid + bytes(pad)
    if proto == 6:
        l4 = struct.pack('!HHIIBBHHH', sport, dport, 1, 0, 5 << 4, 0x10, 8192, 0, 0) + payload
        at = 16
    else:
        l4 = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
        at = 6
    pseudo = src + dst + struct.pack('!BBH', 0, proto, len(l4))
    c = csum(pseudo + l4)
    if proto == 17 and c == 0:
        c = 0xffff
    l4 = l4[:at] + struct.pack('!H', c) + l4[at + 2:]
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), pid & 0xffff, 0, 64, proto, 0,
                      src, dst)
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    return MAC_SW + mac_src + b'\x08\x00' + hdr + l4


def pid_of(data):
    """The id in the payload (right after the TCP or UDP header), or None."""
    i = 34 + (20 if len(data) > 23 and data[23] == 6 else 8)
    tag = data[i:i + 10]
    return int(tag[2:]) if tag[:2] == TAG and tag[2:].isdigit() else None


def write_pcap(path, frames):
    with open(path, 'wb') as fh:
        fh.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for n, f in enumerate(frames):
            fh.write(struct.pack('<IIII', n // 1000000, n % 1000000, len(f), len(f)))
            fh.write(f)


def read_pcap(path):
    with open(path, 'rb') as fh:
        data = fh.read()
    if len(data) < 24:
        return
    magic = struct.unpack('<I', data[:4])[0]
    e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    at = 24
    while at + 16 <= len(data):
        incl = struct.unpack(e + 'I', data[at + 8:at + 12])[0]
        yield data[at + 16:at + 16 + incl]
        at += 16 + incl


# --- the workload and the reference decisions ---------------------------------
t0 = time.time()
flows = []
for i in range(F):
    flows.append((ip4(f'10.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}'),
                  ip4(f'198.51.{100 + rng.randrange(4)}.{1 + rng.randrange(250)}'),
                  rng.randrange(1024, 60000), rng.choice((53, 80, 443, 8080)),
                  rng.choice((6, 17))))


learned_public = {}  # --learn: flow -> its public endpoint, read from the table


def public(i):  # NAT: each flow its own public address and port
    if args.learn:
        return learned_public[i]
    return ip4(f'100.64.{i // 50000}.1'), 10000 + i % 50000


def zipf_draws(n):
    """n flow indexes, Zipf 0.99 over a random ranking of the flows."""
    ranking = list(range(F))
    rng.shuffle(ranking)
    cum, total = [], 0.0
    for r in range(F):
        total += 1.0 / (r + 1) ** 0.99
        cum.append(total)
    import bisect
    return [ranking[min(F - 1, bisect.bisect_left(cum, rng.random() * total))]
            for _ in range(n)]


inside = list(range(F)) + zipf_draws(EXTRA)
rng.shuffle(inside)
outside = list(range(F)) + zipf_draws(EXTRA) + [-1] * (F // 50)
rng.shuffle(outside)

has_out, has_in = bytearray(F), bytearray(F)  # NAT entries (1: inserted)
if args.program == 'nat':
    for i in range(F):
        if rng.random() < 0.9:
            has_out[i] = has_in[i] = 1
LEARN_BASE = 90_000_000  # --learn: ids of the packets that teach the switch the flows
if args.learn:
    # Phase zero: one packet from inside per flow, in order; each is
    # dropped (no entry yet) and hands its flow to the slow path.
    has_out, has_in = bytearray(b'\1' * F), bytearray(b'\1' * F)
    frames_learn = [frame(*flows[i], LEARN_BASE + i, 0, MAC_IN) for i in range(F)]
    write_pcap(f'{work}/learn.pcap', frames_learn)

frames_in, frames_out = [], []
expect = {}  # pid -> (port, bytes) or None (the reference drops it)
pid = 0
for i in inside:
    src, dst, sport, dport, proto = flows[i]
    pad = rng.randrange(0, 24)
    f = frame(src, dst, sport, dport, proto, pid, pad, MAC_IN)
    frames_in.append(f)
    if args.program == 'firewall':
        expect[pid] = (2, f)
    else:
        expect[pid] = i  # decided after the inserts' answers
    pid += 1
first_outside = pid


def build_outside():
    """The outside's packets (NAT: to each flow's public endpoint)."""
    global pid
    for i in outside:
        pad = rng.randrange(0, 24)
        if i < 0:  # explained by no flow
            j = rng.randrange(F)
            while args.learn and j not in learned_public:
                j = rng.randrange(F)
            src, dst, sport, dport, proto = flows[j]
            if args.program == 'nat':
                pub, _ = public(j)
                f = frame(dst, pub, dport, 9000 + rng.randrange(900), proto, pid, pad, MAC_OUT)
            else:
                f = frame(dst, src, dport, sport ^ 0x8000, proto, pid, pad, MAC_OUT)
            expect[pid] = None
        else:
            src, dst, sport, dport, proto = flows[i]
            if args.program == 'nat':
                pub, pport = public(i)
                f = frame(dst, pub, dport, pport, proto, pid, pad, MAC_OUT)
                expect[pid] = -1 - i
            else:
                f = frame(dst, src, dport, sport, proto, pid, pad, MAC_OUT)
                expect[pid] = ('reply', i, f)  # passes if connection i was opened
        frames_out.append(f)
        pid += 1
    write_pcap(f'{work}/outside.pcap', frames_out)


write_pcap(f'{work}/inside.pcap', frames_in)
if not args.learn:
    build_outside()
print(f'workload: {F} flows, {len(frames_in)} packets from inside, {len(outside)} from '
      f'outside ({time.time() - t0:.0f} s to build)', flush=True)


def eal_with(option, value):
    """The tests' EAL arguments with `option`'s value replaced."""
    return [value if i > 0 and EAL[i - 1] == option else a for i, a in enumerate(EAL)]


def table_bytes(spec):
    """About the bytes of a TEA table (tea/layout.h): 32-byte slots, and per
    bucket a shadow row of two buckets plus the packet, rounded to 64."""
    bucket = 32 * SLOTS
    row = (2 * bucket + 128 + 63) // 64 * 64 if 'packet=' in spec else 0
    return BUCKETS * (bucket + row) + 4096


def nat_value(ip, port):
    return '0x%016x' % (int.from_bytes(ip, 'big') << 32 | port << 16)


def text(ip):
    return '.'.join(str(b) for b in ip)


def key(src, dst, sport, dport, proto):
    """A TEA key as the collector's requests take it: the 5-tuple."""
    return {'src': text(src), 'dst': text(dst), 'sport': sport, 'dport': dport, 'proto': proto}


def collector_requests(connect, op, requests):
    """Sends TEA requests (JSON objects) in batches through `softfino-collector
    tea OP --requests`; returns its answers, one per request, in order."""
    path = f'{work}/requests.jsonl'
    with open(path, 'w') as fh:
        fh.writelines(json.dumps(r) + '\n' for r in requests)
    r = subprocess.run([args.collector, 'tea', op, '--requests', path, '--connect', connect],
                       capture_output=True, text=True, timeout=1200)
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    if len(answers) != len(requests):
        check(f'the collector answers every {op}', False, r.stderr[-300:])
        raise SystemExit(1)
    return answers


def insert_nat_entries(connect):
    """Both entries of each flow with has_out; clears has_out/has_in of a
    refused one (the reference then has no such entry either)."""
    chunk = 100000
    todo = [i for i in range(F) if has_out[i]]
    refused = 0
    t = time.time()
    for at in range(0, len(todo), chunk):
        part = todo[at:at + chunk]
        requests = []
        for i in part:
            src, dst, sport, dport, proto = flows[i]
            pub, pport = public(i)
            requests.append({'op': 'insert', 'table': 'tea.out',
                             'key': key(src, dst, sport, dport, proto),
                             'value': nat_value(pub, pport)})
            requests.append({'op': 'insert', 'table': 'tea.in',
                             'key': key(dst, pub, dport, pport, proto),
                             'value': nat_value(src, sport)})
        answers = collector_requests(connect, 'insert', requests)
        for k, i in enumerate(part):
            if 'error' in answers[2 * k]:
                has_out[i] = 0
                refused += 1
            if 'error' in answers[2 * k + 1]:
                has_in[i] = 0
                refused += 1
    print(f'inserted {2 * len(todo) - refused} entries in {time.time() - t:.0f} s, '
          f'{refused} refused (probe window full)', flush=True)


def read_learned(connect):
    """--learn: each flow's public endpoint, as the switch's slow path
    inserted it into the collector's tea.out (batch lookups); checks that
    every flow got one from the pool, no two the same, and that tea.in
    holds the way back."""
    answers = collector_requests(connect, 'lookup', [
        {'op': 'lookup', 'table': 'tea.out', 'key': key(*flows[i])} for i in range(F)])
    pool = {(ip4(f'100.64.{k}.1'), port) for k in range(F // 50000 + 1)
            for port in range(10000, 60000)}
    bad = []
    for i, a in enumerate(answers):
        if not a.get('found'):
            continue
        v = int(a['value'])
        endpoint = ((v >> 32).to_bytes(4, 'big'), (v >> 16) & 0xffff)
        if endpoint not in pool or v & 0xffff:
            bad.append((i, hex(v)))
        learned_public[i] = endpoint
    # A flow whose phase-zero packet the switch missed on receive (counted
    # rx_missed) was not learned: it gets no more packets here.
    check(f'{len(learned_public)} of {F} flows learned, each a public endpoint of the pool',
          len(answers) == F and not bad, (len(answers), bad[:3]))
    check('no two flows share a public endpoint',
          len(set(learned_public.values())) == len(learned_public))
    # The way back: tea.in maps the reply to the inside. A flow whose in
    # entry was refused (its probe window full: counted insert_failures)
    # has none; its replies are the reference's to drop too.
    sample = list(learned_public)
    back = collector_requests(connect, 'lookup', [
        {'op': 'lookup', 'table': 'tea.in',
         'key': key(flows[i][1], learned_public[i][0], flows[i][3], learned_public[i][1],
                    flows[i][4])}
        for i in sample])
    wrong = [i for i, a in zip(sample, back)
             if a.get('found') and int(a['value']) != int(nat_value(flows[i][0], flows[i][2]), 16)]
    no_way_back = [i for i, a in zip(sample, back) if not a.get('found')]
    for i in no_way_back:
        has_in[i] = 0
    check(f'tea.in leads back to the inside for the {len(sample)} flows learned '
          f'({len(no_way_back)} without an in entry)', len(back) == len(sample) and not wrong,
          wrong[:3])
    unlearned = {i for i in range(F) if i not in learned_public}
    removed = 0
    if unlearned:
        for p in range(first_outside):
            if inside[p] in unlearned:
                del expect[p]
                removed += 1
        for k, i in enumerate(outside):
            if i in unlearned:
                outside[k] = -1  # a reply no flow explains instead
        write_pcap(f'{work}/inside.pcap',
                   [f for p, f in enumerate(frames_in) if inside[p] not in unlearned])
    return len(unlearned), removed


def wait_for_learning():
    """Until the slow path has nothing left to insert and no more coming."""
    t, last, sp = time.time(), None, {}
    while time.time() - t < 900:
        s = ctl('stats')
        sp = s['program']['slow_path'] if s else {}
        now = (sp.get('inserts'), sp.get('insert_failures'), sp.get('already_inserted'))
        if sp.get('backlog') == 0 and now == last:
            break
        last = now
        time.sleep(3)
    print(f'learning done {time.time() - t:.0f} s after its phase: {sp}', flush=True)


def losses(stats):
    """What the switch lost of the workload, by where: (missed on receive,
    dropped for a counted reason other than the decision, READs that got
    no answer), from its counters (--stats-json or softfino-ctl stats)."""
    drops = stats['drops']
    # Drops of what came from the collector (ACKs and NAKs, answers that
    # match no lookup: the lookup's own loss is counted as its timeout) are
    # not packets of the workload.
    answers = ('rdma_answer_consumed', 'tea_unexpected_psn', 'tea_unknown_qp', 'tea_bad_length',
               'tea_bad_response')
    other = sum(v for k, v in drops.items()
                if k not in ('tea_no_entry', 'firewall_denied', 'timer_unused', *answers))
    # A held packet whose READ got no answer has no mbuf to drop: the READ
    # request was its mbuf. The table counts it: timed out, or abandoned
    # when a NAK (a request lost on the way to the collector) made the queue
    # pair resync.
    pipe = stats['program']['pipes'][0]
    tables = [pipe['out'], pipe['in']] if args.program == 'nat' else [pipe]
    unanswered = sum(t['timeouts'] + t['abandoned'] for t in tables)
    ports = {p['port']: p for p in stats['ports']}
    return ports[0]['rx_missed'] + ports[2]['rx_missed'], other, unanswered


def nat_reference():
    """Turns the NAT's pending decisions into bytes, now that the entries are known."""
    for p, e in list(expect.items()):
        if e is None or isinstance(e, tuple):
            continue
        if e >= 0:  # from inside, flow e
            i = e
            if not has_out[i]:
                expect[p] = None
                continue
            src, dst, sport, dport, proto = flows[i]
            pub, pport = public(i)
            f = frames_in[p]
            pad = len(f) - 14 - 20 - (20 if proto == 6 else 8) - 10
            expect[p] = (2, frame(pub, dst, pport, dport, proto, p, pad, MAC_IN))
        else:  # from outside, flow -1 - e
            i = -1 - e
            if not has_in[i]:
                expect[p] = None
                continue
            src, dst, sport, dport, proto = flows[i]
            f = frames_out[p - first_outside]
            pad = len(f) - 14 - 20 - (20 if proto == 6 else 8) - 10
            expect[p] = (0, frame(dst, src, dport, sport, proto, p, pad, MAC_OUT))


def ctl(request):
    r = subprocess.run([ctl_dir, '--socket', f'{work}/ctl.sock', '--timeout', '30', request],
                       capture_output=True, text=True, timeout=60)
    return json.loads(r.stdout) if r.returncode == 0 else None


def replay(pcap, iface):
    t = time.time()
    r = subprocess.run(['tcpreplay', '-q', f'--pps={args.rate}', '-i', iface, pcap],
                       capture_output=True, text=True)
    check(f'tcpreplay {os.path.basename(pcap)}', r.returncode == 0, r.stderr[-300:])
    print(f'replayed {os.path.basename(pcap)} in {time.time() - t:.0f} s', flush=True)


try:
    bed.up()
    veth(out_host, out_sw)
    if args.program == 'nat':
        specs = [f'tea.out:buckets={BUCKETS},slots={SLOTS}{SHADOW}',
                 f'tea.in:buckets={BUCKETS},slots={SLOTS}{SHADOW}']
    else:
        specs = [f'tea.fw:buckets={BUCKETS},slots={SLOTS}{SHADOW}']
    port = bed.start_collector(args.collector, [
        *[a for s in specs for a in ('--tea-table', s)],
        '--stats-json', f'{work}/collector.json'],
        # The tables live in DPDK memory: room for them and the rest.
        eal=eal_with('-m', str(256 + sum(table_bytes(s) for s in specs) // (1 << 20))))
    if port is None:
        raise SystemExit(1)
    connect = f'{bed.handshake_ip()}:{port}'
    tea = {'deferral': args.deferral, 'cache_entries': args.cache, 'cache_ways': 4,
           'in_flight': 4096, 'packet_bytes': 128,
           # Far above a READ's round trip on this loaded 2-core box.
           'timeout_us': 500000, 'probe_timeout_us': 2000000}
    if args.program == 'firewall':
        config = {
            'rdma': {'connections': [
                {'name': 'firewall', 'collector': connect, 'region': 'tea.fw', 'port': 1,
                 'ip': '10.9.2.1'}]},
            'firewall': {'inside_ports': [0], 'outside_ports': [2], 'table': specs[0],
                         'learn_ring': 1 << 18, 'learn_per_tick': 256},
            'tea': tea}
    else:
        if not args.learn:
            insert_nat_entries(connect)
            nat_reference()
        config = {
            'rdma': {'connections': [
                {'name': 'nat_out', 'collector': connect, 'region': 'tea.out', 'port': 1,
                 'ip': '10.9.2.1'},
                {'name': 'nat_in', 'collector': connect, 'region': 'tea.in', 'port': 1,
                 'ip': '10.9.2.1'}]},
            'nat': {'inside_ports': [0], 'outside_ports': [2], 'out_table': specs[0],
                    'in_table': specs[1]},
            'tea': tea}
        if args.learn:
            config['nat']['learn'] = {
                'addresses': [f'100.64.{k}.1' for k in range(F // 50000 + 1)],
                'ports': [10000, 59999], 'learn_ring': 1 << 18, 'learn_per_tick': 128}
    config['pktgen'] = [{'app': 0, 'period_us': 5000}]
    with open(f'{work}/config.json', 'w') as fh:
        json.dump(config, fh)
    sw = bed.start_switch(args.softfino, [
        '--pipeline', f'tea_{args.program}', '--config', f'{work}/config.json',
        '--clock', 'real', '--control-socket', f'{work}/ctl.sock',
        '--stats-json', f'{work}/switch.json'], extra_ifaces=[out_sw], capture_dir=work,
        # The pipe on its own lcore: the slow path's blocking work (the
        # firewall's inserts) never holds up the packets.
        eal=eal_with('-l', '0-1'))
    if sw is None:
        raise SystemExit(1)
    time.sleep(0.5)

    if args.learn:
        # Phase zero teaches the switch every flow; the reference then
        # takes each flow's public endpoint from the table the switch filled.
        replay(f'{work}/learn.pcap', bed.host)
        wait_for_learning()
        for i in range(F):
            expect[LEARN_BASE + i] = None
        unlearned, sent_less = read_learned(connect)
        now = ctl('stats')
        lost = losses(now)
        refused = now['program']['slow_path']['insert_failures']
        print(f'{unlearned} flows not learned; the switch lost {sum(lost)} packets (missed on '
              f'receive, dropped for a reason, READs unanswered: {lost}), {refused} inserts '
              'refused')
        check('every flow not learned had its packet lost or its insert refused, counted',
              unlearned <= sum(lost) + refused, (unlearned, lost, refused))
        build_outside()
        nat_reference()
    replay(f'{work}/inside.pcap', bed.host)
    if args.program == 'firewall':
        # Replies only once the table holds every connection the switch saw.
        wait_for_learning()
    time.sleep(2)
    replay(f'{work}/outside.pcap', out_host)
    time.sleep(3)
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=60)
    col = bed.collector
    col.send_signal(signal.SIGTERM)
    col.wait(timeout=60)
    check('both exit cleanly', sw.returncode == 0 and col.returncode == 0,
          f'switch {sw.returncode}, collector {col.returncode}')

    with open(f'{work}/switch.json') as fh:
        stats = json.load(fh)
    drops = stats.get('drops', {})
    print(f'switch drops: {json.dumps(drops)}')
    print(f'ports: {json.dumps(stats.get("ports"))}'[:2000])
    program = stats.get('program', {})
    print(f'program: {json.dumps(program)}'[:3000])
    merged = {}
    for t in ([program['pipes'][0][x] for x in ('out', 'in')] if args.program == 'nat'
              else [program['pipes'][0]]):
        for start, count in t['latency_ns']:
            merged[start] = merged.get(start, 0) + count
    buckets = sorted(merged.items())
    print(f'READ round trip: p50 >= {histogram_quantile(buckets, 0.5)} ns, p99 >= '
          f'{histogram_quantile(buckets, 0.99)} ns over {sum(merged.values())} READs')

    got, dup, foreign, wrong = {}, [], 0, []
    for port_no in (0, 2):
        for f in read_pcap(f'{work}/port{port_no}.pcap'):
            p = pid_of(f)
            if p is None:
                foreign += 1
                continue
            if p in got:
                dup.append(p)
            got[p] = (port_no, f)
    if args.program == 'firewall':
        # A connection is open when the switch got one of its inside
        # packets: those it forwarded (the firewall forwards every inside
        # packet; one the switch missed on receive opened nothing).
        opened = bytearray(F)
        for p, (port_no, f) in got.items():
            if p < first_outside:
                opened[inside[p]] = 1
        for p in range(first_outside, len(expect)):
            e = expect[p]
            if e is not None:
                expect[p] = (0, e[2]) if opened[e[1]] else None
        print(f'{sum(opened)} of {F} connections opened')
    want = {p: e for p, e in expect.items() if e is not None}
    missing = [p for p in want if p not in got]
    extra = [p for p in got if p not in want]
    wrong = [p for p in want if p in got and got[p] != want[p]]
    n = len(expect)
    print(f'{n} packets: the reference forwards {len(want)}, drops {n - len(want)}; '
          f'out of the switch {len(got)}, missing {len(missing)}', flush=True)
    check('every packet out is byte for byte the reference\'s, on its port', not wrong,
          f'{len(wrong)} wrong, e.g. {wrong[:3]}')
    if wrong:
        p = wrong[0]
        print('got ', got[p][0], got[p][1].hex())
        print('want', want[p][0], want[p][1].hex())
    check('no packet the reference drops comes out', not extra, extra[:5])
    check('no packet out twice', not dup, dup[:5])
    check('nothing else out of the data ports', foreign == 0, foreign)
    # Every packet sent is accounted for: received by the switch or missed
    # by its port's receive (libpcap's ring full while the switch waited for
    # a CPU: counted rx_missed), then forwarded, denied (the decision) or
    # dropped for a counted reason. The timer packets (pktgen) are not ours.
    ports = {p['port']: p for p in stats.get('ports', [])}
    rx_missed = ports[0]['rx_missed'] + ports[2]['rx_missed']
    check('every packet sent reached the switch or was counted missed',
          ports[0]['rx_packets'] + ports[0]['rx_missed'] ==
          len(frames_in) + (F - sent_less if args.learn else 0) and
          ports[2]['rx_packets'] + ports[2]['rx_missed'] == len(frames_out),
          (ports[0], ports[2]))
    denied = drops.get('tea_no_entry', 0) + drops.get('firewall_denied', 0)
    _, other, unanswered = losses(stats)
    check('received = forwarded + denied + dropped by a counted reason',
          ports[0]['rx_packets'] + ports[2]['rx_packets'] ==
          len(got) + denied + other + unanswered,
          (ports[0]['rx_packets'] + ports[2]['rx_packets'], len(got), denied, other, unanswered))
    ref_dropped = n - len(want)
    not_seen = len(missing) + (ref_dropped - denied)  # what never got a decision
    check('what got no decision is exactly what was missed or dropped for a reason',
          not_seen == rx_missed + other + unanswered and denied <= ref_dropped,
          (len(missing), ref_dropped - denied, rx_missed, other, unanswered))
    print(f'exact: {len(want) - len(missing) - len(wrong)} of {len(want)} forwarded packets; '
          f'{len(missing)} missing, accounted for by {rx_missed} missed on receive, '
          f'{unanswered} READs unanswered (timeouts, abandoned) and {other} other counted '
          f'drops (by reason above)')
finally:
    bed.down()
    subprocess.run(['ip', 'link', 'del', out_host], stderr=subprocess.DEVNULL)
    if not args.keep:
        subprocess.run(['rm', '-rf', work])
    else:
        print(f'work folder: {work}')

finish()
