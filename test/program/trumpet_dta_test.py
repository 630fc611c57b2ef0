#!/usr/bin/python3
"""Trumpet events all the way into a DTA collector's memory:

  softfino (l3fwd + Trumpet, pcap replay) --UDP, DTA Append reports-->
  host veth -- softfino (dta_translator) --RoCEv2 WRITEs-- softfino-collector

The first switch sends each event as an 11-word record (dta/event_record.h)
with --events-dta through the kernel to the translator's port; the
translator batches the reports into RDMA WRITEs of the list's ring in the
collector's memory; then the collector's "events" query over its handshake
port, and the raw "append" entries decoded here (trumpet_oracle.py,
zlib's CRC-32), must both be exactly the events the offline oracle computes
from the pcap: same trigger, interval, group and predicate value, in the
switch's order, none lost or skipped.

  trumpet_dta_test.py SOFTFINO SOFTFINO_GEN SOFTFINO_COLLECTOR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from live_harness import CollectorTestbed, check, finish, require_root
from trumpet_oracle import decode_records, expected_records, oracle, record_fields, write_config

softfino, gen, collector = sys.argv[1:4]
require_root()
work = tempfile.mkdtemp(prefix='trumpet_dta.')
bed = CollectorTestbed('sft', 1)
LIST = 3
# Paced (rate=) well below what the soft RNIC behind an af_packet port takes
# on a shared 2-core machine: at 20,000 reports/s (40,000 packets/s with the
# head publications) its receive ring overflows, the collector NAKs the PSN
# gap, the translator resyncs and the records in between are skipped (DTA
# tolerates loss; the CRC makes it visible). Batches of one report: with B > 1 the last B - 1 words of the stream
# would wait on the translator for their batch (as on a Tofino).
LAYOUT = {'append_lists': 8, 'append_entries': 1 << 14, 'append_batch': 1,
          'append_head_interval': 1}
TRANSLATOR_IP, TRANSLATOR_MAC = '10.9.1.2', '02:00:00:00:01:02'

triggers = write_config(work, 'trumpet.json')
subprocess.run([gen, 'trumpet', '--seed', '3', '--out', f'{work}/in.pcap'], check=True,
               capture_output=True)

try:
    bed.up()
    # The kernel reaches the translator through the host end of its port.
    subprocess.run(['ip', 'addr', 'add', '10.9.1.1/24', 'dev', bed.host], check=True)
    subprocess.run(['ip', 'neigh', 'replace', TRANSLATOR_IP, 'lladdr', TRANSLATOR_MAC, 'dev',
                    bed.host, 'nud', 'permanent'], check=True)
    with open(f'{work}/layout.json', 'w') as f:
        json.dump(LAYOUT, f)
    port = bed.start_collector(collector, ['--dta-layout', f'{work}/layout.json'])
    if port is None:
        raise SystemExit(1)
    with open(f'{work}/translator.json', 'w') as f:
        json.dump({'rdma': {'connections': [
            {'name': 'c0/append', 'collector': f'{bed.handshake_ip()}:{port}',
             'region': 'dta.append', 'port': 1, 'ip': '10.9.2.1', 'mac': '02:00:00:00:02:01'}]},
            'dta_translator': {'base_form': '3-byte', 'collectors': ['c0'], 'layout': LAYOUT}}, f)
    translator = bed.start_switch(softfino, [
        '--pipeline', 'dta_translator', '--config', f'{work}/translator.json', '--clock', 'real',
        '--no-control-socket', '--stats-json', f'{work}/translator_stats.json'])
    if translator is None:
        raise SystemExit(1)

    r = subprocess.run(
        [softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '--file-prefix',
         f'{bed.tag}trumpet', '--log-level=warning', '-l', '0',
         f'--vdev=net_pcap0,rx_pcap={work}/in.pcap,tx_pcap={work}/out.pcap', '--',
         '--pipeline', 'l3fwd', '--config', f'{work}/trumpet.json', '--exit-when-idle', '300',
         '--no-control-socket', '--events', f'{work}/events.jsonl',
         '--events-dta', f'{TRANSLATOR_IP},list={LIST},rate=4000',
         '--stats-json', f'{work}/trumpet_stats.json'],
        capture_output=True, text=True, timeout=120)
    check('the Trumpet switch ran and sent its events', r.returncode == 0, r.stderr[-2000:])
    time.sleep(1.0)

    with open(f'{work}/requests.jsonl', 'w') as f:
        f.write(json.dumps({'primitive': 'events', 'list': LIST}) + '\n')
        f.write(json.dumps({'primitive': 'append', 'list': LIST}) + '\n')
    q = subprocess.run([collector, 'query', '--connect', f'{bed.handshake_ip()}:{port}',
                        '--requests', f'{work}/requests.jsonl'], capture_output=True, text=True)
    answers = [json.loads(l) for l in q.stdout.splitlines()]
    check('the collector answers both queries', q.returncode == 0 and len(answers) == 2,
          q.stderr[-500:])
    translator.send_signal(signal.SIGTERM)
    translator.wait(timeout=30)
    for col in bed.collectors:
        col.send_signal(signal.SIGTERM)
        col.wait(timeout=30)
    if len(answers) != 2:
        raise SystemExit(1)

    events = [json.loads(l) for l in open(f'{work}/events.jsonl')]
    expected = oracle([f'{work}/in.pcap'], triggers)
    want = expected_records(expected, triggers, {e['trigger']: e['trigger_id'] for e in events})
    export = json.load(open(f'{work}/trumpet_stats.json'))
    stats = json.load(open(f'{work}/translator_stats.json'))
    print(f"translator drops: {stats.get('drops')}, program: {json.dumps(stats.get('program'))}")

    queried, raw = answers
    have = {(e['trigger_id'], e['interval_start_ns'], e['interval_ns'], tuple(e['group_key']),
             e['value']) for e in queried['events']}
    check(f"the collector's events query equals the oracle ({len(queried['events'])} events)",
          have == want and len(queried['events']) == len(expected) and
          queried['skipped'] == 0 and queried['lost'] == 0,
          f"missing {sorted(want - have)[:3]}, extra {sorted(have - want)[:3]}, "
          f"skipped {queried['skipped']}, lost {queried['lost']}")
    check('in the order the switch numbered them',
          [e['seq'] for e in queried['events']] == list(range(len(queried['events']))))
    decoded = decode_records(raw['entries'])
    check(f"the raw Append entries, decoded here, are the same events ({len(raw['entries'])} "
          "entries)", {record_fields(d) for d in decoded} == want and
          len(raw['entries']) == 11 * len(expected))
    drops = {k: v for k, v in stats['drops'].items() if v and k != 'rdma_answer_consumed'}
    writes = stats['program']['collectors'][0]['append']
    check('the translator dropped nothing and lost no WRITE', not drops and writes['lost'] == 0,
          f'drops {drops}, append queue pair {writes}')
finally:
    bed.down()
finish()
