#!/usr/bin/python3
"""Fault: the DTA collector dies and restarts while the translator streams.

  scapy --veth-- softfino (dta_translator) --veth-- softfino-collector
                                                     (killed, then restarted)

Three phases of reports, each with keys of its own (Key-Write redundancy
1 and 2, Key-Increment over 2 rows, Append to 4 lists):
  A  while the first collector runs;
  B  after it was killed (SIGKILL) and the switch says it is down
     (`softfino-ctl rdma`): every copy the translator would send is
     counted as lost (drop reason dta_collector_down, the program's
     lost_while_down), exactly as many as B's reports make;
  C  after a new collector came up on the same handshake port and the
     switch reconnected (new queue pairs, log line, reconnects = 1).
Truth from the workload alone, against the second collector's memory:
C's keys answer their last data and exact sums, C's lists hold exactly C's
entries in order (whole batches: the translator's batches restarted with
the new memory); nothing of A or B is found, and every written Key-Write
slot holds a checksum-valid value reported in C. The switch's counters
explain every packet: received = forwarded + dropped, dropped = the sum of
drops by reason.
  fault_collector_restart_test.py SOFTFINO SOFTFINO_COLLECTOR SOFTFINO_CTL
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

from scapy.all import sendp

import dta_reports as dta
from live_harness import CollectorTestbed, check, finish, require_root

softfino, collector, ctl = sys.argv[1:4]
require_root()

LAYOUT, REGIONS, STRUCTURES = dta.LAYOUT, dta.REGIONS, dta.STRUCTURES

rng = random.Random(1010)
bed = CollectorTestbed('sfF', 1, ctl_net=211)
work = tempfile.mkdtemp(prefix='sfF-restart.')
sock = f'{work}/ctl.sock'


def phase(keys_used):
    """A phase's reports and its truth (all of them delivered): last
    Key-Write data, Key-Increment sums, Append lists, and how many copies
    the translator makes of them (one per redundancy)."""
    frames = dta.workload(rng, keys_used)
    t = dta.truth_of(frames)
    t['frames'] = frames
    return t


def send(frames):
    for start in range(0, len(frames), 50):
        sendp(frames[start:start + 50], iface=bed.host, verbose=False)
        time.sleep(0.02)


def ctl_json(*args):
    r = subprocess.run([ctl, '--socket', sock, *args], capture_output=True, text=True, timeout=10)
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait_rdma(pred, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        r = ctl_json('rdma')
        if r and pred(r[0]):
            return r[0]
        time.sleep(0.05)
    return ctl_json('rdma')


keys = set()
A, B, C = phase(keys), phase(keys), phase(keys)
try:
    bed.up()
    with open(f'{work}/layout.json', 'w') as f:
        json.dump(LAYOUT, f)
    port = bed.start_collector(collector, ['--dta-layout', f'{work}/layout.json'])
    if port is None:
        raise SystemExit(1)
    config = {
        'rdma': {'supervise_ms': 100, 'connections': [
            {'name': f'c0/{s}', 'collector': f'{bed.handshake_ip()}:{port}', 'region': r,
             'port': 1, 'ip': '10.9.2.1', 'mac': '02:00:00:00:02:01'}
            for s, r in zip(STRUCTURES, REGIONS)]},
        'dta_translator': {'collectors': ['c0'], 'layout': LAYOUT},
    }
    with open(f'{work}/config.json', 'w') as f:
        json.dump(config, f)
    sw = bed.start_switch(softfino, [
        '--pipeline', 'dta_translator', '--config', f'{work}/config.json', '--clock', 'real',
        '--control-socket', sock, '--stats-json', f'{work}/switch.json'])
    if sw is None:
        raise SystemExit(1)
    first = wait_rdma(lambda r: r['probes'] > 0 and r['state'] == 'up')
    check('the switch watches its collector', first and first['state'] == 'up', first)

    send(A['frames'])
    time.sleep(0.5)
    # The first collector crashes.
    bed.collector.send_signal(signal.SIGKILL)
    bed.collector.wait(timeout=10)
    down = wait_rdma(lambda r: r['state'] == 'down')
    check('the switch sees the collector down', down and down['state'] == 'down' and
          down['downs'] == 1, down)
    before_gap = ctl_json('stats')
    send(B['frames'])
    time.sleep(0.5)
    after_gap = ctl_json('stats')
    lost = (after_gap['drops']['dta_collector_down'] - before_gap['drops']['dta_collector_down']
            if before_gap and after_gap else None)
    check(f'every copy of the gap\'s reports is counted as lost ({B["copies"]})',
          lost == B['copies'], lost)

    # A new collector on the same handshake port: new queue pairs, empty memory.
    dumps = [f'{r}={work}/{r}.bin' for r in REGIONS]
    port2 = bed.start_collector(collector, [
        '--dta-layout', f'{work}/layout.json', '--stats-json', f'{work}/collector.json',
        *[a for d in dumps for a in ('--dump-region', d)]], listen_port=port)
    check('the collector restarts on the same handshake port', port2 == port, port2)
    up = wait_rdma(lambda r: r['reconnects'] >= 1 and r['state'] == 'up')
    check('the switch reconnects once the collector is back',
          up and up['reconnects'] == 1 and up['state'] == 'up', up)
    send(C['frames'])
    time.sleep(1.0)
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    said = sw.stderr.read()
    bed.collector.send_signal(signal.SIGTERM)
    bed.collector.wait(timeout=30)
    check('switch and collector exit cleanly', sw.returncode == 0 and bed.collector.returncode == 0,
          (sw.returncode, bed.collector.returncode, said[-2000:]))
    check('the switch logs the collector going down and the reconnection',
          'stopped answering' in said and 'restarted; reconnected 3 connection(s)' in said,
          said[-2000:])
    with open(f'{work}/switch.json') as f:
        stats = json.load(f)
    c0 = stats['program']['collectors'][0]
    print(f"switch drops: { {k: v for k, v in stats['drops'].items() if v} }")
    print(f"switch totals: {stats['totals']}; rdma: {stats.get('rdma')}")
    print(f"translator collector: {json.dumps(c0)}")
    check('the translator counts the lost copies and one reconnection',
          c0['lost_while_down'] == B['copies'] and c0['reconnects'] == 1 and not c0['down'], c0)
    t = stats['totals']
    check('counters explain every packet: received + copies = forwarded + dropped, '
          'dropped = sum by reason',
          t['received'] + t['copies'] + t['generated'] == t['forwarded'] + t['dropped'] and
          t['dropped'] == sum(stats['drops'].values()), t)
    reports = stats['program']['ingress']['reports']
    n_reports = len(A['frames']) + len(B['frames']) + len(C['frames'])
    check(f'every report arrived ({n_reports})', sum(reports.values()) == n_reports, reports)

    # --- the second collector's memory against the truth ---
    requests = [{'primitive': 'keywrite', 'key': k, 'redundancy': n}
                for ph in (A, B, C) for k, n in ph['kw_n'].items()]
    requests += [{'primitive': 'keyincrement', 'key': k} for ph in (A, B, C) for k in ph['ki']]
    requests += [{'primitive': 'append', 'list': lst} for lst in range(LAYOUT['append_lists'])]
    rc, answers, err = dta.query(collector, work, dumps, requests)
    check('every query answered', rc == 0 and len(answers) == len(requests), err[-500:])
    by = list(zip(requests, answers))
    in_c = lambda r: r.get('key') in C['kw'] or r.get('key') in C['ki']  # noqa: E731
    kw_c = [(r['key'], a) for r, a in by if r['primitive'] == 'keywrite' and in_c(r)]
    kw_old = [(r['key'], a) for r, a in by if r['primitive'] == 'keywrite' and not in_c(r)]
    ki_c = [(r['key'], a) for r, a in by if r['primitive'] == 'keyincrement' and in_c(r)]
    ki_old = [(r['key'], a) for r, a in by if r['primitive'] == 'keyincrement' and not in_c(r)]
    wrong = [(k, a, C['kw'][k]) for k, a in kw_c if not a['found'] or a['data'] != C['kw'][k]]
    check(f'Key-Write: all {len(kw_c)} keys reported after the reconnection answer their last data',
          not wrong, wrong[:5])
    off = [(k, a, C['ki'][k]) for k, a in ki_c if a['count'] != C['ki'][k]]
    check(f'Key-Increment: all {len(ki_c)} keys reported after the reconnection are exact',
          not off, off[:5])
    ghosts = [(k, a) for k, a in kw_old if a['found']] + [(k, a) for k, a in ki_old if a['count']]
    check(f'nothing reported before or during the gap is found in the new memory '
          f'({len(kw_old)} + {len(ki_old)} keys)', not ghosts, ghosts[:5])
    bad_lists = []
    for r, a in by:
        if r['primitive'] != 'append':
            continue
        want = C['ap'][r['list']]
        whole = len(want) // LAYOUT['append_batch'] * LAYOUT['append_batch']
        if a['entries'] != want[:whole]:
            bad_lists.append((r['list'], a, want[:whole]))
    check('Append: each list holds exactly what was appended after the reconnection, in order '
          '(whole batches)', not bad_lists, bad_lists[:2])
    by_checksum = {zlib.crc32(struct.pack('<I', k)): k for k in C['kw_values']}
    with open(f'{work}/dta.keywrite.bin', 'rb') as f:
        memory = f.read()
    used, foreign = 0, []
    for i in range(0, len(memory), 8):
        slot = memory[i:i + 8]
        if slot == bytes(8):
            continue
        used += 1
        k = by_checksum.get(struct.unpack('<I', slot[:4])[0])
        if k is None or struct.unpack('!I', slot[4:])[0] not in C['kw_values'][k]:
            foreign.append(i // 8)
    check(f'every written Key-Write slot ({used}) holds a value reported after the reconnection',
          used > 0 and not foreign, foreign[:5])
    with open(f'{work}/collector.json') as f:
        col = json.load(f)
    qps = col['soft_rnic']['qps']
    print(f'collector qps: {json.dumps(qps)}')
finally:
    bed.down()

finish()
