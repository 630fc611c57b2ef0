"""What the DTA fault tests share: reports made from DTA's published header
layout (3-byte base form, REFERENCE.md), a workload of Key-Write,
Key-Increment and Append reports, the truth those reports make when they
reach the translator in a given order (parsed back from the frames
themselves, so a list of delivered frames gives the truth of what was
delivered), the slot hashes, and queries of the collector's memory dumps."""
import json
import struct
import subprocess
import zlib

from scapy.all import Ether, IP, UDP, Raw

LAYOUT = {'keywrite_slots': 1 << 16, 'keyincrement_rows': 2, 'keyincrement_slots': 1 << 16,
          'append_lists': 4, 'append_entries': 1024, 'append_batch': 4,
          'append_head_interval': 1}
REGIONS = ['dta.keywrite', 'dta.keyincrement', 'dta.append']
STRUCTURES = ['keywrite', 'keyincrement', 'append']
REPORT_PORT, NACK_PORT = 40040, 40044
# Ethernet, IPv4 (no options), UDP: then the base header (opcode, seqnum, flags).
BASE_AT = 14 + 20 + 8


def report(opcode, body, seq=0):
    """A report in the 3-byte base form, sequence number `seq`."""
    return (Ether(src='02:00:00:00:01:01', dst='02:00:00:00:01:02') /
            IP(src='10.1.0.1', dst='10.1.0.2') / UDP(sport=40041, dport=REPORT_PORT) /
            Raw(struct.pack('!BBB', opcode, seq & 0xff, 0) + body))


def workload(rng, keys_used, kw_keys=60, ki_keys=40, appends=48, seq=None):
    """Report frames in sending order: kw_keys Key-Write keys (redundancy 1
    or 2) and ki_keys Key-Increment keys (2 rows) with 1 to 3 reports each,
    `appends` Append reports over the layout's lists, shuffled. Keys are
    added to `keys_used`. With `seq` (a list holding the next number) the
    reports are numbered in sending order, as a reporter does."""
    plan = []
    for key in rng.sample(range(1, 1 << 32), kw_keys):
        keys_used.add(key)
        n = rng.choice([1, 2])
        plan += [(1, struct.pack('!BII', n, key, rng.randrange(1, 1 << 32)))
                 for _ in range(rng.randint(1, 3))]
    for key in rng.sample(range(1, 1 << 32), ki_keys):
        keys_used.add(key)
        plan += [(3, struct.pack('!BIQ', 2, key, rng.randrange(1, 1 << 30)))
                 for _ in range(rng.randint(1, 3))]
    for _ in range(appends):
        plan.append((2, struct.pack('!II', rng.randrange(LAYOUT['append_lists']),
                                    rng.randrange(1 << 32))))
    rng.shuffle(plan)
    frames = []
    for opcode, body in plan:
        frames.append(report(opcode, body, seq[0] if seq else 0))
        if seq:
            seq[0] += 1
    return frames


def parse(frame):
    """(opcode, seqnum, fields) of a report frame's bytes (IPv4 without
    options, as report() makes them), or None for anything else."""
    frame = bytes(frame)
    if len(frame) < BASE_AT + 3 or frame[12:14] != b'\x08\x00' or frame[23] != 17:
        return None
    if struct.unpack('!H', frame[36:38])[0] != REPORT_PORT:
        return None
    opcode, seq = frame[BASE_AT], frame[BASE_AT + 1]
    body = frame[BASE_AT + 3:]
    if opcode == 1:
        return opcode, seq, struct.unpack('!BII', body[:9])     # redundancy, key, data
    if opcode == 2:
        return opcode, seq, struct.unpack('!II', body[:8])      # list, data
    if opcode == 3:
        return opcode, seq, struct.unpack('!BIQ', body[:13])    # redundancy, key, counter
    return None


def truth_of(frames):
    """The truth the translator must leave when `frames` reach it in this
    order, each one translated (DTA has no duplicate detection: a report
    that arrives twice counts twice): Key-Write's last data per key, its
    redundancy and every value seen; Key-Increment's sum per key; each
    Append list in order; the report copies (RDMA requests but Append's
    batching) they make; the frames by primitive."""
    t = {'kw': {}, 'kw_n': {}, 'kw_values': {}, 'kw_order': [], 'ki': {},
         'ki_reports': [], 'ap': {lst: [] for lst in range(LAYOUT['append_lists'])},
         'copies': 0, 'by_opcode': {1: 0, 2: 0, 3: 0}}
    for f in frames:
        opcode, _, fields = parse(f)
        t['by_opcode'][opcode] += 1
        if opcode == 1:
            n, key, data = fields
            t['kw'][key] = data
            t['kw_n'][key] = n
            t['kw_values'].setdefault(key, set()).add(data)
            t['kw_order'].append((n, key))
            t['copies'] += n
        elif opcode == 3:
            n, key, c = fields
            t['ki'][key] = t['ki'].get(key, 0) + c
            t['ki_reports'].append((n, key, c))
            t['copies'] += n
        else:
            lst, data = fields
            t['ap'][lst].append(data)
            t['copies'] += 1
    return t


def crc32_reflected(poly, data):
    """A reflected CRC-32 with init and xor-out 0xFFFFFFFF, bit by bit: the
    catalogue's definition, independent of softfino's table-driven engine."""
    rpoly = int(f'{poly:032b}'[::-1], 2)
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (rpoly if crc & 1 else 0)
    return crc ^ 0xffffffff


# Copy (row) n's slot hash (REFERENCE.md, and softfino's decision of one
# polynomial per copy: CRC-32, -32C, -32D, -32/AUTOSAR).
COPY_POLYS = [0x04c11db7, 0x1edc6f41, 0xa833982b, 0xf4acfb13]
assert crc32_reflected(COPY_POLYS[0], b'123456789') == zlib.crc32(b'123456789')


def slot(key, n, slots):
    """Copy n's (row n's) slot of `key` among `slots` (a power of two)."""
    return crc32_reflected(COPY_POLYS[n], struct.pack('<IB', key, n)) & (slots - 1)


def kw_survivors(kw_order, place=lambda key: 0):
    """Key-Write keys with at least one slot no other key overwrote after
    their last write, replaying the writes (redundancy, key) in order;
    place(key) names the collector a key lives on."""
    last_writer = {}
    for n, key in kw_order:
        for c in range(n):
            last_writer[place(key), slot(key, c, LAYOUT['keywrite_slots'])] = key
    n_of = dict((key, n) for n, key in kw_order)
    return {key for key, n in n_of.items()
            if any(last_writer[place(key), slot(key, c, LAYOUT['keywrite_slots'])] == key
                   for c in range(n))}


def count_min(ki_reports, keys):
    """What a Count-Min query answers for each of `keys` after the
    increments ki_reports (rows, key, counter): the least of its rows'
    counters, each the sum of every increment that hashed there."""
    counters = {}
    for n, key, c in ki_reports:
        for row in range(n):
            at = (row, slot(key, row, LAYOUT['keyincrement_slots']))
            counters[at] = counters.get(at, 0) + c
    rows = LAYOUT['keyincrement_rows']
    return {key: min(counters.get((row, slot(key, row, LAYOUT['keyincrement_slots'])), 0)
                     for row in range(rows)) for key in keys}


def query(collector, work, dumps, requests):
    """Answers `requests` from the memory dumps (REGION=FILE each) with
    `softfino-collector query`; (return code, answers, stderr)."""
    with open(f'{work}/requests.jsonl', 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in requests)
    q = subprocess.run([collector, 'query', '--dta-layout', f'{work}/layout.json',
                        *[a for d in dumps for a in ('--memory', d)],
                        '--requests', f'{work}/requests.jsonl'], capture_output=True, text=True)
    return q.returncode, [json.loads(line) for line in q.stdout.splitlines()], q.stderr
