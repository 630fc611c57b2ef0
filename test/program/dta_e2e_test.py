#!/usr/bin/python3
"""End to end: DTA reports -> softfino (dta_translator) -> RoCEv2 ->
softfino-collector (soft RNIC), then the collector's queries against ground
truth computed here from the reports alone.

  scapy --veth-- softfino (dta_translator) --veth-- softfino-collector
                                                     (own network namespace,
                                                      handshake over a third veth)

Reports are made here from DTA's published header layout (not with
softfino's builder), in the base-header form given on the command line.
Truth, from the workload:
  - Key-Write: every key's last data (redundancy 1, 2 and 4);
  - Key-Increment: every key's sum, never undercounted, exact when its
    counters are not shared (the sketch is sized so that none are here);
  - Append: every list complete and in order (whole batches; the rest waits
    on the switch for its batch);
  - Postcarding: every flow's path, hop by hop.
Malformed reports (short, unknown opcode, redundancy 0 and 5, unknown list,
hop beyond the path) are dropped and counted by reason, and write nothing.
With DROP_EVERY k > 0 every k-th request to the collector is thrown away:
the collector NAKs the gap, the translator resyncs (probing queue pairs
that went quiet, on timer packets), and no Key-Write slot holds anything
but a checksum-valid copy of data reported for its key.

With COLLECTORS > 1 the translator spreads keys over several collectors
(Append: list % collectors): each key must be found on exactly one, and on
the one the spreading hash (CRC-16/ARC of the key, computed here) names.

  dta_e2e_test.py SOFTFINO SOFTFINO_COLLECTOR FORM(2-byte|3-byte) [DROP_EVERY [COLLECTORS]]
"""
import json
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from scapy.all import AsyncSniffer, Ether, IP, UDP, Raw, sendp

from dta_reports import slot as dta_slot
from live_harness import CollectorTestbed, check, finish, require_root, start_program

softfino, collector, form = sys.argv[1], sys.argv[2], sys.argv[3]
drop_every = int(sys.argv[4]) if len(sys.argv) > 4 else 0
NC = int(sys.argv[5]) if len(sys.argv) > 5 else 1  # collectors
require_root()

bed = CollectorTestbed('sfd', NC)
work = tempfile.mkdtemp(prefix='dta_e2e.')

LAYOUT = {'keywrite_slots': 1 << 16, 'keyincrement_rows': 2, 'keyincrement_slots': 1 << 16,
          'append_lists': 8, 'append_entries': 1024, 'append_batch': 4,
          'append_head_interval': 1, 'postcarding_slots': 1 << 14, 'postcarding_copies': 2}
PATH_LENGTH = 3
REGIONS = ['dta.keywrite', 'dta.keyincrement', 'dta.append', 'dta.postcarding']
STRUCTURES = ['keywrite', 'keyincrement', 'append', 'postcarding']

rng = random.Random(11 + drop_every)


def report(opcode, body):
    """A report; in the 3-byte form its sequence number is set once the
    sending order is known (see below)."""
    base = struct.pack('!BBB', opcode, 0, 0) if form == '3-byte' else struct.pack('!BB', opcode, 0)
    return (Ether(src='02:00:00:00:01:01', dst='02:00:00:00:01:02') /
            IP(src='10.1.0.1', dst='10.1.0.2') / UDP(sport=40041, dport=40040) /
            Raw(base + body))


def collector_of(key):
    """CRC-16/ARC (reflected 0x8005, init 0) of the key's 4 little-endian
    bytes, scaled to the number of collectors, as the translator spreads."""
    crc = 0
    for b in struct.pack('<I', key):
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xa001 if crc & 1 else 0)
    return (crc * NC) >> 16


def kw_slot(key, n):
    return dta_slot(key, n, LAYOUT['keywrite_slots'])


def key_write(n, key, data):
    return report(1, struct.pack('!BII', n, key, data))


def append(lst, data):
    return report(2, struct.pack('!II', lst, data))


def key_increment(n, key, counter):
    return report(3, struct.pack('!BIQ', n, key, counter))


def postcard(key, hop, data):
    return report(4, struct.pack('!IBI', key, hop, data))


# --- the workload and its truth ---
# Reports are planned first, put in their sending order, and only then
# turned into frames and truth, in that order.
plan = []
kw_redundancy = {}
for key in rng.sample(range(1, 1 << 32), 400):
    n = rng.choice([1, 2, 2, 4])
    kw_redundancy[key] = n
    plan += [('kw', n, key, rng.randrange(1, 1 << 32)) for _ in range(rng.randint(1, 3))]
for key in rng.sample(range(1, 1 << 32), 200):
    plan += [('ki', 2, key, rng.randrange(1, 1 << 40)) for _ in range(rng.randint(1, 4))]
for _ in range(300):
    plan.append(('ap', rng.randrange(LAYOUT['append_lists']), rng.randrange(1 << 32)))
rng.shuffle(plan)
switch_ids = list(range(100, 120))
pc_truth = {}
for key in rng.sample(range(1, 1 << 32), 150):
    path = [rng.choice(switch_ids) for _ in range(PATH_LENGTH)]
    pc_truth[key] = path
    # A flow's postcards come together (one path through the network), in
    # any hop order.
    hops = list(range(1, PATH_LENGTH + 1))
    rng.shuffle(hops)
    at = rng.randrange(len(plan) + 1)
    plan[at:at] = [('pc', key, h, path[h - 1]) for h in hops]

frames = []
kw_truth, kw_values, ki_truth = {}, {}, {}
ap_truth = {lst: [] for lst in range(LAYOUT['append_lists'])}
for op in plan:
    if op[0] == 'kw':
        _, n, key, data = op
        kw_truth[key] = data
        kw_values.setdefault(key, set()).add(data)
        frames.append(key_write(n, key, data))
    elif op[0] == 'ki':
        _, n, key, c = op
        ki_truth[key] = ki_truth.get(key, 0) + c
        frames.append(key_increment(n, key, c))
    elif op[0] == 'ap':
        _, lst, data = op
        ap_truth[lst].append(data)
        frames.append(append(lst, data))
    else:
        _, key, h, value = op
        frames.append(postcard(key, h, value))

# Malformed reports: nothing is written for them.
BAD_KEY = 0xdeadbeef
bad = [
    ('truncated_primitive', report(1, struct.pack('!BI', 2, BAD_KEY))),
    ('bad_opcode', report(9, struct.pack('!BII', 2, BAD_KEY, 1))),
    ('bad_redundancy', key_write(0, BAD_KEY, 1)),
    ('bad_redundancy', key_write(5, BAD_KEY, 1)),
    ('trailing_bytes', report(1, struct.pack('!BIIB', 2, BAD_KEY, 1, 0))),
]
refused = [
    ('unknown_list', append(LAYOUT['append_lists'], 1)),
    ('hop_beyond_path', postcard(BAD_KEY, PATH_LENGTH + 1, 100)),
    ('redundancy_above_rows', key_increment(3, BAD_KEY, 1)),
]
for _, f in bad + refused:
    frames.insert(rng.randrange(len(frames) + 1), f)

# Sequence numbers in sending order, with a few gaps (reports "lost" before
# the translator); the translator NACKs the first missing number of each
# gap it sees. Malformed reports are not tracked (their numbers look lost).
SEQ_AT = 14 + 20 + 8 + 1  # Ethernet, IPv4, UDP, then the base header's opcode
expected_nacks = []
if form == '3-byte':
    unparsed = {id(f) for _, f in bad}
    gaps = set(rng.sample(range(len(frames)), 6))
    seq, tracked = 0, None
    for i, f in enumerate(frames):
        if i in gaps:
            seq = (seq + rng.randrange(1, 4)) & 0xff
        raw_bytes = bytearray(bytes(f))
        raw_bytes[SEQ_AT] = seq
        frames[i] = Ether(bytes(raw_bytes))
        if id(f) not in unparsed:
            if tracked is not None and seq != tracked:
                expected_nacks.append(tracked)
            tracked = (seq + 1) & 0xff
        seq = (seq + 1) & 0xff

try:
    bed.up()
    with open(f'{work}/layout.json', 'w') as f:
        json.dump(LAYOUT, f)
    dumps = [[f'{r}={work}/c{k}.{r}.bin' for r in REGIONS] for k in range(NC)]
    ports = [bed.start_collector(collector, [
        '--dta-layout', f'{work}/layout.json', '--stats-json', f'{work}/collector{k}.json',
        *[a for d in dumps[k] for a in ('--dump-region', d)]], k) for k in range(NC)]
    if None in ports:
        raise SystemExit(1)
    port = ports[0]

    translator = {'base_form': form, 'collectors': [f'c{k}' for k in range(NC)], 'layout': LAYOUT,
                  'postcarding_path_length': PATH_LENGTH, 'postcard_cache_rows': 1024,
                  'nack_reporters': form == '3-byte'}
    if drop_every:
        translator['drop_every'] = drop_every
        # Well above this shared machine's round trip (switch, veth,
        # collector, back), which can reach milliseconds.
        translator['probe_timeout_us'] = 10000
    config = {
        'rdma': {'connections': [
            {'name': f'c{k}/{s}', 'collector': f'{bed.handshake_ip(k)}:{ports[k]}', 'region': r,
             'port': 1 + k, 'ip': '10.9.2.1', 'mac': f'02:00:00:00:02:0{1 + k}'}
            for k in range(NC) for s, r in zip(STRUCTURES, REGIONS)]},
        'dta_translator': translator,
    }
    if drop_every:
        # Timer packets carry the probes of queue pairs that went quiet.
        config['pktgen'] = [{'app': 0, 'period_us': 1000}]
    sw = start_program(bed, softfino, 'dta_translator', config, work)
    if sw is None:
        raise SystemExit(1)
    nacks = []
    sniffer = AsyncSniffer(iface=bed.host, store=False,
                           lfilter=lambda p: UDP in p and p[UDP].dport == 40044,
                           prn=lambda p: nacks.append(bytes(p[UDP].payload)[:2]))
    sniffer.start()
    time.sleep(0.3)
    # In chunks, so the switch's receive ring never overflows.
    for start in range(0, len(frames), 100):
        sendp(frames[start:start + 100], iface=bed.host, verbose=False)
        time.sleep(0.05)
    time.sleep(1.0)
    # Live queries over the collector's handshake port, for a sample of
    # keys; compared below with the same queries over its memory dumps.
    live_requests = [{'primitive': 'keywrite', 'key': k, 'redundancy': n}
                     for k, n in list(kw_redundancy.items())[:20]]
    live_requests += [{'primitive': 'append', 'list': 0}]
    with open(f'{work}/live.jsonl', 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in live_requests)
    live = subprocess.run([collector, 'query', '--connect', f'10.9.3.2:{port}',
                           '--requests', f'{work}/live.jsonl'], capture_output=True, text=True)
    sniffer.stop()
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    for col in bed.collectors:
        col.send_signal(signal.SIGTERM)
        col.wait(timeout=30)
    codes = [sw.returncode] + [c.returncode for c in bed.collectors]
    clean = not any(codes)
    check('switch and collector(s) exit cleanly', clean, codes)
    if not clean:
        print(sw.stderr.read()[-3000:], [c.stderr.read()[-3000:] for c in bed.collectors])
        raise SystemExit(1)
    with open(f'{work}/switch.json') as f:
        switch_stats = json.load(f)
    col_stats = []
    for k in range(NC):
        with open(f'{work}/collector{k}.json') as f:
            col_stats.append(json.load(f))
    program = switch_stats.get('program', {})
    print(f"switch drops: {switch_stats.get('drops')}")
    print(f'switch program: {json.dumps(program)}')
    print(f"collectors: {json.dumps([c['soft_rnic']['qps'] for c in col_stats])}")

    # --- queries ---
    requests = []
    for key, n in kw_redundancy.items():
        requests.append({'primitive': 'keywrite', 'key': key, 'redundancy': n})
    for key in ki_truth:
        requests.append({'primitive': 'keyincrement', 'key': key})
    for lst in ap_truth:
        requests.append({'primitive': 'append', 'list': lst})
    for key in pc_truth:
        requests.append({'primitive': 'postcarding', 'key': key, 'known': switch_ids})
    requests += live_requests
    requests.append({'primitive': 'keywrite', 'key': BAD_KEY, 'redundancy': 4})
    requests.append({'primitive': 'keyincrement', 'key': BAD_KEY})
    with open(f'{work}/requests.jsonl', 'w') as f:
        for r in requests:
            f.write(json.dumps(r) + '\n')
    per_collector = []
    for k in range(NC):
        q = subprocess.run([collector, 'query', '--dta-layout', f'{work}/layout.json',
                            *[a for d in dumps[k] for a in ('--memory', d)],
                            '--requests', f'{work}/requests.jsonl'],
                           capture_output=True, text=True)
        per_collector.append([json.loads(line) for line in q.stdout.splitlines()])
        check(f'every query answered by collector {k}',
              q.returncode == 0 and len(per_collector[k]) == len(requests), q.stderr[-500:])
    live_answers = [json.loads(line) for line in live.stdout.splitlines()]
    at = len(requests) - 2 - len(live_requests)
    check('queries over the live collector\'s socket answer as over its memory dumps',
          live.returncode == 0 and live_answers == per_collector[0][at:at + len(live_requests)],
          live.stderr[-300:] or live_answers[:2])
    # One answer per request: the collector that holds the key (the list).
    answers, misplaced = [], []
    for i, r in enumerate(requests):
        k = r['list'] % NC if r['primitive'] == 'append' else collector_of(r['key'])
        answers.append(per_collector[k][i])
        for other in range(NC):
            a = per_collector[other][i]
            if other != k and (a.get('found') and r['primitive'] != 'keyincrement' or
                               a.get('count', 0) != 0 or a.get('entries')):
                misplaced.append((r, other, a))
    if NC > 1:
        check(f'keys and lists spread over the {NC} collectors, each found only where the '
              'spreading hash puts it', not misplaced and
              all(sum(1 for key in kw_truth if collector_of(key) == k) > len(kw_truth) // (2 * NC)
                  for k in range(NC)), misplaced[:3])
    by = list(zip(requests, answers))
    main = by[:at]  # the workload's queries (then the live ones, then the bad key's)
    kw = [(r['key'], a) for r, a in main if r['primitive'] == 'keywrite']
    ki = [(r['key'], a) for r, a in main if r['primitive'] == 'keyincrement']
    ap = [(r['list'], a) for r, a in main if r['primitive'] == 'append']
    pc = [(r['key'], a) for r, a in main if r['primitive'] == 'postcarding']
    bad_answers = [a for r, a in by if r.get('key') == BAD_KEY]

    # Every slot written holds [CRC-32(key, little-endian) LE][data BE] of a
    # reported (key, data), on the key's collector: a slot with a wrong
    # checksum, foreign data or on another collector would be a translator
    # bug (or a torn or misplaced write).
    by_checksum = {zlib.crc32(struct.pack('<I', k)): k for k in kw_values}
    foreign = []
    used = 0
    for c in range(NC):
        with open(f'{work}/c{c}.dta.keywrite.bin', 'rb') as f:
            kw_memory = f.read()
        for i in range(0, len(kw_memory), 8):
            slot = kw_memory[i:i + 8]
            if slot == bytes(8):
                continue
            used += 1
            checksum, data = struct.unpack('<I', slot[:4])[0], struct.unpack('!I', slot[4:])[0]
            k = by_checksum.get(checksum)
            if k is None or data not in kw_values[k] or collector_of(k) != c:
                foreign.append((c, i // 8))
    check(f'every written Key-Write slot ({used}) holds a checksum-valid reported value',
          not foreign and used > 0, foreign[:5])

    counters = program.get('ingress', {})
    for reason in ('truncated_primitive', 'bad_opcode', 'bad_redundancy', 'trailing_bytes'):
        want = sum(1 for r, _ in bad if r == reason)
        check(f'malformed reports counted as {reason}',
              counters.get('parse', {}).get(reason) == want, counters.get('parse'))
    for reason in ('unknown_list', 'hop_beyond_path', 'redundancy_above_rows'):
        check(f'refused reports counted as {reason}',
              counters.get('refused', {}).get(reason) == 1, counters.get('refused'))
    check('nothing was written for the malformed reports',
          not bad_answers[0]['found'] and bad_answers[1]['count'] == 0, bad_answers)
    c0 = program.get('collectors', [{}])[0]
    if form == '3-byte':
        got_nacks = [seq for seq, flags in nacks if flags == 0x80]
        check(f'each sequence gap NACKed once, with its first missing number '
              f'({len(expected_nacks)} gaps)',
              got_nacks == expected_nacks and len(nacks) == len(got_nacks) and
              counters.get('sequence_gaps') == len(expected_nacks) and
              counters.get('nacks_sent') == len(expected_nacks),
              f'got {got_nacks}, expected {expected_nacks}, counters {counters}')

    if drop_every == 0:
        # Which keys other keys overwrote: the last writer of every slot, by
        # replaying the writes here. A key with a slot of its own left
        # answers its last data (each of its writes renews all its copies);
        # one with none answers nothing.
        last_writer = {}
        for op in plan:
            if op[0] == 'kw':
                for n in range(op[1]):
                    last_writer[collector_of(op[2]), kw_slot(op[2], n)] = op[2]
        survives = {k: any(last_writer[collector_of(k), kw_slot(k, n)] == k
                           for n in range(kw_redundancy[k]))
                    for k in kw_truth}
        wrong = [(k, a, kw_truth[k]) for k, a in kw
                 if a['found'] != survives[k] or (survives[k] and a['data'] != kw_truth[k])]
        gone = sum(1 for k in survives if not survives[k])
        check(f'Key-Write: all {len(kw)} keys (redundancy 1, 2, 4) answer their last data, '
              f'but the {gone} whose every copy another key overwrote', not wrong, wrong[:5])
        under = [(k, a, ki_truth[k]) for k, a in ki if a['count'] < ki_truth[k]]
        check('Key-Increment: never below the truth', not under, under[:5])
        off = [(k, a, ki_truth[k]) for k, a in ki if a['count'] != ki_truth[k]]
        check(f'Key-Increment: all {len(ki)} keys exact (no shared counters)', not off, off[:5])
        bad_lists = []
        for lst, a in ap:
            whole = len(ap_truth[lst]) // LAYOUT['append_batch'] * LAYOUT['append_batch']
            if a['entries'] != ap_truth[lst][:whole] or a['lost'] != 0:
                bad_lists.append((lst, a, ap_truth[lst][:whole]))
        check('Append: every list complete and in order (whole batches)', not bad_lists,
              bad_lists[:2])
        wrong_paths = [(k, a, pc_truth[k]) for k, a in pc
                       if not a['found'] or a['path'] != pc_truth[k]]
        check(f'Postcarding: all {len(pc)} paths hop by hop', not wrong_paths, wrong_paths[:5])
        check('no NAKs without loss',
              sum(c0[s]['psn_sequence_naks'] + c0[s]['fatal_naks'] for s in STRUCTURES) == 0, c0)
    else:
        resyncs = sum(c0.get(s, {}).get('resyncs', 0) for s in STRUCTURES)
        check(f'with every {drop_every}th request lost, the translator resynced',
              c0.get('injected_losses', 0) > 0 and resyncs > 0, c0)
        qps = [q for c in col_stats for q in c['soft_rnic']['qps']]
        check('the collector NAKed the gaps',
              sum(q['psn_sequence_errors'] for q in qps) > 0, qps)
        found = [(k, a) for k, a in kw if a['found']]
        foreign = [(k, a) for k, a in found if a['data'] not in kw_values[k]]
        check(f'Key-Write answers after resyncs ({len(found)} of {len(kw)}) are values '
              'reported for their key (an older one where the newest was lost)',
              len(found) > len(kw) // 2 and not foreign, foreign[:5])
        over = [(k, a, ki_truth[k]) for k, a in ki if a['count'] > ki_truth[k]]
        check('Key-Increment never counts a lost FETCH_ADD twice (never above the truth)',
              not over, over[:5])
finally:
    bed.down()

finish()
