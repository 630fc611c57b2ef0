#!/usr/bin/python3
"""Trumpet through the real softfino (l3fwd hosting the trumpet stage), in
virtual time with net_pcap ports, against events computed offline from the
same pcap by an independent oracle written from the definitions
(trumpet_oracle.py).

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
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from trumpet_oracle import (decode_records, event_key, expected_records, oracle, record_fields,
                            write_config)

softfino, gen, ctl = sys.argv[1:4]
work = tempfile.mkdtemp(prefix='trumpet.')
failures = []


def check(name, ok, detail=''):
    print(('ok   ' if ok else 'FAIL ') + name + ('' if ok else f': {detail}'))
    if not ok:
        failures.append(name)


class DtaListener:
    """Catches the switch's DTA Append reports (3-byte base form) on a UDP
    socket and decodes the event records from DTA's header layout."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: root only
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # as allowed
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
        return decode_records(words), bad


# ---- runs ----

triggers = write_config(work, 'config.json')


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
        want = expected_records(expected, triggers, {e['trigger']: e['trigger_id'] for e in got})
        records, bad = listener.records(5)
        have = {record_fields(r) for r in records}
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
# It runs until told to stop (SIGTERM, below): the control requests take
# seconds under ASan with the gatherer (which polls a core) beside it.
proc, _ = run_switch(1, tag, extra=['--control-socket', f'{work}/ctl.sock'], background=True)


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
time.sleep(1.0)
proc.send_signal(signal.SIGTERM)
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
