#!/usr/bin/python3
"""Trumpet through the real softfino (l3fwd hosting the trumpet stage), in
virtual time with net_pcap ports, against events computed offline from the
same pcap by an independent oracle written from the definitions:

  for each trigger, interval [kI, (k+1)I) and group (the 5-tuple cut to the
  trigger's group lengths) of the packets matching its filter: packets,
  bytes (frame length), lost (a TCP segment with data that ends at or before
  the highest sequence end seen for its flow) and bursts (packets that are
  their flow's first or come more than burst_gap after its previous one);
  an event for each group whose predicate holds, for every interval that
  ended by the last packet's time.

softfino-gen trumpet plants volume surges, TCP loss episodes and trains of
bursts in background traffic. Run with one pipe, and with two pipes whose RX
queues get the flows split as RSS would (groups then span pipes and the
event manager adds the pipes' partial sums). Events must be equal: same
trigger, interval, group and sums; no misses, no extras.

With one pipe the switch also sends its events as DTA Append reports
(--events-dta) to a UDP socket here; the records, decoded here from the
record layout (dta/event_record.h) with zlib's CRC-32, must be the oracle's
events too (trigger, interval, group as numbers, predicate value).

Then the control path on a running switch: trigger_list, trigger_add (bad
definitions refused with the problem named, the switch unaffected),
trigger_del, `events` serving the same events as the --events file, and a
second switch gathering them through the first's control socket
(--events-from; started before the first, so it must retry).
  trumpet_test.py SOFTFINO SOFTFINO_GEN SOFTFINO_CTL
"""
import ipaddress
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

softfino, gen, ctl = sys.argv[1:4]
work = tempfile.mkdtemp(prefix='trumpet.')
BURST_GAP_NS = 100_000
TRIGGERS = """\
# the planted events, and background ones
surge: filter dst=10.2.0.0/16 group dst every 10ms when bytes > 200000
lossy: filter src=10.1.0.0/16 proto=tcp group 5tuple every 10ms when lost/packets > 10%
bursty: filter * group 5tuple every 5ms when bursts >= 8
web: filter dport=80 group dst/26 every 20ms when packets > 400
quiet: filter proto=udp group dst every 10ms when packets < 3
hosts: filter src=10.1.0.0/24 sport=32768/1 group src/28 dport every 2ms when bytes >= 3000
"""
failures = []


def check(name, ok, detail=''):
    print(('ok   ' if ok else 'FAIL ') + name + ('' if ok else f': {detail}'))
    if not ok:
        failures.append(name)


# ---- the oracle ----

FIELDS = {'src': 32, 'dst': 32, 'sport': 16, 'dport': 16, 'proto': 8}


def parse_trigger(line):
    name, rest = line.split(':', 1)
    words = rest.split()
    sec = {}
    key = None
    for w in words:
        if w in ('filter', 'group', 'every', 'when'):
            key = w
            sec[key] = []
        else:
            sec[key].append(w)
    flt = {}
    for f in sec['filter']:
        if f == '*':
            continue
        field, value = f.split('=')
        if field in ('src', 'dst'):
            net = ipaddress.ip_network(value)
            flt[field] = (int(net.network_address), net.prefixlen)
        elif field == 'proto':
            flt[field] = ({'tcp': 6, 'udp': 17}.get(value) or int(value), 8)
        else:
            v, _, ln = value.partition('/')
            flt[field] = (int(v), int(ln or 16))
    group = {}
    for g in sec['group']:
        if g == '*':
            continue
        if g == '5tuple':
            group = dict(FIELDS)
            continue
        field, _, ln = g.partition('/')
        group[field] = int(ln) if ln else FIELDS[field]
    every = sec['every'][0]
    interval = int(every[:-2]) * 1_000_000 if every.endswith('ms') else int(every[:-1]) * 10**9
    metric, op, threshold = sec['when']
    ratio = '/' in metric
    num, _, den = metric.partition('/')
    thr = float(threshold[:-1]) / 100 if threshold.endswith('%') else float(threshold)
    return dict(name=name.strip(), filter=flt, group=group, interval=interval, num=num, den=den,
                ratio=ratio, op=op, threshold=thr)


def cut(value, length, width):
    return value & (((1 << length) - 1) << (width - length)) if length else 0


def group_text(flow, group):
    parts = []
    for field in ('src', 'dst', 'sport', 'dport', 'proto'):
        ln = group.get(field, 0)
        if not ln:
            continue
        v = cut(flow[field], ln, FIELDS[field])
        if field in ('src', 'dst'):
            parts.append(f'{field}={ipaddress.ip_address(v)}/{ln}')
        elif field == 'proto':
            parts.append(f'proto={v}')
        else:
            parts.append(f'{field}={v}' + ('' if ln == 16 else f'/{ln}'))
    return ' '.join(parts) or '*'


def holds(t, s):
    if t['ratio']:
        if s[t['den']] == 0:
            return False
        value = s[t['num']] / s[t['den']]
    else:
        value = s[t['num']]
    return {'>': value > t['threshold'], '>=': value >= t['threshold'],
            '<': value < t['threshold'], '<=': value <= t['threshold']}[t['op']]


def read_pcap(path):
    """(timestamp ns, frame) of every record; nanosecond or microsecond pcap."""
    out = []
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    scale = 1 if magic == 0xa1b23c4d else 1000
    off = 24
    while off < len(data):
        sec, frac, incl, _ = struct.unpack('<IIII', data[off:off + 16])
        out.append((sec * 10**9 + frac * scale, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def packet_view(frame):
    if len(frame) < 34 or frame[12:14] != b'\x08\x00':
        return None
    ihl = (frame[14] & 15) * 4
    total = struct.unpack('!H', frame[16:18])[0]
    proto = frame[23]
    flow = dict(src=struct.unpack('!I', frame[26:30])[0], dst=struct.unpack('!I', frame[30:34])[0],
                sport=0, dport=0, proto=proto)
    l4 = 14 + ihl
    seq = payload = None
    if proto in (6, 17) and len(frame) >= l4 + 4:
        flow['sport'], flow['dport'] = struct.unpack('!HH', frame[l4:l4 + 4])
        if proto == 6 and len(frame) >= l4 + 20:
            seq = struct.unpack('!I', frame[l4 + 4:l4 + 8])[0]
            payload = total - ihl - (frame[l4 + 12] >> 4) * 4
    return flow, seq, payload


def oracle(pcaps, triggers):
    packets = sorted((ts, frame) for p in pcaps for ts, frame in read_pcap(p))
    end = packets[-1][0]
    flows = {}
    sums = {}
    for ts, frame in packets:
        v = packet_view(frame)
        if v is None:
            continue
        flow, seq, payload = v
        key = tuple(flow.values())
        st = flows.setdefault(key, {'last': None, 'max_end': None})
        burst = st['last'] is None or ts - st['last'] > BURST_GAP_NS
        lost = False
        if seq is not None and payload > 0:
            e = (seq + payload) % 2**32
            if st['max_end'] is not None and ((e - st['max_end']) % 2**32 == 0 or
                                              (e - st['max_end']) % 2**32 >= 2**31):
                lost = True
            else:
                st['max_end'] = e
        st['last'] = ts
        for t in triggers:
            if any(cut(flow[f], ln, FIELDS[f]) != v_ for f, (v_, ln) in t['filter'].items()):
                continue
            start = ts // t['interval'] * t['interval']
            s = sums.setdefault((t['name'], start, group_text(flow, t['group'])),
                                {'packets': 0, 'bytes': 0, 'lost': 0, 'bursts': 0})
            s['packets'] += 1
            s['bytes'] += len(frame)
            s['lost'] += lost
            s['bursts'] += burst
    by_name = {t['name']: t for t in triggers}
    events = set()
    for (name, start, group), s in sums.items():
        t = by_name[name]
        if start + t['interval'] <= end and holds(t, s):
            events.add((name, start, group, s['packets'], s['bytes'], s['lost'], s['bursts']))
    return events


def event_key(e):
    return (e['trigger'], e['interval_start_ns'], e['group'], e['packets'], e['bytes'], e['lost'],
            e['bursts'])


def value_of(t, packets, byts, lost, bursts):
    s = {'packets': packets, 'bytes': byts, 'lost': lost, 'bursts': bursts}
    return s[t['num']] / s[t['den']] if t['ratio'] else float(s[t['num']])


def group_key(flow_group_text, t):
    """The group as numbers (src, dst, sport, dport, proto), from its text."""
    key = dict(src=0, dst=0, sport=0, dport=0, proto=0)
    if flow_group_text != '*':
        for part in flow_group_text.split():
            field, value = part.split('=')
            value = value.split('/')[0]
            key[field] = int(ipaddress.ip_address(value)) if field in ('src', 'dst') else int(value)
    return tuple(key.values())


class DtaListener:
    """Catches the switch's DTA Append reports (3-byte base form) on a UDP
    socket and decodes the event records from DTA's header layout."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root) ...
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # ... or as allowed
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.reports = []
        self.done = False
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.done:
            try:
                self.reports.append(self.sock.recv(64))
            except socket.timeout:
                pass

    def stop(self):
        time.sleep(0.5)
        self.done = True
        self.thread.join()

    def records(self, list_id):
        words, bad = [], 0
        for r in self.reports:
            if len(r) != 11 or r[0] != 2 or struct.unpack('!I', r[3:7])[0] != list_id:
                bad += 1
                continue
            words.append(struct.unpack('!I', r[7:11])[0])
        out, i = [], 0
        while i + 11 <= len(words):
            w = words[i:i + 11]
            if w[0] >> 24 != 0xE7 or zlib.crc32(struct.pack('!10I', *w[:10])) != w[10]:
                i += 1
                continue
            out.append(dict(trigger_id=w[0] & 0xffffff, start_ns=(w[1] << 32 | w[2]) * 1000,
                            interval_ns=w[3] * 1000,
                            key=(w[4], w[5], w[6] >> 16, w[6] & 0xffff, w[7] >> 24),
                            seq=w[7] & 0xffffff,
                            value=struct.unpack('!d', struct.pack('!II', w[8], w[9]))[0]))
            i += 11
        return out, bad


# ---- runs ----

with open(f'{work}/triggers.txt', 'w') as f:
    f.write(TRIGGERS)
triggers = [parse_trigger(l) for l in TRIGGERS.splitlines() if l and not l.startswith('#')]
with open(f'{work}/config.json', 'w') as f:
    json.dump({'trumpet': {'trigger_file': f'{work}/triggers.txt', 'epoch_us': 1000,
                           'burst_gap_us': BURST_GAP_NS // 1000, 'flows': 4096}}, f)


def run_switch(pipes, tag, extra=(), background=False):
    cpus = os.cpu_count()
    lcores = '0@0' + ''.join(f',{q}@{q % cpus}' for q in range(1, pipes + 1)) if pipes > 1 else '0@0'
    inputs = [f'{work}/in_{tag}.pcap'] if pipes == 1 else [f'{work}/in_{tag}_q{q}.pcap'
                                                          for q in range(pipes)]
    vdev = 'net_pcap0' + ''.join(f',rx_pcap={p},tx_pcap={work}/out_{tag}_{q}.pcap'
                                 for q, p in enumerate(inputs))
    cmd = [softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '--file-prefix',
           f'trumpet{os.getpid()}{tag}', '--log-level=warning', '--lcores', lcores,
           f'--vdev={vdev}', '--', '--pipeline', 'l3fwd', '--config', f'{work}/config.json',
           '--fp-cores', str(pipes), '--events', f'{work}/events_{tag}.jsonl',
           '--stats-json', f'{work}/stats_{tag}.json', *extra]
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True), inputs
    r = subprocess.run(cmd + ['--exit-when-idle', '300'], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    return r, inputs


for pipes, seed in ((1, 3), (2, 4)):
    tag = f'p{pipes}'
    subprocess.run([gen, 'trumpet', '--seed', str(seed), '--queues', str(pipes),
                    '--out', f'{work}/in_{tag}.pcap'], check=True, capture_output=True)
    listener = DtaListener() if pipes == 1 else None
    dta = ['--events-dta', f'127.0.0.1:{listener.port},list=5,rate=50000'] if listener else []
    r, inputs = run_switch(pipes, tag, extra=dta)
    if listener:
        listener.stop()
    check(f'{pipes} pipe(s): switch ran', r.returncode == 0, r.stderr[-2000:])
    got = [json.loads(l) for l in open(f'{work}/events_{tag}.jsonl')]
    got_set = {event_key(e) for e in got}
    check(f'{pipes} pipe(s): no event twice', len(got_set) == len(got))
    expected = oracle(inputs, triggers)
    per = {t['name']: sum(1 for e in expected if e[0] == t['name']) for t in triggers}
    print(f'  {pipes} pipe(s): oracle events per trigger: {per}')
    check(f'{pipes} pipe(s): every trigger fires at least once', all(per.values()), per)
    missing, extra = expected - got_set, got_set - expected
    check(f'{pipes} pipe(s): events equal the oracle ({len(expected)})', not missing and not extra,
          f'missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}')
    if listener:
        by_name = {t['name']: t for t in triggers}
        ids = {e['trigger']: e['trigger_id'] for e in got}
        want = {(ids.get(n), start, by_name[n]['interval'], group_key(g, by_name[n]),
                 value_of(by_name[n], *sums)) for (n, start, g, *sums) in expected}
        records, bad = listener.records(5)
        have = {(r['trigger_id'], r['start_ns'], r['interval_ns'], r['key'], r['value'])
                for r in records}
        check(f'{pipes} pipe(s): DTA Append records equal the oracle ({len(records)} records, '
              f'{len(listener.reports)} reports)',
              bad == 0 and len(records) == len(expected) and have == want and
              [r['seq'] for r in records] == list(range(len(records))),
              f'bad {bad}, missing {sorted(want - have)[:3]}, extra {sorted(have - want)[:3]}')
    counters = json.load(open(f'{work}/stats_{tag}.json'))['program']['trumpet']
    check(f'{pipes} pipe(s): nothing lost or overflowed',
          counters['events_lost'] == 0 and counters['flow_table_full'] == 0 and
          counters['match_overflow'] == 0, counters)

# ---- the control path, on a running switch ----

tag = 'ctl'
subprocess.run([gen, 'trumpet', '--seed', '5', '--out', f'{work}/in_{tag}.pcap'], check=True,
               capture_output=True)
# The gatherer: a switch with no traffic of its own (a port that receives
# nothing) that follows the first one's events from before it exists.
gatherer = subprocess.Popen(
    [softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '--file-prefix',
     f'trumpet{os.getpid()}gather', '--log-level=warning', '-l', '0',
     '--vdev=net_null0,no-rx=1', '--', '--pipeline', 'l3fwd', '--control-socket',
     f'{work}/gather.sock', '--events', f'{work}/events_gathered.jsonl',
     '--events-from', f'sw1={work}/ctl.sock'],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
time.sleep(1.5)
proc, _ = run_switch(1, tag, extra=['--exit-when-idle', '4000', '--control-socket',
                                    f'{work}/ctl.sock'], background=True)


def ask(*args):
    r = subprocess.run([ctl, '--socket', f'{work}/ctl.sock', *args], capture_output=True, text=True)
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None), r.stderr


for _ in range(100):
    if os.path.exists(f'{work}/ctl.sock'):
        break
    time.sleep(0.05)
rc, listed, err = ask('trigger_list')
check('trigger_list', rc == 0 and [t['name'] for t in listed['triggers']] ==
      [t['name'] for t in triggers], err)
for bad, needle in (('x: filter srcip=1.2.3.4 group * every 10ms when packets > 1', "srcip"),
                    ('x: filter * group * every 10ms when packets > 10%', 'needs a ratio'),
                    ('surge: filter * group * every 10ms when packets > 1', 'exists')):
    rc, _, err = ask('trigger_add', f'trigger={bad}')
    check(f'trigger_add refuses: {needle}', rc == 1 and needle in err, err)
rc, added, err = ask('trigger', 'add', 'late: filter * group dst every 10ms when packets > 1')
check('trigger add', rc == 0 and added['added'] == 'late', err)
rc, listed, err = ask('trigger_list')
check('trigger_list shows it', rc == 0 and listed['triggers'][-1]['name'] == 'late', err)
rc, deleted, err = ask('trigger_del', 'name=late')
check('trigger_del', rc == 0 and deleted['deleted'] == 'late', err)
rc, _, err = ask('trigger_del', 'name=late')
check('trigger_del refuses an unknown name', rc == 1 and "no trigger named 'late'" in err, err)
rc, info, err = ask('info')
check('switch unaffected', rc == 0, err)
rc, served, err = ask('events', 'since=0', 'max=100000')
follower = subprocess.Popen([ctl, '--socket', f'{work}/ctl.sock', 'events', 'follow=true'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
stdout, stderr = proc.communicate(timeout=60)
followed, follow_err = follower.communicate(timeout=30)
followed = [json.loads(l) for l in followed.splitlines()]
check('switch exits cleanly', proc.returncode == 0, stderr[-2000:])
in_file = [json.loads(l) for l in open(f'{work}/events_{tag}.jsonl')]
check('events serves what the file has', rc == 0 and served['events'] ==
      in_file[:len(served['events'])] and len(served['events']) > 0, err)
check('events follow=true streams them until the switch stops',
      follower.returncode == 0 and len(followed) >= len(served['events']) and
      followed == in_file[:len(followed)], follow_err)

time.sleep(0.5)
r = subprocess.run([ctl, '--socket', f'{work}/gather.sock', 'events_status'], capture_output=True,
                   text=True)
gather_status = json.loads(r.stdout) if r.returncode == 0 else {}
gatherer.terminate()
_, gather_err = gatherer.communicate(timeout=30)
gathered = [json.loads(l) for l in open(f'{work}/events_gathered.jsonl')]
stripped = [{k: v for k, v in e.items() if k not in ('switch', 'switch_seq', 'seq')} for e in gathered]
check('the gatherer retried until the first switch was up',
      'cannot reach' in gather_err and 'connected to' in gather_err, gather_err[-1000:])
check(f'the gatherer has every event of the first switch, in order ({len(gathered)})',
      len(in_file) > 0 and stripped == [{k: v for k, v in e.items() if k != 'seq'} for e in in_file]
      and all(e['switch'] == 'sw1' and e['switch_seq'] == i for i, e in enumerate(gathered)),
      f'{len(gathered)} gathered, {len(in_file)} in the file')
check('events_status counts them', gather_status.get('sources', [{}])[0].get('events') == len(in_file),
      gather_status)

print('FAILED: ' + ', '.join(failures) if failures else 'all passed')
sys.exit(1 if failures else 0)
