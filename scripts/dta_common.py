"""What the DTA testbed (dta_testbed.py) and the soak (soak.py) share: the
layout and reporter config they run, the collector and translator setup,
the truth computed from the traffic alone, and the queries compared with it."""
import json
import struct
import subprocess
import zlib

from scapy.all import IP, TCP, UDP

SWITCH_ID = 7
LAYOUT = {'keywrite_slots': 1 << 16, 'keyincrement_rows': 2, 'keyincrement_slots': 1 << 16,
          'append_lists': 4, 'append_entries': 4096, 'append_batch': 4,
          'append_head_interval': 1, 'postcarding_slots': 1 << 14, 'postcarding_copies': 2}
REGIONS = ['dta.keywrite', 'dta.keyincrement', 'dta.append', 'dta.postcarding']
STRUCTURES = ['keywrite', 'keyincrement', 'append', 'postcarding']
REPORTER = {'dta_reporter': {
    'base_form': '3-byte', 'switch_id': SWITCH_ID, 'hop': 1,
    'forward': [{'in': 0, 'out': 1}], 'report_port': 2,
    'report': {'src_ip': '10.0.0.7', 'dst_ip': '10.0.255.255',
               'src_mac': '02:00:00:00:00:07', 'dst_mac': '02:00:00:00:00:ff'},
    'flow_slots': 65536,
    'key_write': {'redundancy': 2},
    'key_increment': {'redundancy': 2, 'counter': 'bytes', 'every': 1},
    'append': {'list': 0}, 'postcarding': {}}}


def start_collector(bed, apps, out, dumps):
    """Writes the layout and starts the testbed's collector (stats and
    region dumps into `out`); returns the translator's config for it."""
    with open(f'{out}/layout.json', 'w') as f:
        json.dump(LAYOUT, f)
    port = bed.start_collector(f'{apps}/softfino-collector', [
        '--dta-layout', f'{out}/layout.json', '--stats-json', f'{out}/collector_stats.json',
        *[a for d in dumps for a in ('--dump-region', d)]])
    if port is None:
        raise SystemExit('the collector did not start')
    return {
        'rdma': {'connections': [
            {'name': f'c0/{s}', 'collector': f'{bed.handshake_ip()}:{port}', 'region': r,
             'port': 1, 'ip': '10.9.2.1', 'mac': '02:00:00:00:02:01'}
            for s, r in zip(STRUCTURES, REGIONS)]},
        # Well above this shared machine's round trip to the collector.
        'dta_translator': {'base_form': '3-byte', 'collectors': ['c0'], 'layout': LAYOUT,
                           'postcarding_path_length': 1, 'probe_timeout_us': 100000},
        'pktgen': [{'app': 0, 'period_us': 5000}],
    }


def truth(packets, replays=1):
    """From the traffic alone, replayed `replays` times: each flow's key
    (zlib's CRC-32 of its 5-tuple), name and IPv4 bytes, and the flow
    starts in order as the reporter's table of flow_slots flows sees them
    (a new flow, or one that another evicted from its slot)."""
    flows, starts, slot_of = {}, [], {}
    for _ in range(replays):
        for p in packets:
            ip = p[IP]
            l4 = p[TCP] if TCP in p else p[UDP]
            key = zlib.crc32(struct.pack('!4s4sBHH', bytes(map(int, ip.src.split('.'))),
                                         bytes(map(int, ip.dst.split('.'))), ip.proto, l4.sport,
                                         l4.dport))
            if key not in flows:
                flows[key] = {'flow': f'{ip.src}:{l4.sport} > {ip.dst}:{l4.dport}', 'bytes': 0}
            slot = key % REPORTER['dta_reporter']['flow_slots']
            if slot_of.get(slot) != key:
                slot_of[slot] = key
                starts.append(key)
            flows[key]['bytes'] += ip.len
    return flows, starts


def query_top(apps, out, dumps, flows, count=5):
    """Asks the collector's memory dumps about the `count` flows with the
    most bytes (Key-Increment, Key-Write, Postcarding each) and Append list 0.
    Returns (top keys, answers): 3 answers per top flow, then the list."""
    top = sorted(flows, key=lambda k: -flows[k]['bytes'])[:count]
    requests = []
    for k in top:
        requests += [{'primitive': 'keyincrement', 'key': k},
                     {'primitive': 'keywrite', 'key': k, 'redundancy': 2},
                     {'primitive': 'postcarding', 'key': k, 'copies': 2, 'known': [SWITCH_ID]}]
    requests.append({'primitive': 'append', 'list': 0})
    with open(f'{out}/requests.jsonl', 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in requests)
    q = subprocess.run([f'{apps}/softfino-collector', 'query', '--dta-layout', f'{out}/layout.json',
                        *[a for d in dumps for a in ('--memory', d)],
                        '--requests', f'{out}/requests.jsonl'], capture_output=True, text=True)
    answers = [json.loads(line) for line in q.stdout.splitlines()]
    if len(answers) != len(requests):
        raise SystemExit(f'the collector answered {len(answers)} of {len(requests)} queries: '
                         f'{q.stderr[-300:]}')
    return top, answers
