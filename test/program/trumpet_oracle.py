"""The offline Trumpet oracle the program tests check softfino against,
written from the definitions (not from softfino's code):

  for each trigger, interval [kI, (k+1)I) and group (the 5-tuple cut to the
  trigger's group lengths) of the packets matching its filter: packets,
  bytes (frame length), lost (a TCP segment with data that ends at or before
  the highest sequence end seen for its flow) and bursts (packets that are
  their flow's first or come more than burst_gap after its previous one);
  an event for each group whose predicate holds, for every interval that
  ended by the last packet's time.

Also the decoder of events sent as DTA Append records (the layout in
dta/event_record.h, CRC-32 from zlib)."""
import ipaddress
import json
import struct
import zlib

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


def oracle(pcaps, triggers, burst_gap_ns=BURST_GAP_NS):
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
        burst = st['last'] is None or ts - st['last'] > burst_gap_ns
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


def group_key(text):
    """A group's text (as group_text makes it) as numbers: (src, dst, sport,
    dport, proto)."""
    key = dict(src=0, dst=0, sport=0, dport=0, proto=0)
    if text != '*':
        for part in text.split():
            field, value = part.split('=')
            value = value.split('/')[0]
            key[field] = int(ipaddress.ip_address(value)) if field in ('src', 'dst') else int(value)
    return tuple(key.values())


def expected_records(expected, triggers, ids):
    """The oracle's events as the comparable fields of DTA event records:
    (trigger id, interval start ns, interval ns, group key, value); `ids`
    maps trigger names to the ids the switch gave them."""
    by_name = {t['name']: t for t in triggers}
    return {(ids.get(n), start, by_name[n]['interval'], group_key(g), value_of(by_name[n], *sums))
            for (n, start, g, *sums) in expected}


def decode_records(words):
    """Event records in a list of 32-bit Append entries: a record starts with
    the magic byte 0xE7 and ends with the CRC-32 of its first ten words;
    anything else is skipped a word at a time."""
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
    return out


def record_fields(r):
    return (r['trigger_id'], r['start_ns'], r['interval_ns'], r['key'], r['value'])


def write_config(work, config_name):
    """Writes TRIGGERS and a switch config that loads them (l3fwd's trumpet
    section, BURST_GAP_NS) into `work`; returns the parsed triggers."""
    with open(f'{work}/triggers.txt', 'w') as f:
        f.write(TRIGGERS)
    with open(f'{work}/{config_name}', 'w') as f:
        json.dump({'trumpet': {'trigger_file': f'{work}/triggers.txt', 'epoch_us': 1000,
                               'burst_gap_us': BURST_GAP_NS // 1000, 'flows': 4096}}, f)
    return [parse_trigger(l) for l in TRIGGERS.splitlines() if l and not l.startswith('#')]
