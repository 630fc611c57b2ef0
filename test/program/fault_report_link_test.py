#!/usr/bin/python3
"""Fault: the link carrying DTA reports to the translator loses, duplicates
and reorders frames, both ways (reports in, NACKs back).

  scapy --veth-- lossy_relay.py --veth-- softfino (dta_translator) --veth--
      softfino-collector (own network namespace, handshake over a third veth)

Reports (3-byte base form, numbered in sending order, from DTA's published
layout: Key-Write with redundancy 1 and 2, Key-Increment over 2 rows,
Append to 4 lists) go through the relay; the translator NACKs sequence
gaps back through it. The relay logs every frame it took in and put out,
each way. DTA has no duplicate detection (the sequence number serves NACKs
only, and the translator translates every report it gets, REFERENCE.md and
the translator's README): a duplicated report is translated twice. So the
truth is what the delivered frames, in delivery order, make, computed here
from the relay's log and the reports' own bytes:
  - Key-Write: each key with a delivered report answers the data of the
    last one delivered (reordering can make that an older one), but the
    keys whose every slot another key overwrote (replayed here); a key with
    none delivered is not found;
  - Key-Increment: each key's Count-Min answer from the delivered
    increments, duplicates counted twice;
  - Append: each list holds exactly its delivered entries, in delivery
    order (whole batches);
  - NACKs: the translator's sequence tracking over the delivered numbers
    (a NACK naming the first missing number at every break, duplicates and
    reorderings included): the NACKs the relay took in from the switch are
    exactly those, and the gap counters agree.
Counters explain every frame: each direction of the relay out = in -
dropped + duplicated, and its log matches its counts; what the relay put
out towards the switch is what the switch's port 0 received, and what the
switch sent back is what the relay took in; every report received was
translated (by primitive, as delivered) or dropped by reason; the
collector executed exactly the requests the delivered reports make, with
nothing lost on the RDMA link; the switch's totals add up.
  fault_report_link_test.py SOFTFINO SOFTFINO_COLLECTOR
"""
import collections
import json
import random
import signal
import struct
import sys
import tempfile
import time

from scapy.all import sendp

import dta_reports as dta
from live_harness import CollectorTestbed, check, finish, require_root, start_program

softfino, collector = sys.argv[1:3]
require_root()

LOSS, DUP, REORDER, SEED = 0.05, 0.05, 0.08, 23
work = tempfile.mkdtemp(prefix='sfR-reportlink.')
bed = CollectorTestbed('sfR', 1, ctl_net=90,
                       report_relay=(LOSS, DUP, REORDER, SEED, f'{work}/relay.json',
                                     f'{work}/relay_log.json'))
rng = random.Random(SEED)
keys = set()
frames = dta.workload(rng, keys, kw_keys=250, ki_keys=150, appends=300, seq=[0])
BATCH = dta.LAYOUT['append_batch']


def nacks_for(seqs):
    """The translator's NACKs for a reporter's numbers as they arrive: the
    first starts tracking; each one but the expected names the expected."""
    out, expected = [], None
    for s in seqs:
        if expected is not None and s != expected:
            out.append(expected)
        expected = (s + 1) & 0xff
    return out


try:
    bed.up()
    with open(f'{work}/layout.json', 'w') as f:
        json.dump(dta.LAYOUT, f)
    dumps = [f'{r}={work}/{r}.bin' for r in dta.REGIONS]
    port = bed.start_collector(collector, [
        '--dta-layout', f'{work}/layout.json', '--stats-json', f'{work}/collector.json',
        *[a for d in dumps for a in ('--dump-region', d)]])
    if port is None:
        raise SystemExit(1)
    config = {
        'rdma': {'connections': [
            {'name': f'c0/{s}', 'collector': f'{bed.handshake_ip()}:{port}', 'region': r,
             'port': 1, 'ip': '10.9.2.1', 'mac': '02:00:00:00:02:01'}
            for s, r in zip(dta.STRUCTURES, dta.REGIONS)]},
        'dta_translator': {'collectors': ['c0'], 'layout': dta.LAYOUT, 'nack_reporters': True},
    }
    sw = start_program(bed, softfino, 'dta_translator', config, work)
    if sw is None:
        raise SystemExit(1)
    # In chunks, so neither the relay nor the switch's ring falls behind.
    for start in range(0, len(frames), 25):
        sendp(frames[start:start + 25], iface=bed.host, verbose=False)
        time.sleep(0.03)
    time.sleep(1.0)  # held (reordered) frames go out within 5 ms
    links = bed.stop_relays()
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    bed.collector.send_signal(signal.SIGTERM)
    bed.collector.wait(timeout=30)
    check('switch and collector exit cleanly', sw.returncode == 0 and
          bed.collector.returncode == 0, (sw.returncode, bed.collector.returncode,
                                          sw.stderr.read()[-2000:]))
    with open(f'{work}/switch.json') as f:
        stats = json.load(f)
    with open(f'{work}/collector.json') as f:
        col = json.load(f)
    with open(f'{work}/relay_log.json') as f:
        log = json.load(f)

    # --- the relay: what it did, each way ---
    a, b = bed.host_relay
    to_sw, to_host = links[-1][f'{a}->{b}'], links[-1][f'{b}->{a}']
    log_sw, log_host = log[f'{a}->{b}'], log[f'{b}->{a}']
    print(f'relay: to the switch {to_sw}, back {to_host}')
    check('the relay lost, duplicated and reordered frames both ways',
          all(d['dropped'] > 0 and d['duplicated'] > 0 and d['reordered'] > 0
              for d in (to_sw, to_host)), (to_sw, to_host))
    check('each direction: out = in - lost + duplicated, and its log holds every frame',
          all(d['out'] == d['in'] - d['dropped'] + d['duplicated'] and
              len(lg['in']) == d['in'] and len(lg['out']) == d['out']
              for d, lg in ((to_sw, log_sw), (to_host, log_host))), (to_sw, to_host))
    sent = [bytes(f) for f in frames]
    got_in = [bytes.fromhex(h) for h in log_sw['in']]
    check(f'the relay took in every report sent ({len(sent)}), in order', got_in == sent,
          (len(got_in), len(sent)))
    delivered = [bytes.fromhex(h) for h in log_sw['out']]
    check('it delivered only reports that were sent', set(delivered) <= set(sent))
    ports = stats['ports']
    check('what the relay delivered is what the switch\'s port 0 received, and what the '
          'switch sent back is what the relay took in',
          ports[0]['rx_packets'] == to_sw['out'] and ports[0]['tx_packets'] == to_host['in'],
          (ports[0], to_sw, to_host))
    order = [dta.parse(f)[1] for f in delivered]
    print(f'delivered {len(delivered)} of {len(sent)} reports; '
          f'{len(delivered) - len(set(delivered))} twice; '
          f'{sum(1 for i in range(1, len(order)) if (order[i] - order[i - 1]) & 0xff > 128)} '
          f'steps back in sequence number')

    # --- the translator's counters against the delivered frames ---
    t = dta.truth_of(delivered)
    ingress = stats['program']['ingress']
    reports = ingress['reports']
    check('every delivered report translated, by primitive',
          reports.get('key_write') == t['by_opcode'][1] and
          reports.get('append') == t['by_opcode'][2] and
          reports.get('key_increment') == t['by_opcode'][3] and
          not ingress['parse'] and not ingress['refused'], (reports, t['by_opcode'], ingress))
    check('received = translated + dropped by reason (malformed, refused)',
          sum(reports.values()) + sum(ingress['parse'].values()) +
          sum(ingress['refused'].values()) == ports[0]['rx_packets'],
          (reports, ports[0]['rx_packets']))
    want_nacks = nacks_for(order)
    got_nacks = []
    for h in log_host['in']:
        f = bytes.fromhex(h)
        is_nack = len(f) >= dta.BASE_AT + 2 and struct.unpack('!H', f[36:38])[0] == dta.NACK_PORT
        got_nacks.append((f[dta.BASE_AT], f[dta.BASE_AT + 1]) if is_nack else None)
    check(f'the switch sent back exactly the NACKs the delivered numbers call for '
          f'({len(want_nacks)}), each naming the first missing number',
          collections.Counter(got_nacks) == collections.Counter((s, 0x80) for s in want_nacks),
          (collections.Counter(got_nacks) - collections.Counter((s, 0x80) for s in want_nacks),
           collections.Counter((s, 0x80) for s in want_nacks) - collections.Counter(got_nacks)))
    check('gap counters agree: sequence_gaps = nacks_sent = NACKs due',
          ingress['sequence_gaps'] == ingress['nacks_sent'] == len(want_nacks), ingress)
    c0 = stats['program']['collectors'][0]
    lost = sum(c0[s]['lost'] + c0[s]['psn_sequence_naks'] + c0[s]['fatal_naks']
               for s in dta.STRUCTURES)
    check('nothing lost or NAKed on the RDMA link', lost == 0 and
          stats['drops'].get('rdma_recovering', 0) == 0, c0)
    qps = col['soft_rnic']['qps']
    batches = sum(len(v) // BATCH for v in t['ap'].values())
    kw_copies = sum(n for n, _ in t['kw_order'])
    ki_copies = sum(n for n, _, _ in t['ki_reports'])
    writes = sum(q['write_packets'] for q in qps)
    adds = sum(q['fetch_adds'] for q in qps)
    # Each Append batch is a WRITE and its head another (head interval 1).
    check('the collector executed exactly the requests the delivered reports make '
          f'({kw_copies} Key-Write copies + {batches} Append batches with their heads; '
          f'{ki_copies} FETCH_ADDs)',
          writes == kw_copies + 2 * batches and adds == ki_copies, (writes, adds, qps))
    tot = stats['totals']
    check('switch counters: received + copies + generated = forwarded + dropped, dropped = '
          'sum by reason', tot['received'] + tot['copies'] + tot['generated'] ==
          tot['forwarded'] + tot['dropped'] and tot['dropped'] == sum(stats['drops'].values()),
          tot)

    # --- the collector's memory against the truth of the delivered frames ---
    everything = dta.truth_of(sent)
    kw_keys = sorted(everything['kw_n'])
    ki_keys = sorted(everything['ki'])
    requests = [{'primitive': 'keywrite', 'key': k, 'redundancy': everything['kw_n'][k]}
                for k in kw_keys]
    requests += [{'primitive': 'keyincrement', 'key': k} for k in ki_keys]
    requests += [{'primitive': 'append', 'list': lst} for lst in range(dta.LAYOUT['append_lists'])]
    rc, answers, err = dta.query(collector, work, dumps, requests)
    check('every query answered', rc == 0 and len(answers) == len(requests), err[-500:])
    kw_a = dict(zip(kw_keys, answers))
    ki_a = dict(zip(ki_keys, answers[len(kw_keys):]))
    ap_a = answers[len(kw_keys) + len(ki_keys):]
    survivors = dta.kw_survivors(t['kw_order'])
    none_delivered = [k for k in kw_keys if k not in t['kw']]
    overwritten = [k for k in t['kw'] if k not in survivors]
    wrong = [(k, kw_a[k], t['kw'].get(k)) for k in kw_keys
             if kw_a[k]['found'] != (k in survivors) or
             (k in survivors and kw_a[k]['data'] != t['kw'][k])]
    # Reordering made an older report the last delivered for some keys.
    older = sum(1 for k in survivors if t['kw'][k] != everything['kw'][k])
    check(f'Key-Write: the {len(survivors)} keys with a delivered report and a slot of their '
          f'own answer the last delivered data; the {len(none_delivered)} with none delivered '
          f'and {len(overwritten)} overwritten are not found ({older} answer an older report '
          f'than the last sent, reordered or lost)', not wrong, wrong[:5])
    want_ki = dta.count_min(t['ki_reports'], ki_keys)
    dup_keys = {k for n, k, c in t['ki_reports']
                if sum(1 for r in t['ki_reports'] if r == (n, k, c)) > 1}
    off = [(k, ki_a[k]['count'], want_ki[k]) for k in ki_keys if ki_a[k]['count'] != want_ki[k]]
    check(f'Key-Increment: all {len(ki_keys)} keys equal the delivered increments\' sum '
          f'({len(dup_keys)} keys with a duplicate counted twice)', not off, off[:5])
    bad_lists = []
    for lst, ans in enumerate(ap_a):
        want = t['ap'][lst][:len(t['ap'][lst]) // BATCH * BATCH]
        if ans['entries'] != want:
            bad_lists.append((lst, ans['entries'][:8], want[:8]))
    check('Append: each list holds exactly its delivered entries in delivery order '
          '(whole batches)', not bad_lists, bad_lists[:2])
    print(f"translator: reports {reports}, gaps {ingress['sequence_gaps']}, "
          f"missing {ingress['missing_reports']}, NACKs {ingress['nacks_sent']}")
finally:
    bed.down()

finish()
